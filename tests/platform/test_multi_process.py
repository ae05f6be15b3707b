"""Several tills, one shop: two server processes on one PostgreSQL database (DESIGN §11).

Both receive every webhook (several times, from many threads at once) and both run all their jobs;
whatever the interleaving, each payment changes state once, each event makes one callback that is
delivered once, and each paid sale prints one receipt.
"""
import json
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from kasir import create_app, sales
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import PRINT_PRINTED, PrintJob, Register, User
from kasir.payments import charges, states
from kasir.payments.models import Callback, MockLedgerEntry, Payment, PaymentLog, WebhookDelivery
from kasir.payments.providers import get_provider
from kasir.payments.providers.generic import signed_headers
from support.config import BASE_CONFIG, ON_POSTGRES
from support.live import LiveServer, free_port
from support.payments import paid_body
from support.printing import PrinterListener

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serves one process by design (the instance lock file)"),
]

SECRET = "shared-webhook-secret"
SALES_BY_WEBHOOK = 6
SALES_BY_SYNC = 3
API_BY_WEBHOOK = 4
API_EXPIRING = 3
API_PAID_EARLY = 3
DELIVERIES_PER_SERVER = 3


@pytest.fixture
def shop(tmp_path, httpserver):
    """Two servers (own instance folders, same database, jobs on), a loopback printer and callback receiver."""
    httpserver.expect_request("/callbacks", method="POST").respond_with_data("ok")
    printer = PrinterListener(free_port())
    env = {"JOBS_ENABLED": "true", "PROVIDER": "mock", "PROVIDER_WEBHOOK_SECRET": SECRET,
           "CALLBACK_SIGNING_KEY": "shared-callback-key", "SECRET_KEY": "shared-secret-key",
           "KASIR_ENCRYPTION_KEY": "11" * 32, "PRINTER_URL": f"tcp://127.0.0.1:{printer.port}",
           "CALLBACK_ALLOWED_NETWORKS": "localhost, 127.0.0.1"}  # the loopback receiver, as a shop allows its LAN one
    first = LiveServer(tmp_path / "till-1", env)
    (tmp_path / "till-2").mkdir()
    second = LiveServer(tmp_path / "till-2", {**env, "DATABASE_URL": first.database_url})
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path / "test"), **env,
                      "SQLALCHEMY_DATABASE_URI": first.database_url})
    try:
        first.start()
        second.serve()
        yield app, (first, second), printer, httpserver
    finally:
        second.stop()
        first.stop()
        printer.close()
        with app.app_context():
            db.engine.dispose()


def open_sale_payments(app, count: int) -> list[str]:
    """A QR on screen at `count` registers (one open sale each), created as a till would."""
    ids = []
    with app.test_request_context():
        cashier = db.session.scalar(db.select(User).where(User.role == "cashier"))
        for _ in range(count):
            register = Register(code=uuid.uuid4().hex[:6], name="Kasir")
            db.session.add(register)
            sale = sales.current_sale(register, cashier)
            sales.add_by_code(sale, "SKU0001")
            db.session.commit()
            ids.append(charges.create_for_sale(sale.id).id)
    return ids


def open_api_payments(servers, receiver, count: int, prefix: str) -> list[str]:
    token = servers[0].kasir("api-key", "create", f"Toko {prefix}").stdout.strip().splitlines()[-1]
    ids = []
    for number in range(count):
        server = servers[number % 2]
        response = requests.post(f"{server.url}/payments", timeout=10, headers={"Authorization": f"Bearer {token}"},
                                 json={"order_id": f"{prefix}-{number}", "amount": 12000,
                                       "callback_url": receiver.url_for("/callbacks")})
        assert response.status_code == 201, response.text
        ids.append(response.json()["payment_id"])
    return ids


def deliver_to_both(servers, raw: bytes, event_id: str) -> list[int]:
    """The same signed webhook to each server, several times over, all at once."""
    headers = signed_headers(SECRET, raw, event_id)
    targets = [server.url for server in servers] * DELIVERIES_PER_SERVER
    random.shuffle(targets)
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        replies = pool.map(lambda url: requests.post(f"{url}/webhooks/qris", data=raw, headers=headers, timeout=30),
                           targets)
        return [reply.status_code for reply in replies]


