"""Commands of `python -m kasir` (DESIGN §9); `db …` comes from Flask-Migrate."""
from pathlib import Path

import click
import waitress
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from . import backup
from .auth.service import AccountError, create_user, generate_password, validate_password
from .autostart import install_autostart_command
from .demo import DEMO_CASHIER, load_demo
from .extensions import db
from .jobs import JobRunner
from .kiosk import kiosk_command
from .models import ROLES, User
from .payments.sync import expire_due, sync_pending
from .printing.cli import print_queue_command, print_test_command
from .runtime import run_as_server
from .webhooks.service import reprocess_unmatched

user_cli = AppGroup("user", help="Manage admin and cashier accounts.")


def print_urls(host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    click.echo(f"Kasir berjalan / Kasir is running:\n"
               f"  Kasir (cashier)      {base}/pos\n"
               f"  Layar pelanggan      {base}/display/1\n"
               f"  Admin                {base}/admin")


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PORT or 9000).")
@click.option("--threads", type=int, default=8, show_default=True)
@with_appcontext
def serve_command(host, port, threads):
    """Upgrade the database, then serve with waitress."""
    app = current_app._get_current_object()
    run_as_server(Path(app.instance_path))
    try:
        backup.backup_before_upgrade()
    except backup.BackupError as exc:
        raise click.ClickException(f"Cadangan sebelum pembaruan gagal, database tidak diperbarui: {exc}") from None
    upgrade(directory=app.extensions["migrate"].directory)
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    print_urls(host, port)
    runner = JobRunner(app).start() if app.config["JOBS_ENABLED"] else None
    try:
        # connection_limit: waitress stops accepting at 100 open connections, which a burst of
        # gateway retries or API clients each opening their own connection can reach.
        # waitress ends keep-alive after any answer without Content-Length, a 204 or 304 too (upstream's to
        # fix): the till's polls answer "nothing new" with an empty 200 instead (kasir.web.nothing_new).
        waitress.serve(app, host=host, port=port, threads=threads, ident="kasir", connection_limit=1000)
    finally:
        if runner:
            runner.stop()


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Load the demo catalogue, a register and the first accounts (only what is missing)."""
    outcome = load_demo()
    if outcome["products_added"]:
        click.echo(f"Katalog demo dimuat: {outcome['products_added']} produk.")
    if outcome["admin_password"]:
        click.echo("Admin dibuat. Catat kata sandi ini; hanya ditampilkan sekali dan wajib diganti saat login pertama:")
        click.echo(f"  Login admin: admin / {outcome['admin_password']}")
    else:
        click.echo("  Login admin: akun admin yang sudah ada (lupa? python -m kasir user reset-password admin)")
    username, _display, pin = DEMO_CASHIER
    if outcome["created_cashier"]:
        click.echo(f"  Login kasir demo: {username} / PIN {pin}")
    elif db.session.scalar(db.select(User).where(User.username == username)) is not None:
        click.echo(f"  Login kasir demo: {username} / PIN {pin} (jika belum diubah)")


@user_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", default=None, help="Admin password (random and printed when omitted).")
@click.option("--pin", default=None, help="Cashier PIN, 4–8 digits.")
@click.option("--display-name", default="")
def user_create_command(name, role, password, pin, display_name):
    """Create an account."""
    generated = role == "admin" and not password
    if generated:
        password = generate_password()
    try:
        user = create_user(name, role, display_name=display_name, password=password, pin=pin,
                           must_change_password=generated)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Pengguna {user.username} ({user.role}) dibuat.")
    if generated:
        click.echo(f"Kata sandi sementara: {password}")


@user_cli.command("reset-password")
@click.argument("name")
@click.option("--password", default=None, help="New password (random and printed when omitted).")
def user_reset_password_command(name, password):
    """Set a new password; a generated one must be changed at the next login."""
    user = db.session.scalar(db.select(User).where(User.username == name.strip().lower()))
    if user is None:
        raise click.ClickException(f"Pengguna '{name}' tidak ada.")
    generated = not password
    password = password or generate_password()
    try:
        validate_password(password, user.username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    user.set_password(password)
    user.must_change_password = generated
    db.session.commit()
    click.echo(f"Kata sandi {user.username} diganti." + (f" Kata sandi sementara: {password}" if generated else ""))


@click.command("sync")
@with_appcontext
def sync_command():
    """Ask the provider about every PENDING payment once and apply the answers."""
    changed = sync_pending(limit=1000)
    applied = reprocess_unmatched(limit=1000)
    click.echo(f"Sinkronisasi selesai: {changed} pembayaran berubah, {applied} webhook tertunda diterapkan.")


@click.command("expire")
@with_appcontext
def expire_command():
    """Expire PENDING payments past their deadline (a payment the provider reports paid becomes PAID)."""
    click.echo(f"{expire_due()} pembayaran kedaluwarsa.")


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(user_cli)
    app.cli.add_command(print_test_command)
    app.cli.add_command(print_queue_command)
    app.cli.add_command(sync_command)
    app.cli.add_command(expire_command)
    app.cli.add_command(kiosk_command)
    app.cli.add_command(install_autostart_command)
    backup.register_cli(app)
