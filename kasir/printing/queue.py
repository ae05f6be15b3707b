"""The print queue (DESIGN §13): receipts go through print_jobs, so a printer problem never blocks or loses a sale.

A paid sale adds a QUEUED job in the same transaction that marks it PAID; `drain()` (called by the job runner,
the print route and the CLI) prints the jobs that are due, retrying with backoff until the job is PRINTED or,
after the last try, FAILED.
Receipts not yet printed after a failed attempt show on the cashier screen at once (retrying or given up),
with a reprint button.
"""
import functools
import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import aliased

from .. import claims
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import (
    METHOD_CASH,
    PRINT_FAILED,
    PRINT_KIND_RECEIPT,
    PRINT_PRINTED,
    PRINT_QUEUED,
    PrintJob,
    Sale,
    SaleReturn,
)
from ..payments import methods
from ..settings import shop_profile
from .backends import PRINTER_NOT_SET, PrinterError, send
from .escpos_render import render_bytes
from .layout import build_receipt, build_return_slip, build_test_page, build_va_slip
from .settings import PrinterSettings, printer_settings

log = logging.getLogger(__name__)

PRINT_KIND_REPRINT = "reprint"  # a copy asked for by the cashier: it never opens the drawer
PRINT_KIND_VA_SLIP = "va_slip"  # "Cetak Nomor VA": the sale's latest VA, never the receipt, never the drawer
PRINT_KIND_RETURN_SLIP = "return"  # "RETUR" slip of one return: kind "return:<its number>"; see _opens_drawer
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=60), timedelta(minutes=5))
# A claimed job is due again after this, should its printer call never come back (a crash mid-print).
CLAIM_LEASE = timedelta(minutes=2)
FAILED_SHOWN_FOR = timedelta(hours=24)
DRAIN_LIMIT = 20


def enqueue_receipt(sale: Sale) -> PrintJob | None:
    """Queue the receipt of a sale that was just paid, in the caller's transaction; nothing when auto-print is off."""
    settings = printer_settings()
    if not (settings.enabled and settings.auto_print):
        return None
    job = PrintJob(sale=sale, kind=PRINT_KIND_RECEIPT, status=PRINT_QUEUED, attempts=0, next_attempt_at=utcnow())
    db.session.add(job)
    return job


def _claim_due(limit: int) -> list[int]:
    """Take the due jobs for this process: count the attempt and push them out by the lease, in one transaction."""
    now = utcnow()

    def attempt(job: PrintJob) -> None:
        job.attempts += 1
        job.next_attempt_at = now + CLAIM_LEASE

    return claims.claim(db.select(PrintJob).where(PrintJob.status == PRINT_QUEUED, PrintJob.next_attempt_at <= now)
                        .order_by(PrintJob.next_attempt_at, PrintJob.id).limit(limit), attempt)


def _record_outcome(job_id: int, error: str | None) -> None:
    with write_transaction():
        job = db.session.get(PrintJob, job_id, populate_existing=True)
        if error is None:
            job.status, job.printed_at, job.next_attempt_at, job.last_error = PRINT_PRINTED, utcnow(), None, None
        elif (delay := claims.backoff(RETRY_DELAYS, job.attempts)) is None:
            job.status, job.next_attempt_at, job.last_error = PRINT_FAILED, None, error[:200]
        else:
            job.next_attempt_at, job.last_error = utcnow() + delay, error[:200]


def _return_of(job: PrintJob, sale: Sale) -> SaleReturn | None:
    """The return a "return:<number>" job prints, None for other jobs."""
    kind, _, number = job.kind.partition(":")
    if kind != PRINT_KIND_RETURN_SLIP:
        return None
    return db.session.scalar(db.select(SaleReturn).where(SaleReturn.sale_id == sale.id,
                                                         SaleReturn.number == int(number)))


def _layout(job: PrintJob, sale: Sale, settings: PrinterSettings):
    if job.kind == PRINT_KIND_VA_SLIP:
        return _va_slip(sale, settings)
    if (sale_return := _return_of(job, sale)) is not None:
        return build_return_slip(sale_return, shop_profile(), settings.width_mm)
    return build_receipt(sale, shop_profile(), settings.width_mm)


def _opens_drawer(job: PrintJob, sale: Sale) -> bool:
    """A cash sale's receipt, and the first slip of a return with cash to give back, open the drawer."""
    if job.kind == PRINT_KIND_RECEIPT:
        return sale.method == METHOD_CASH
    sale_return = _return_of(job, sale)
    first = db.session.scalar(db.select(db.func.min(PrintJob.id)).where(PrintJob.sale_id == sale.id,
                                                                       PrintJob.kind == job.kind))
    return sale_return is not None and sale_return.cash_amount > 0 and first == job.id


