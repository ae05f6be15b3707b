"""Thermal receipts: ESC/POS bytes, printer URLs, the print queue, the print route, admin and the CLI."""
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from escpos.printer import Dummy

from kasir import tenders
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import (
    PRINT_FAILED,
    PRINT_PRINTED,
    PRINT_QUEUED,
    SALE_PAID,
    AuditLog,
    PrintJob,
    Product,
    Sale,
    Setting,
)
from kasir.payments import charges, service, states
from kasir.printing import queue
from kasir.printing.backends import PrinterError, open_printer, parse_printer_url
from kasir.printing.escpos_render import printable, render
from kasir.printing.layout import COLUMNS, build_receipt, two_columns
from kasir.settings import set_setting, shop_profile
from support.config import PROJECT_ROOT
from support.live import free_port
from support.printing import PrinterListener

INIT = b"\x1b@"
CUT = b"\x1dV"
DRAWER_PULSE = b"\x1bp"
CODEPAGE_CP437 = b"\x1bt\x00"


@pytest.fixture
def printer_port():
    return free_port()


@pytest.fixture
def listener(printer_port):
    server = PrinterListener(printer_port)
    yield server
    server.close()


@pytest.fixture
def network_printer(app, printer_port):
    app.config["PRINTER_URL"] = f"tcp://127.0.0.1:{printer_port}"
    return app.config["PRINTER_URL"]


def pay_cash(till, *skus, tendered="20.000") -> Sale:
    sale = till.add(*(skus or ("SKU0001", "SKU0006")))  # 3.500 + 4.000
    return tenders.pay_cash(sale.id, tendered)


def jobs_of(sale: Sale) -> list[PrintJob]:
    db.session.commit()  # end this session's snapshot: drain and requests write in their own transactions
    return list(db.session.scalars(db.select(PrintJob).where(PrintJob.sale_id == sale.id).order_by(PrintJob.id)))


def make_queue_due():
    """Jump over the backoff delay instead of sleeping through it."""
    db.session.execute(db.update(PrintJob).where(PrintJob.status == PRINT_QUEUED)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


class RecordingDummy(Dummy):
    """A Dummy printer that also remembers each printed line and how many columns it takes on paper."""

    def __init__(self):
        super().__init__()
        self.printed: list[tuple[str, int]] = []
        self._double_width = False

    def set(self, *args, double_width=None, **kwargs):
        if double_width is not None:
            self._double_width = double_width
        super().set(*args, double_width=double_width, **kwargs)

    def textln(self, txt=""):
        self.printed.append((txt, len(txt) * (2 if self._double_width else 1)))
        super().textln(txt)


# --- ESC/POS bytes -----------------------------------------------------------------------------------


def test_cash_receipt_bytes_initialize_print_the_total_cut_and_open_the_drawer(till):
    sale = pay_cash(till)
    printer = Dummy()
    render(printer, build_receipt(sale, shop_profile(), 58), open_drawer=True)
    output = printer.output
    assert output.startswith(INIT + CODEPAGE_CP437)
    assert two_columns("TOTAL", "Rp 7.500", 32).encode() in output
    assert b"Kembali" in output and b"12.500" in output
    assert output.index(CUT) > output.index(b"TOTAL")
    assert DRAWER_PULSE + b"\x00" in output  # ESC p, pin 2


def test_receipt_without_drawer_sends_no_pulse(till):
    sale = pay_cash(till)
    printer = Dummy()
    render(printer, build_receipt(sale, shop_profile(), 80), open_drawer=False)
    assert DRAWER_PULSE not in printer.output
    assert two_columns("TOTAL", "Rp 7.500", 48).encode() in printer.output


@pytest.mark.parametrize("width_mm", [58, 80])
def test_no_printed_line_is_wider_than_the_paper(till, width_mm):
    set_setting("shop_name", "Toko Sembako dan Warung Kopi Ibu Sri Rejeki Makmur Sentosa")
    set_setting("shop_address", "Jl. Raya Pasar Minggu No. 123, RT 04/RW 07, Kel. Pejaten Timur, Jakarta Selatan")
    product = db.session.scalar(db.select(Product).where(Product.sku == "SKU0001"))
    product.name = "Indomie Goreng Rasa Rendang Jumbo Edisi Spesial Nusantara"
    sale = pay_cash(till, "SKU0001", "SKU0006", tendered="100.000")
    receipt = build_receipt(sale, shop_profile(), width_mm)
    printer = RecordingDummy()
    render(printer, receipt, open_drawer=True)

    columns = COLUMNS[width_mm]
    assert receipt.columns == columns == {58: 32, 80: 48}[width_mm]
    assert printer.printed
    assert max(width for _text, width in printer.printed) <= columns
    printed_text = " ".join(text for text, _width in printer.printed)
    assert "Makmur" in printed_text and "Nusantara" in printed_text  # wrapped, not cut off


def test_text_is_folded_into_the_printer_code_page():
    assert printable("Café “Ibu” – Kue… 2×") == 'Café "Ibu" - Kue. 2x'
    assert printable("Kopi ☕ Susu") == "Kopi ? Susu"
    assert printable("Rp 15.000") == "Rp 15.000"
    printer = Dummy()
    printer.charcode("CP437")
    printer.text(printable("Café"))
    assert printer.output.endswith(b"Caf\x82")  # é in CP437


# --- printer URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, kind, options", [
    ("usb://04b8:0e15", "usb", {"idVendor": 0x04B8, "idProduct": 0x0E15}),
    ("tcp://192.168.1.50", "tcp", {"host": "192.168.1.50", "port": 9100, "timeout": 5}),
    ("tcp://printer.local:9101", "tcp", {"host": "printer.local", "port": 9101, "timeout": 5}),
    ("serial:///dev/ttyUSB0", "serial", {"devfile": "/dev/ttyUSB0", "baudrate": 9600}),
    ("serial:///dev/ttyS1?baudrate=19200", "serial", {"devfile": "/dev/ttyS1", "baudrate": 19200}),
    ("serial://COM3", "serial", {"devfile": "COM3", "baudrate": 9600}),
    ("win32://EPSON TM-T82 Receipt", "win32", {"printer_name": "EPSON TM-T82 Receipt"}),
    ("file:///tmp/struk.bin", "file", {"devfile": "/tmp/struk.bin"}),
])
def test_printer_urls_map_to_escpos_backends(url, kind, options):
    assert parse_printer_url(url) == (kind, options)


