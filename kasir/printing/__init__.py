"""Receipts: one layout for paper and screen, the HTML preview, printer backends and the print queue."""
from .. import sales
from . import routes  # noqa: F401  (views attach to bp)
from .blueprint import bp
from .queue import enqueue_receipt


def _print_paid_sales(_state) -> None:
    """Auto-print: a sale paid anywhere (the till, a webhook, a job) queues its receipt in that transaction."""
    sales.sale_paid.connect(enqueue_receipt)


bp.record_once(_print_paid_sales)  # when the app registers the blueprint
