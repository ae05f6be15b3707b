"""Receipts: one layout for paper and screen, the HTML preview, printer backends and the print queue."""
from . import routes  # noqa: F401  (views attach to bp)
from .blueprint import bp  # noqa: F401