@pytest.mark.parametrize("url", ["ftp://printer", "printer", "usb://zz:11", "usb://04b8", "tcp://:9100",
                                 "tcp://host:99999", "serial:///dev/ttyUSB0?baudrate=12", "file://"])
def test_a_bad_printer_url_is_a_clear_indonesian_error(url):
    with pytest.raises(PrinterError, match="tidak valid"):
        parse_printer_url(url)


def test_a_missing_optional_backend_only_fails_that_backend(monkeypatch):
    import escpos.printer.usb

    monkeypatch.setattr(escpos.printer.usb, "_DEP_USB", False)
    with pytest.raises(PrinterError, match="pyusb"):
        open_printer("usb://04b8:0e15")
    assert open_printer("tcp://127.0.0.1:9100").port == 9100


# --- the queue against a loopback network printer ----------------------------------------------------


def test_a_paid_sale_queues_its_receipt_and_drain_prints_it_over_tcp(till, network_printer, listener):
    sale = pay_cash(till)
    [job] = jobs_of(sale)
    assert (job.status, job.kind, job.attempts) == (PRINT_QUEUED, "receipt", 0)

    assert queue.drain() == 1
    [received] = listener.wait_for_jobs(1)
    assert received.startswith(INIT)
    assert two_columns("TOTAL", "Rp 7.500", 32).encode() in received
    assert CUT in received and DRAWER_PULSE in received
    [job] = jobs_of(sale)
    assert (job.status, job.attempts, job.last_error) == (PRINT_PRINTED, 1, None)
    assert job.printed_at is not None
    assert queue.drain() == 0  # nothing is printed twice


