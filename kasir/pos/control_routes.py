"""Cashier controls at the till: void a paid sale, take items back, refund its QRIS money; a supervisor approves."""
import functools

from flask import flash, g, make_response, render_template, request, url_for

from .. import approvals, returns, sales
from ..auth.approval import approver_from_form, ask_approval
from ..extensions import db
from ..models import METHOD_QRIS, PRINT_PRINTED, SALE_PAID, Sale, SaleReturn
from ..money import MoneyError, format_rupiah, parse_rupiah
from ..payments import refunds as payment_refunds
from ..payments import service as payment_service
from ..payments import states
from ..payments.models import Payment
from ..payments.providers.base import ProviderError
from ..printing import queue as print_queue
from ..printing.backends import PrinterError
from ..printing.settings import printer_settings
from ..web import toast
from .blueprint import bp
from .routes import with_register


def paid_payments(sale: Sale) -> list[Payment]:
    """The sale's gateway payments whose money came in and has not been refunded."""
    return [payment for payment in sale.payments if payment.status == states.PAID]


def this_registers(view):
    """Resolve <sale_id> to a closed sale of this register; a toast for anything else."""

    @functools.wraps(view)
    def wrapped(sale_id, **kwargs):
        sale = db.session.get(Sale, sale_id)
        if sale is None or sale.register_id != g.register.id or sale.number is None:
            return toast("Transaksi tidak ditemukan.", 404)
        return view(sale, **kwargs)

    return wrapped


def back_to_sales_list(message: str):
    """Done: the till's list of today's sales again, with what happened (and what the cashier must still do)."""
    flash(message, "success")
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url_for("pos.todays_sales")
    return response


@bp.route("/sales/<int:sale_id>/void", methods=["GET", "POST"])
@with_register
@this_registers
def sale_void(sale):
    """Void a paid sale: reason required, stock back; a cashier needs a supervisor's approval."""
    error = None
    if request.method == "POST":
        try:
            reason = sales.check_void_reason(request.form.get("reason"))
            if sale.status != SALE_PAID:
                raise sales.SaleError("Hanya transaksi yang sudah dibayar yang bisa dibatalkan.")
            approver = approver_from_form("VoidSale", sale.display_number, detail=f"total={sale.total}")
            supervisor = approvals.require_supervisor(
                g.user, approver, f"Membatalkan transaksi {sale.display_number} ({format_rupiah(sale.total)}) "
                                  "perlu persetujuan supervisor.")
            sales.void_sale(sale.id, supervisor, reason)
        except (approvals.ApprovalNeeded, approvals.ApprovalRefused) as exc:
            db.session.rollback()
            return ask_approval(exc, target="#modal", swap="innerHTML")
        except sales.SaleError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            message = f"Transaksi {sale.display_number} dibatalkan; stok dikembalikan."
            owed = sum(payment.amount - payment_refunds.refunded_amount(payment) for payment in paid_payments(sale))
            if owed:
                message += f" Uang QRIS {format_rupiah(owed)} harus dikembalikan ke pelanggan: tekan Refund QRIS."
            return back_to_sales_list(message)
    return render_template("pos/_void.html", sale=sale, error=error, qris_paid=paid_payments(sale),
                           form=request.form), (422 if error else 200)


@bp.route("/sales/<int:sale_id>/return", methods=["GET", "POST"])
@with_register
@this_registers
def sale_return(sale):
    """Take back some or all items of a paid sale, refunded in cash or back to its QRIS payment (the rest in cash);
    stock back; a cashier needs a supervisor; the "RETUR" slip is printed (a printer failure never undoes it)."""
    error = None
    if request.method == "POST":
        try:
            lines = {item.id: _return_quantity(request.form.get(f"qty-{item.id}")) for item in sale.items}
            method = request.form.get("method", returns.METHOD_CASH)
            approver = approver_from_form("SaleReturn", sale.display_number)
            done = returns.create_return(sale, lines, method, g.user, approver)
        except (approvals.ApprovalNeeded, approvals.ApprovalRefused) as exc:
            db.session.rollback()
            return ask_approval(exc, target="#modal", swap="innerHTML")
        except returns.ReturnError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            message = (f"Retur {sale.display_number} dicatat; stok dikembalikan. {returns.describe_amount(done)}."
                       + _print_slip(done))
            return back_to_sales_list(message)
        db.session.expire_all()
    qris = returns.qris_refundable(sale)
    chosen = request.form.get("method") or (returns.METHOD_QRIS if qris and sale.method == METHOD_QRIS
                                            else returns.METHOD_CASH)
    return render_template("pos/_return.html", sale=sale, returned=returns.returned_quantities(sale.id),
                           qris=qris, pending=returns.pending_refund(sale), method=chosen,
                           error=error, form=request.form), (422 if error else 200)


