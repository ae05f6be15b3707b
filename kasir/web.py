"""Shared request helpers: htmx detection, error toasts, friendly error pages."""
from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError

ERROR_MESSAGES = {
    400: "Permintaan tidak valid.",
    403: "Anda tidak punya akses ke halaman ini.",
    404: "Halaman tidak ditemukan.",
    405: "Metode tidak diizinkan.",
    413: "Berkas atau data terlalu besar.",
    429: "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.",
    500: "Terjadi kesalahan pada sistem. Coba lagi.",
}


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_json() -> bool:
    return request.path.startswith(("/payments", "/webhooks", "/healthz"))


def toast(message: str, status: int = 422, kind: str = "error"):
    """An htmx answer that shows `message` in the page's toast area instead of swapping the target."""
    response = make_response(render_template("_toast.html", message=message, kind=kind), status)
    response.headers["HX-Retarget"] = "#toast"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def error_response(status: int, message: str | None = None):
    message = message or ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    if wants_json():
        code = {400: "bad_request", 404: "not_found", 413: "payload_too_large", 429: "rate_limited"}.get(status, "error")
        return jsonify(error={"code": code, "message": message, "details": {}}), status
    if is_htmx():
        return toast(message, status)
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    for status in ERROR_MESSAGES:
        app.register_error_handler(status, lambda error, status=status: error_response(status))

    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return error_response(400, "Sesi formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.")
