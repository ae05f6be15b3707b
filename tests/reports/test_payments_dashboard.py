"""The payments dashboard over the known day (tests/fixtures/days.py known_dashboard_day): every figure derived."""
from datetime import timedelta

import pytest

from kasir.clock import utcnow, wib_day_bounds
from kasir.reports import dashboard


@pytest.fixture
def day(known_dashboard_day):
    """The dashboard's figures for the whole known day."""
    return dashboard.build_window("known day", *wib_day_bounds(known_dashboard_day.day))


def test_success_rate_is_qrs_paid_late_or_on_time_over_qrs_issued(day):
    # 5 QRs at the till + 1 cancelled API QR; paid: 10:05, the late one, the double one and the refunded one.
    assert (day.attempts, day.issued, day.paid) == (7, 6, 4)
    assert day.success_rate == pytest.approx(4 / 6)


def test_time_to_pay_is_paid_at_minus_created_at_of_the_paid_qrs(day):
    assert day.time_to_pay.count == 4
    assert day.time_to_pay.average == pytest.approx((30 + 1200 + 90 + 60) / 4)
    assert day.time_to_pay.median == pytest.approx(75)
    assert day.time_to_pay.longest == pytest.approx(1200)


def test_expired_cancelled_and_failed_are_the_payments_states_now(day):
    assert (day.expired, day.cancelled, day.failed) == (1, 1, 1)


def test_late_payments_and_money_to_refund_are_counted_like_the_sales_report(day):
    assert day.late == 1
    assert (len(day.overpayments), day.overpayment_total) == (1, 3_400)  # the QR paid after the cash sale


def test_webhook_processing_time_and_delay_from_the_gateways_timestamp(day):
    assert (day.webhooks, day.webhook_errors) == (4, 1)
    assert day.webhook_processing.count == 3
    assert (day.webhook_processing.median, day.webhook_processing.longest) == (pytest.approx(0.4), pytest.approx(1.0))
    assert day.gateway_delay.count == 2  # only deliveries that carry X-Timestamp
    assert (day.gateway_delay.median, day.gateway_delay.longest) == (pytest.approx(3), pytest.approx(4))


def test_provider_latency_and_error_rate_come_from_the_flushed_minutes(day):
    [create_qr] = day.provider_calls
    assert (create_qr.provider, create_qr.operation, create_qr.calls, create_qr.errors) == ("mock", "create_qr", 5, 1)
    assert (create_qr.error_rate, create_qr.average_ms, create_qr.max_ms) == (pytest.approx(0.2), 300, 1000)


def test_provider_calls_not_flushed_yet_count_too(known_dashboard_day, provider_metrics):
    provider_metrics.record("mock", "create_qr", 700, failed=False, at=known_dashboard_day.at(16, 0))
    [create_qr] = dashboard.build_window("known day", *wib_day_bounds(known_dashboard_day.day)).provider_calls
    assert (create_qr.calls, create_qr.errors, create_qr.max_ms) == (6, 1, 1000)
    assert create_qr.average_ms == round((1500 + 700) / 6)


def test_backlog_counts_waiting_and_given_up_callbacks_and_unprinted_receipts(known_dashboard_day):
    backlog = dashboard.backlog()
    assert (backlog.callbacks_waiting, backlog.callbacks_retrying, backlog.callbacks_given_up) == (2, 1, 1)
    assert backlog.oldest_waiting_callback_at < utcnow() - timedelta(minutes=59)
    assert (backlog.print_queued, backlog.print_failed, backlog.webhooks_unprocessed) == (1, 1, 0)


def test_today_holds_nothing_of_yesterday_and_the_week_holds_it_all(known_dashboard_day):
    board = dashboard.build_dashboard()
    assert (board.today.issued, board.today.paid, board.today.success_rate) == (0, 0, None)
    assert (board.week.issued, board.week.paid, board.week.late) == (6, 4, 1)
    assert [bar.count for bar in board.daily_bars][-2:] == [6, 0]  # yesterday issued 6 QRs, today none
    assert [bar.value for bar in board.daily_bars][-2] == 4


def test_dashboard_page_shows_both_periods_in_indonesian(client, auth, known_dashboard_day):
    auth.login_admin()
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert 'data-figure="week-success-rate"' in page and "66,7%" in page and "4 dari 6 QR dibayar" in page
    assert "1 mnt 15 dtk" in page  # the median time to pay
    assert "5 mnt 45 dtk" in page  # the average, pulled up by the late payment
    assert "0,4 dtk" in page and "3,0 dtk" in page  # webhook processing and gateway delay medians
    assert "Buat QR" in page and "20%" in page and "1.000 ms" in page
    assert "1 · Rp 3.400" in page
    assert page.count("<rect ") == 7


def test_dashboard_is_for_admins_only(client, auth, known_dashboard_day):
    auth.login_cashier()
    assert client.get("/admin/dashboard").status_code == 403


def test_gateway_delay_reads_midtrans_and_xendit_times_from_their_own_bodies(app, known_dashboard_day):
    import json

    from kasir.extensions import db
    from kasir.payments.models import WEBHOOK_OK, WebhookDelivery

    before = known_dashboard_day.day - timedelta(days=1)
    start, end = wib_day_bounds(before)
    received = start + timedelta(hours=12)  # 12:00 WIB
    db.session.add_all([
        WebhookDelivery(provider="midtrans", event_id="mt-1", status=WEBHOOK_OK, received_at=received,
                        payload=json.dumps({"settlement_time": f"{before} 11:59:54"}), headers={}),
        WebhookDelivery(provider="xendit", event_id="xd-1", status=WEBHOOK_OK, received_at=received,
                        payload=json.dumps({"event": "qr.payment", "created": f"{before}T04:59:58Z"}), headers={}),
        WebhookDelivery(provider="midtrans", event_id="mt-2", status=WEBHOOK_OK, received_at=received,
                        payload=json.dumps({"transaction_status": "pending"}), headers={}),
    ])
    db.session.commit()
    delay = dashboard.build_window("day before", start, end).gateway_delay
    assert (delay.count, delay.median, delay.longest) == (2, pytest.approx(4), pytest.approx(6))
