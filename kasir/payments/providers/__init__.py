"""Payment providers behind one interface (base.Provider); `get_provider()` picks the configured one."""
import functools

from .base import Provider


@functools.cache  # imported on first use (the providers import this package), then asked on every poll
def _registry() -> dict[str, type[Provider]]:
    from .midtrans import MidtransProvider
    from .mock import MockProvider
    from .static import StaticQrisProvider
    from .xendit import XenditProvider

    return {"mock": MockProvider, "midtrans": MidtransProvider, "xendit": XenditProvider,
            "static": StaticQrisProvider}


def provider_class(name: str) -> type[Provider]:
    registry = _registry()
    if name not in registry:
        raise LookupError(f"unknown payment provider {name!r}")
    return registry[name]


def get_provider(name: str | None = None) -> Provider:
    """`name`, or the active provider (environment, then admin's choice, then mock), built with its keys."""
    from .. import gateway_settings

    cls = provider_class(name or gateway_settings.active_provider_name())
    if cls.from_settings.__func__ is Provider.from_settings.__func__:
        return cls()  # needs no keys: skip loading (and decrypting) the settings
    return cls.from_settings(gateway_settings.load())
