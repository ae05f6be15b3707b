"""Payment providers behind one interface (base.Provider); `get_provider()` picks the configured one."""
from .. import gateway_settings
from .base import Provider
from .doku import DokuProvider
from .midtrans import MidtransProvider
from .mock import MockProvider
from .nicepay import NicepayProvider
from .static import StaticQrisProvider
from .xendit import XenditProvider

_CLASSES: dict[str, type[Provider]] = {"mock": MockProvider, "midtrans": MidtransProvider, "xendit": XenditProvider,
                                       "static": StaticQrisProvider, "doku": DokuProvider,
                                       "nicepay": NicepayProvider}


def provider_class(name: str) -> type[Provider]:
    if name not in _CLASSES:
        raise LookupError(f"unknown payment provider {name!r}")
    return _CLASSES[name]


def get_provider(name: str | None = None) -> Provider:
    """`name`, or the active provider (environment, then admin's choice, then mock), built with its keys."""
    cls = provider_class(name or gateway_settings.active_provider_name())
    if cls.from_settings.__func__ is Provider.from_settings.__func__:
        return cls()  # needs no keys: skip loading (and decrypting) the settings
    return cls.from_settings(gateway_settings.load())
