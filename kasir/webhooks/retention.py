"""How long webhook records are kept: `purge_webhook_records` (kasir.jobs) deletes them after
WEBHOOK_KEEP_DAYS (default 90).

A delivery's effect is in its payment and the payment's log, which are kept; the stored delivery (and
the hourly counts of refused ones) only explain how it arrived, and a gateway's own dashboard keeps the
same for about as long. Old rows go in small batches, each its own short transaction, so that even the
first run on a large table never holds the till's database for long.
"""
from datetime import datetime, timedelta

from flask import current_app

from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..payments.models import WebhookDelivery, WebhookRejection

BATCH = 500
MAX_BATCHES_PER_RUN = 100


def _delete_batch(model, moment_column, cutoff: datetime) -> int:
    with write_transaction():
        ids = db.session.scalars(db.select(model.id).where(moment_column < cutoff).order_by(model.id)
                                 .limit(BATCH)).all()
        if ids:
            db.session.execute(db.delete(model).where(model.id.in_(ids)))
    return len(ids)


def purge_old(now: datetime | None = None) -> int:
    """The job: delete deliveries and refusal counts older than WEBHOOK_KEEP_DAYS; how many rows went."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["WEBHOOK_KEEP_DAYS"])
    deleted = 0
    for model, moment_column in ((WebhookDelivery, WebhookDelivery.received_at),
                                 (WebhookRejection, WebhookRejection.hour)):
        for _ in range(MAX_BATCHES_PER_RUN):
            batch = _delete_batch(model, moment_column, cutoff)
            deleted += batch
            if batch < BATCH:
                break
    return deleted
