"""Printer settings: the environment wins (shown locked in admin), then admin's choice, then the defaults."""
import os
from dataclasses import dataclass

from flask import current_app

from ..extensions import db
from ..models import Setting
from ..settings import set_setting
from .backends import PRINTING_OFF, PrinterError, is_printing_off, parse_printer_url
from .layout import COLUMNS

URL_KEY, WIDTH_KEY, AUTO_KEY, DRAWER_KEY = "printer_url", "printer_width", "printer_auto", "printer_drawer"
# setting key: the environment variable that locks it
ENV_LOCKS = {URL_KEY: "PRINTER_URL", WIDTH_KEY: "PRINTER_WIDTH"}


@dataclass(frozen=True)
class PrinterSettings:
    url: str
    width_mm: int
    auto_print: bool
    open_drawer: bool
    locked: frozenset[str]

    @property
    def enabled(self) -> bool:
        return not is_printing_off(self.url)


def stored_values() -> dict[str, str]:
    keys = (URL_KEY, WIDTH_KEY, AUTO_KEY, DRAWER_KEY)
    return {row.key: row.value for row in db.session.scalars(db.select(Setting).where(Setting.key.in_(keys)))}


def settings_from(stored: dict[str, str]) -> PrinterSettings:
    config = current_app.config
    locked = frozenset(key for key, variable in ENV_LOCKS.items() if variable in os.environ)
    url = config["PRINTER_URL"] if URL_KEY in locked else stored.get(URL_KEY) or config["PRINTER_URL"]
    width = config["PRINTER_WIDTH"] if WIDTH_KEY in locked else int(stored.get(WIDTH_KEY) or config["PRINTER_WIDTH"])
    return PrinterSettings(
        url=url.strip() or PRINTING_OFF,
        width_mm=width if width in COLUMNS else 58,
        auto_print=stored.get(AUTO_KEY, "1") == "1",
        open_drawer=stored.get(DRAWER_KEY, "1") == "1",
        locked=locked,
    )


def printer_settings() -> PrinterSettings:
    return settings_from(stored_values())


def save_printer_settings(form) -> PrinterSettings:
    """Store admin's choices (not the ones the environment locks); raises PrinterError for a bad URL or width."""
    current = printer_settings()
    if URL_KEY not in current.locked:
        url = form.get("url", "").strip()[:200] or PRINTING_OFF
        if not is_printing_off(url):
            parse_printer_url(url)
        set_setting(URL_KEY, url)
    if WIDTH_KEY not in current.locked:
        width = form.get("width", "")
        if not width.isdigit() or int(width) not in COLUMNS:
            raise PrinterError("Lebar kertas harus 58 atau 80 mm.")
        set_setting(WIDTH_KEY, width)
    set_setting(AUTO_KEY, "1" if form.get("auto_print") == "1" else "0")
    set_setting(DRAWER_KEY, "1" if form.get("open_drawer") == "1" else "0")
    return printer_settings()
