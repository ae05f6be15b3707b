"""`python -m kasir print-test` and `print-queue` (DESIGN §9)."""
import click
from sqlalchemy.exc import OperationalError

from ..extensions import db
from .backends import PrinterError
from .queue import drain, print_test_page
from .settings import printer_settings, settings_from


@click.command("print-test")
def print_test_command():
    """Print a test page on the configured printer (PRINTER_URL, else the admin setting)."""
    try:
        settings = printer_settings()
    except OperationalError:  # a database not migrated yet: the environment alone says where the printer is
        db.session.rollback()
        settings = settings_from({})
    try:
        print_test_page(settings)
    except PrinterError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Halaman tes dikirim ke {settings.url} ({settings.width_mm} mm).")


@click.command("print-queue")
def print_queue_command():
    """Print the receipts waiting in the print queue now."""
    click.echo(f"{drain()} struk dicetak.")
