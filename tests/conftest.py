"""Shared fixtures: a migrated database per test, the test client, a live waitress server, Chromium.

The database is a SQLite file, or with TEST_DATABASE_URL=postgresql+psycopg://… a fresh PostgreSQL database
per test (and per live server), copied from a template that the real migrations built once per session.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_migrate import upgrade

from kasir import create_app
from kasir.auth.service import create_user
from kasir.demo import load_catalogue
from kasir.extensions import db
from kasir.models import ROLE_ADMIN, ROLE_CASHIER, Register

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ADMIN = ("owner", "rahasia-toko-1")
CASHIER = ("siti", "2468")
CHROMIUM = os.environ.get("KASIR_CHROMIUM", "/usr/bin/chromium")
# postgresql+psycopg://user@127.0.0.1:port/db: run the suite on PostgreSQL (.ci/postgres starts a cluster).
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def sqlite_only(reason: str):
    """Mark a test about the SQLite file itself (backup copy, power cut, …): skipped on PostgreSQL."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "RATELIMIT_ENABLED": False,
    "WTF_CSRF_ENABLED": False,
    "JOBS_ENABLED": False,
}


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path | str:
    """Run the real migrations once; each test gets a copy of the resulting SQLite file (or PostgreSQL template)."""
    if ON_POSTGRES:
        return postgres().template_url()
    folder = tmp_path_factory.mktemp("template-db")
    path = folder / "kasir.db"
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    return path


