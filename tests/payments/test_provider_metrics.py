"""Provider calls are timed in memory at one seam (base.Provider) and flushed to provider_call_stats by a job."""
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from kasir.clock import utcnow
from kasir.extensions import db
from kasir.jobs import JobRunner, default_jobs
from kasir.payments import metrics
from kasir.payments.models import ProviderCallStat
from kasir.payments.providers import get_provider
from kasir.payments.providers.base import Charge, ConnectionResult, Provider, ProviderStatus, ProviderUnavailable


class ProbeProvider(Provider):
    """A gateway written after the metrics: it is timed without doing anything for it."""
    name = "probe"
    reachable = True

    def create_qr(self, reference: str, amount: int, expires_at: datetime) -> Charge:
        return Charge("000201", "PROBE-1", expires_at)

    def fetch_status(self, payment) -> ProviderStatus:
        raise ProviderUnavailable()

    def cancel(self, payment) -> ProviderStatus:
        return ProviderStatus("CANCELLED")

    def parse_webhook(self, headers, raw_body: bytes):
        raise NotImplementedError

    def fetch_settlement(self, day: date):
        return []

    def test_connection(self) -> ConnectionResult:
        return ConnectionResult(ok=self.reachable, latency_ms=1, message="")


def counts(collector) -> dict[tuple[str, str], tuple[int, int]]:
    return {(provider, operation): (bucket.calls, bucket.errors)
            for (_minute, provider, operation), bucket in collector.snapshot().items()}


def test_every_operation_of_any_provider_is_timed(provider_metrics):
    probe = ProbeProvider()
    probe.create_qr("R-1", 1000, utcnow())
    probe.cancel(None)
    probe.test_connection()
    assert counts(provider_metrics) == {("probe", "create_qr"): (1, 0), ("probe", "cancel"): (1, 0),
                                        ("probe", "test_connection"): (1, 0)}


def test_an_operation_that_calls_another_counts_once(provider_metrics):
    ProbeProvider().expire(None)  # the default expire() cancels
    assert counts(provider_metrics) == {("probe", "expire"): (1, 0)}


def test_a_provider_error_or_an_unreachable_gateway_counts_as_an_error(provider_metrics):
    probe = ProbeProvider()
    with pytest.raises(ProviderUnavailable):
        probe.fetch_status(None)
    probe.reachable = False
    probe.test_connection()
    assert counts(provider_metrics) == {("probe", "fetch_status"): (1, 1), ("probe", "test_connection"): (1, 1)}


def test_the_configured_providers_are_timed_too(app, provider_metrics):
    with app.app_context():
        get_provider("mock").test_connection()
    assert counts(provider_metrics) == {("mock", "test_connection"): (1, 0)}


def test_timing_a_call_writes_nothing_to_the_database(app, provider_metrics):
    statements = []
    with app.app_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            ProbeProvider().create_qr("R-1", 1000, utcnow())
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert statements == [] and counts(provider_metrics) == {("probe", "create_qr"): (1, 0)}


def test_flush_writes_each_minute_once_and_starts_again_from_zero(app, provider_metrics):
    minute = utcnow().replace(second=0, microsecond=0)
    provider_metrics.record("probe", "create_qr", 120, failed=False, at=minute)
    provider_metrics.record("probe", "create_qr", 480, failed=True, at=minute.replace(second=30))
    with app.app_context():
        assert metrics.flush() == 1
        assert provider_metrics.snapshot() == {}
        row = db.session.scalar(db.select(ProviderCallStat))
        assert (row.minute, row.provider, row.operation) == (minute, "probe", "create_qr")
        assert (row.calls, row.errors, row.total_ms, row.max_ms) == (2, 1, 600, 480)
        assert metrics.flush() == 0 and db.session.scalar(db.select(db.func.count(ProviderCallStat.id))) == 1


def test_a_quiet_minute_writes_nothing(app, provider_metrics):
    statements = []
    with app.app_context():
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert metrics.flush() == 0
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert statements == []


def test_two_flushes_of_one_minute_add_up_when_read(app, provider_metrics):
    minute = utcnow().replace(second=0, microsecond=0)
    with app.app_context():
        provider_metrics.record("probe", "fetch_status", 100, failed=False, at=minute)
        metrics.flush()
        provider_metrics.record("probe", "fetch_status", 300, failed=True, at=minute)
        metrics.flush()
        provider_metrics.record("probe", "fetch_status", 50, failed=False, at=minute)  # not flushed yet
        [stats] = metrics.stats_between(minute, minute + timedelta(minutes=1))
    assert (stats.calls, stats.errors, stats.average_ms, stats.max_ms) == (3, 1, 150, 300)


def test_a_failed_flush_keeps_the_counts_for_the_next_one(app, provider_metrics, monkeypatch):
    provider_metrics.record("probe", "cancel", 10, failed=False)

    def database_gone():
        raise OSError("disk I/O error")

    with app.app_context():
        monkeypatch.setattr(metrics, "write_transaction", database_gone)
        with pytest.raises(OSError):
            metrics.flush()
    assert counts(provider_metrics) == {("probe", "cancel"): (1, 0)}


def test_flush_drops_minutes_older_than_the_retention(app, provider_metrics):
    with app.app_context():
        db.session.add(ProviderCallStat(minute=utcnow() - metrics.KEEP_FOR * 2, provider="probe", operation="cancel",
                                        calls=1, errors=0, total_ms=5, max_ms=5))
        db.session.commit()
        provider_metrics.record("probe", "cancel", 5, failed=False)
        metrics.flush()
        [kept] = db.session.scalars(db.select(ProviderCallStat)).all()
        assert kept.minute > utcnow() - metrics.KEEP_FOR


def test_the_runner_flushes_every_minute():
    [job] = [job for job in default_jobs() if job.name == "flush_provider_metrics"]
    assert (job.every_seconds, job.run) == (60, metrics.flush)


def test_stopping_the_runner_flushes_what_is_still_in_memory(app, provider_metrics):
    [flush_job] = [job for job in default_jobs() if job.name == "flush_provider_metrics"]
    runner = JobRunner(app, jobs=[flush_job])
    runner.run_due()  # the first turn, with nothing to flush yet; the next one is a minute away
    provider_metrics.record("probe", "create_qr", 90, failed=False)
    runner.stop()
    with app.app_context():
        assert db.session.scalar(db.select(ProviderCallStat.calls)) == 1
