"""`python -m kasir kiosk`: the cashier screen and the customer display in a Chromium-family browser.

One browser process and profile folder (instance/kiosk/) per window, as a profile holds one kiosk window: the
cashier screen full-screen on the primary monitor, the display on the second, if any. A server that is not
listening yet is started in the background first.
"""
import ctypes
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .config import PROJECT_ROOT
from .runtime import connect_host, lock_held, port_listening

POSIX_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                  "microsoft-edge", "microsoft-edge-stable")
WINDOWS_BROWSERS = ("chrome", "msedge")
WINDOWS_BROWSER_PATHS = (
    r"%ProgramFiles%\Google\Chrome\Application\chrome.exe",
    r"%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe",
    r"%LocalAppData%\Google\Chrome\Application\chrome.exe",
    r"%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe",
    r"%ProgramFiles%\Microsoft\Edge\Application\msedge.exe",
)
DEFAULT_DISPLAY_OFFSET = 1920
SERVER_START_TIMEOUT = 90  # the first start migrates the database

# A till must not show first-run pages, sync prompts, update bars, or "Restore pages?"
# after a power cut, and a touch screen must not zoom or swipe back out of the app.
COMMON_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=id",  # the browser's own pages (connection errors) in Indonesian; Linux reads $LANGUAGE instead
    "--check-for-update-interval=31536000",
    "--noerrdialogs",
    "--hide-crash-restore-bubble",
    "--disable-pinch",
    "--overscroll-history-navigation=0",
)
# Without it a Linux desktop may ask for the keyring password at every login.
LINUX_FLAGS = ("--password-store=basic",)
# Chromium on Linux takes its locale (date pickers' day/month order, number formats, its own pages) from
# the environment, not from --lang: the till's desktop session may well be English.
LOCALE_ENV = {"LANG": "id_ID.UTF-8", "LANGUAGE": "id"}


# Settings no command-line flag covers reliably, written into a new profile before its first start:
# no "Translate this page?" bar (Chrome guesses the language of a short product list wrongly) and no
# "Save password?" bubble over the admin login.
PROFILE_PREFERENCES = {
    "translate": {"enabled": False},
    "intl": {"accept_languages": "id-ID,id"},
    "credentials_enable_service": False,
    "profile": {"password_manager_enabled": False},
}


@dataclass(frozen=True)
class Monitor:
    x: int
    y: int
    width: int
    height: int
    primary: bool


@dataclass(frozen=True)
class KioskWindow:
    name: str
    argv: list[str]
    profile: Path
    env: dict[str, str]  # set for the browser on top of ours

    def command_line(self, platform: str = sys.platform) -> str:
        if platform == "win32":  # cmd.exe has no VAR=value prefix; --lang does the job there
            return subprocess.list2cmdline(self.argv)
        return shlex.join([f"{name}={value}" for name, value in self.env.items()] + self.argv)


def _expand_windows_vars(path: str, environ) -> str:
    return re.sub(r"%([^%]+)%", lambda match: environ.get(match[1], match[0]), path)


def find_browser(explicit: str | None = None, *, platform: str = sys.platform, environ=os.environ,
                 which=shutil.which, is_file=os.path.isfile) -> str | None:
    """The browser to use: `explicit` if given (a path or a name on PATH), else the first one installed."""
    if explicit:
        return explicit if is_file(explicit) else which(explicit)
    names = WINDOWS_BROWSERS if platform == "win32" else POSIX_BROWSERS
    for name in names:
        found = which(name)
        if found:
            return found
    if platform == "win32":
        for candidate in WINDOWS_BROWSER_PATHS:
            path = _expand_windows_vars(candidate, environ)
            if "%" not in path and is_file(path):
                return path
    return None


def parse_xrandr_monitors(output: str) -> list[Monitor]:
    """Monitors from `xrandr --listmonitors` (lines like ` 0: +*HDMI-1 1920/527x1080/296+0+0  HDMI-1`)."""
    monitors = []
    for match in re.finditer(r"^\s*\d+:\s+\+?(\*?)\S+\s+(\d+)/\d+x(\d+)/\d+\+(-?\d+)\+(-?\d+)", output, re.MULTILINE):
        primary, width, height, x, y = match.groups()
        monitors.append(Monitor(int(x), int(y), int(width), int(height), primary == "*"))
    return monitors