def test_refused_printer_fails_the_job_after_retries_then_reprint_succeeds(
        till, network_printer, printer_port, auth, htmx, client):
    sale = pay_cash(till)
    windows = []  # (earliest, latest) retry delay each attempt can have set, however long it took
    for _attempt in range(len(queue.RETRY_DELAYS) + 1):
        make_queue_due()
        before = utcnow()
        assert queue.drain() == 0  # nobody listens: connection refused
        after = utcnow()
        [job] = jobs_of(sale)
        if job.next_attempt_at:
            windows.append(((job.next_attempt_at - after).total_seconds(),
                            (job.next_attempt_at - before).total_seconds()))
    assert len(windows) == 4
    for (earliest, latest), delay in zip(windows, [5, 15, 60, 300], strict=True):
        assert earliest <= delay <= latest
    [job] = jobs_of(sale)
    assert (job.status, job.attempts) == (PRINT_FAILED, len(queue.RETRY_DELAYS) + 1)
    assert "tidak bisa dihubungi" in job.last_error and len(job.last_error) <= 200
    assert db.session.get(Sale, sale.id).status == SALE_PAID

    auth.login_cashier()
    banner = htmx.get("/printing/status").get_data(as_text=True)
    assert "Struk gagal dicetak" in banner and sale.display_number in banner
    assert f'hx-post="/receipts/{sale.id}/print"' in banner and "Cetak Ulang" in banner

    listener = PrinterListener(printer_port)  # the printer is back
    try:
        response = htmx.post(f"/receipts/{sale.id}/print")
        assert response.status_code == 200
        assert "dicetak" in response.get_data(as_text=True)
        assert response.headers["HX-Retarget"] == "#toast"
        [received] = listener.wait_for_jobs(1)
    finally:
        listener.close()
    assert two_columns("TOTAL", "Rp 7.500", 32).encode() in received
    assert DRAWER_PULSE not in received  # a copy never opens the drawer
    assert [j.status for j in jobs_of(sale)] == [PRINT_FAILED, PRINT_PRINTED]
    assert htmx.get("/printing/status").get_data(as_text=True).strip() == ""


def test_the_banner_shows_after_the_first_failed_try_in_plain_words_while_retries_go_on(
        till, network_printer, auth, htmx):
    sale = pay_cash(till)
    assert queue.drain() == 0  # the first try: connection refused
    [job] = jobs_of(sale)
    assert (job.status, job.attempts) == (PRINT_QUEUED, 1) and "Errno" in job.last_error
    auth.login_cashier()
    banner = htmx.get("/printing/status").get_data(as_text=True)
    assert "Struk gagal dicetak" in banner and sale.display_number in banner
    assert "dicoba lagi otomatis" in banner and "Cetak Ulang" in banner
    for technical in ("Errno", "tcp://", "127.0.0.1", "PRINTER_URL", "refused"):
        assert technical not in banner


def test_reprint_while_the_printer_is_down_stays_queued_and_says_so(till, network_printer, auth, htmx):
    sale = pay_cash(till)
    auth.login_cashier()
    response = htmx.post(f"/receipts/{sale.id}/print")
    assert response.status_code == 202
    assert "belum tercetak" in response.get_data(as_text=True)
    for technical in ("Errno", "tcp://", "PRINTER_URL"):
        assert technical not in response.get_data(as_text=True)
    assert [(j.kind, j.status) for j in jobs_of(sale)] == [("receipt", PRINT_QUEUED), ("reprint", PRINT_QUEUED)]


def test_drawer_setting_off_and_debit_sales_never_kick_the_drawer(till, network_printer, listener):
    set_setting("printer_drawer", "0")
    db.session.commit()
    pay_cash(till)
    sale = till.add("SKU0006")
    tenders.pay_debit(sale.id, "EDC12345")
    assert queue.drain() == 2
    assert all(DRAWER_PULSE not in job for job in listener.wait_for_jobs(2))


def test_drain_never_raises(app, monkeypatch, network_printer):
    def broken(_limit):
        raise RuntimeError("database gone")

    monkeypatch.setattr(queue, "_claim_due", broken)
    with app.app_context():
        assert queue.drain() == 0


# --- printing off -------------------------------------------------------------------------------------


def test_printer_none_never_fails_a_sale(till, app, auth, htmx):
    assert app.config["PRINTER_URL"] == "none"
    sale = pay_cash(till)
    assert sale.status == SALE_PAID
    assert jobs_of(sale) == []
    assert queue.drain() == 0
    auth.login_cashier()
    response = htmx.post(f"/receipts/{sale.id}/print")
    assert response.status_code == 409
    assert "belum diatur" in response.get_data(as_text=True)
    assert "PRINTER_URL" not in response.get_data(as_text=True)
    assert htmx.get("/printing/status").get_data(as_text=True).strip() == ""


