"""`python -m kasir api-key …` and `python -m kasir reconcile` (DESIGN §9)."""
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from ..clock import format_wib
from ..reports import reconcile
from . import keys

api_key_cli = AppGroup("api-key", help="Manage the API keys of other apps (POST /payments).")


@api_key_cli.command("create")
@click.argument("name")
def api_key_create_command(name):
    """Create a key; its token is printed once, alone on the last line."""
    try:
        key, token = keys.create_key(name)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"API key '{key.name}' dibuat (awalan {key.prefix}). Simpan token ini; hanya ditampilkan sekali:")
    click.echo(token)


@api_key_cli.command("list")
def api_key_list_command():
    """List keys: prefix, name, created, last used, revoked."""
    rows = keys.list_keys()
    if not rows:
        click.echo("Belum ada API key.")
    for key in rows:
        state = f"dicabut {format_wib(key.revoked_at)}" if key.revoked_at else "aktif"
        used = format_wib(key.last_used_at) or "-"
        click.echo(f"{key.prefix}  {key.name}  dibuat {format_wib(key.created_at)}  terakhir dipakai {used}  {state}")


@api_key_cli.command("revoke")
@click.argument("prefix")
def api_key_revoke_command(prefix):
    """Revoke the key with this prefix; its token stops working at once."""
    try:
        key = keys.revoke_key(prefix)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"API key {key.prefix} ({key.name}) dicabut.")


@click.command("reconcile")
@click.option("--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Business day (WIB) of the payments, YYYY-MM-DD.")
@click.option("--file", "csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Settlement CSV from the gateway (default: ask the provider).")
@with_appcontext
def reconcile_command(day, csv_file):
    """Match a day's settlements to payments; report missing, mismatched, late and double payments."""
    try:
        report = reconcile.run(day.date(), csv_file)
    except reconcile.SettlementFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(reconcile.format_report(report))


def init_app(app: Flask) -> None:
    app.cli.add_command(api_key_cli)
    app.cli.add_command(reconcile_command)