def detect_monitors(platform: str = sys.platform) -> list[Monitor]:
    """The monitors of the desktop we run on, or [] when that cannot be told cheaply."""
    if platform == "win32":
        metrics = ctypes.windll.user32.GetSystemMetrics
        count, width, height = metrics(80), metrics(0), metrics(1)  # SM_CMONITORS, SM_CXSCREEN, SM_CYSCREEN
        # Windows keeps the primary at 0,0; a second monitor is assumed to sit on its right.
        monitors = [Monitor(0, 0, width, height, True)]
        if count > 1:
            monitors.append(Monitor(width, 0, width, height, False))
        return monitors
    if not shutil.which("xrandr") or not os.environ.get("DISPLAY"):
        return []
    try:
        result = subprocess.run(["xrandr", "--listmonitors"], capture_output=True, text=True, timeout=5,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_xrandr_monitors(result.stdout) if result.returncode == 0 else []


def plan_positions(monitors: list[Monitor], display_offset: int | None = None,
                   single: bool | None = None) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Where the cashier and display windows go; the display's is None when it is not opened.

    Explicit options win over detection; with nothing detected, two monitors side by side at 1920 are assumed.
    """
    primary = next((m for m in monitors if m.primary), monitors[0] if monitors else None)
    cashier = (primary.x, primary.y) if primary else (0, 0)
    if single is None:
        single = len(monitors) == 1 and display_offset is None
    if single:
        return cashier, None
    if display_offset is not None:
        return cashier, (display_offset, 0)
    second = next((m for m in monitors if m is not primary), None)
    if second is not None:
        return cashier, (second.x, second.y)
    return cashier, ((primary.x + primary.width) if primary else DEFAULT_DISPLAY_OFFSET, 0)


def build_windows(browser: str, base_url: str, instance: Path, *, register: str = "1",
                  cashier_position: tuple[int, int] = (0, 0), display_position: tuple[int, int] | None = None,
                  platform: str = sys.platform) -> list[KioskWindow]:
    flags = list(COMMON_FLAGS) + (list(LINUX_FLAGS) if platform.startswith("linux") else [])
    profiles = instance / "kiosk"

    def window(name: str, path: str, position: tuple[int, int]) -> KioskWindow:
        return KioskWindow(name, [browser, "--kiosk", f"--app={base_url}{path}",
                                  f"--user-data-dir={profiles / name}",
                                  f"--window-position={position[0]},{position[1]}", *flags], profiles / name,
                           dict(LOCALE_ENV))

    windows = [window("cashier", "/pos", cashier_position)]
    if display_position is not None:
        windows.append(window("display", f"/display/{register}", display_position))
    return windows


def _detached() -> dict:
    """Popen options so a child outlives this command (and the terminal or login script that ran it)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def ensure_server(instance: Path, host: str, port: int, timeout: float = SERVER_START_TIMEOUT) -> bool:
    """Start `python -m kasir serve` in the background unless a server is up or starting; wait for its port.

    Returns True when this call started it. Its output goes to instance/logs/server.log.
    """
    if port_listening(host, port):
        return False
    started = not lock_held(instance)  # held: a server (e.g. the systemd unit) is starting right now
    if started:
        logs = instance / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "server.log", "ab") as log:
            subprocess.Popen([sys.executable, "-m", "kasir", "serve"], cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, **_detached())
    deadline = time.monotonic() + timeout
    while not port_listening(host, port):
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"Server tidak menjawab di {host}:{port}; lihat {instance / 'logs' / 'server.log'}.")
        time.sleep(0.25)
    return started


def seed_profile(profile: Path) -> None:
    preferences = profile / "Default" / "Preferences"
    if not preferences.exists():  # the browser owns the file once it has run
        preferences.parent.mkdir(parents=True, exist_ok=True)
        preferences.write_text(json.dumps(PROFILE_PREFERENCES))


def launch(windows: list[KioskWindow]) -> None:
    for window in windows:
        seed_profile(window.profile)
        subprocess.Popen(window.argv, env={**os.environ, **window.env}, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_detached())


@click.command("kiosk")
@click.option("--browser", "browser_path", default=None,
              help="Browser executable (default: Chromium, Chrome or Edge, whichever is installed).")
@click.option("--register", default="1", show_default=True, help="Register whose customer display opens.")
@click.option("--display-offset", type=int, default=None,
              help="X position where the second monitor starts (default: detected, else 1920).")
@click.option("--single/--dual", default=None,
              help="One monitor: open only the cashier window (default: detected).")
@click.option("--dry-run", is_flag=True, help="Print the browser command lines; start nothing.")
@with_appcontext
def kiosk_command(browser_path, register, display_offset, single, dry_run):
    """Open the cashier screen and the customer display full-screen (starting the server if needed)."""
    config = current_app.config
    instance = Path(current_app.instance_path)
    browser = find_browser(browser_path)
    if browser is None:
        raise click.ClickException(
            (f"Browser {browser_path} tidak ditemukan." if browser_path else
             "Chromium, Google Chrome atau Microsoft Edge tidak ditemukan.")
            + " Pasang salah satunya atau pakai --browser PATH.")
    cashier_position, display_position = plan_positions(detect_monitors(), display_offset, single)
    windows = build_windows(browser, f"http://{connect_host(config['HOST'])}:{config['PORT']}", instance,
                            register=register, cashier_position=cashier_position, display_position=display_position)
    if dry_run:
        for window in windows:
            click.echo(window.command_line())
        return
    if ensure_server(instance, config["HOST"], config["PORT"]):
        click.echo(f"Server Kasir dijalankan (log: {instance / 'logs' / 'server.log'}).")
    launch(windows)
    click.echo("Jendela kasir" + (" dan layar pelanggan" if display_position else "") + " dibuka.")
