"""products.search: what the till and the admin's product list both use to find a product."""
import pytest

from kasir import products
from kasir.extensions import db
from kasir.models import Product

CATALOGUE = [
    ("MIE-01", "8990000001001", "Indomie Goreng Rendang", True),
    ("MIE-02", "8990000001002", "Mie Sedaap Goreng", True),
    ("KOPI-01", "8990000002001", "Kopi Kapal Api 165 g", True),
    ("OLD-01", "8990000009001", "Indomie Kari Ayam Lama", False),
]


@pytest.fixture
def catalogue(app):
    with app.app_context():
        db.session.execute(db.delete(Product))
        db.session.add_all(Product(sku=sku, barcode=barcode, name=name, category="Uji", price=3500, active=active)
                           for sku, barcode, name, active in CATALOGUE)
        db.session.commit()
        yield lambda text, **kw: [p.sku for p in db.session.scalars(products.search(text, **kw))]


def test_a_word_prefix_finds_the_product(catalogue):
    assert catalogue("indom") == ["MIE-01"]


def test_a_prefix_of_a_later_word_finds_the_product(catalogue):
    assert catalogue("rend") == ["MIE-01"]


def test_words_match_in_any_order(catalogue):
    assert catalogue("goreng indomie") == ["MIE-01"]


def test_every_word_must_match(catalogue):
    assert catalogue("goreng kopi") == []


def test_a_word_inside_another_word_does_not_match(catalogue):
    assert catalogue("omie") == []


def test_a_barcode_matches_exactly(catalogue):
    assert catalogue("8990000002001") == ["KOPI-01"]
    assert catalogue("899000000200") == []


def test_an_sku_matches_exactly(catalogue):
    assert catalogue("MIE-02") == ["MIE-02"]


def test_inactive_products_are_left_out(catalogue):
    assert catalogue("indomie") == ["MIE-01"]


def test_the_admin_may_include_inactive_products(catalogue):
    assert catalogue("indomie", include_inactive=True) == ["MIE-01", "OLD-01"]


def test_like_wildcards_are_plain_characters(catalogue):
    assert catalogue("%") == []
    assert catalogue("_ndomie") == []


def test_results_come_in_name_order(catalogue):
    assert catalogue("goreng") == ["MIE-01", "MIE-02"]


def test_a_renamed_product_is_found_by_its_new_name_only(catalogue):
    db.session.scalar(db.select(Product).where(Product.sku == "KOPI-01")).name = "Kopi Torabika Susu"
    db.session.commit()
    assert (catalogue("torab"), catalogue("kapal")) == (["KOPI-01"], [])


def test_a_deleted_product_is_no_longer_found(catalogue):
    db.session.execute(db.delete(Product).where(Product.sku == "MIE-02"))
    db.session.commit()
    assert catalogue("sedaap") == []


def test_search_syntax_in_what_is_typed_is_taken_literally(catalogue):
    assert (catalogue('indomie" OR kopi'), catalogue("goreng*"), catalogue("NEAR(")) == ([], [], [])
