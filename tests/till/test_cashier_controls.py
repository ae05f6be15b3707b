"""Cashier controls (issue 20): per-role discount limits, supervisor approval at the till for a discount over the
limit, a void, a refund and a reprint; every discount audited and totalled; a Rp 0 total is never "paid"."""
import html
import re

import pytest

from kasir import approvals, sales, tenders
from kasir.auth.service import create_user
from kasir.clock import business_date
from kasir.extensions import db
from kasir.models import ROLE_CASHIER, AuditLog, PrintJob, Product, Register, Sale, User
from kasir.payments import charges as payment_charges
from kasir.payments import refunds as payment_refunds
from kasir.payments import service as payment_service
from kasir.payments import states
from kasir.payments.models import MockLedgerEntry, Payment
from kasir.payments.providers.mock import MockProvider
from kasir.printing import queue
from kasir.reports import daily
from support.config import ADMIN, CASHIER
from support.databases import fresh

# SKU0001 Indomie Goreng 3.500, SKU0006 Aqua 600 ml 4.000 (stock 96)
SUPERVISOR = {"approver": ADMIN[0], "approver_secret": ADMIN[1]}


@pytest.fixture
def app_context(app):
    # Reads see the database as the requests left it: each request has its own context and session.
    with app.app_context():
        yield


@pytest.fixture
def pos(auth, htmx, app_context):
    """A cashier logged in on register 1, sending htmx requests."""
    auth.login_cashier()
    return htmx


def set_limits(**form):
    approvals.save_discount_limits(form)
    db.session.commit()


def audit_rows(action):
    db.session.expire_all()
    return db.session.scalars(db.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def open_sale():
    db.session.expire_all()
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    return db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == "OPEN"))


def fill(pos, *skus):
    for sku in skus:
        assert pos.post("/pos/cart/scan", data={"q": sku}).status_code == 200
    return open_sale()


def text_of(response):
    return html.unescape(response.get_data(as_text=True))


def paid_cash_sale(pos, *skus):
    sale = fill(pos, *(skus or ("SKU0006",)))
    response = pos.post("/pos/checkout/cash", data={"sale_id": str(sale.id), "tendered": "50.000"})
    assert response.status_code == 200, text_of(response)
    return fresh(Sale, sale.id)


def paid_qris_sale(pos, send_webhook, *skus):
    """A sale paid by a mock QRIS: the simulated gateway settles it and says so in a webhook."""
    fill(pos, *(skus or ("SKU0006",)))
    response = pos.post("/pos/checkout/qris")
    payment_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    payment = fresh(Payment, payment_id)
    body = MockProvider().settle(db.session.get(MockLedgerEntry, payment.provider_trx_id), "SUCCESS")
    assert send_webhook(body).status_code == 200
    payment = fresh(Payment, payment_id)
    assert payment.status == states.PAID
    return fresh(Sale, payment.sale_id), payment


def stock(sku):
    db.session.expire_all()
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


# --- per-role discount limits (service) ---

def test_cashier_discount_within_the_limit_needs_no_approval(till):
    set_limits(discount_limit_percent_cashier="10", discount_limit_amount_cashier="20.000")
    sale = till.add("SKU0006")
    sales.set_line_discount(sale, sale.items[0].id, "10%")
    assert sale.total == 3600


def test_cashier_discount_over_the_percent_limit_needs_approval(till):
    set_limits(discount_limit_percent_cashier="10")
    sale = till.add("SKU0006")
    with pytest.raises(approvals.ApprovalNeeded, match=r"melebihi batas diskon kasir \(10%\)"):
        sales.set_line_discount(sale, sale.items[0].id, "500")  # 12,5% of 4.000
    assert sale.total == 4000


def test_cashier_discount_over_the_rupiah_limit_needs_approval(till):
    set_limits(discount_limit_amount_cashier="1.000")
    sale = till.add("SKU0006", "SKU0006")
    with pytest.raises(approvals.ApprovalNeeded, match=r"Rp 1.000"):
        sales.set_sale_discount(sale, "15%")  # Rp 1.200 of 8.000


