"""CORS for `/payments` through Flask-CORS (DESIGN §10 `CORS_ORIGINS`: comma-separated origins, or `*`).

Bearer tokens, not cookies, authenticate the API, so credentials are never allowed cross-origin.
"""
from flask import Flask
from flask_cors import CORS

API_PATHS = r"/payments(/.*)?$"
OPTIONS = {
    "methods": ["GET", "POST", "OPTIONS"],
    "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
    "expose_headers": ["Idempotent-Replayed", "X-Request-Id", "Retry-After", "X-RateLimit-Limit",
                       "X-RateLimit-Remaining"],
    "max_age": 600,
    "send_wildcard": True,  # `*` answers `*`, not the caller's origin
    "supports_credentials": False,
    "intercept_exceptions": False,  # as every other after-request hook: no headers on an unhandled 500
}


def allowed_origins(setting: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


def init_app(app: Flask) -> None:
    origins = allowed_origins(app.config["CORS_ORIGINS"])
    if origins:
        CORS(app, resources={API_PATHS: {**OPTIONS, "origins": origins}})
