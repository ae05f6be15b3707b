"""A callback receiver that trickles its answer cannot hold Kasir's jobs (issue 21, item 2): each call has a
total deadline, and callbacks have their own job thread, so expiry keeps its schedule meanwhile."""
import socket
import threading
import time
from datetime import timedelta

import pytest

from kasir.clock import utcnow
from kasir.extensions import db
from kasir.jobs import JobRunner, default_jobs
from kasir.payments import callbacks, states
from kasir.payments.models import Callback, Payment

BOUND = 20  # seconds: the longest any wait here may take


class Tarpit:
    """A loopback HTTP "server" that reads the request, then answers one byte every 0.2 s (at most 1000)."""

    def __init__(self):
        self.connections = 0
        self.closed_by_client = threading.Event()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _trickle(self, connection):
        with connection:
            connection.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
            for byte in answer:
                if self._stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the client gave up on us
                    self.closed_by_client.set()
                    return

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.close()


@pytest.fixture
def tarpit():
    trap = Tarpit()
    yield trap
    trap.stop()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CALLBACK_ALLOWED_NETWORKS": "127.0.0.1"}


def queue_cancelled_callback(api, app, url: str) -> int:
    payment_id = api.create("WEB-TARPIT", 12000, callback_url=url).json["payment_id"]
    assert api.post(f"/payments/{payment_id}/cancel").status_code == 200
    with app.app_context():
        return db.session.scalar(db.select(Callback.id))


def wait_until(condition, bound: float = BOUND) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_trickling_receiver_is_cut_off_at_the_deadline(api, app, tarpit):
    callback_id = queue_cancelled_callback(api, app, f"http://127.0.0.1:{tarpit.port}/cb")
    app.config["CALLBACK_DEADLINE_SECONDS"] = 1.0

    def deliver():
        with app.app_context():
            callbacks.deliver_due()

    sender = threading.Thread(target=deliver, daemon=True)
    sender.start()
    sender.join(BOUND)
    assert not sender.is_alive()
    assert tarpit.connections == 1 and wait_until(tarpit.closed_by_client.is_set)
    with app.app_context():
        callback = db.session.get(Callback, callback_id)
        assert (callback.attempts, callback.last_error, callback.delivered_at) == (1, "timeout", None)


def test_expiry_happens_on_time_while_a_receiver_holds_a_callback(api, app, tarpit, pending_payment):
    callback_id = queue_cancelled_callback(api, app, f"http://127.0.0.1:{tarpit.port}/cb")
    app.config["CALLBACK_DEADLINE_SECONDS"] = 60.0  # the receiver holds the callback for the whole test
    with app.app_context():
        db.session.execute(db.update(Payment).where(Payment.id == pending_payment.id)
                           .values(expires_at=utcnow() + timedelta(seconds=1)))
        db.session.commit()
    runner = JobRunner(app, jobs=[job for job in default_jobs() if job.name in ("expire", "deliver_callbacks")],
                       tick_seconds=0.1).start()
    try:
        assert wait_until(lambda: tarpit.connections == 1)

        def expired() -> bool:
            with app.app_context():
                return db.session.get(Payment, pending_payment.id).status == states.EXPIRED

        assert wait_until(expired)
        with app.app_context():
            assert db.session.get(Callback, callback_id).attempts == 0  # still held by the receiver
    finally:
        tarpit.stop()  # lets the held callback end, then the runner stops
        runner.stop()