def test_admins_have_no_discount_limit_unless_one_is_set(till, app):
    set_limits(discount_limit_percent_cashier="10")
    sale = till.add("SKU0006")
    sale.cashier = db.session.scalar(db.select(User).where(User.username == ADMIN[0]))
    sales.set_sale_discount(sale, "50%")
    assert sale.total == 2000
    set_limits(discount_limit_percent_cashier="10", discount_limit_percent_admin="40")
    with pytest.raises(approvals.ApprovalNeeded, match="batas diskon admin"):
        sales.set_sale_discount(sale, "50%")


def test_an_approved_discount_over_the_limit_is_applied(till):
    set_limits(discount_limit_percent_cashier="0")
    sale = till.add("SKU0006")
    owner = db.session.scalar(db.select(User).where(User.username == ADMIN[0]))
    sales.set_line_discount(sale, sale.items[0].id, "25%", approver=owner)
    assert sale.total == 3000


# --- discount limits in admin ---

def test_admin_sets_discount_limits_and_it_is_audited_as_save_config(client, auth, app_context):
    auth.login_admin()
    response = client.post("/admin/settings/discount-limits", data={
        "discount_limit_percent_cashier": "10", "discount_limit_amount_cashier": "Rp 25.000",
        "discount_limit_percent_admin": "", "discount_limit_amount_admin": ""})
    assert response.status_code == 302
    assert approvals.discount_limit("cashier") == approvals.DiscountLimit(10, 25000)
    assert approvals.discount_limit("admin") == approvals.DiscountLimit(None, None)
    [row] = audit_rows("SaveConfig")
    assert (row.target, row.actor, row.detail) == ("discount_limits", ADMIN[0], "admin=-%/- cashier=10%/25000")
    page = text_of(client.get("/admin/settings"))
    assert "Batas Diskon" in page and 'value="10"' in page and 'value="25.000"' in page


@pytest.mark.parametrize("field, value, message", [
    ("discount_limit_percent_cashier", "150", "Batas diskon persen kasir harus angka bulat 0–100."),
    ("discount_limit_amount_cashier", "-5000", "Batas diskon rupiah kasir: Nominal tidak boleh negatif."),
])
def test_an_invalid_discount_limit_is_refused_in_indonesian_and_nothing_is_saved(client, auth, app_context, field,
                                                                                  value, message):
    auth.login_admin()
    response = client.post("/admin/settings/discount-limits", data={field: value})
    assert response.status_code == 422
    assert message in text_of(response)
    assert approvals.discount_limit("cashier") == approvals.DiscountLimit()
    assert audit_rows("SaveConfig") == []


def test_a_cashier_cannot_change_the_discount_limits(pos, client):
    response = client.post("/admin/settings/discount-limits", data={"discount_limit_percent_cashier": "100"})
    assert response.status_code == 403
    assert approvals.discount_limit("cashier") == approvals.DiscountLimit()


# --- supervisor approval at the till: a discount over the limit ---

def test_over_limit_discount_asks_for_a_supervisor_and_changes_nothing(pos):
    set_limits(discount_limit_percent_cashier="10")
    fill(pos, "SKU0006")
    response = pos.post("/pos/cart/discount", data={"discount": "50%"})
    assert response.status_code == 403
    assert (response.headers["HX-Retarget"], response.headers["HX-Reswap"]) == ("#modal", "innerHTML")
    body = text_of(response)
    assert "Persetujuan Supervisor" in body and "Diskon total Rp 2.000 melebihi batas diskon kasir (10%)" in body
    assert 'hx-post="/pos/cart/discount"' in body and 'name="discount" value="50%"' in body
    assert '<option value="owner"' in body and 'name="approver_secret"' in body
    assert open_sale().total == 4000


def test_supervisor_pin_approves_the_discount_and_the_audit_names_the_approver(pos):
    set_limits(discount_limit_percent_cashier="10")
    fill(pos, "SKU0006")
    response = pos.post("/pos/cart/discount", data={"discount": "50%", **SUPERVISOR})
    assert response.status_code == 200
    assert response.headers["HX-Trigger-After-Settle"] == "kasir:approved"  # the modal closes
    assert open_sale().total == 2000
    [approval] = audit_rows("Approval")
    assert (approval.actor, approval.outcome) == (CASHIER[0], "ok")
    assert approval.detail.startswith("approver=owner action=Discount")
    [discount] = audit_rows("Discount")
    assert discount.actor == CASHIER[0]
    assert "sale amount=2000 percent=50 of=4000 approved_by=owner" in discount.detail


