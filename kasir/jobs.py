"""The background job runner (DESIGN §11): one thread per server process for the shop's own work, and one
for callbacks to other servers; each job on its own schedule.

Jobs are plain functions that also run on demand from the CLI (`python -m kasir sync`, `expire`).
A failing job is logged and tried again on its next turn; it never stops the runner or the till.
"""
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from . import backup, product_imports
from .api import idempotency
from .extensions import db
from .mail import outbox as mail_outbox
from .payments import callbacks, health, metrics, sync
from .printing import queue as print_queue
from .reports import reconcile
from .webhooks import rejections, retention
from .webhooks.service import reprocess_unmatched

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]
    next_run: float = 0.0
    run_at_stop: bool = False  # once more when the server stops, so in-memory work is not lost
    # Jobs of one lane run one after another on the lane's own thread: outbound calls to other people's
    # servers (callbacks) have their own, so a slow receiver never holds up expiry, sync or printing.
    lane: str = "main"


def default_jobs() -> list[Job]:
    return [
        Job("sync_pending", 1, sync.sync_pending),
        Job("expire", 5, sync.expire_due),
        Job("confirm_unreachable_cancels", 5, sync.confirm_unreachable_cancels),
        Job("reprocess_webhooks", 5, reprocess_unmatched),
        Job("print_queue", 2, print_queue.drain),
        Job("provider_health", 1, health.refresh_due),
        Job("deliver_callbacks", 2, callbacks.deliver_due, lane="callbacks"),
        Job("send_receipt_emails", 5, mail_outbox.deliver_due, lane="mail"),  # a slow mail server holds up nothing
        Job("purge_idempotency_keys", 3600, idempotency.purge_expired),
        Job("reconcile_yesterday", 3600, reconcile.reconcile_yesterday),
        Job("daily_backup", 600, backup.daily_backup),
        Job("flush_provider_metrics", 60, metrics.flush, run_at_stop=True),
        Job("flush_webhook_rejections", 60, rejections.flush, run_at_stop=True),
        Job("purge_webhook_records", 3600, retention.purge_old),
        # Its own lane: a 50 000-row import works for seconds, and sync, expiry and printing must not wait.
        Job("product_imports", 1, product_imports.run_due, lane="imports"),
    ]


class JobRunner:
    """Runs the jobs on one thread per lane; `run_due` runs every due job once, on the caller's thread."""

    def __init__(self, app: Flask, jobs: list[Job] | None = None, tick_seconds: float = 0.5):
        self.app = app
        self.jobs = jobs if jobs is not None else default_jobs()
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, job: Job) -> None:
        with self.app.app_context():
            try:
                job.run()
            except Exception:  # a job's failure is logged, never fatal to the runner
                log.exception("job %s failed", job.name)
                db.session.rollback()
            finally:
                db.session.remove()

    def run_due(self, lane: str | None = None) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if now < job.next_run or (lane is not None and job.lane != lane):
                continue
            job.next_run = now + job.every_seconds
            self._run(job)

    def _loop(self, lane: str) -> None:
        while not self._stop.is_set():
            self.run_due(lane)
            self._stop.wait(self.tick_seconds)

    def start(self) -> "JobRunner":
        for lane in dict.fromkeys(job.lane for job in self.jobs):
            name = "kasir-jobs" if lane == "main" else f"kasir-jobs-{lane}"
            thread = threading.Thread(target=self._loop, args=(lane,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        for job in self.jobs:
            if job.run_at_stop:
                self._run(job)
