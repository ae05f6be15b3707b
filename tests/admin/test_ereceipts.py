"""E-receipts: a paid sale gets an unguessable token; /r/<token> shows its receipt read-only, without a login."""
from kasir import tenders
from kasir.extensions import db
from kasir.models import Sale


def paid_sale(till):
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    db.session.commit()
    return db.session.get(Sale, sale.id)


def test_a_paid_sale_gets_an_unguessable_receipt_token(till):
    first, second = paid_sale(till), paid_sale(till)
    assert len(first.receipt_token) >= 32 and first.receipt_token != second.receipt_token


def test_an_open_sale_has_no_receipt_token(till):
    assert till.add("SKU0001").receipt_token is None


def test_the_receipt_opens_without_a_login(till, app):
    sale = paid_sale(till)
    response = app.test_client().get(f"/r/{sale.receipt_token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and sale.display_number in page and "Indomie Goreng" in page
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_receipt_page_is_read_only(till, app):
    page = app.test_client().get(f"/r/{paid_sale(till).receipt_token}").get_data(as_text=True)
    assert "<form" not in page and "Cetak Struk" not in page


def test_an_unknown_token_is_404(app):
    assert app.test_client().get("/r/" + "x" * 32).status_code == 404


def test_a_sale_id_is_not_a_token(till, app):
    sale = paid_sale(till)
    assert app.test_client().get(f"/r/{sale.id}").status_code == 404
