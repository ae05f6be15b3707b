"""Provider health (kasir.payments.health): probed by the job, and learnt from real calls that failed."""
from datetime import timedelta

import pytest

from fixtures.midtrans_till import app_config, midtrans_active  # noqa: F401  (this module's till pays through Midtrans)
from kasir.clock import utcnow
from kasir.payments import charges, health, service, sync
from kasir.payments.providers.base import ConnectionResult


class Clock:
    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(health.time, "monotonic", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def test_the_job_probes_every_30_seconds_while_the_provider_answers(fake_midtrans, clock):
    assert health.refresh_due().ok
    clock.now += 29
    assert health.refresh_due() is None
    clock.now += 1
    assert health.refresh_due().ok
    assert len(fake_midtrans.calls("status")) == 2


def test_the_job_probes_every_5_seconds_while_the_provider_is_down(fake_midtrans, clock):
    fake_midtrans.go_down("reset")
    assert not health.refresh_due().ok
    clock.now += 4
    assert health.refresh_due() is None
    fake_midtrans.recover()
    clock.now += 1
    assert health.refresh_due().ok and health.availability().ok


def test_a_charge_that_found_the_gateway_unreachable_turns_qris_off_at_once(fake_midtrans, till):
    fake_midtrans.go_down("503")
    with pytest.raises(service.PaymentError):
        charges.create_for_sale(till.add("SKU0001").id)
    assert health.availability() == ConnectionResult(ok=False, latency_ms=None,
                                                     message="Midtrans sedang bermasalah (kode 503). Coba lagi.")


def test_a_refused_charge_says_nothing_about_reachability(fake_midtrans, till):
    fake_midtrans.fail_next("charge", "body:402")
    with pytest.raises(service.PaymentError):
        charges.create_for_sale(till.add("SKU0001").id)
    assert health.latest("midtrans") is None and health.availability().ok


def test_a_status_sync_that_gets_no_answer_turns_qris_off(fake_midtrans, till):
    charges.create_for_sale(till.add("SKU0001").id)
    fake_midtrans.go_down("reset", "status")
    sync.sync_pending(now=utcnow() + timedelta(seconds=5))
    result = health.availability()
    assert not result.ok and result.message == "Midtrans tidak dapat dihubungi (koneksi gagal)."