@bp.route("/returns/find")
@with_register
def return_by_receipt():
    """"Retur" for a receipt the customer brings (its number scanned or typed): a paid sale of this register, of
    any day, opens the same return modal; another register's sale is returned at that register (its shift)."""
    try:
        sale = returns.find_sale(request.args.get("number", "")[:40])
    except returns.ReturnError as exc:
        return toast(str(exc), 404)
    if sale.register_id != g.register.id:
        return toast(f"Struk {sale.display_number} dari {sale.register.name}: retur dilakukan di kasir itu.", 409)
    return sale_return(sale_id=sale.id)


def _print_slip(sale_return: SaleReturn) -> str:
    """Print the return's slip when a printer is set; what the till should add to its message."""
    if not printer_settings().enabled:
        return ""
    try:
        job = print_queue.print_return_slip(sale_return)
    except PrinterError:
        return " Slip retur belum tercetak: cetak dari daftar transaksi."
    if job.status == PRINT_PRINTED:
        return " Slip retur dicetak."
    return " Slip retur belum tercetak: printer tidak menjawab; dicoba lagi otomatis."


@bp.route("/sales/<int:sale_id>/returns/<int:number>/print", methods=["POST"])
@with_register
@this_registers
def return_slip_print(sale, number):
    """"Cetak Slip Retur" on today's sales list: the slip of one of the sale's returns again."""
    sale_return = db.session.scalar(db.select(SaleReturn).where(SaleReturn.sale_id == sale.id,
                                                                SaleReturn.number == number))
    if sale_return is None:
        return toast("Retur tidak ditemukan.", 404)
    try:
        job = print_queue.print_return_slip(sale_return)
    except PrinterError as exc:
        return toast(str(exc), 409)
    if job.status == PRINT_PRINTED:
        return toast("Slip retur dicetak.", 200, "success")
    return toast("Slip retur belum tercetak: printer tidak menjawab; dicoba lagi otomatis.", 202)


def _return_quantity(text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    if not text.isdigit() or len(text) > 6:
        raise returns.ReturnError("Jumlah retur harus bilangan bulat.")
    return int(text)


@bp.route("/sales/<int:sale_id>/payments/<payment_id>/refund", methods=["GET", "POST"])
@with_register
@this_registers
def payment_refund(sale, payment_id):
    """Refund a QRIS payment of the sale through its gateway, in full or in part, approved by a supervisor."""
    payment = next((p for p in sale.payments if p.id == payment_id), None)
    if payment is None:
        return toast("Pembayaran tidak ditemukan.", 404)
    error = None
    if request.method == "POST":
        try:
            amount = parse_rupiah(request.form.get("amount", ""), allow_zero=False)
            if payment.status != states.PAID:
                raise payment_service.PaymentError("Hanya pembayaran yang lunas yang bisa direfund.")
            left = payment.amount - payment_refunds.refunded_amount(payment)  # earlier partial refunds count
            if amount > left:
                raise payment_service.PaymentError(f"Nominal refund paling banyak {format_rupiah(left)}.")
            if not " ".join(request.form.get("reason", "").split()):
                raise payment_service.PaymentError("Isi alasan refund.")
            approver = approver_from_form("Refund", payment.order_id, detail=f"amount={amount}")
            approvals.require_supervisor(
                g.user, approver, f"Refund {format_rupiah(amount)} untuk transaksi {sale.display_number} "
                                  "perlu persetujuan supervisor.")
            db.session.commit()  # the approval stays on record whatever the gateway answers
            payment_refunds.refund(payment, amount, request.form.get("reason", "")[:200],
                                   actor=g.user.username)
        except (approvals.ApprovalNeeded, approvals.ApprovalRefused) as exc:
            db.session.rollback()
            return ask_approval(exc, target="#modal", swap="innerHTML")
        except ProviderError:
            db.session.rollback()
            error = ("Gateway belum bisa memproses refund ini. Coba lagi nanti, atau minta admin memeriksanya "
                     "di Admin › Pembayaran.")
        except (MoneyError, payment_service.PaymentError) as exc:
            db.session.rollback()
            error = str(exc)
        else:
            return back_to_sales_list(f"Refund {format_rupiah(amount)} untuk transaksi {sale.display_number} "
                                      "tercatat. Pastikan pelanggan menerimanya.")
        db.session.expire_all()
    return render_template("pos/_refund.html", sale=sale, payment=payment, error=error,
                           form=request.form), (422 if error else 200)
