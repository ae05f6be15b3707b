"""What staff read is Indonesian words: no state-machine names, environment variables, Python or stack traces.

The main admin pages and the till are rendered with a day of real data (known_day: cash, debit, QRIS
paid, expired, late, double and refunded payments, a voided sale), a closed shift and its backup.
Only the text a person sees counts: scripts and the admin's folded "Detail teknis" are left out.
"""
import html
import re

import pytest

from kasir.extensions import db
from kasir.models import Register, Shift, User
from kasir.reports import shifts
from support.config import CASHIER, sqlite_only

TECHNICAL_TOKENS = ("status:", "PRINTER_URL", "KASIR_", "shift-close", "Traceback", "None", "null", "{'", '{"',
                    "PENDING", "EXPIRED", "CANCELLED", "REFUNDED", "payment.paid", "provider unreachable")
_HIDDEN = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<details class=\"technical\".*?</details>|<[^>]+>",
                     re.DOTALL)


def visible_text(page: str) -> str:
    return html.unescape(_HIDDEN.sub(" ", page))


def technical_words(page: str) -> list[str]:
    text = visible_text(page)
    return [token for token in TECHNICAL_TOKENS if token in text]


@pytest.fixture
def closed_shift(app, known_day):
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    cashier = db.session.scalar(db.select(User).where(User.username == CASHIER[0]))
    shift = shifts.open_shift(register, cashier, "100.000")
    shifts.close_shift(shift, "100.000", "")  # also makes the "shift-close" backup
    return db.session.get(Shift, shift.id).id


ADMIN_PAGES = ["/admin", "/admin/dashboard", "/admin/payments", "/admin/sales", "/admin/reports", "/admin/shifts",
               "/admin/backups", "/admin/settings", "/admin/payment-settings", "/admin/printer", "/admin/products",
               "/admin/users", "/admin/users/1", "/admin/users/2", "/admin/api-keys", "/account/password"]


def test_admin_pages_show_no_technical_words(client, auth, known_day, closed_shift):
    auth.login_admin()
    pages = ADMIN_PAGES + [f"/admin/shifts/{closed_shift}",
                           f"/admin/reconciliation?date={known_day.day.isoformat()}"]
    pages += [f"/admin/payments/{payment.id}" for payment in
              (known_day.qris_paid, known_day.expired, known_day.late, known_day.double, known_day.refunded)]
    found = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if words := technical_words(response.get_data(as_text=True)):
            found[url] = words
    assert found == {}


def test_the_z_report_print_error_names_no_environment_variable(client, auth, closed_shift):
    auth.login_admin()
    page = client.post(f"/admin/shifts/{closed_shift}/print", follow_redirects=True).get_data(as_text=True)
    assert "Printer struk belum diatur. Atur di Admin › Printer." in page
    assert technical_words(page) == []


@sqlite_only("on PostgreSQL the shop backs up with pg_dump; Kasir makes no backup files")
def test_the_backups_page_names_the_shift_close_backup_in_words(client, auth, closed_shift):
    auth.login_admin()
    text = visible_text(client.get("/admin/backups").get_data(as_text=True))
    assert "Tutup shift" in text and "KASIR_BACKUP_KEEP_DAYS" not in text and "shift-close" not in text


def test_the_till_shows_no_technical_words(client, auth, known_day):
    auth.login_cashier()
    assert technical_words(client.get("/pos").get_data(as_text=True)) == []