def _print_claimed(job: PrintJob, settings: PrinterSettings) -> bool:
    job_id, sale = job.id, job.sale
    attempt = job.attempts
    open_drawer = settings.open_drawer and _opens_drawer(job, sale)
    try:
        layout = _layout(job, sale, settings)
        data = render_bytes(layout, open_drawer=open_drawer)
        db.session.commit()  # end the read before waiting on the printer
        send(settings.url, data)
    except PrinterError as exc:
        log.warning("print job %s attempt %s failed", job_id, attempt)
        error = str(exc)
    except Exception:  # a receipt that cannot be built must not stall the jobs behind it
        db.session.rollback()
        log.exception("print job %s could not be rendered", job_id)
        error = "Struk gagal disusun karena kesalahan sistem; lihat log server."
    else:
        error = None
    _record_outcome(job_id, error)
    return error is None


def drain(limit: int = DRAIN_LIMIT) -> int:
    """Print the jobs that are due and return how many printed. Never raises: the caller has a till to keep running."""
    try:
        settings = printer_settings()
        if not settings.enabled:
            return 0
        return claims.each(PrintJob, _claim_due(limit), functools.partial(_print_claimed, settings=settings))
    except Exception:  # a broken queue must not take the job runner or a request down with it
        db.session.rollback()
        log.exception("print queue drain failed")
        return 0


def _print_now(sale: Sale, kind: str) -> PrintJob:
    """Queue a print of `kind` for the sale and drain now; if the printer fails, it stays queued for the retries."""
    if not printer_settings().enabled:
        raise PrinterError(PRINTER_NOT_SET)
    with write_transaction():
        job = PrintJob(sale_id=sale.id, kind=kind, status=PRINT_QUEUED, attempts=0, next_attempt_at=utcnow())
        db.session.add(job)
    drain()
    return db.session.get(PrintJob, job.id, populate_existing=True)


def reprint(sale: Sale) -> PrintJob:
    """Print a copy of the sale's receipt now."""
    return _print_now(sale, PRINT_KIND_REPRINT)


def latest_va(sale: Sale):
    """The sale's newest VA payment (what "Cetak Nomor VA" prints), or None."""
    payments = [payment for payment in sale.payments if payment.method == methods.VA and payment.instructions]
    return max(payments, key=lambda payment: payment.created_at, default=None)


def _va_slip(sale: Sale, settings: PrinterSettings):
    payment = latest_va(sale)
    va = payment.instructions["va"]
    return build_va_slip(payment, shop_profile(), methods.BANKS.get(va["bank"], va["bank"]),
                         methods.group_digits(va["number"]), settings.width_mm)


def print_va_slip(sale: Sale) -> PrintJob:
    """Print the slip of the sale's VA (bank, number, amount, expiry) now."""
    return _print_now(sale, PRINT_KIND_VA_SLIP)


def print_return_slip(sale_return: SaleReturn) -> PrintJob:
    """Print the "RETUR" slip of one return now (after the return, or again from today's sales list)."""
    return _print_now(sale_return.sale, f"{PRINT_KIND_RETURN_SLIP}:{sale_return.number}")


def printed_before(sale: Sale) -> bool:
    """Has a receipt of this sale come out of the printer? Printing it again is then a reprint (a copy)."""
    return db.session.scalar(db.select(PrintJob.id).where(PrintJob.sale_id == sale.id, PrintJob.status == PRINT_PRINTED)
                             .limit(1)) is not None


def unprinted_jobs(limit: int = 10) -> list[PrintJob]:
    """Receipts whose last print job failed at least once (within the last day), newest first: the
    cashier's banner, shown from the first failed attempt on while the retries go on."""
    later = aliased(PrintJob)
    newer_job = db.select(later.id).where(later.sale_id == PrintJob.sale_id, later.id > PrintJob.id).exists()
    retrying = (PrintJob.status == PRINT_QUEUED) & PrintJob.last_error.is_not(None)
    return list(db.session.scalars(
        db.select(PrintJob)
        .where((PrintJob.status == PRINT_FAILED) | retrying, PrintJob.created_at >= utcnow() - FAILED_SHOWN_FOR,
               ~newer_job)
        .order_by(PrintJob.id.desc())
        .limit(limit)
    ))


def last_error() -> PrintJob | None:
    """The most recent job still carrying an error (retrying or failed), for the admin printer page."""
    return db.session.scalar(db.select(PrintJob).where(PrintJob.last_error.is_not(None)).order_by(PrintJob.id.desc()))


def last_printed_at() -> datetime | None:
    return db.session.scalar(db.select(db.func.max(PrintJob.printed_at)))


def print_test_page(settings: PrinterSettings) -> None:
    """Print the test page now, outside the queue; raises PrinterError with the reason."""
    if not settings.enabled:
        raise PrinterError("Printer struk dimatikan. Isi alamat printer terlebih dahulu.")
    page = build_test_page(settings.url, settings.width_mm, utcnow())
    send(settings.url, render_bytes(page))
