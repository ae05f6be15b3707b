"""Shared request helpers: htmx detection and answers, loopback clients, error toasts, friendly error pages."""
import functools
import ipaddress

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError

ERROR_MESSAGES = {
    400: "Permintaan tidak valid.",
    403: "Anda tidak punya akses ke halaman ini.",
    404: "Halaman tidak ditemukan.",
    405: "Metode tidak diizinkan.",
    413: "Berkas atau data terlalu besar.",
    415: "Jenis data tidak didukung.",
    429: "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.",
    500: "Terjadi kesalahan pada sistem. Coba lagi.",
}


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def nothing_new():
    """A poll's answer when what its element shows is current: empty, and htmx is told not to swap (HX-Reswap).
    Not a 204: waitress 3.0.2 closes a keep-alive connection after any answer without Content-Length, which a 204
    must not carry (`build_response_header` in waitress/task.py), so each poll would open a new connection."""
    return "", 200, {"HX-Reswap": "none"}


@functools.lru_cache(maxsize=256)  # a shop has a handful of devices; each poll would parse the address again
def is_loopback(remote_addr: str | None) -> bool:
    """A client on this PC: 127.0.0.0/8, ::1, or IPv4-mapped loopback (::ffff:127.0.0.1, as a dual-stack
    socket reports an IPv4 client). Only as true as `remote_addr`: a reverse proxy or tunnel on this PC makes
    every client it forwards look local (docs/security.md)."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


# The API answers in English with DESIGN §7's error body; codes are part of the contract.
JSON_ERRORS = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "Not allowed."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as application/json."),
    422: ("validation_error", "The request did not pass validation."),
    429: ("rate_limited", "Too many requests; slow down and retry later."),
    500: ("internal_error", "Something went wrong on our side."),
}


def wants_json() -> bool:
    return request.path.startswith(("/payments", "/webhooks", "/healthz"))


def toast(message: str, status: int = 422, kind: str = "error", *, template: str = "_toast.html", **context):
    """An htmx answer that shows `message` in the page's toast area instead of swapping the target
    (`template` may add out-of-band parts around the toast, with `context`)."""
    response = make_response(render_template(template, message=message, kind=kind, **context), status)
    response.headers["HX-Retarget"] = "#toast"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def json_error(status: int) -> dict:
    """DESIGN §7's error body for an HTTP status."""
    code, english = JSON_ERRORS.get(status, JSON_ERRORS[500])
    return {"error": {"code": code, "message": english, "details": {}}}


def error_response(status: int, message: str | None = None):
    message = message or ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    if wants_json():
        return jsonify(json_error(status)), status
    if is_htmx():
        return toast(message, status)
    return render_template("error.html", status=status, message=message), status


def http_error_response(error, status: int):
    """Our error page or JSON for an HTTP error, keeping the error's own headers (Allow on a 405)."""
    response = make_response(error_response(status))
    get_headers = getattr(error, "get_headers", None)
    for name, value in get_headers() if get_headers else ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    for status in ERROR_MESSAGES:
        app.register_error_handler(status, lambda error, status=status: http_error_response(error, status))

    @app.after_request
    def security_headers(response):
        present = {name.lower() for name, _value in response.headers}  # setdefault raises inside for each miss
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                response.headers.add(name, value)
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return error_response(400, "Sesi formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.")
