"""The reconciliation page: upload a settlement file, see every group for the day, resolve each with a note."""
import io
import tracemalloc
from datetime import date

import pytest

from kasir.extensions import db
from kasir.models import AuditLog
from kasir.payments.models import Payment, Settlement
from kasir.reports import reconcile
from support.days import GENERIC, known_day_settlement


def test_known_day_reconciles_into_every_group(known_day):
    report = reconcile.reconcile(known_day.day, reconcile.parse_csv(known_day_settlement(known_day)), "midtrans.csv")

    assert report.counts == {"matched": 1, "late": 1, "missing_in_kasir": 1, "sale_mismatch": 1}
    assert [s.order_id for s in report.matched] == [known_day.qris_paid.order_id]
    assert [s.order_id for s in report.late] == [known_day.late.order_id]
    assert [s.order_id for s in report.missing_in_kasir] == ["WEB-GHOST"]
    assert [p.order_id for p in report.missing_at_gateway] == [known_day.refunded.order_id]
    # QRIS paid for a sale already closed in cash: the gateway settled it, but no sale took the money.
    assert [(m.payment.order_id, m.unapplied) for m in report.sale_mismatch] == [(known_day.double.order_id, 3_400)]
    assert (report.amount_mismatch, report.double_settlement) == ([], [])


def upload(client, day, text, name="settlement.csv"):
    return client.post("/admin/reconciliation", data={"date": str(day), "file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def test_admin_uploads_a_file_and_sees_the_groups(client, auth, known_day):
    auth.login_admin()
    response = upload(client, known_day.day, known_day_settlement(known_day))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for title in ("Cocok", "Tidak ada di Kasir", "Tidak ada di gateway", "Jumlah berbeda", "Settlement terlambat",
                  "Nominal beda dengan transaksi"):
        assert title in page
    assert "WEB-GHOST" in page and known_day.refunded.order_id in page and known_day.double.order_id in page


def test_a_broken_file_is_refused_with_its_line(client, auth, known_day):
    auth.login_admin()
    response = upload(client, known_day.day, GENERIC + "x,WEB-1,27500.50,0,0,2026-11-24,settlement\n")
    assert response.status_code == 422 and "baris 2" in response.get_data(as_text=True)
    with client.application.app_context():
        assert db.session.scalar(db.select(db.func.count(Settlement.id))) == 0


def test_a_file_without_known_columns_is_refused_in_indonesian(client, auth, known_day):
    auth.login_admin()
    response = upload(client, known_day.day, "tanggal;nominal\n2026-11-24;27500\n")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "kolom tidak dikenali" in page and "kolom jumlah" in page
    assert "the file needs" not in page and "column" not in page


def test_a_file_that_is_not_utf8_is_refused_in_indonesian(client, auth, known_day):
    auth.login_admin()
    response = client.post("/admin/reconciliation", data={
        "date": known_day.day.isoformat(), "file": (io.BytesIO(b"order_id,amount\nWEB-1,\xff\xfe27500\n"), "s.csv")},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "bukan teks UTF-8" in page and "codec" not in page


def test_each_difference_is_resolved_with_an_audited_note(client, auth, app, known_day):
    auth.login_admin()
    location = upload(client, known_day.day, known_day_settlement(known_day)).headers["Location"]
    with app.app_context():
        ghost = db.session.scalar(db.select(Settlement).where(Settlement.order_id == "WEB-GHOST"))
        ghost_id = ghost.id
    refused = client.post(f"/admin/reconciliation/settlements/{ghost_id}/resolve", data={"note": " ", "next": location})
    assert refused.status_code == 302
    client.post(f"/admin/reconciliation/settlements/{ghost_id}/resolve",
                data={"note": "Transaksi toko online lama, dicatat manual", "next": location})
    client.post(f"/admin/reconciliation/payments/{known_day.double.id}/resolve",
                data={"note": "Refund QRIS ke pelanggan", "next": location})
    page = client.get(location).get_data(as_text=True)
    assert "Transaksi toko online lama, dicatat manual" in page and "Refund QRIS ke pelanggan" in page
    with app.app_context():
        entries = db.session.scalars(db.select(AuditLog).where(AuditLog.action == "ResolveReconciliation")).all()
        assert [(e.actor, e.target) for e in entries] == [
            ("owner", f"settlement {ghost_id} WEB-GHOST"), ("owner", f"payment {known_day.double.order_id}")]
        assert reconcile.resolution_of(db.session.get(Payment, known_day.double.id)) == "Refund QRIS ke pelanggan"


@pytest.fixture(scope="module")
def settlement_100k(tmp_path_factory):
    path = tmp_path_factory.mktemp("settlement") / "besar.csv"
    with path.open("w") as out:
        out.write(GENERIC)
        for number in range(100_000):
            out.write(f"trx-{number:06d},WEB-{number:06d},27500,193,27307,2026-11-24,settlement\n")
    return path


def test_a_100_000_row_settlement_imports_whole(app, settlement_100k):
    with app.app_context():
        report = reconcile.run(date(2026, 11, 24), settlement_100k)
        assert report.rows == 100_000 and report.count("missing_in_kasir") == 100_000
        assert len(report.missing_in_kasir) == reconcile.SAMPLE_SIZE
        assert db.session.scalar(db.select(db.func.count(Settlement.id))) == 100_000


def test_a_100_000_row_settlement_imports_in_flat_memory(app, settlement_100k):
    with app.app_context():
        tracemalloc.start()
        try:
            reconcile.run(date(2026, 11, 24), settlement_100k)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    print(f"100000 rows: peak Python memory {peak / 1e6:.1f} MB")
    assert peak < 60 * 1024 * 1024
