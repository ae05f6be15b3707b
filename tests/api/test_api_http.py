"""Cross-cutting HTTP behaviour of the API: CORS, JSON logs with request ids, redaction of secrets."""
import io
import json
import logging

from kasir import create_app, logging_setup
from kasir.extensions import db
from kasir.logging_setup import HANDLER_NAME, JsonFormatter, RequestIdFilter, configure_logging, redact


def cors_app(app_config, origins):
    return create_app({**app_config, "CORS_ORIGINS": origins})


def test_allowed_origin_gets_cors_headers_and_a_preflight(app_config, api_token):
    app = cors_app(app_config, "https://toko.example, https://pos2.example")
    client = app.test_client()
    preflight = client.options("/payments", headers={
        "Origin": "https://toko.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://toko.example"
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = client.get("/payments", headers={"Origin": "https://toko.example",
                                                "Authorization": f"Bearer {api_token}"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://toko.example"
    assert "Idempotent-Replayed" in response.headers["Access-Control-Expose-Headers"]
    with app.app_context():
        db.engine.dispose()


def test_other_origins_get_no_cors_headers(app_config):
    app = cors_app(app_config, "https://toko.example")
    response = app.test_client().get("/payments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    with app.app_context():
        db.engine.dispose()


def test_a_wildcard_setting_allows_any_origin_without_credentials(app_config):
    app = cors_app(app_config, "*")
    response = app.test_client().get("/payments", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    with app.app_context():
        db.engine.dispose()


def test_pages_outside_the_api_get_no_cors_headers(app_config):
    app = cors_app(app_config, "https://toko.example")
    response = app.test_client().get("/healthz", headers={"Origin": "https://toko.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    with app.app_context():
        db.engine.dispose()


def test_no_cors_headers_by_default(client):
    assert "Access-Control-Allow-Origin" not in client.get("/payments", headers={"Origin": "https://x.example"}).headers


def test_redaction_hides_tokens_signatures_and_keys():
    text = redact('Authorization: Bearer kasir_abcdefgh12345 signature=deadbeef "server_key": "SB-Mid-server-xyz"')
    assert "kasir_abcdefgh12345" not in text and "deadbeef" not in text and "SB-Mid-server-xyz" not in text


def test_json_log_line_has_the_request_id_and_no_token(app, api):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("kasir.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        api.get("/payments", headers={"X-Request-Id": "req-77"})
        logging.getLogger("kasir.test").warning("leaked %s", api.token)
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert entry["request_id"] == "req-77" and entry["path"] == "/payments" and entry["status"] == 200
    assert api.token not in stream.getvalue()
    assert JsonFormatter().format(logging.makeLogRecord({"msg": f"token {api.token}"})).count("[redacted]") == 1


def test_waitress_queue_warnings_reach_the_log_once_a_period(monkeypatch):
    root = logging.getLogger()
    level = root.level
    configure_logging("text")
    [handler] = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    logged = []
    monkeypatch.setattr(handler, "emit", lambda record: logged.append(record.getMessage()))
    now = [1000.0]
    monkeypatch.setattr(logging_setup.time, "monotonic", lambda: now[0])
    queue = logging.getLogger("waitress.queue")
    try:
        for depth in (1, 2, 3):
            queue.warning("Task queue depth is %d", depth)
        logging.getLogger("kasir.test").warning("another warning")
        now[0] += logging_setup.QUEUE_WARNING_SECONDS
        queue.warning("Task queue depth is %d", 4)
        assert logged == ["Task queue depth is 1", "another warning", "Task queue depth is 4"]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