def deliver_all(servers, bodies: list[bytes]) -> list[int]:
    """Each body as its own event (one event id), to both servers, several events at a time."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return [code for replies in pool.map(lambda raw: deliver_to_both(servers, raw, uuid.uuid4().hex), bodies)
                for code in replies]


def wait_until(check, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the servers did not finish the work in time"
        time.sleep(0.2)


def test_two_servers_share_the_work_and_never_do_it_twice(shop):
    app, servers, printer, receiver = shop
    by_webhook = open_sale_payments(app, SALES_BY_WEBHOOK)
    by_sync = open_sale_payments(app, SALES_BY_SYNC)
    api_by_webhook = open_api_payments(servers, receiver, API_BY_WEBHOOK, "WEB")
    expiring = open_api_payments(servers, receiver, API_EXPIRING, "OLD")
    early = [json.dumps({"order_id": f"EARLY-{number}", "amount": 12000, "status": "SUCCESS", "ref_no": "R1"}).encode()
             for number in range(API_PAID_EARLY)]  # before their payments exist: the jobs apply them later
    early_codes = deliver_all(servers, early)
    assert set(early_codes) <= {200, 202} and 202 in early_codes
    paid_early = open_api_payments(servers, receiver, API_PAID_EARLY, "EARLY")

    with app.app_context():
        for payment_id in by_sync:  # paid at the gateway without a webhook: the sync jobs find out
            payment = db.session.get(Payment, payment_id)
            get_provider("mock").settle(db.session.get(MockLedgerEntry, payment.provider_trx_id), "SUCCESS")
        past = utcnow() - timedelta(seconds=1)
        for payment_id in expiring:  # overdue: the expiry jobs ask the gateway, then expire it
            payment = db.session.get(Payment, payment_id)
            payment.expires_at = past
            db.session.get(MockLedgerEntry, payment.provider_trx_id).expires_at = past
        db.session.commit()
        bodies = [json.dumps(paid_body(db.session.get(Payment, payment_id))).encode()
                  for payment_id in by_webhook + api_by_webhook]

    assert set(deliver_all(servers, bodies)) == {200}

    paid_ids = by_webhook + by_sync + api_by_webhook + paid_early
    paid_sales = SALES_BY_WEBHOOK + SALES_BY_SYNC
    callbacks_expected = API_BY_WEBHOOK + API_EXPIRING + API_PAID_EARLY

    def finished() -> bool:
        with app.app_context():
            statuses = dict(db.session.execute(db.select(Payment.id, Payment.status)).all())
            printed = db.session.scalar(db.select(db.func.count(PrintJob.id)).where(PrintJob.status == PRINT_PRINTED))
            delivered = db.session.scalar(db.select(db.func.count(Callback.id))
                                          .where(Callback.delivered_at.is_not(None)))
        return (all(statuses[i] == states.PAID for i in paid_ids)
                and all(statuses[i] == states.EXPIRED for i in expiring)
                and printed == paid_sales and delivered == callbacks_expected)

    wait_until(finished)
    time.sleep(3)  # a few more job runs in both processes: nothing may be done a second time

    with app.app_context():
        transitions = Counter(db.session.execute(db.select(PaymentLog.payment_id, PaymentLog.to_status).where(
            PaymentLog.to_status.in_([states.PAID, states.EXPIRED]))).all())
        assert transitions == Counter({**{(i, states.PAID): 1 for i in paid_ids},
                                       **{(i, states.EXPIRED): 1 for i in expiring}})
        outbox = Counter(db.session.execute(db.select(Callback.payment_id, Callback.event)).all())
        assert outbox == Counter({**{(i, "payment.paid"): 1 for i in api_by_webhook + paid_early},
                                  **{(i, "payment.expired"): 1 for i in expiring}})
        callback_ids = {str(i) for i in db.session.scalars(db.select(Callback.id))}
        jobs = Counter(db.session.scalars(db.select(PrintJob.sale_id)))
        sale_ids = set(db.session.scalars(db.select(Payment.sale_id).where(Payment.id.in_(by_webhook + by_sync))))
        assert jobs == Counter({sale_id: 1 for sale_id in sale_ids})
        applied = db.session.scalars(db.select(WebhookDelivery.attempts).where(WebhookDelivery.status == "OK")).all()
        assert len(applied) == len(bodies) + len(early)  # every other copy was stored as a duplicate
    received = Counter(request.headers["X-Callback-Id"] for request, _response in receiver.log)
    assert received == Counter({callback_id: 1 for callback_id in callback_ids})
    assert len(printer.jobs) == paid_sales