def test_a_sale_its_qr_pays_queues_its_receipt(till, network_printer):
    sale = till.add("SKU0001")
    payment = charges.create_for_sale(sale.id)
    assert jobs_of(sale) == []
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)
    [job] = jobs_of(sale)
    assert (job.status, job.kind) == (PRINT_QUEUED, "receipt")


def test_auto_print_off_queues_nothing_but_reprint_still_works(till, network_printer, listener):
    set_setting("printer_auto", "0")
    db.session.commit()
    sale = pay_cash(till)
    assert jobs_of(sale) == []
    assert queue.reprint(sale).status == PRINT_PRINTED
    assert len(listener.wait_for_jobs(1)) == 1


def test_a_part_payment_queues_no_receipt(till, network_printer):
    sale = till.add("SKU0001")
    tenders.pay_cash(sale.id, "1.000", "1.000")
    assert jobs_of(sale) == []


# --- the print route ----------------------------------------------------------------------------------


def test_print_route_requires_login(till, client):
    sale = pay_cash(till)
    response = client.post(f"/receipts/{sale.id}/print")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_print_route_needs_the_csrf_token(app, till, auth, client, network_printer, listener):
    sale = pay_cash(till)
    auth.login_cashier()
    app.config["WTF_CSRF_ENABLED"] = True
    assert "kasir.printing.routes.print_receipt" not in app.extensions["csrf"]._exempt_views

    assert client.post(f"/receipts/{sale.id}/print", headers={"HX-Request": "true"}).status_code == 400
    assert [job.kind for job in jobs_of(sale)] == ["receipt"]
    page = client.get(f"/receipts/{sale.id}").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(f"/receipts/{sale.id}/print", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert [(job.kind, job.status) for job in jobs_of(sale)] == [("receipt", PRINT_PRINTED), ("reprint", PRINT_PRINTED)]


def test_preview_page_has_a_print_button_that_posts_and_comes_back(till, auth, client, network_printer, listener):
    sale = pay_cash(till)
    auth.login_cashier()
    page = client.get(f"/receipts/{sale.id}").get_data(as_text=True)
    assert f'action="/receipts/{sale.id}/print"' in page and "Cetak Struk" in page
    response = client.post(f"/receipts/{sale.id}/print", follow_redirects=True)
    assert "dicetak" in response.get_data(as_text=True)


def test_cashier_screen_polls_the_print_banner(auth, client):
    auth.login_cashier()
    page = client.get("/pos").get_data(as_text=True)
    assert 'hx-get="/printing/status"' in page and 'hx-trigger="load, every 10s' in page


def test_open_cart_cannot_be_printed(till, auth, htmx):
    sale = till.add("SKU0001")
    auth.login_cashier()
    assert htmx.post(f"/receipts/{sale.id}/print").status_code == 404


# --- admin --------------------------------------------------------------------------------------------


def stored_settings() -> dict[str, str]:
    db.session.commit()
    return {row.key: row.value for row in db.session.scalars(db.select(Setting).where(Setting.key.like("printer_%")))}


def test_admin_saves_printer_settings_and_it_is_audited(app, auth, client):
    auth.login_admin()
    page = client.get("/admin/printer").get_data(as_text=True)
    assert "Printer Struk" in page and "Tes Cetak" in page and 'href="/admin/printer"' in page
    response = client.post("/admin/printer", data={"url": "tcp://192.168.1.50:9100", "width": "80",
                                                   "auto_print": "1", "open_drawer": "0"})
    assert response.status_code == 302
    with app.app_context():
        assert stored_settings() == {"printer_url": "tcp://192.168.1.50:9100", "printer_width": "80",
                                     "printer_auto": "1", "printer_drawer": "0"}
        audit = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaveConfig"))
        assert audit.target == "printer" and "width=80" in audit.detail


def test_admin_is_told_about_a_bad_printer_url(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/printer", data={"url": "lpt1", "width": "58", "auto_print": "1"})
    assert response.status_code == 422
    assert "tidak valid" in response.get_data(as_text=True)
    with app.app_context():
        assert stored_settings() == {}


def test_environment_printer_url_wins_and_is_locked(app, auth, client, monkeypatch):
    monkeypatch.setenv("PRINTER_URL", "tcp://10.0.0.9:9100")
    app.config["PRINTER_URL"] = "tcp://10.0.0.9:9100"
    auth.login_admin()
    page = client.get("/admin/printer").get_data(as_text=True)
    assert "Dikunci oleh variabel lingkungan PRINTER_URL" in page and "tcp://10.0.0.9:9100" in page
    client.post("/admin/printer", data={"url": "file:///tmp/x.bin", "width": "58", "auto_print": "1"})
    with app.app_context():
        assert "printer_url" not in stored_settings()
        from kasir.printing.settings import printer_settings

        assert printer_settings().url == "tcp://10.0.0.9:9100"


def test_admin_test_print_writes_to_the_printer_and_failures_show(app, auth, client, tmp_path, printer_port):
    target = tmp_path / "test-page.bin"
    app.config["PRINTER_URL"] = f"file://{target}"
    auth.login_admin()
    page = client.post("/admin/printer/test", follow_redirects=True).get_data(as_text=True)
    assert "Halaman tes dikirim" in page
    assert target.read_bytes().startswith(INIT) and b"TES CETAK" in target.read_bytes()

    app.config["PRINTER_URL"] = f"tcp://127.0.0.1:{printer_port}"
    page = client.post("/admin/printer/test", follow_redirects=True).get_data(as_text=True)
    assert "Tes cetak gagal" in page and "tidak bisa dihubungi" in page
    with app.app_context():
        outcomes = db.session.scalars(db.select(AuditLog.outcome).where(AuditLog.action == "TestPrinter")).all()
        assert outcomes == ["ok", "error"]


def test_admin_page_shows_the_last_print_error(till, app, auth, client, network_printer):
    sale = pay_cash(till)
    queue.drain()
    auth.login_admin()
    page = client.get("/admin/printer").get_data(as_text=True)
    assert "Kesalahan terakhir" in page and sale.display_number in page and "tidak bisa dihubungi" in page


# --- command line -------------------------------------------------------------------------------------


def test_print_test_writes_escpos_bytes_to_a_file_url(app, runner, tmp_path):
    target = tmp_path / "out.bin"
    app.config["PRINTER_URL"] = f"file://{target}"
    with app.app_context():  # as `python -m kasir` runs its commands
        result = runner.invoke(args=["print-test"])
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(INIT) and CUT in data and b"TES CETAK" in data


@pytest.mark.parametrize("url, message", [("none", "dimatikan"), ("tcp://127.0.0.1:{port}", "tidak bisa dihubungi"),
                                          ("ftp://x", "tidak valid")])
def test_print_test_fails_with_a_clear_message(app, runner, printer_port, url, message):
    app.config["PRINTER_URL"] = url.format(port=printer_port)
    with app.app_context():
        result = runner.invoke(args=["print-test"])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_print_test_command_works_on_a_fresh_instance_from_the_environment(tmp_path):
    target = tmp_path / "out.bin"
    env = {**os.environ, "KASIR_INSTANCE_PATH": str(tmp_path / "instance"), "PRINTER_URL": f"file://{target}"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "kasir", "print-test"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(INIT)


def test_print_queue_command_drains(app, till, runner, network_printer, listener):
    pay_cash(till)
    with app.app_context():
        result = runner.invoke(args=["print-queue"])
    assert result.exit_code == 0 and "1 struk dicetak" in result.output
    assert len(listener.wait_for_jobs(1)) == 1


def test_a_long_edc_reference_wraps_under_its_label_at_58_mm(till):
    from kasir.printing.layout import build_receipt
    from kasir.settings import shop_profile

    reference = "A" * 40
    paid = tenders.pay_debit(till.add("SKU0001").id, reference)
    receipt = build_receipt(paid, shop_profile(), 58)
    texts = [line.text for line in receipt.lines]
    assert all(len(text) <= 32 for text in texts)
    label = texts.index("Ref. EDC")
    assert "".join(text.strip() for text in texts[label + 1:label + 3]) == reference
