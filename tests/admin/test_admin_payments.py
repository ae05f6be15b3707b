"""Admin: payments table with filters, detail with timeline/webhooks/callbacks, refunds, CSV export, API keys."""
from datetime import timedelta

import pytest

from kasir.api.models import ApiKey
from kasir.clock import business_date, wib_day_bounds
from kasir.extensions import db
from kasir.payments import refunds, states
from kasir.payments.models import Callback, MockLedgerEntry, Payment
from support.payments import paid_body


def test_payments_table_lists_api_and_till_payments(client, auth, api, pending_payment):
    api.create("WEB-1", 5000)
    auth.login_admin()
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "WEB-1" in page and pending_payment.order_id in page and "Rp 5.000" in page


def test_payments_table_filters_by_status_and_order_id(client, auth, api):
    api.create("WEB-1", 5000)
    cancelled = api.create("WEB-2", 6000).json["payment_id"]
    api.post(f"/payments/{cancelled}/cancel")
    auth.login_admin()
    page = client.get("/admin/payments?status=CANCELLED").get_data(as_text=True)
    assert "WEB-2" in page and "WEB-1" not in page
    page = client.get("/admin/payments?order_id=WEB-1").get_data(as_text=True)
    assert "WEB-1" in page and "WEB-2" not in page


