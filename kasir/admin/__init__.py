"""Back office: catalogue, users, sales and shop settings."""
from . import backups, labels, monitoring, payment_settings, payments, reports, routes, stock  # noqa: F401  (views attach to bp)
from .blueprint import bp  # noqa: F401
