""""Perlu perhatian" on the admin's home page: a small registry of checks, one entry each.

A check takes the day report (kasir.reports.daily) and returns a Notice when something needs the owner,
or None. To add one, write the function and decorate it with @check; the home page shows every notice."""
from collections.abc import Callable
from dataclasses import dataclass

from . import stock
from .extensions import db
from .mail import outbox as mail_outbox
from .models import Product
from .printing import queue as print_queue
from .reports.daily import SalesReport


@dataclass(frozen=True)
class Notice:
    key: str  # stable name, for tests and styling
    text: str  # Bahasa Indonesia, shown as is
    endpoint: str  # where the owner goes to deal with it


CHECKS: list[Callable[[SalesReport], Notice | None]] = []


def check(function: Callable[[SalesReport], Notice | None]):
    CHECKS.append(function)
    return function


def notices(report: SalesReport) -> list[Notice]:
    return [notice for function in CHECKS if (notice := function(report)) is not None]


@check
def short_payments(report: SalesReport) -> Notice | None:
    if report.short_sales:
        return Notice("short-payments", f"{len(report.short_sales)} penjualan belum lunas", "admin.sales_report")
    return None


@check
def overpayments(report: SalesReport) -> Notice | None:
    if report.overpayments:
        return Notice("overpayments", f"{len(report.overpayments)} pembayaran lebih, perlu dikembalikan",
                      "admin.sales_report")
    return None


@check
def late_qris(report: SalesReport) -> Notice | None:
    if report.qris_late_count:
        return Notice("late-qris", f"{report.qris_late_count} pembayaran QRIS masuk terlambat",
                      "admin.reconciliation")
    return None


@check
def failed_prints(report: SalesReport) -> Notice | None:
    jobs = print_queue.unprinted_jobs(limit=100)
    if jobs:
        return Notice("failed-prints", f"{len(jobs)} struk gagal dicetak", "admin.printer")
    return None


@check
def low_stock(report: SalesReport) -> Notice | None:
    count = db.session.scalar(db.select(db.func.count(Product.id)).where(stock.is_low()))
    if count:
        return Notice("low-stock", f"{count} produk stoknya menipis", "admin.stock_low")
    return None


@check
def failed_emails(report: SalesReport) -> Notice | None:
    count = mail_outbox.failed_count()
    if count:
        return Notice("failed-emails", f"{count} struk email gagal terkirim", "admin.ereceipt_settings")
    return None
