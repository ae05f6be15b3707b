"""The admin audit log: filters (actor, action, WIB dates), newest first, pages, redacted details, CSV."""
import csv
import io
from datetime import date, datetime, timedelta

import pytest

from kasir.clock import WIB
from kasir.extensions import db
from kasir.models import AuditLog
from kasir.reports.audit import AuditFilter

DAY = date(2026, 11, 20)


def entry(action, at, actor="owner", target="", detail="", outcome="ok"):
    return AuditLog(action=action, at=at, actor=actor, target=target, detail=detail, outcome=outcome, ip="127.0.0.1")


@pytest.fixture
def trail(app):
    """Four entries around the WIB midnight between DAY and the day after (stored in UTC)."""
    with app.app_context():
        db.session.execute(db.delete(AuditLog))
        db.session.add_all([
            entry("Login", datetime(2026, 11, 20, 8, 0, tzinfo=WIB), actor="siti", target="siti"),
            entry("SaveConfig", datetime(2026, 11, 20, 23, 30, tzinfo=WIB), target="payments",
                  detail="provider=midtrans server_key=SB-Mid-server-AbCdEf123456"),
            entry("VoidSale", datetime(2026, 11, 21, 0, 30, tzinfo=WIB), target="1-261121-0001",
                  detail="reason=Salah input"),
            entry("TestConnection", datetime(2026, 11, 21, 9, 0, tzinfo=WIB), target="midtrans", outcome="error",
                  detail="Authorization: Basic U0ItTWlkLXNlcnZlci1zZWNyZXQ6 ditolak"),
        ])
        db.session.commit()


@pytest.fixture
def admin(app, client, auth, trail):
    """The admin's client, with the trail alone in the log (their own login entry removed)."""
    auth.login_admin()
    with app.app_context():
        db.session.execute(db.delete(AuditLog).where(AuditLog.actor == "owner",
                                                     AuditLog.at > datetime(2026, 11, 22, tzinfo=WIB)))
        db.session.commit()
        yield client


def rows_of(client, **args) -> list[str]:
    page = client.get("/admin/audit", query_string=args).get_data(as_text=True)
    return [line.split("<td>")[2].split("</td>")[0] for line in page.split('<tr data-audit="')[1:]]


def test_newest_entry_comes_first(admin):
    assert rows_of(admin) == ["TestConnection", "VoidSale", "SaveConfig", "Login"]


def test_filter_by_actor(admin):
    assert rows_of(admin, actor="siti") == ["Login"]


def test_filter_by_action_offers_the_actions_present(admin):
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert '<option value="VoidSale"' in page and '<option value="RefundPayment"' not in page
    assert rows_of(admin, action="VoidSale") == ["VoidSale"]


def test_dates_are_wib_days(admin):
    # 23:30 WIB on the 20th is 16:30 UTC the same day; 00:30 WIB on the 21st is 17:30 UTC on the 20th.
    assert rows_of(admin, **{"from": DAY.isoformat(), "to": DAY.isoformat()}) == ["SaveConfig", "Login"]
    assert rows_of(admin, **{"from": (DAY + timedelta(days=1)).isoformat()}) == ["TestConnection", "VoidSale"]


def test_a_reversed_range_is_read_the_right_way_round():
    audit_filter = AuditFilter.from_args({"from": "2026-11-21", "to": "2026-11-20"})
    assert (audit_filter.date_from, audit_filter.date_to) == (DAY, DAY + timedelta(days=1))


def test_secrets_in_old_details_never_reach_the_page(admin):
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "SB-Mid-server-AbCdEf123456" not in page and "U0ItTWlkLXNlcnZlci1zZWNyZXQ6" not in page
    assert "server_key=[redacted]" in page and "Authorization: Basic [redacted]" in page


def test_long_history_is_paged_fifty_at_a_time(admin):
    start = datetime(2026, 11, 1, 8, 0, tzinfo=WIB)
    db.session.add_all([entry("SaveProduct", start + timedelta(minutes=n), target=f"SKU{n:04d}") for n in range(56)])
    db.session.commit()
    first = admin.get("/admin/audit?action=SaveProduct").get_data(as_text=True)
    assert first.count('<tr data-audit="') == 50 and "SKU0055" in first and "Halaman 1 dari 2" in first
    second = admin.get("/admin/audit?action=SaveProduct&page=2").get_data(as_text=True)
    assert second.count('<tr data-audit="') == 6 and "SKU0000" in second and "SKU0055" not in second


def test_csv_export_holds_the_filtered_rows_redacted(admin):
    response = admin.get("/admin/audit/export.csv", query_string={"to": DAY.isoformat()})
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["waktu", "pengguna", "aksi", "target", "hasil", "detail", "ip"]
    assert [row[2] for row in rows[1:]] == ["SaveConfig", "Login"]
    assert rows[1][0] == "2026-11-20 23:30:00" and rows[1][5] == "provider=midtrans server_key=[redacted]"


def test_the_csv_link_keeps_the_filter(admin):
    page = admin.get("/admin/audit?actor=siti&from=2026-11-20").get_data(as_text=True)
    assert "/admin/audit/export.csv?actor=siti&amp;from=2026-11-20" in page


def test_cashiers_cannot_read_the_audit_log(client, auth, trail):
    auth.login_cashier()
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
