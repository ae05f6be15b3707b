"""Admin › Impor CSV for a whole catalogue: checked whole, then upserted in batches by a job with its progress
shown, resumable after a restart, one at a time, while the till keeps selling (kasir/product_imports.py)."""
import io
import threading
from datetime import timedelta

import pytest

from kasir import create_app, product_imports, products
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.jobs import JobRunner, default_jobs
from kasir.models import AuditLog, Product, ProductImport, ProductImportFile, Sale
from support.client import AuthActions
from support.config import ADMIN

HEADER = "sku,barcode,name,category,price,stock,active\n"
WAIT_SECONDS = 30  # a bound on waiting for the other thread, never a measured time


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(product_imports, "BATCH_ROWS", 3)


def rows(count, start=1, price=1000):
    return "".join(f"IMP-{n},{8970000000000 + n},Teh Kotak Rasa {n},Minuman,{price},{n},1\n"
                   for n in range(start, start + count))


def upload(client, text):
    return client.post("/admin/products/import", data={"file": (io.BytesIO(text.encode()), "katalog.csv")},
                       content_type="multipart/form-data")


def the_import(app):
    with app.app_context():
        job = db.session.scalar(db.select(ProductImport).order_by(ProductImport.id.desc()))
        if job is not None:
            db.session.expunge(job)
        return job


def run_job(app):
    with app.app_context():
        product_imports.run_due()


def skus(app, prefix="IMP-"):
    with app.app_context():
        return set(db.session.scalars(db.select(Product.sku).where(Product.sku.startswith(prefix))))


def audit_actions(app):
    with app.app_context():
        return db.session.scalars(db.select(AuditLog.action).where(AuditLog.action.startswith("ImportProducts"))
                                  .order_by(AuditLog.id)).all()


def test_a_file_bigger_than_one_batch_is_queued_and_its_page_shows_progress(admin, app, small_batches):
    response = upload(admin, HEADER + rows(7))
    job = the_import(app)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/products/import/{job.id}")
    page = admin.get(f"/admin/products/import/{job.id}").get_data(as_text=True)
    assert "Mengimpor 0 dari 7 baris…" in page
    assert 'hx-trigger="every 1s"' in page and f"/admin/products/import/{job.id}/progress" in page
    assert skus(app) == set()  # nothing yet: the job does the work


def test_the_job_upserts_in_batches_committing_progress_with_each(admin, app, small_batches, monkeypatch):
    upload(admin, HEADER + rows(7))
    seen = []
    original = products.upsert

    def spy(batch, *args):
        seen.append((len(batch), db.session.get(ProductImport, the_import(app).id).rows_done))
        return original(batch, *args)

    monkeypatch.setattr(products, "upsert", spy)
    run_job(app)
    assert seen == [(3, 0), (3, 3), (1, 6)]
    job = the_import(app)
    assert (job.state, job.rows_done, job.created, job.updated, job.slot) == ("DONE", 7, 7, 0, None)
    with app.app_context():
        assert db.session.get(ProductImportFile, job.id) is None  # the stored file is gone
    assert len(skus(app)) == 7


def test_progress_is_shown_mid_way_and_polling_stops_with_the_result(admin, app, small_batches, monkeypatch):
    upload(admin, HEADER + rows(7, start=1) + "SKU0001,,Indomie Goreng,,3600,1,1\n")
    job_id = the_import(app).id
    fragments = []
    original = product_imports._batch

    def after_each_batch(*args):
        done = original(*args)
        fragments.append(admin.get(f"/admin/products/import/{job_id}/progress").get_data(as_text=True))
        return done

    monkeypatch.setattr(product_imports, "_batch", after_each_batch)
    run_job(app)
    assert "Mengimpor 3 dari 8 baris…" in fragments[0] and 'hx-trigger="every 1s"' in fragments[0]
    assert 'value="3"' in fragments[0] and 'max="8"' in fragments[0]
    done = admin.get(f"/admin/products/import/{job_id}/progress").get_data(as_text=True)
    assert "Impor selesai" in done and "hx-trigger" not in done
    assert "<strong>7</strong> produk baru, <strong>1</strong> diperbarui" in done and "8 baris dalam" in done


def test_a_half_done_import_resumes_after_a_restart_from_its_last_batch(admin, app, app_config, small_batches,
                                                                        monkeypatch):
    upload(admin, HEADER + rows(8))
    original, calls = products.upsert, []

    def dies_on_the_second_batch(batch, *args):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("the server process stopped here")
        return original(batch, *args)

    monkeypatch.setattr(products, "upsert", dies_on_the_second_batch)
    run_job(app)
    half = the_import(app)
    assert (half.state, half.rows_done, half.created) == ("RUNNING", 3, 3) and len(skus(app)) == 3
    monkeypatch.setattr(products, "upsert", original)
    with app.app_context():
        db.engine.dispose()
    restarted = create_app(app_config)
    run_job(restarted)  # the dead worker's lease has not run out yet: nothing happens
    assert the_import(restarted).rows_done == 3
    monkeypatch.setattr(product_imports, "utcnow", lambda: utcnow() + product_imports.LEASE + timedelta(seconds=1))
    run_job(restarted)
    job = the_import(restarted)
    assert (job.state, job.rows_done, job.created, job.updated) == ("DONE", 8, 8, 0)
    assert len(skus(restarted)) == 8
    assert audit_actions(restarted) == ["ImportProductsStart", "ImportProducts"]
    with restarted.app_context():
        db.engine.dispose()


