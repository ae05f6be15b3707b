"""E-mailed receipts: the outbox job sends the receipt to a real SMTP server on loopback, retries a temporary
failure with backoff, gives up after a bounded number of tries, and never logs the address or the password."""
import logging

import pytest

from kasir import tenders
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.jobs import JobRunner, default_jobs
from kasir.mail import outbox
from kasir.mail.settings import AddressError
from kasir.models import EMAIL_FAILED, EMAIL_QUEUED, EMAIL_SENT, EmailOutbox
from kasir.printing.ereceipt import PUBLIC_URL_KEY, receipt_text
from kasir.printing.layout import build_receipt
from kasir.settings import set_setting, shop_profile
from support.smtp import SMTP_LOGIN, save_smtp

CUSTOMER = "budi.santoso@contoh.co.id"


def paid_sale(till):
    return tenders.pay_cash(till.add("SKU0001", "SKU0006").id, "20000")


def rows() -> list[EmailOutbox]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(EmailOutbox).order_by(EmailOutbox.id)))


def time_passes() -> None:
    """The retry wait is over: every queued mail is due now (no sleeping in tests)."""
    db.session.execute(db.update(EmailOutbox).where(EmailOutbox.status == EMAIL_QUEUED)
                       .values(next_attempt_at=utcnow()))
    db.session.commit()


def test_a_queued_receipt_reaches_the_smtp_server_with_its_headers_and_bodies(till, smtp_configured):
    set_setting(PUBLIC_URL_KEY, "https://toko.example.id")
    sale = paid_sale(till)
    outbox.enqueue(sale, CUSTOMER)
    assert outbox.deliver_due() == 1
    [message] = smtp_configured.received
    assert message["Subject"] == f"Struk belanja Toko Kasir {sale.display_number}"
    assert message["To"] == CUSTOMER and smtp_configured.recipients == [[CUSTOMER]]
    assert message["From"].addresses[0].addr_spec == "struk@toko.example.id"
    assert message["From"].addresses[0].display_name == "Toko Contoh"
    text = message.get_body("plain").get_content()
    html = message.get_body("html").get_content()
    for body in (text, html):
        assert sale.display_number in body and "Indomie Goreng" in body
        assert f"https://toko.example.id/r/{sale.receipt_token}" in body
    [row] = rows()
    assert (row.status, row.attempts, row.last_error) == (EMAIL_SENT, 1, None) and row.sent_at is not None


def test_the_plain_body_is_the_whatsapp_receipt_text(till, smtp_configured):
    sale = paid_sale(till)
    outbox.enqueue(sale, CUSTOMER)
    outbox.deliver_due()
    body = smtp_configured.received[0].get_body("plain").get_content().replace("\r\n", "\n")
    assert body.startswith(receipt_text(build_receipt(sale, shop_profile())))
    assert "/r/" not in body  # no public address: no link


def test_the_job_logs_in_with_the_saved_user_and_password(till, smtp_configured):
    outbox.enqueue(paid_sale(till), CUSTOMER)
    outbox.deliver_due()
    assert smtp_configured.logins == [SMTP_LOGIN[0]] and len(smtp_configured.received) == 1


def test_a_refused_login_keeps_the_mail_queued_with_the_reason(app, till, smtp_server):
    save_smtp(app, smtp_server.port, password="kata-sandi-salah-99")
    outbox.enqueue(paid_sale(till), CUSTOMER)
    assert outbox.deliver_due() == 0
    [row] = rows()
    assert row.status == EMAIL_QUEUED and row.attempts == 1 and row.next_attempt_at > utcnow()
    assert row.last_error == "Login ke server email ditolak. Periksa nama pengguna dan kata sandi."
    assert smtp_server.received == []


def test_an_unreachable_server_is_retried_later(app, till, closed_port):
    save_smtp(app, closed_port)
    outbox.enqueue(paid_sale(till), CUSTOMER)
    assert outbox.deliver_due() == 0
    [row] = rows()
    assert row.status == EMAIL_QUEUED and row.next_attempt_at > utcnow()
    assert row.last_error == "Server email tidak bisa dihubungi. Periksa host dan port."


def test_a_mail_not_yet_due_waits(till, smtp_configured):
    smtp_configured.refusals.append("451 4.3.0 Coba lagi nanti")
    outbox.enqueue(paid_sale(till), CUSTOMER)
    outbox.deliver_due()
    assert outbox.deliver_due() == 0 and rows()[0].attempts == 1


