"""The admin's navigation: links grouped by what the owner is looking for, the current page highlighted."""
import re

import pytest

GROUPS = ["Penjualan", "Produk", "Pembayaran", "Laporan", "Pengaturan"]


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def nav_of(page: str) -> str:
    return re.search(r'<nav class="topbar-nav admin-nav">(.*?)</nav>', page, re.S)[1]


def test_the_navigation_groups_links_in_order(admin):
    nav = nav_of(admin.get("/admin").get_data(as_text=True))
    labels = re.findall(r'<span class="nav-group-label">([^<]+)</span>', nav)
    assert labels == GROUPS


def test_product_pages_sit_in_the_produk_group(admin):
    nav = nav_of(admin.get("/admin").get_data(as_text=True))
    group = re.search(r'aria-label="Produk">(.*?)</div>', nav, re.S)[1]
    assert 'href="/admin/products"' in group and 'href="/admin/products/import"' in group


def test_the_current_page_is_highlighted(admin):
    nav = nav_of(admin.get("/admin/products").get_data(as_text=True))
    assert re.findall(r'<a href="([^"]+)" class="active" aria-current="page">', nav) == ["/admin/products"]


def test_the_qris_dashboard_keeps_its_address(admin):
    assert admin.get("/admin/dashboard").status_code == 200