def test_a_sale_commits_while_an_import_is_mid_way(admin, app, small_batches, monkeypatch):
    upload(admin, HEADER + rows(9))
    job_id = the_import(app).id
    mid_way, sold = threading.Event(), threading.Event()
    original = product_imports._batch

    def pause_after_the_first_batch(*args):
        done = original(*args)
        if not mid_way.is_set():
            mid_way.set()
            sold.wait(WAIT_SECONDS)
        return done

    monkeypatch.setattr(product_imports, "_batch", pause_after_the_first_batch)
    worker = threading.Thread(target=run_job, args=(app,))
    worker.start()
    try:
        assert mid_way.wait(WAIT_SECONDS)
        till = app.test_client()
        AuthActions(till).login_cashier()
        htmx = {"HX-Request": "true"}
        assert till.post("/pos/cart/scan", data={"q": "SKU0001"}, headers=htmx).status_code == 200
        with app.app_context():
            sale_id = db.session.scalar(db.select(Sale.id).where(Sale.status == "OPEN"))
            assert db.session.get(ProductImport, job_id).rows_done == 3
        paid = till.post("/pos/checkout/cash", data={"sale_id": str(sale_id), "tendered": "10.000"}, headers=htmx)
        assert paid.status_code == 200
        with app.app_context():
            assert db.session.get(Sale, sale_id).status == "PAID"
            assert db.session.get(ProductImport, job_id).state == "RUNNING"
    finally:
        sold.set()
        worker.join(WAIT_SECONDS)
    assert the_import(app).state == "DONE" and len(skus(app)) == 9


def test_imported_and_renamed_products_are_found_by_the_catalogue_search(admin, app, small_batches):
    upload(admin, HEADER + rows(4) + "SKU0001,,Mi Instan Rasa Rendang,,3500,1,1\n")
    run_job(app)
    with app.app_context():
        assert found("teh kotak 3") == ["IMP-3"]
        assert found("rasa ren") == ["SKU0001"]
        assert found("indomie goreng") == []  # the old name left the index


def found(text):
    return [product.sku for product in db.session.scalars(products.search(text))]


def test_only_one_import_runs_at_a_time(admin, app, small_batches):
    upload(admin, HEADER + rows(7))
    response = upload(admin, HEADER + rows(7, start=100))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Impor lain sedang berjalan" in body
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(ProductImport.id))) == 1
    page = admin.get("/admin/products/import").get_data(as_text=True)
    assert "Mengimpor 0 dari 7 baris…" in page and 'type="file"' not in page


def test_a_bad_row_in_a_big_file_queues_nothing_and_names_the_row_in_indonesian(admin, app, small_batches):
    response = upload(admin, HEADER + rows(6) + "IMP-X,,Teh Tanpa Harga,,,1,1\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tidak ada yang diimpor" in body and "Baris 8:" in body and "Harga" in body
    assert the_import(app) is None and skus(app) == set()


def test_an_import_is_audited_once_at_the_start_and_once_at_the_end(admin, app, small_batches):
    upload(admin, HEADER + rows(7))
    assert audit_actions(app) == ["ImportProductsStart"]
    run_job(app)
    assert audit_actions(app) == ["ImportProductsStart", "ImportProducts"]
    with app.app_context():
        end = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "ImportProducts"))
        assert (end.target, end.actor) == ("7 baru, 0 diubah", ADMIN[0])


def test_a_file_of_one_batch_is_imported_at_once_as_before(admin, app):
    response = upload(admin, HEADER + rows(2))
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/products")
    assert "2 produk baru, 0 diperbarui" in admin.get("/admin/products").get_data(as_text=True)
    assert the_import(app).state == "DONE"


def test_a_product_taking_a_checked_barcode_meanwhile_stops_the_import_in_indonesian(admin, app, small_batches):
    upload(admin, HEADER + rows(7))
    with app.app_context():
        db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).barcode = "8970000000005"
        db.session.commit()
    run_job(app)
    job = the_import(app)
    assert (job.state, job.rows_done, job.slot) == ("FAILED", 3, None)
    fragment = admin.get(f"/admin/products/import/{job.id}/progress").get_data(as_text=True)
    assert "Impor berhenti" in fragment and "Baris 5–7" in fragment and "3 baris pertama sudah diimpor" in fragment
    assert "hx-trigger" not in fragment


def test_the_servers_job_runner_works_imports_on_a_lane_of_their_own(admin, app, small_batches):
    upload(admin, HEADER + rows(7))
    [job] = [job for job in default_jobs() if job.lane == "imports"]
    JobRunner(app, jobs=[job]).run_due(lane="imports")
    assert the_import(app).state == "DONE"
