"""Kasir: a point-of-sale kiosk for Indonesian shops, with dynamic QRIS payments."""
from pathlib import Path

from flask import Flask

from . import (
    admin,
    auth,
    cli,
    display,
    healthz,
    logging_setup,
    pos,
    printing,
    redaction,
    simulator,
    tenders,
    web,
    webhooks,
)
from . import config as config_module
from .api import cli as api_cli
from .api import cors as api_cors
from .api import models as api_models  # noqa: F401  (tables known to Alembic and queries)
from .api import routes as api_routes
from .auth import routes as auth_routes  # noqa: F401  (the login views attach to auth.bp)
from .clock import format_duration, format_remaining, format_wib
from .database import configure_engine
from .extensions import csrf, db, limiter, login_manager, migrate
from .models import METHOD_LABELS
from .money import format_number, format_percent, format_rupiah
from .payments import methods as payment_methods
from .payments import models as payment_models  # noqa: F401  (tables known to Alembic and queries)
from .payments.gateway_settings import active_provider_name
from .payments.health import availability
from .payments.providers import provider_class
from .payments.qr_svg import qr_svg
from .payments.refunds import refunded_amount
from .version import __version__

MIGRATIONS_DIR = str(config_module.PROJECT_ROOT / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    instance = Path((test_config or {}).get("INSTANCE_PATH") or config_module.instance_path())
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(config_module.PROJECT_ROOT / "templates"),
        static_folder=str(config_module.PROJECT_ROOT / "static"),
    )
    app.config.from_object(config_module.Config(instance))
    if test_config:
        app.config.update(test_config)
    # A ping finds a connection the database server dropped; a SQLite file has no server to lose,
    # and the ping would be one more statement on every request.
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          {"pool_pre_ping": not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")})

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app, add_context_processor=False)  # templates read g.user (kasir.auth)
    with app.app_context():
        configure_engine(db.engine)

    app.jinja_env.filters["rupiah"] = format_rupiah
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["wib"] = format_wib
    app.jinja_env.filters["remaining"] = format_remaining
    app.jinja_env.filters["qr_svg"] = qr_svg
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["percent"] = format_percent
    app.jinja_env.globals["kasir_version"] = __version__
    app.jinja_env.globals["METHOD_LABELS"] = METHOD_LABELS
    app.jinja_env.globals["qris_availability"] = availability
    # The tenders beyond QRIS the configured gateway offers ("Transfer VA", "Bayar via HP").
    app.jinja_env.globals["payment_methods"] = lambda: provider_class(active_provider_name()).methods
    app.jinja_env.globals["bank_names"] = payment_methods.BANKS
    app.jinja_env.filters["va_digits"] = payment_methods.group_digits
    app.jinja_env.filters["method_noun"] = lambda method: payment_methods.NOUNS.get(method or "qris", "QR")
    app.jinja_env.globals["sale_received"] = tenders.received
    app.jinja_env.globals["refunded_amount"] = refunded_amount
    app.jinja_env.globals["sale_due"] = tenders.due
    app.jinja_env.globals["sale_cash_due"] = tenders.cash_due

    app.register_blueprint(auth.bp)
    app.register_blueprint(pos.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(printing.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(webhooks.nicepay_bp)
    app.register_blueprint(display.bp)
    app.register_blueprint(simulator.bp)
    app.register_blueprint(healthz.bp)
    redaction.install()  # gateway keys never reach a log line, whatever the handler
    app.register_blueprint(api_routes.bp)
    web.init_app(app)
    cli.init_app(app)
    api_cli.init_app(app)
    api_cors.init_app(app)
    logging_setup.init_app(app)
    return app