def test_a_supervisor_pin_works_as_well_as_the_password(pos):
    set_limits(discount_limit_percent_cashier="10")
    owner = db.session.scalar(db.select(User).where(User.username == ADMIN[0]))
    owner.set_pin("9753")
    db.session.commit()
    fill(pos, "SKU0006")
    response = pos.post("/pos/cart/discount", data={"discount": "50%", "approver": "owner", "approver_secret": "9753"})
    assert response.status_code == 200 and open_sale().total == 2000


def test_wrong_supervisor_pin_is_refused_audited_and_changes_nothing(pos):
    set_limits(discount_limit_percent_cashier="10")
    fill(pos, "SKU0006")
    response = pos.post("/pos/cart/discount", data={"discount": "50%", "approver": "owner", "approver_secret": "0000",
                                                      "approval_reason": "Diskon total Rp 2.000 melebihi batas"})
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#modal"
    body = text_of(response)
    assert "PIN atau kata sandi supervisor salah." in body and "Diskon total Rp 2.000 melebihi batas" in body
    assert open_sale().total == 4000
    [refusal] = audit_rows("Approval")
    assert (refusal.actor, refusal.outcome) == (CASHIER[0], "denied")
    assert "0000" not in refusal.detail
    assert audit_rows("Discount") == []


def test_a_cashier_cannot_approve(pos, app):
    create_user("budi", ROLE_CASHIER, display_name="Budi", pin="1357")
    db.session.commit()
    set_limits(discount_limit_percent_cashier="10")
    fill(pos, "SKU0006")
    response = pos.post("/pos/cart/discount", data={"discount": "50%", "approver": "budi", "approver_secret": "1357"})
    assert response.status_code == 403
    assert "Pilih supervisor (admin) yang menyetujui." in text_of(response)
    assert '<option value="budi"' not in text_of(response)
    assert open_sale().total == 4000
    assert [row.outcome for row in audit_rows("Approval")] == ["denied"]


def test_repeated_wrong_pins_stop_the_till_asking_for_a_while(pos):
    set_limits(discount_limit_percent_cashier="10")
    fill(pos, "SKU0006")
    wrong = {"discount": "50%", "approver": "owner", "approver_secret": "0000"}
    for _ in range(approvals.MAX_REFUSALS):
        pos.post("/pos/cart/discount", data=wrong)
    response = pos.post("/pos/cart/discount", data={"discount": "50%", **SUPERVISOR})
    assert response.status_code == 403 and "Terlalu banyak PIN salah" in text_of(response)
    assert open_sale().total == 4000


def test_every_discount_is_audited_with_who_and_how_much(pos):
    sale = fill(pos, "SKU0006", "SKU0001")
    line = next(item for item in sale.items if item.sku == "SKU0006")
    assert pos.post(f"/pos/cart/items/{line.id}/discount", data={"discount": "1.000"}).status_code == 200
    [row] = audit_rows("Discount")
    assert (row.actor, row.target) == (CASHIER[0], f"Keranjang 1 #{sale.id}")
    assert row.detail == "line=SKU0006 amount=1000 percent=- of=4000 approved_by=-"


# --- void at the till ---

def test_void_at_the_till_asks_a_cashier_for_a_supervisor(pos):
    sale = paid_cash_sale(pos)
    modal = text_of(pos.get(f"/pos/sales/{sale.id}/void"))
    assert "Batalkan Transaksi" in modal and "Alasan pembatalan" in modal
    response = pos.post(f"/pos/sales/{sale.id}/void", data={"reason": "salah input"})
    assert response.status_code == 403 and "Persetujuan Supervisor" in text_of(response)
    assert 'name="reason" value="salah input"' in text_of(response)
    assert fresh(Sale, sale.id).status == "PAID"


def test_approved_void_at_the_till_returns_stock_and_names_the_approver(pos):
    before = stock("SKU0006")
    sale = paid_cash_sale(pos)
    response = pos.post(f"/pos/sales/{sale.id}/void", data={"reason": "salah input", **SUPERVISOR})
    assert response.headers["HX-Redirect"] == "/pos/sales"
    sale = fresh(Sale, sale.id)
    assert (sale.status, sale.voided_by.username, sale.void_reason) == ("VOID", ADMIN[0], "salah input")
    assert stock("SKU0006") == before
    [void] = audit_rows("VoidSale")
    assert void.actor == CASHIER[0] and "approved_by=owner reason=salah input" in void.detail
    assert "dibatalkan; stok dikembalikan" in text_of(pos.get("/pos/sales"))


