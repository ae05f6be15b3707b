"""The payment orchestrator API (DESIGN §7): `/payments` for other apps of the shop (blueprint: kasir.api.routes)."""