@pytest.fixture
def app_config(tmp_path, migrated_db):
    if ON_POSTGRES:
        url = postgres().fresh_database()
        yield {**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url}
        postgres().drop(url)
        return
    database = tmp_path / "kasir.db"
    shutil.copy(migrated_db, database)
    yield {**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.session.add(Register(code="1", name="Kasir 1"))
        create_user(ADMIN[0], ROLE_ADMIN, display_name="Pemilik", password=ADMIN[1])
        create_user(CASHIER[0], ROLE_CASHIER, display_name="Siti", pin=CASHIER[1])
        load_catalogue()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login_cashier(self, username=CASHIER[0], pin=CASHIER[1], register="1"):
        self._client.set_cookie("kasir_register", register)
        return self._client.post("/login", data={"mode": "pin", "username": username, "pin": pin})

    def login_admin(self, username=ADMIN[0], password=ADMIN[1]):
        return self._client.post("/login", data={"mode": "password", "username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def htmx(client):
    """Requests as htmx sends them (the HX-Request header)."""

    class Htmx:
        def get(self, url, **kwargs):
            return client.get(url, headers={"HX-Request": "true"}, **kwargs)

        def post(self, url, **kwargs):
            return client.post(url, headers={"HX-Request": "true"}, **kwargs)

    return Htmx()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


class LiveServer:
    """`python -m kasir serve` in a subprocess with its own instance folder."""

    def __init__(self, instance: Path, env_extra: dict | None = None):
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KASIR_INSTANCE_PATH": str(instance), "PORT": str(self.port),
                    "RATELIMIT_ENABLED": "false", **(env_extra or {})}
        # Where the server keeps its data, for tests that look at the rows behind its answers.
        if (env_extra or {}).get("DATABASE_URL"):  # a second server on the first one's database
            self.database_url = env_extra["DATABASE_URL"]
        elif ON_POSTGRES:
            self.database_url = postgres().fresh_database()  # dropped at the end of the session
            self.env["DATABASE_URL"] = self.database_url
        else:
            self.env.pop("DATABASE_URL", None)
            self.database_url = f"sqlite:///{instance / 'kasir.db'}"
        self.process: subprocess.Popen | None = None
        self.admin_password = ""

    def kasir(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kasir", *args], cwd=PROJECT_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)

    def start(self) -> "LiveServer":
        self.kasir("db", "upgrade")
        output = self.kasir("demo-data").stdout
        match = re.search(r"Login admin: admin / (\S+)", output)
        self.admin_password = match.group(1) if match else ""
        return self.serve()

    def serve(self) -> "LiveServer":
        """Start (or restart, on the same port and data) the server process."""
        self.log = open(self.instance / "server.log", "a")
        self.process = subprocess.Popen([sys.executable, "-m", "kasir", "serve", "--threads", "8"], cwd=PROJECT_ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()
            self.process = None


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live-instance")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield chromium
        chromium.close()


def open_cashier_page(browser, base_url: str, viewport: dict | None = None):
    """A new browser context logged in as the demo cashier on register 1, at /pos."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("#pin", "1234")
    page.click("form.pin-form button[type=submit]")
    page.wait_for_url("**/pos/register")
    page.click("button[value='1']")
    page.wait_for_url("**/pos")
    return page


@pytest.fixture
def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def till(app):
    """The register's cart in an app context, with helpers to fill it by SKU."""
    from kasir import sales
    from kasir.models import Register, User

    with app.test_request_context():
        register = db.session.scalar(db.select(Register).where(Register.code == "1"))
        cashier = db.session.scalar(db.select(User).where(User.username == CASHIER[0]))

        class Till:
            def cart(self):
                return sales.current_sale(register, cashier)

            def add(self, *skus):
                sale = self.cart()
                for sku in skus:
                    sales.add_by_code(sale, sku)
                db.session.commit()
                return sale

        yield Till()


@pytest.fixture
def pending_payment(app, till):
    """A PENDING mock QRIS payment for a cart holding SKU0001 + SKU0006 (Rp 7.500)."""
    from kasir.payments import service

    sale = till.add("SKU0001", "SKU0006")
    return service.create_for_sale(sale.id)


@pytest.fixture
def send_webhook(client, app):
    """POST a generic signed webhook (DESIGN §7) through the test client."""
    import json
    import uuid

    from kasir.payments.providers.generic import signed_headers

    def send(body: dict, *, event_id: str | None = None, secret: str | None = None, timestamp: int | None = None,
             raw: bytes | None = None, headers: dict | None = None):
        raw = raw if raw is not None else json.dumps(body).encode()
        signed = signed_headers(secret or app.config["PROVIDER_WEBHOOK_SECRET"], raw, event_id or uuid.uuid4().hex,
                                timestamp)
        signed.update(headers or {})
        return client.post("/webhooks/qris", data=raw, headers=signed)

    return send


def fresh(model, key):
    """The row as the database has it now, not as this session last saw it."""
    db.session.expire_all()
    return db.session.get(model, key)


def paid_body(payment, **overrides) -> dict:
    body = {"trx_id": payment.provider_trx_id, "order_id": payment.order_id, "amount": payment.amount,
            "status": "SUCCESS", "ref_no": "REF000123"}
    body.update(overrides)
    return body


@pytest.fixture
def api_token(app):
    """A fresh API key's bearer token."""
    from kasir.api.keys import create_key

    with app.app_context():
        return create_key("Toko Online")[1]


@pytest.fixture
def api(client, api_token):
    """JSON requests to /payments with the API key, as another app of the shop would send them."""

    class Api:
        token = api_token

        def headers(self, extra=None, token=None):
            return {"Authorization": f"Bearer {token or self.token}", **(extra or {})}

        def post(self, url, json=None, *, headers=None, token=None, **kwargs):
            return client.post(url, json=json, headers=self.headers(headers, token), **kwargs)

        def get(self, url, *, headers=None, token=None, **kwargs):
            return client.get(url, headers=self.headers(headers, token), **kwargs)

        def create(self, order_id="WEB-1001", amount=25000, *, headers=None, token=None, **fields):
            return self.post("/payments", {"order_id": order_id, "amount": amount, **fields}, headers=headers,
                             token=token)

    return Api()


@pytest.fixture
def commits(app):
    """The COMMITs of the app's database that wrote something, while the test runs (a read-only
    transaction's COMMIT writes nothing)."""
    from sqlalchemy import event

    seen, writing = [], set()

    def statement(connection, _cursor, sql, *_args):
        if not sql.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            writing.add(id(connection))

    def commit(connection):  # None for run_write's commit without the Session
        if connection is None or id(connection) in writing:
            writing.discard(id(connection))
            seen.append(connection)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    yield seen
    event.remove(engine, "commit", commit)
    event.remove(engine, "before_cursor_execute", statement)


@pytest.fixture
def fake_midtrans():
    """A loopback Midtrans Core API (tests/fake_gateways.py)."""
    from fake_gateways import FakeMidtrans

    fake = FakeMidtrans().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_xendit():
    """A loopback Xendit QR Codes API (tests/fake_gateways.py)."""
    from fake_gateways import FakeXendit

    fake = FakeXendit().start()
    yield fake
    fake.stop()


def use_gateway(app, **form) -> None:
    """Save payment settings as admin would (keys sealed in the settings table)."""
    from kasir.payments import gateway_settings

    with app.app_context():
        gateway_settings.save(form)
        db.session.commit()


@pytest.fixture
def known_day(app, till):
    """Yesterday (WIB) at register 1, built sale by sale; every figure of the reports is derived from this.

    08:15 cash 7.000 (2 x SKU0001, tendered 10.000) · 09:30 debit 6.000 (SKU0004) · 10:05 QRIS paid 8.500
    (SKU0005 + SKU0006) · 10:40 QR expired, then cash 4.000 (SKU0007) · 11:20 QRIS paid late 3.300 (SKU0002)
    · 12:00 cash 3.400 (SKU0003) and its QR paid too (double payment) · 13:10 QRIS 6.000 (SKU0004), refunded
    · 14:00 cash 3.500 (SKU0001), voided.
    """
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from kasir import sales, tenders
    from kasir.clock import WIB, business_date
    from kasir.models import User
    from kasir.payments import service, states
    from kasir.payments.models import MockLedgerEntry, Payment, PaymentLog

    day = business_date() - timedelta(days=1)

    def at(hour, minute):
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=WIB)

    stamps = []

    def stamp(sale, moment, *payments):
        """Remember when this happened; everything moves to yesterday at the end (numbers stay unique)."""
        stamps.append((sale, moment, payments))
        return sale

    def qr(sale):
        return service.create_for_sale(sale.id)

    cash = stamp(tenders.pay_cash(till.add("SKU0001", "SKU0001").id, "10000"), at(8, 15))
    debit = stamp(tenders.pay_debit(till.add("SKU0004").id, "EDC1234"), at(9, 30))
    qris_sale = till.add("SKU0005", "SKU0006")
    qris_paid = qr(qris_sale)
    service.apply_status(qris_paid, states.PAID, source="webhook", amount=8500)
    stamp(qris_sale, at(10, 5), qris_paid)
    expired_cart = till.add("SKU0007")
    expired = qr(expired_cart)
    service.apply_status(expired, states.EXPIRED, source="sync")
    after_expiry = stamp(tenders.pay_cash(expired_cart.id, "5000"), at(10, 40), expired)
    late_sale = till.add("SKU0002")
    late = qr(late_sale)
    service.apply_status(late, states.EXPIRED, source="sync")
    service.apply_status(late, states.PAID, source="webhook", amount=3300)
    service.use_late_payment(late)  # the cashier applies it to the still-open sale
    stamp(late_sale, at(11, 20), late)
    double_cart = till.add("SKU0003")
    double = qr(double_cart)
    double_sale = tenders.pay_cash(double_cart.id, "3400")
    service.apply_status(double, states.PAID, source="webhook", amount=3400)
    stamp(double_sale, at(12, 0), double)
    refunded_sale = till.add("SKU0004")
    refunded = qr(refunded_sale)
    service.apply_status(refunded, states.PAID, source="webhook", amount=6000)
    db.session.get(MockLedgerEntry, refunded.provider_trx_id).status = states.PAID
    service.refund(refunded, 6000, "Pelanggan membatalkan", "owner")
    stamp(refunded_sale, at(13, 10), refunded)
    admin = db.session.scalar(db.select(User).where(User.username == ADMIN[0]))
    voided = stamp(sales.void_sale(tenders.pay_cash(till.add("SKU0001").id, "3500").id, admin, "Salah input"),
                   at(14, 0))
    for sale, moment, payments in stamps:
        sale.business_date, sale.paid_at = day, moment
        for payment in payments:
            moved = {"created_at": moment, "updated_at": moment}
            if payment.paid_at is not None:
                moved["paid_at"] = moment
            db.session.execute(db.update(Payment).where(Payment.id == payment.id).values(**moved))
            db.session.execute(db.update(PaymentLog).where(PaymentLog.payment_id == payment.id).values(at=moment))
    db.session.commit()
    db.session.expire_all()
    return SimpleNamespace(day=day, at=at, cash=cash, debit=debit, qris_sale=qris_sale, qris_paid=qris_paid,
                           after_expiry=after_expiry, expired=expired, late_sale=late_sale, late=late,
                           double_sale=double_sale, double=double, refunded_sale=refunded_sale, refunded=refunded,
                           voided=voided)


@pytest.fixture
def provider_metrics(monkeypatch):
    """A fresh in-process provider-call collector, so counts from earlier tests stay out of this one."""
    from kasir.payments import metrics

    collector = metrics.Collector()
    monkeypatch.setattr(metrics, "collector", collector)
    return collector


@pytest.fixture
def known_dashboard_day(known_day, provider_metrics):
    """The known day with what the payments dashboard reads on top; every dashboard figure derives from this.

    Time to pay: 10:05 QR paid after 30 s, 11:20 late one after 20 min, 12:00 double after 90 s, 13:10 refunded
    one after 60 s. Two API payments: one CANCELLED at 15:00 (it had a QR), one FAILED at 15:30 (refused, no QR).
    Webhooks: processed in 0.2 / 0.4 / 1.0 s, the first two sent 2 s and 4 s before they arrived (X-Timestamp),
    one rejected. Provider calls flushed for the day: mock create_qr 5 calls (1 error, 1.500 ms in all, longest
    1.000 ms). Now: callbacks 2 waiting (1 after a failed attempt) and 1 given up, 1 delivered; print jobs
    1 queued, 1 failed, 1 printed.
    """
    from datetime import timedelta

    from kasir.api.models import Callback
    from kasir.clock import utcnow
    from kasir.models import PRINT_FAILED, PRINT_PRINTED, PRINT_QUEUED, PrintJob
    from kasir.payments import states
    from kasir.payments.models import WEBHOOK_ERROR, WEBHOOK_OK, Payment, ProviderCallStat, WebhookDelivery

    at = known_day.at
    for payment, seconds in ((known_day.qris_paid, 30), (known_day.late, 1200), (known_day.double, 90),
                             (known_day.refunded, 60)):
        db.session.execute(db.update(Payment).where(Payment.id == payment.id)
                           .values(paid_at=payment.created_at + timedelta(seconds=seconds)))
    db.session.add_all([
        Payment(order_id="WEB-CANCELLED-1", amount=12_000, provider="mock", status=states.CANCELLED,
                qr_string="000201", created_at=at(15, 0)),
        Payment(order_id="WEB-FAILED-1", amount=9_000, provider="mock", status=states.FAILED,
                error="Penyedia pembayaran tidak dapat dihubungi.", created_at=at(15, 30)),
    ])

    def webhook(event_id, received_at, processing, sent_before=None, status=WEBHOOK_OK):
        headers = {"X-Event-Id": event_id}
        if sent_before is not None:
            headers["X-Timestamp"] = str(int((received_at - timedelta(seconds=sent_before)).timestamp()))
        return WebhookDelivery(provider="mock", event_id=event_id if status == WEBHOOK_OK else None,
                               headers=headers, payload="{}", received_at=received_at, status=status,
                               processed_at=received_at + timedelta(seconds=processing) if processing else None)

    db.session.add_all([
        webhook("evt-1", at(10, 5).replace(second=31), 0.2, sent_before=2),
        webhook("evt-2", at(11, 40), 0.4, sent_before=4),
        webhook("evt-3", at(12, 1).replace(second=30), 1.0),
        webhook("evt-forged", at(12, 30), None, status=WEBHOOK_ERROR),
        ProviderCallStat(minute=at(10, 5), provider="mock", operation="create_qr", calls=3, errors=0,
                         total_ms=300, max_ms=150),
        ProviderCallStat(minute=at(11, 20), provider="mock", operation="create_qr", calls=2, errors=1,
                         total_ms=1200, max_ms=1000),
    ])
    now = utcnow()
    paid_id = known_day.qris_paid.id
    db.session.add_all([
        Callback(payment_id=paid_id, url="https://toko.example/cb", event="payment.paid", body="{}",
                 next_attempt_at=now),
        Callback(payment_id=paid_id, url="https://toko.example/cb", event="payment.paid", body="{}", attempts=2,
                 last_error="HTTP 500", next_attempt_at=now + timedelta(minutes=4),
                 created_at=now - timedelta(hours=1)),
        Callback(payment_id=paid_id, url="https://toko.example/cb", event="payment.paid", body="{}", attempts=12,
                 last_error="HTTP 500", next_attempt_at=None),
        Callback(payment_id=paid_id, url="https://toko.example/cb", event="payment.paid", body="{}", attempts=1,
                 delivered_at=now),
    ])
    db.session.execute(db.delete(PrintJob))
    db.session.add_all([PrintJob(sale_id=known_day.cash.id, status=PRINT_QUEUED),
                        PrintJob(sale_id=known_day.debit.id, status=PRINT_FAILED, attempts=5,
                                 last_error="kertas habis"),
                        PrintJob(sale_id=known_day.qris_sale.id, status=PRINT_PRINTED, printed_at=now)])
    db.session.commit()
    db.session.expire_all()
    return known_day


@pytest.fixture(autouse=True)
def forget_provider_health():
    """Provider health is measured per process (kasir.payments.health): one test's outage is not the next one's."""
    from kasir.payments import health

    yield
    health.forget()


@pytest.fixture(autouse=True)
def forget_webhook_rejections():
    """Refused webhooks are counted per process until flushed (kasir.webhooks.rejections): not into the next test."""
    from kasir.webhooks import rejections

    yield
    rejections.tally.take()


class PostgresDatabases:
    """Throwaway databases on the server of TEST_DATABASE_URL (its role needs CREATEDB).

    The real migrations run once into a template; each test or live server gets `CREATE DATABASE … TEMPLATE`,
    a file-level copy that costs a fraction of migrating again. Dropping uses FORCE: an engine a test forgot
    to dispose must not keep its database alive.
    """

    def __init__(self, url: str):
        import weakref

        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool, Pool

        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.prefix = f"kasir_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.created: set[str] = set()
        self._count = 0
        self._template_ready = False
        self._copier = ThreadPoolExecutor(max_workers=1)  # one copy at a time: they all read the template
        self._next: Future | None = None
        # Every driver connection this process opens, so that dropping a database first closes the ones a
        # test left in an undisposed engine (psycopg warns about a connection collected while still open).
        self._connections = weakref.WeakSet()
        event.listen(Pool, "connect", lambda dbapi_connection, _record: self._connections.add(dbapi_connection))

    def _execute(self, sql: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            connection.execute(text(sql))

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def template_url(self) -> str:
        if not self._template_ready:
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            self._execute(f'CREATE DATABASE "{self.template}"')
            self.created.add(self.template)
            app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self._url(self.template)})
            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
                db.engine.dispose()  # a template with a connection open cannot be copied
            self._template_ready = True
        return self._url(self.template)

    def _copy_template(self) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.add(name)
        return name

    def fresh_database(self) -> str:
        """A copy of the template; the next copy is made in the background while this test runs."""
        self.template_url()
        name = (self._next or self._copier.submit(self._copy_template)).result()
        self._next = self._copier.submit(self._copy_template)
        return self._url(name)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import DBAPIError

        name = make_url(url).database
        self._close_connections_to(name)
        try:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError:  # a backend our role may not end (autovacuum): drop_all tries again at the end
            return
        self.created.discard(name)

    def _close_connections_to(self, name: str) -> None:
        for connection in list(self._connections):
            if not connection.closed and connection.info.dbname == name:
                connection.close()

    def drop_all(self) -> None:
        self._copier.shutdown(wait=True)
        for name in sorted(self.created):
            self._close_connections_to(name)
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
        self.admin.dispose()


_postgres: PostgresDatabases | None = None


def postgres() -> PostgresDatabases:
    global _postgres
    if _postgres is None:
        _postgres = PostgresDatabases(TEST_DATABASE_URL)
    return _postgres


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_databases():
    """Live servers' databases outlive their test (a server may restart on the same data): dropped here."""
    yield
    if _postgres is not None:
        _postgres.drop_all()


class PrinterListener:
    """A loopback stand-in for a network receipt printer: keeps the bytes of each connection."""

    def __init__(self, port: int):
        self.port = port
        self.jobs: list[bytes] = []
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", port))
        self._server.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
                self.jobs.append(b"".join(chunks))

    def wait_for_jobs(self, count: int, timeout: float = 5) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.jobs) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.jobs

    def close(self):
        self._stop.set()
        self._thread.join()
        self._server.close()


def query_database(url: str, sql: str, **params) -> list[tuple]:
    """Rows of one SELECT on any database by URL (a live server's `database_url`): SQLite file or PostgreSQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()
