"""Kasir's version, shown in the page footer and by /healthz."""
__version__ = "0.1.0"
