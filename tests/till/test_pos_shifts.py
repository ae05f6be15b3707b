"""Shifts from the cashier screen: open with the drawer's cash, X report, close with the counted cash (Z report)."""
import pytest

from kasir.auth.service import create_user
from kasir.extensions import db
from kasir.models import ROLE_CASHIER, AuditLog, Register, Sale, Shift
from kasir.payments.models import Payment
from kasir.reports import shifts


@pytest.fixture
def pos(auth, htmx):
    """Siti on register 1, sending htmx requests."""
    auth.login_cashier()
    return htmx


def open_shifts(app) -> list[tuple[int, int, str, str]]:
    """(id, opening cash, cashier, register) of each open shift."""
    with app.app_context():
        return [(shift.id, shift.opening_cash, shift.cashier.username, shift.register.code) for shift in
                db.session.scalars(db.select(Shift).where(Shift.closed_at.is_(None)))]


def sell_for_cash(app, pos, *skus, tendered="50000"):
    """Put SKUs in the till's cart and pay them in cash."""
    for sku in skus:
        pos.post("/pos/cart/scan", data={"q": sku})
    with app.app_context():
        sale_id = db.session.scalar(db.select(Sale.id).where(Sale.status == "OPEN"))
    return pos.post("/pos/checkout/cash", data={"sale_id": sale_id, "tendered": tendered})


def require_shifts(app, required=True):
    with app.app_context():
        shifts.set_shift_required(required)


def log_in_another_cashier(app, auth):
    """Budi takes over the till from Siti (the fixture's cashier)."""
    with app.app_context():
        create_user("budi", ROLE_CASHIER, display_name="Budi", pin="1357")
        db.session.commit()
    auth.logout()
    auth.login_cashier("budi", "1357")


def test_without_an_open_shift_the_header_offers_to_open_one(client, pos):
    page = client.get("/pos").get_data(as_text=True)
    assert 'hx-target="#modal">Buka Shift</button>' in page and "Belum ada shift" not in page


def test_cashier_opens_a_shift_with_the_opening_cash_in_rupiah(app, pos):
    form = pos.get("/pos/shift").get_data(as_text=True)
    assert "Kas awal di laci" in form and 'hx-post="/pos/shift/open"' in form
    opened = pos.post("/pos/shift/open", data={"opening_cash": "Rp 200.000"})
    assert opened.status_code == 200
    page = opened.get_data(as_text=True)
    assert "Shift Dibuka" in page and "Rp 200.000" in page
    assert 'id="shift-status" class="shift-status" hx-swap-oob="true"' in page and "· Siti</button>" in page
    [(_id, opening_cash, cashier, register)] = open_shifts(app)
    assert (opening_cash, cashier, register) == (200_000, "siti", "1")
    with app.app_context():
        assert db.session.scalar(db.select(AuditLog.actor).where(AuditLog.action == "OpenShift")) == "siti"