def test_payments_table_filters_by_date_and_provider(client, auth, api):
    api.create("WEB-1", 5000)
    auth.login_admin()
    assert "WEB-1" not in client.get("/admin/payments?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert "WEB-1" not in client.get("/admin/payments?provider=xendit").get_data(as_text=True)
    assert "WEB-1" in client.get("/admin/payments?provider=mock").get_data(as_text=True)


def test_detail_shows_timeline_webhooks_and_callbacks(client, auth, api, send_webhook, app):
    created = api.create("WEB-1", 5000, callback_url="https://toko.example/cb").json

    class Paid:
        provider_trx_id, order_id, amount = created["provider_trx_id"], "WEB-1", 5000

    send_webhook(paid_body(Paid), event_id="evt-42")
    auth.login_admin()
    page = client.get(f"/admin/payments/{created['payment_id']}").get_data(as_text=True)
    before, folded = page.split('<details class="technical" data-technical>', 1)
    technical, after = folded.split("</details>", 1)
    shown = before + after
    assert "QR siap dibayar" in shown and "Pembayaran diterima" in shown and "Rp 5.000 diterima." in shown
    assert "evt-42" in shown and "Kirim Ulang" in shown and "Lunas" in shown
    assert "status:" not in shown and "{" not in shown.split("<h2>Riwayat</h2>", 1)[1].split("<script", 1)[0]
    assert "Detail teknis" in technical and "status:paid" in technical  # the raw rows, folded away


# --- refunds: partial ones may follow one another up to the amount paid ----------------------------------

@pytest.fixture
def paid_api_payment(api, send_webhook, app):
    created = api.create("WEB-9", 10_000).json

    class Paid:
        provider_trx_id, order_id, amount = created["provider_trx_id"], "WEB-9", 10_000

    send_webhook(paid_body(Paid), event_id="evt-9")
    with app.app_context():  # the simulator's own books say paid too (its "Bayar" button does both)
        db.session.get(MockLedgerEntry, created["provider_trx_id"]).status = states.PAID
        db.session.commit()
    return created["payment_id"]


def refund(client, payment_id, amount, reason="Barang kurang"):
    return client.post(f"/admin/payments/{payment_id}/refund", data={"amount": amount, "reason": reason})


def stored(app, payment_id):
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        given = [entry["amount"] for entry in refunds.refunds_of(payment)]
        return payment.status, refunds.refunded_amount(payment), given


def test_a_partial_refund_keeps_the_payment_paid(client, auth, app, paid_api_payment):
    auth.login_admin()
    assert refund(client, paid_api_payment, "3.000").status_code == 302
    assert stored(app, paid_api_payment) == (states.PAID, 3000, [3000])
    page = client.get(f"/admin/payments/{paid_api_payment}").get_data(as_text=True)
    assert "data-refund-form" in page and "sisa Rp 7.000" in page and 'value="7000"' in page
    refund_page = client.get(f"/admin/payments/{paid_api_payment}/refund").get_data(as_text=True)
    assert 'data-refundable="7000"' in refund_page and "Barang kurang" in refund_page


def test_partial_refunds_reaching_the_amount_make_it_refunded(client, auth, app, paid_api_payment):
    auth.login_admin()
    refund(client, paid_api_payment, "3000")
    refund(client, paid_api_payment, "2500", reason="Satu lagi kurang")
    assert stored(app, paid_api_payment) == (states.PAID, 5500, [3000, 2500])
    assert refund(client, paid_api_payment, "4500", reason="Batal semua").status_code == 302
    assert stored(app, paid_api_payment) == (states.REFUNDED, 10_000, [3000, 2500, 4500])
    with app.app_context():
        events = [entry.event for entry in db.session.get(Payment, paid_api_payment).logs]
    assert events.count("refund") == 3 and events[-1] == "status:refunded"


def test_a_refund_above_what_is_left_is_refused_in_indonesian(client, auth, app, paid_api_payment):
    auth.login_admin()
    refund(client, paid_api_payment, "6000")
    response = refund(client, paid_api_payment, "5000")
    assert response.status_code == 422
    assert "antara Rp 1 dan Rp 4.000" in response.get_data(as_text=True)
    assert stored(app, paid_api_payment) == (states.PAID, 6000, [6000])


def test_the_day_report_sums_the_refunds_of_the_day(client, auth, app, paid_api_payment):
    auth.login_admin()
    refund(client, paid_api_payment, "3000")
    refund(client, paid_api_payment, "2000")
    with app.app_context():
        day = business_date()
        assert refunds.refunds_between(*wib_day_bounds(day)) == refunds.Refunds(2, 5000, of_sales=0)  # an API payment
        assert refunds.refunds_between(*wib_day_bounds(day - timedelta(days=1))) == refunds.Refunds(0, 0, 0)


def test_retry_makes_a_callback_due_now(client, auth, api, app):
    payment_id = api.create("WEB-1", 5000, callback_url="https://toko.example/cb").json["payment_id"]
    api.post(f"/payments/{payment_id}/cancel")
    with app.app_context():
        callback = db.session.scalar(db.select(Callback))
        callback.next_attempt_at = None  # the schedule gave up
        db.session.commit()
        callback_id = callback.id
    auth.login_admin()
    assert client.post(f"/admin/callbacks/{callback_id}/retry").status_code == 302
    with app.app_context():
        assert db.session.get(Callback, callback_id).next_attempt_at is not None


def test_csv_export_streams_the_filtered_rows(client, auth, api):
    api.create("WEB-1", 5000)
    api.create("WEB-2", 6000)
    auth.login_admin()
    response = client.get("/admin/payments/export.csv?order_id=WEB-2")
    assert response.mimetype == "text/csv" and "Content-Length" not in response.headers  # streamed
    lines = response.get_data(as_text=True).strip().splitlines()
    # The BOM lets spreadsheet apps read the file as UTF-8.
    assert lines[0].startswith("\ufeffdibuat,order_id,jumlah")
    assert len(lines) == 2 and ",WEB-2,6000,PENDING," in lines[1]


def test_admin_creates_a_key_and_sees_its_token_once(client, auth, app):
    auth.login_admin()
    page = client.post("/admin/api-keys", data={"name": "Tablet Pesanan"}).get_data(as_text=True)
    assert "Tablet Pesanan" in page and "hanya ditampilkan sekali" in page
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert token.startswith("kasir_")
    assert token not in client.get("/admin/api-keys").get_data(as_text=True)
    assert client.get("/payments", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_admin_revokes_a_key(client, auth, api, app):
    auth.login_admin()
    client.post(f"/admin/api-keys/{api.token[:14]}/revoke")
    with app.app_context():
        assert db.session.scalar(db.select(ApiKey.revoked_at)) is not None
    assert api.get("/payments").status_code == 401


def test_cashier_cannot_open_admin_payments(client, auth):
    auth.login_cashier()
    assert client.get("/admin/payments").status_code == 403
