"""CORS for `/payments` (DESIGN §10 `CORS_ORIGINS`): a comma-separated list of origins, or `*`.

Bearer tokens, not cookies, authenticate the API, so credentials are never allowed cross-origin.
"""
from flask import Flask, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
EXPOSED_HEADERS = "Idempotent-Replayed, X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"
PREFLIGHT_MAX_AGE = "600"


def allowed_origins(setting: str) -> frozenset[str]:
    return frozenset(origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip())


def init_app(app: Flask) -> None:
    origins = allowed_origins(app.config["CORS_ORIGINS"])

    @app.after_request
    def cors_headers(response):
        origin = request.headers.get("Origin")
        if not origin or not request.path.startswith("/payments"):
            return response
        if "*" not in origins and origin not in origins:
            return response
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
        response.vary.add("Origin")
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