def test_a_temporary_refusal_is_retried_then_sent(till, smtp_configured):
    smtp_configured.refusals.extend(["451 4.3.0 Coba lagi nanti", "421 4.7.0 Sibuk"])
    outbox.enqueue(paid_sale(till), CUSTOMER)
    for _ in range(3):
        outbox.deliver_due()
        time_passes()
    [row] = rows()
    assert (row.status, row.attempts, row.last_error) == (EMAIL_SENT, 3, None)
    assert len(smtp_configured.received) == 1


def test_the_job_gives_up_after_the_last_try_and_says_why(till, smtp_configured):
    tries = len(outbox.RETRY_DELAYS) + 1
    smtp_configured.refusals.extend(["451 4.3.0 Coba lagi nanti"] * (tries + 2))
    outbox.enqueue(paid_sale(till), CUSTOMER)
    for _ in range(tries + 2):
        outbox.deliver_due()
        time_passes()
    [row] = rows()
    assert (row.status, row.attempts, row.next_attempt_at) == (EMAIL_FAILED, tries, None)
    assert row.last_error.startswith("Server email menolak sementara (kode 451)")
    assert len(smtp_configured.refusals) == 2  # no try after giving up


def test_a_refused_recipient_fails_at_once(till, smtp_configured):
    smtp_configured.refusals.append("550 5.1.1 Mailbox tidak ada")
    outbox.enqueue(paid_sale(till), CUSTOMER)
    outbox.deliver_due()
    [row] = rows()
    assert (row.status, row.attempts) == (EMAIL_FAILED, 1)
    assert row.last_error == "Server email menolak pesan (kode 550)"


def test_without_smtp_settings_the_mail_waits_queued(till):
    outbox.enqueue(paid_sale(till), CUSTOMER)
    assert outbox.deliver_due() == 0
    [row] = rows()
    assert (row.status, row.attempts) == (EMAIL_QUEUED, 0)


def test_the_same_address_twice_for_a_sale_queues_one_mail(till, smtp_configured):
    sale = paid_sale(till)
    first = outbox.enqueue(sale, CUSTOMER)
    again = outbox.enqueue(sale, "  Budi.Santoso@contoh.co.id ")
    assert first.id == again.id and len(rows()) == 1
    outbox.deliver_due()
    assert outbox.enqueue(sale, CUSTOMER).id == first.id and len(rows()) == 1  # sent a moment ago: not again


def test_another_address_for_the_same_sale_is_another_mail(till, smtp_configured):
    sale = paid_sale(till)
    outbox.enqueue(sale, CUSTOMER)
    outbox.enqueue(sale, "siti@contoh.co.id")
    assert outbox.deliver_due() == 2
    assert sorted(recipients[0] for recipients in smtp_configured.recipients) == [CUSTOMER, "siti@contoh.co.id"]


def test_logs_never_carry_the_whole_address_or_the_password(till, smtp_server, app, caplog):
    save_smtp(app, smtp_server.port, password="kata-sandi-salah-99")
    caplog.set_level(logging.DEBUG)
    outbox.enqueue(paid_sale(till), CUSTOMER)
    outbox.deliver_due()
    save_smtp(app, smtp_server.port)
    time_passes()
    outbox.deliver_due()
    assert "b***@contoh.co.id" in caplog.text
    assert CUSTOMER not in caplog.text and "kata-sandi-salah-99" not in caplog.text and SMTP_LOGIN[1] not in caplog.text


@pytest.mark.parametrize("typed", ["", "budi", "budi@", "@contoh.co.id", "budi@contoh", "budi santoso@contoh.co.id",
                                   "budi@contoh.co.id\nBcc: x@y.id", "a@b.id, c@d.id", "budi@@contoh.co.id"])
def test_a_bad_address_is_refused_in_indonesian(till, typed):
    with pytest.raises(AddressError, match="Alamat email tidak valid"):
        outbox.enqueue(paid_sale(till), typed)
    assert rows() == []


def test_a_failed_mail_shows_under_perlu_perhatian(till, smtp_configured, auth, client):
    smtp_configured.refusals.append("550 5.1.1 Mailbox tidak ada")
    outbox.enqueue(paid_sale(till), CUSTOMER)
    outbox.deliver_due()
    auth.login_admin()
    page = client.get("/admin").get_data(as_text=True)
    assert "1 struk email gagal terkirim" in page and 'href="/admin/settings/ereceipt"' in page


def test_the_job_runner_sends_mail_on_its_own_lane(app, till, smtp_configured):
    outbox.enqueue(paid_sale(till), CUSTOMER)
    db.session.commit()
    [job] = [job for job in default_jobs() if job.name == "send_receipt_emails"]
    assert job.lane == "mail"
    JobRunner(app, jobs=[job]).run_due("mail")
    assert len(smtp_configured.received) == 1 and rows()[0].status == EMAIL_SENT
