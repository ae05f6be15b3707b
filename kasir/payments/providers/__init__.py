"""Payment providers behind one interface (base.Provider); `get_provider()` picks the configured one."""
from flask import current_app

from .base import Provider


def get_provider(name: str | None = None) -> Provider:
    from .mock import MockProvider

    registry = {"mock": MockProvider}
    name = name or current_app.config["PROVIDER"]
    if name not in registry:
        raise LookupError(f"unknown payment provider {name!r}")
    return registry[name]()
