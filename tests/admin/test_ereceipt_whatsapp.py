"""Kirim via WhatsApp: a wa.me link to the typed number with the receipt as its text."""
from urllib.parse import parse_qs, urlsplit

import pytest

from kasir import tenders
from kasir.printing import ereceipt


@pytest.mark.parametrize("typed, number", [("0812-3456-7890", "6281234567890"), ("+62 812 3456 7890", "6281234567890"),
                                           ("6281234567890", "6281234567890")])
def test_an_indonesian_number_becomes_its_wa_me_form(typed, number):
    assert ereceipt.whatsapp_number(typed) == number


@pytest.mark.parametrize("typed", ["", "0812", "0812abc45678", "081234567890123456"])
def test_a_bad_number_is_refused_in_indonesian(typed):
    with pytest.raises(ereceipt.PhoneError, match="Nomor WhatsApp tidak valid"):
        ereceipt.whatsapp_number(typed)


def test_the_till_link_opens_wa_me_with_the_receipt_text(till, auth, client):
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    auth.login_cashier()
    response = client.get(f"/receipts/{sale.id}/whatsapp?phone=081234567890")
    link = urlsplit(response.headers["Location"])
    assert response.status_code == 302 and (link.netloc, link.path) == ("wa.me", "/6281234567890")
    text = parse_qs(link.query)["text"][0]
    assert sale.display_number in text and "Indomie Goreng" in text and "\n" in text


def test_the_till_link_with_a_bad_number_answers_400(till, auth, client):
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    auth.login_cashier()
    response = client.get(f"/receipts/{sale.id}/whatsapp?phone=12")
    assert response.status_code == 400 and "Nomor WhatsApp tidak valid" in response.get_data(as_text=True)
