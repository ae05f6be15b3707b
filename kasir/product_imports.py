"""Product CSV imports of a whole catalogue (50 000 rows) while the till keeps selling.

The upload is read and checked whole first (any bad row: nothing imported, as before), then stored with an
import record (`product_imports`; the file in `product_import_files`, in the database rather than the instance
folder: it commits with its record, survives a restart and is there for every server process of the shop,
PostgreSQL included; deleted once the import ends).
A job upserts it in batches of BATCH_ROWS rows, each batch one short write transaction that also commits the
progress, so a sale never waits on the import for more than one batch. The job holds the import by a lease
renewed with each batch: after a crash or restart the lease runs out and the next run goes on from the last
committed batch (upsert by SKU is idempotent). One import at a time: a unique `slot` is set while it runs.
"""
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from . import audit, claims, products
from .clock import as_utc, utcnow
from .database import write_transaction
from .extensions import db
from .models import IMPORT_DONE, IMPORT_FAILED, IMPORT_QUEUED, IMPORT_RUNNING, ProductImport, ProductImportFile

BATCH_ROWS = 1000  # about 0.1–0.2 s of write lock per batch on this VM
LEASE = timedelta(seconds=20)  # a batch takes well under a second; a dead worker's import resumes after this
BUSY = "Impor lain sedang berjalan. Tunggu sampai selesai, lalu unggah lagi."


def active() -> ProductImport | None:
    """The import queued or running now, if any."""
    return db.session.scalar(db.select(ProductImport).where(ProductImport.slot.is_not(None)))


def start(raw: bytes, filename: str, max_rows: int, actor: str) -> tuple[ProductImport | None,
                                                                       products.ImportResult]:
    """Check the whole file and, if every row is good, queue it: (the import, a result without errors), or
    (None, the errors by line number) and nothing stored. Audited once here and once when it ends."""
    result = products.ImportResult()
    if active() is not None:
        result.errors.append((0, BUSY))
        return None, result
    parsed = products.read_csv(raw, max_rows, result)
    if parsed is not None:
        products.check_csv(parsed, result)
    if result.errors:
        return None, result
    try:
        with write_transaction():
            job = ProductImport(state=IMPORT_QUEUED, slot=1, filename=filename[:200], total_rows=len(parsed.rows),
                                actor=actor[:40])
            db.session.add(job)
            db.session.flush()
            db.session.add(ProductImportFile(import_id=job.id, raw=raw))
            audit.record("ImportProductsStart", filename, actor=actor, detail=f"{len(parsed.rows)} baris")
    except IntegrityError:  # another upload took the slot a moment ago
        result.errors.append((0, BUSY))
        return None, result
    return job, result


def run_due() -> int:
    """The job: take the import nobody holds (new, or its worker died) and work it to the end."""
    now = utcnow()
    ids = claims.claim(
        db.select(ProductImport).where(ProductImport.slot.is_not(None),
                                       db.or_(ProductImport.lease_until.is_(None), ProductImport.lease_until < now)),
        _hold)
    return claims.each(ProductImport, ids, _work)


def _hold(job: ProductImport) -> None:
    job.state = IMPORT_RUNNING
    job.lease_until = utcnow() + LEASE


def _work(job: ProductImport) -> int:
    """Upsert the rows after the last committed batch, one batch per transaction with its progress."""
    result = products.ImportResult()
    stored = db.session.get(ProductImportFile, job.id)
    parsed = products.read_csv(stored.raw if stored else b"", job.total_rows, result)
    if parsed is None or len(parsed.rows) != job.total_rows:  # the stored file was checked: never expected
        _finish(job.id, IMPORT_FAILED, "Berkas tersimpan tidak bisa dibaca lagi. Unggah ulang.")
        return 0
    import_id, done = job.id, job.rows_done
    in_file = {cleaned["sku"] for _line, cleaned in parsed.rows}
    while done < len(parsed.rows):
        batch = parsed.rows[done:done + BATCH_ROWS]
        try:
            if not _batch(import_id, done, batch, parsed.absent, in_file):
                return 0  # another worker took it over after our lease ran out
        except IntegrityError:  # someone gave a product this SKU or barcode after the file was checked
            _finish(import_id, IMPORT_FAILED,
                    f"Baris {batch[0][0]}–{batch[-1][0]}: SKU atau barcode bentrok dengan perubahan lain sejak "
                    f"berkas diperiksa. {done} baris pertama sudah diimpor; unggah lagi untuk melanjutkan.")
            return 0
        done += len(batch)
    _finish(import_id, IMPORT_DONE)
    return 1


def _batch(import_id: int, done: int, batch: list[tuple[int, dict]], absent: tuple[str, ...],
           in_file: set[str]) -> bool:
    """One batch and the progress after it, in one short write transaction; False if the import is no longer
    ours to work (finished, or taken over by another worker from `done` on)."""
    with write_transaction():
        job = db.session.get(ProductImport, import_id, with_for_update=True, populate_existing=True)
        if job is None or job.slot is None or job.rows_done != done:
            return False
        created, updated = products.upsert([cleaned for _line, cleaned in batch], absent, job.actor, in_file)
        job.rows_done, job.created, job.updated = done + len(batch), job.created + created, job.updated + updated
        job.lease_until = utcnow() + LEASE
    return True


def _finish(import_id: int, state: str, error: str = "") -> None:
    with write_transaction():
        job = db.session.get(ProductImport, import_id, with_for_update=True, populate_existing=True)
        job.state, job.error, job.slot, job.lease_until = state, error, None, None
        db.session.execute(db.delete(ProductImportFile).where(ProductImportFile.import_id == import_id))
        job.finished_at = utcnow()
        audit.record("ImportProducts", f"{job.created} baru, {job.updated} diubah", actor=job.actor,
                     outcome="ok" if state == IMPORT_DONE else "failed",
                     detail=f"{job.filename}: {job.rows_done} dari {job.total_rows} baris, {seconds(job):.1f} dtk")


def seconds(job: ProductImport) -> float | None:
    """From upload to the end (so far, while it runs)."""
    end: datetime = job.finished_at or utcnow()
    return (as_utc(end) - as_utc(job.created_at)).total_seconds()
