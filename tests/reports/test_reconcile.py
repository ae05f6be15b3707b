"""Reconciliation (contracts/settlement.md): settlement rows against payments, via CSV or the provider."""
from kasir.clock import business_date
from kasir.extensions import db
from kasir.payments.models import Payment, Settlement
from kasir.reports import reconcile
from support.payments import paid_body

GENERIC = "provider_trx_id,order_id,amount,fee,net_amount,settlement_date,status\n"


def paid_api_payment(api, send_webhook, order_id, amount):
    created = api.create(order_id, amount).json

    class Paid:
        provider_trx_id = created["provider_trx_id"]

    Paid.order_id, Paid.amount = order_id, amount
    send_webhook(paid_body(Paid))
    return created


def run_cli(runner, tmp_path, text, name="settlement.csv"):
    path = tmp_path / name
    path.write_text(text)
    return runner.invoke(args=["reconcile", "--date", business_date().isoformat(), "--file", str(path)])


def test_matching_rows_report_no_differences(api, send_webhook, runner, tmp_path):
    paid = paid_api_payment(api, send_webhook, "WEB-1", 27500)
    result = run_cli(runner, tmp_path,
                     GENERIC + f"{paid['provider_trx_id']},WEB-1,27500.00,193,27307,2026-11-24,settlement\n")
    assert result.exit_code == 0, result.output
    assert "1 cocok" in result.output and "Tidak ada selisih" in result.output


def test_matching_falls_back_to_order_id(api, send_webhook, app):
    paid_api_payment(api, send_webhook, "WEB-1", 27500)
    with app.app_context():
        rows = reconcile.parse_csv(GENERIC + ",WEB-1,27500,0,27500,2026-11-24,settlement\n")
        report = reconcile.reconcile(business_date(), rows, "f.csv")
        assert len(report.matched) == 1


def test_unknown_and_unpaid_rows_are_missing_in_kasir(api, app):
    api.create("WEB-OPEN", 1000)
    with app.app_context():
        rows = reconcile.parse_csv(GENERIC + "x,GHOST-1,5000,35,4965,2026-11-24,settlement\n"
                                             ",WEB-OPEN,1000,7,993,2026-11-24,settlement\n")
        report = reconcile.reconcile(business_date(), rows, "f.csv")
        assert [s.order_id for s in report.missing_in_kasir] == ["GHOST-1", "WEB-OPEN"]


def test_paid_payment_absent_from_the_file_is_missing_at_the_gateway(api, send_webhook, app):
    paid_api_payment(api, send_webhook, "WEB-1", 27500)
    with app.app_context():
        report = reconcile.reconcile(business_date(), [], "empty.csv")
        assert [p.order_id for p in report.missing_at_gateway] == ["WEB-1"]


def test_amount_mismatch_and_double_settlement_are_reported(api, send_webhook, app, runner, tmp_path):
    paid = paid_api_payment(api, send_webhook, "WEB-1", 27500)
    text = GENERIC + f"{paid['provider_trx_id']},WEB-1,25000,0,25000,2026-11-24,settlement\n" \
                     f"{paid['provider_trx_id']},WEB-1,25000,0,25000,2026-11-24,settlement\n"
    result = run_cli(runner, tmp_path, text)
    assert "Jumlah berbeda: 1" in result.output and "Settlement ganda: 1" in result.output
    assert "Rp 27.500" in result.output


def test_late_payment_is_flagged(api, send_webhook, app):
    created = api.create("WEB-LATE", 5000).json
    api.post(f"/payments/{created['payment_id']}/cancel")

    class Paid:
        provider_trx_id, order_id, amount = created["provider_trx_id"], "WEB-LATE", 5000

    send_webhook(paid_body(Paid))
    with app.app_context():
        rows = reconcile.parse_csv(GENERIC + ",WEB-LATE,5000,0,5000,2026-11-24,settlement\n")
        report = reconcile.reconcile(business_date(), rows, "f.csv")
        assert [s.order_id for s in report.late] == ["WEB-LATE"]


def test_a_replaced_qr_paid_as_well_differs_from_the_sale(app, till, send_webhook):
    from kasir.payments import charges

    sale = till.add("SKU0001")
    first = charges.create_for_sale(sale.id)
    second = charges.regenerate(first)
    for payment in (first, second):
        send_webhook(paid_body(payment))
    with app.app_context():
        report = reconcile.reconcile(business_date(), [], "f.csv")
        # The new QR paid the sale; the cancelled one's money came late and no sale took it: to refund.
        assert [(m.payment.order_id, m.applied, m.unapplied, m.short) for m in report.sale_mismatch] == [
            (first.order_id, 0, 3_500, 0)]


def test_midtrans_and_xendit_exports_are_read_by_header_name():
    midtrans = reconcile.parse_csv("Order ID,Transaction ID,Amount,Transaction Status,Settlement Time\n"
                                   "WEB-1,abc-123,27500.00,settlement,2026-11-24 10:15:00\n")
    xendit = reconcile.parse_csv("Reference,Amount,Fee,Net Amount,Settlement Date\nWEB-2,10000,70,9930,2026-11-25\n")
    assert (midtrans[0].order_id, midtrans[0].provider_trx_id, midtrans[0].amount) == ("WEB-1", "abc-123", 27500)
    assert str(midtrans[0].settlement_date) == "2026-11-24"
    assert (xendit[0].order_id, xendit[0].fee, xendit[0].net_amount) == ("WEB-2", 70, 9930)


def test_a_fractional_amount_is_refused_with_its_line(runner, tmp_path):
    result = run_cli(runner, tmp_path, GENERIC + "x,WEB-1,27500.50,0,0,2026-11-24,settlement\n")
    assert result.exit_code != 0 and "baris 2" in result.output


def test_importing_the_same_file_twice_keeps_one_copy(api, send_webhook, app, runner, tmp_path):
    paid = paid_api_payment(api, send_webhook, "WEB-1", 27500)
    text = GENERIC + f"{paid['provider_trx_id']},WEB-1,27500,193,27307,2026-11-24,settlement\n"
    run_cli(runner, tmp_path, text)
    run_cli(runner, tmp_path, text)
    with app.app_context():
        [row] = db.session.scalars(db.select(Settlement)).all()
        assert row.reconciled and row.payment_id == paid["payment_id"] and row.fee == 193


def test_without_a_file_the_provider_settlement_is_used(api, send_webhook, app, runner):
    from kasir.payments.models import MockLedgerEntry
    from kasir.payments.providers.mock import MockProvider

    created = api.create("WEB-1", 8000).json
    with app.app_context():
        MockProvider().settle(db.session.get(MockLedgerEntry, created["provider_trx_id"]), "SUCCESS")
        payment = db.session.get(Payment, created["payment_id"])
        from kasir.payments import sync
        sync.check_status(payment, source="sync")
        day = business_date(db.session.get(Payment, created["payment_id"]).paid_at)  # the shop's (WIB) day
    result = runner.invoke(args=["reconcile", "--date", day.isoformat()])
    assert "1 baris, 1 cocok" in result.output