def test_void_at_the_till_needs_a_reason_before_anyone_is_asked(pos):
    sale = paid_cash_sale(pos)
    response = pos.post(f"/pos/sales/{sale.id}/void", data={"reason": " "})
    assert response.status_code == 422 and "Alasan pembatalan wajib diisi." in text_of(response)
    assert fresh(Sale, sale.id).status == "PAID"


def test_voiding_a_qris_sale_says_the_money_must_be_refunded(pos, send_webhook):
    sale, payment = paid_qris_sale(pos, send_webhook)
    assert "Uang QRIS Rp 4.000 sudah diterima" in text_of(pos.get(f"/pos/sales/{sale.id}/void"))
    pos.post(f"/pos/sales/{sale.id}/void", data={"reason": "batal beli", **SUPERVISOR})
    listing = text_of(pos.get("/pos/sales"))
    assert "Uang QRIS Rp 4.000 harus dikembalikan ke pelanggan" in listing
    assert f"/pos/sales/{sale.id}/payments/{payment.id}/refund" in listing


# --- refund at the till ---

def test_refund_at_the_till_asks_a_cashier_for_a_supervisor(pos, send_webhook):
    sale, payment = paid_qris_sale(pos, send_webhook)
    response = pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
                        data={"amount": "4.000", "reason": "barang rusak"})
    assert response.status_code == 403 and "Refund Rp 4.000" in text_of(response)
    assert fresh(Payment, payment.id).status == states.PAID


def test_approved_partial_refund_at_the_till_goes_through_the_gateway(pos, send_webhook):
    sale, payment = paid_qris_sale(pos, send_webhook, "SKU0006", "SKU0001")
    response = pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
                        data={"amount": "3.500", "reason": "barang rusak", **SUPERVISOR})
    assert response.headers.get("HX-Redirect") == "/pos/sales", text_of(response)
    payment = fresh(Payment, payment.id)
    # A partial refund leaves the rest of the money the shop's: still PAID (issue 20), 3.500 given back.
    assert payment.status == states.PAID and payment_refunds.refunded_amount(payment) == 3500
    [approval] = audit_rows("Approval")
    assert approval.detail.startswith("approver=owner action=Refund") and approval.target == payment.order_id
    [refund] = audit_rows("Refund")
    assert refund.actor == CASHIER[0] and refund.outcome == "ok"


def test_a_second_partial_refund_at_the_till_may_give_back_only_what_is_left(pos, send_webhook):
    sale, payment = paid_qris_sale(pos, send_webhook, "SKU0006", "SKU0001")
    pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
             data={"amount": "3.500", "reason": "barang rusak", **SUPERVISOR})
    response = pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
                        data={"amount": "5.000", "reason": "batal semua", **SUPERVISOR})
    assert response.status_code == 422 and "paling banyak Rp 4.000" in text_of(response)
    pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
             data={"amount": "4.000", "reason": "batal semua", **SUPERVISOR})
    payment = fresh(Payment, payment.id)
    assert payment.status == states.REFUNDED and payment_refunds.refunded_amount(payment) == 7500


def test_refund_larger_than_the_payment_is_refused(pos, send_webhook):
    sale, payment = paid_qris_sale(pos, send_webhook)
    response = pos.post(f"/pos/sales/{sale.id}/payments/{payment.id}/refund",
                        data={"amount": "5.000", "reason": "x", **SUPERVISOR})
    assert response.status_code == 422 and "paling banyak Rp 4.000" in text_of(response)
    assert fresh(Payment, payment.id).status == states.PAID


# --- reprint at the till ---

@pytest.fixture
def file_printer(app, tmp_path):
    app.config["PRINTER_URL"] = f"file://{tmp_path / 'printer.bin'}"


def test_a_receipt_that_never_printed_prints_without_approval(pos, file_printer):
    sale = paid_cash_sale(pos)  # its automatic print is still queued
    response = pos.post(f"/receipts/{sale.id}/print")
    assert response.status_code == 200 and "dicetak" in text_of(response)