def test_opening_cash_that_is_not_rupiah_is_refused_and_opens_nothing(app, pos):
    refused = pos.post("/pos/shift/open", data={"opening_cash": "dua ratus ribu"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Kas awal:" in page and 'value="dua ratus ribu"' in page
    assert open_shifts(app) == []


def test_cash_sales_go_on_without_a_shift_when_the_owner_does_not_require_one(app, pos):
    paid = sell_for_cash(app, pos, "SKU0001", tendered="5000")
    assert paid.status_code == 200 and "Pembayaran Berhasil" in paid.get_data(as_text=True)


def test_when_shifts_are_required_the_header_warns_and_the_till_takes_no_payment(app, client, pos):
    require_shifts(app)
    assert "Belum ada shift · Buka Shift" in client.get("/pos").get_data(as_text=True)
    pos.post("/pos/cart/scan", data={"q": "SKU0001"})
    for answer in (pos.get("/pos/pay/cash"), pos.get("/pos/pay/debit"), pos.post("/pos/checkout/qris"),
                   sell_for_cash(app, pos, tendered="5000")):
        assert answer.status_code == 422 and "Shift wajib dibuka" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(Sale.status)) == "OPEN"
        assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_when_shifts_are_required_the_cashiers_own_open_shift_lets_the_sale_through(app, pos):
    require_shifts(app)
    pos.post("/pos/shift/open", data={"opening_cash": "100000"})
    paid = sell_for_cash(app, pos, "SKU0001", tendered="5000")
    assert paid.status_code == 200 and "Pembayaran Berhasil" in paid.get_data(as_text=True)


def test_when_shifts_are_required_another_cashiers_shift_does_not_count(app, auth, pos):
    require_shifts(app)
    pos.post("/pos/shift/open", data={"opening_cash": "100000"})
    log_in_another_cashier(app, auth)
    pos.post("/pos/cart/scan", data={"q": "SKU0001"})
    assert "Shift wajib dibuka" in pos.get("/pos/pay/cash").get_data(as_text=True)


def test_owner_turns_the_shift_rule_on_and_off_in_admin(app, client, auth):
    auth.login_admin()
    page = client.post("/admin/shifts/required", data={"required": "1"}, follow_redirects=True)
    assert "Kasir wajib membuka shift" in page.get_data(as_text=True)
    assert 'name="required" value="1" checked' in page.get_data(as_text=True)
    with app.app_context():
        assert shifts.shift_required()
        assert db.session.scalar(db.select(AuditLog.detail).where(AuditLog.target == "shifts")) == "required=True"
    client.post("/admin/shifts/required", data={})
    with app.app_context():
        assert not shifts.shift_required()


def test_x_report_from_the_till_shows_the_drawer_so_far_and_leaves_the_shift_open(app, pos):
    pos.post("/pos/shift/open", data={"opening_cash": "100.000"})
    sell_for_cash(app, pos, "SKU0001", "SKU0006")  # 3.500 + 4.000
    report = pos.get("/pos/shift/x").get_data(as_text=True)
    assert "Laporan X (shift berjalan)" in report
    assert '<span class="stat-label">Kas seharusnya</span><span class="stat-value">Rp 107.500</span>' in report
    assert "Kas dihitung" not in report
    assert len(open_shifts(app)) == 1


def test_closing_shows_expected_counted_and_difference_and_prints_the_z_report(app, pos, printer):
    pos.post("/pos/shift/open", data={"opening_cash": "100.000"})
    sell_for_cash(app, pos, "SKU0001")  # 3.500 into the drawer
    closed = pos.post("/pos/shift/close", data={"counted_cash": "103.000", "note": "kembalian salah"})
    assert closed.status_code == 200
    page = closed.get_data(as_text=True)
    assert "Laporan Z · Shift Ditutup" in page and "Laporan Z tersimpan dan dicetak." in page
    for label, amount in (("Kas seharusnya", "Rp 103.500"), ("Kas dihitung", "Rp 103.000"), ("Selisih", "-Rp 500")):
        assert f'<span class="stat-label">{label}</span><span class="stat-value">{amount}</span>' in page
    assert 'hx-swap-oob="true"' in page and 'hx-target="#modal">Buka Shift</button>' in page  # the header
    assert b"LAPORAN Z" in printer.wait_for_jobs(1)[0]
    assert open_shifts(app) == []
    with app.app_context():
        shift = db.session.scalar(db.select(Shift))
        assert (shift.expected_cash, shift.counted_cash, shift.note) == (103_500, 103_000, "kembalian salah")


def test_a_printer_problem_keeps_the_z_report_and_says_why(app, pos):
    pos.post("/pos/shift/open", data={"opening_cash": "0"})
    page = pos.post("/pos/shift/close", data={"counted_cash": "0"}).get_data(as_text=True)
    assert "Laporan Z tersimpan, tetapi gagal dicetak: Printer struk belum diatur" in page
    assert "Cetak Ulang Laporan Z" in page and open_shifts(app) == []


def test_counted_cash_that_is_not_rupiah_leaves_the_shift_open(app, pos):
    pos.post("/pos/shift/open", data={"opening_cash": "50000"})
    refused = pos.post("/pos/shift/close", data={"counted_cash": "-5"})
    assert refused.status_code == 422 and "Kas dihitung:" in refused.get_data(as_text=True)
    assert len(open_shifts(app)) == 1


def test_only_the_shifts_cashier_or_an_admin_closes_it_at_the_till(app, client, auth, pos):
    pos.post("/pos/shift/open", data={"opening_cash": "50000"})
    log_in_another_cashier(app, auth)
    panel = pos.get("/pos/shift").get_data(as_text=True)
    assert "Shift ini milik Siti" in panel and "/pos/shift/close" not in panel
    refused = pos.post("/pos/shift/close", data={"counted_cash": "50000"})
    assert refused.status_code == 422 and "hanya dia atau admin" in refused.get_data(as_text=True)
    assert len(open_shifts(app)) == 1
    auth.logout()
    auth.login_admin()
    assert pos.post("/pos/shift/close", data={"counted_cash": "50000"}).status_code == 200
    assert open_shifts(app) == []


def test_x_report_prints_from_the_till(app, pos, printer):
    pos.post("/pos/shift/open", data={"opening_cash": "50000"})
    [(shift_id, *_rest)] = open_shifts(app)
    answer = pos.post(f"/pos/shift/{shift_id}/print")
    assert answer.status_code == 200 and "Laporan X dicetak." in answer.get_data(as_text=True)
    assert b"LAPORAN X" in printer.wait_for_jobs(1)[0]


def test_the_till_prints_only_its_own_registers_shifts(app, pos):
    with app.app_context():
        other = Register(code="2", name="Kasir 2")
        db.session.add(other)
        db.session.flush()
        shift = Shift(register_id=other.id, cashier_id=1, opening_cash=0)
        db.session.add(shift)
        db.session.commit()
        shift_id = shift.id
    assert pos.post(f"/pos/shift/{shift_id}/print").status_code == 404


def test_a_second_tap_on_buka_shift_opens_no_second_shift(app, pos):
    assert pos.post("/pos/shift/open", data={"opening_cash": "100000"}).status_code == 200
    again = pos.post("/pos/shift/open", data={"opening_cash": "100000"})
    assert again.status_code == 422 and "masih punya shift yang belum ditutup" in again.get_data(as_text=True)
    assert len(open_shifts(app)) == 1
    assert pos.post("/pos/cart/scan", data={"q": "SKU0001"}).status_code == 200  # the write lock was let go
