"""The payment orchestrator API (DESIGN §7): `/payments` for other apps of the shop.

The blueprint lives in kasir.api.routes; this package's models and callbacks are imported by the
payments core, so nothing here may import the service layer at package import time.
"""