def test_a_reprint_asks_a_cashier_for_a_supervisor(pos, file_printer):
    sale = paid_cash_sale(pos)
    queue.drain()
    assert queue.printed_before(sale)
    response = pos.post(f"/receipts/{sale.id}/print")
    assert response.status_code == 403 and "sudah pernah dicetak" in text_of(response)
    assert 'hx-post="/receipts/' in text_of(response)
    assert [job.kind for job in db.session.scalars(db.select(PrintJob).where(PrintJob.sale_id == sale.id))] \
        == ["receipt"]


def test_an_approved_reprint_prints_and_names_the_approver(pos, file_printer):
    sale = paid_cash_sale(pos)
    queue.drain()
    response = pos.post(f"/receipts/{sale.id}/print", data=SUPERVISOR)
    assert response.status_code == 200 and "dicetak" in text_of(response)
    assert response.headers["HX-Trigger-After-Settle"] == "kasir:approved"
    [reprint] = audit_rows("Reprint")
    assert (reprint.actor, reprint.detail) == (CASHIER[0], "approved_by=owner")


def test_a_supervisor_at_the_till_reprints_without_asking_anyone(client, auth, htmx, file_printer, app_context):
    auth.login_admin()
    client.set_cookie("kasir_register", "1")
    sale = paid_cash_sale(htmx)
    queue.drain()
    assert htmx.post(f"/receipts/{sale.id}/print").status_code == 200


# --- the day report ---

def test_day_report_totals_the_discounts_of_paid_sales_with_their_count(pos, client, auth):
    sale = fill(pos, "SKU0006", "SKU0001")
    line = next(item for item in sale.items if item.sku == "SKU0006")
    pos.post(f"/pos/cart/items/{line.id}/discount", data={"discount": "1.000"})
    pos.post("/pos/cart/discount", data={"discount": "500"})
    pos.post("/pos/checkout/cash", data={"sale_id": str(sale.id), "tendered": "6.000"})
    voided = paid_cash_sale(pos, "SKU0001")
    fill(pos, "SKU0006")
    pos.post("/pos/cart/discount", data={"discount": "300"})  # still in the cart: not given yet
    pos.post(f"/pos/sales/{voided.id}/void", data={"reason": "salah", **SUPERVISOR})

    report = daily.build_report(business_date())
    assert (report.discount_count, report.discount_total) == (2, 1500)
    auth.login_admin()
    page = client.get("/admin/reports").get_data(as_text=True)
    row = re.search(r'<tr data-figure="discounts">(.*?)</tr>', page, re.S).group(1)
    assert "Total diskon" in row and "2 diskon" in row and "Rp 1.500" in row


# --- a Rp 0 total is never paid ---

@pytest.mark.parametrize("pay", [
    lambda sale_id: tenders.add_cash(sale_id, 5000),
    lambda sale_id: tenders.pay_cash(sale_id, "5.000"),
    lambda sale_id: tenders.pay_debit(sale_id, "EDC12345"),
])
def test_a_zero_total_cannot_be_paid_with_any_tender(till, pay):
    sale = till.add("SKU0006")
    sales.set_sale_discount(sale, "100%")
    db.session.commit()
    with pytest.raises(sales.SaleError, match="Total Rp 0 tidak bisa dibayar"):
        pay(sale.id)
    assert fresh(Sale, sale.id).status == "OPEN"


def test_a_zero_total_gets_no_qr(till):
    sale = till.add("SKU0006")
    sales.set_sale_discount(sale, "100%")
    db.session.commit()
    with pytest.raises(payment_service.PaymentError, match="Total Rp 0 tidak bisa dibayar"):
        payment_charges.create_for_sale(sale.id)


def test_the_till_offers_no_quick_tender_for_a_zero_total(pos):
    sale = fill(pos, "SKU0006")
    pos.post("/pos/cart/discount", data={"discount": "100%"})
    for method in ("cash", "debit"):
        response = pos.get(f"/pos/pay/{method}")
        assert response.headers["HX-Retarget"] == "#toast"
        assert "Total Rp 0 tidak bisa dibayar" in text_of(response)
    # A quick-tender button of a panel opened before the discount:
    response = pos.post("/pos/checkout/cash", data={"sale_id": str(sale.id), "quick": "5000"})
    assert "Total Rp 0 tidak bisa dibayar" in text_of(response)
    assert fresh(Sale, sale.id).status == "OPEN"
