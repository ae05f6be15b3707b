"""Receipts: one layout for paper and screen, the HTML preview, printer backends and the print queue."""
from flask import Blueprint

bp = Blueprint("printing", __name__)

from . import routes  # noqa: E402,F401
