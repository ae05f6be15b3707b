"""The day report and its CSV carry the paid sales' service, DPP, PPN, PBJT and cash rounding as sold."""
from kasir import tenders
from kasir.extensions import db
from kasir.reports import daily
from kasir.settings import set_tax_settings
from kasir.tax import TaxSettings


def test_the_day_report_sums_the_tax_of_paid_sales(till):
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False, service_bp=500))
    db.session.commit()
    sale = tenders.pay_cash(till.add("SKU0006").id, "10.000")  # 4.000 + 200 service: DPP 3.850, PPN 462
    report = daily.build_report(sale.business_date)
    assert report.tax == {"service_charge": 200, "tax_dpp": 3_850, "tax_ppn": 462, "tax_pbjt": 0, "cash_rounding": 0}
    assert report.gross_total == 4_662


def test_the_csv_has_tax_columns_for_each_sale(till):
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False))
    db.session.commit()
    sale = tenders.pay_cash(till.add("SKU0006").id, "10.000")
    rows = "".join(daily.export_csv(sale.business_date, sale.business_date)).splitlines()
    assert rows[0].endswith("qris,biaya_layanan,dpp,ppn,pbjt,pembulatan_tunai")
    assert rows[1].endswith(",0,3667,440,0,0")


def test_the_report_page_shows_the_ppn(till, app, auth, client):
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False))
    db.session.commit()
    sale = tenders.pay_cash(till.add("SKU0006").id, "10.000")
    auth.login_admin()
    page = client.get(f"/admin/reports?from={sale.business_date}").get_data(as_text=True)
    assert '<tr data-figure="tax_ppn"><td>PPN</td><td></td><td class="num">Rp 440</td></tr>' in page
