"""Back office: catalogue, users, sales and shop settings."""
from . import (  # noqa: F401  (views attach to bp)
    backups,
    ereceipt_settings,
    labels,
    monitoring,
    payment_settings,
    payments,
    reports,
    routes,
    stock,
    tax_settings,
)
from .blueprint import bp  # noqa: F401
