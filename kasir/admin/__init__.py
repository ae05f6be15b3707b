"""Back office: catalogue, users, sales and shop settings."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import backups, monitoring, payment_settings, payments, reports, routes  # noqa: E402,F401
