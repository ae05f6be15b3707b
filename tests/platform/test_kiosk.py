"""`python -m kasir kiosk` (browser command lines, no real display) and `install-autostart` (generated files)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kasir import kiosk
from kasir.autostart import autostart_files
from kasir.kiosk import Monitor, build_windows, find_browser, parse_xrandr_monitors, plan_positions
from support.config import PROJECT_ROOT, sqlite_only
from support.live import LiveServer, free_port, wait_for_port

XRANDR_TWO = """Monitors: 2
 0: +*HDMI-1 1920/527x1080/296+1280+0  HDMI-1
 1: +DP-1 1280/338x1024/270+0+0  DP-1
"""


@pytest.fixture
def fake_browser(tmp_path) -> Path:
    """An executable that records each launch's arguments, one file per window."""
    script = tmp_path / "fake-chromium"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/launch-$$.args"\n')
    script.chmod(0o755)
    return script


@pytest.fixture
def no_monitor_detection(monkeypatch):
    monkeypatch.setattr(kiosk, "detect_monitors", list)


# --- browser and monitors -------------------------------------------------------------------------------

def test_finds_the_first_installed_browser_on_linux():
    installed = {"google-chrome": "/usr/bin/google-chrome", "microsoft-edge": "/usr/bin/microsoft-edge"}
    assert find_browser(platform="linux", which=installed.get) == "/usr/bin/google-chrome"
    assert find_browser(platform="linux", which={}.get) is None


def test_finds_chrome_or_edge_in_the_usual_windows_folders():
    environ = {"ProgramFiles": r"C:\Program Files", "ProgramFiles(x86)": r"C:\Program Files (x86)",
               "LocalAppData": r"C:\Users\toko\AppData\Local"}
    edge = r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"
    found = find_browser(platform="win32", environ=environ, which={}.get, is_file=lambda path: path == edge)
    assert found == edge
    user_chrome = r"C:\Users\toko\AppData\Local\Google\Chrome\Application\chrome.exe"
    assert find_browser(platform="win32", environ=environ, which={}.get,
                        is_file=lambda path: path in (edge, user_chrome)) == user_chrome


def test_an_explicit_browser_must_exist(fake_browser):
    assert find_browser(str(fake_browser)) == str(fake_browser)
    assert find_browser("/nowhere/chrome") is None


def test_reads_monitors_from_xrandr():
    assert parse_xrandr_monitors(XRANDR_TWO) == [Monitor(1280, 0, 1920, 1080, True), Monitor(0, 0, 1280, 1024, False)]


@pytest.mark.parametrize("monitors, offset, single, expected", [
    # the display goes wherever the second monitor is, even left of the primary
    (parse_xrandr_monitors(XRANDR_TWO), None, None, ((1280, 0), (0, 0))),
    ([], None, None, ((0, 0), (1920, 0))),  # nothing detected: two 1920-wide monitors side by side
    ([], 2560, None, ((0, 0), (2560, 0))),
    ([Monitor(0, 0, 1366, 768, True)], None, None, ((0, 0), None)),  # one monitor: cashier only
    ([Monitor(0, 0, 1366, 768, True)], None, False, ((0, 0), (1366, 0))),  # --dual anyway
    (parse_xrandr_monitors(XRANDR_TWO), None, True, ((1280, 0), None)),  # --single
])
def test_plans_where_the_windows_go(monitors, offset, single, expected):
    assert plan_positions(monitors, offset, single) == expected


def test_builds_two_kiosk_windows_with_their_own_profiles(tmp_path):
    cashier, display = build_windows("/usr/bin/chromium", "http://127.0.0.1:9000", tmp_path, register="2",
                                     cashier_position=(0, 0), display_position=(1920, 0), platform="linux")
    assert cashier.name == "cashier" and display.name == "display"
    assert cashier.argv[:5] == ["/usr/bin/chromium", "--kiosk", "--app=http://127.0.0.1:9000/pos",
                                f"--user-data-dir={tmp_path / 'kiosk' / 'cashier'}", "--window-position=0,0"]
    assert display.argv[:5] == ["/usr/bin/chromium", "--kiosk", "--app=http://127.0.0.1:9000/display/2",
                                f"--user-data-dir={tmp_path / 'kiosk' / 'display'}", "--window-position=1920,0"]
    for window in (cashier, display):
        for flag in ("--no-first-run", "--disable-background-networking", "--hide-crash-restore-bubble",
                     "--password-store=basic"):
            assert flag in window.argv


def test_the_browser_starts_in_indonesian(tmp_path):
    # Linux Chromium reads its locale (date pickers' order, its own pages) from LANG/LANGUAGE, not --lang.
    cashier, display = build_windows("/usr/bin/chromium", "http://127.0.0.1:9000", tmp_path,
                                     display_position=(1920, 0), platform="linux")
    for window in (cashier, display):
        assert "--lang=id" in window.argv
        assert window.env == {"LANG": "id_ID.UTF-8", "LANGUAGE": "id"}
        assert window.command_line("linux").startswith("LANG=id_ID.UTF-8 LANGUAGE=id /usr/bin/chromium --kiosk ")
    assert kiosk.PROFILE_PREFERENCES["intl"] == {"accept_languages": "id-ID,id"}


def test_launch_gives_the_browser_the_indonesian_locale(tmp_path, monkeypatch):
    launched = []
    monkeypatch.setattr(kiosk.subprocess, "Popen", lambda argv, **options: launched.append((argv, options)))
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    [cashier] = build_windows("/usr/bin/chromium", "http://127.0.0.1:9000", tmp_path, platform="linux")
    kiosk.launch([cashier])
    [(argv, options)] = launched
    assert argv == cashier.argv and "--lang=id" in argv
    assert (options["env"]["LANG"], options["env"]["LANGUAGE"]) == ("id_ID.UTF-8", "id")
    assert options["env"]["PATH"] == os.environ["PATH"]  # the rest of the environment is passed on


def test_windows_command_lines_quote_program_files():
    chrome = r"C:\Program Files\Google\Chrome\Application\chrome.exe"
    [cashier] = build_windows(chrome, "http://127.0.0.1:9000", Path(r"C:\kasir\instance"), platform="win32")
    line = cashier.command_line("win32")
    assert line.startswith(f'"{chrome}" --kiosk --app=http://127.0.0.1:9000/pos ')
    assert "--lang=id" in line
    assert "--password-store=basic" not in line


# --- the command ----------------------------------------------------------------------------------------

def test_dry_run_prints_both_command_lines(app, runner, fake_browser, no_monitor_detection):
    result = runner.invoke(args=["kiosk", "--dry-run", "--browser", str(fake_browser), "--display-offset", "2560"])
    assert result.exit_code == 0, result.output
    cashier, display = result.output.strip().splitlines()
    port = app.config["PORT"]
    assert f"--app=http://127.0.0.1:{port}/pos" in cashier and "--window-position=0,0" in cashier
    assert f"--app=http://127.0.0.1:{port}/display/1" in display and "--window-position=2560,0" in display
    assert f"--user-data-dir={Path(app.instance_path) / 'kiosk' / 'display'}" in display


def test_single_monitor_opens_only_the_cashier_window(runner, fake_browser, no_monitor_detection):
    result = runner.invoke(args=["kiosk", "--dry-run", "--single", "--browser", str(fake_browser)])
    assert result.exit_code == 0, result.output
    [cashier] = result.output.strip().splitlines()
    assert "/pos" in cashier


def test_a_missing_browser_is_explained(runner, no_monitor_detection):
    result = runner.invoke(args=["kiosk", "--dry-run", "--browser", "/nowhere/chrome"])
    assert result.exit_code != 0
    assert "tidak ditemukan" in result.output and "--browser" in result.output


@pytest.mark.live
def test_kiosk_starts_the_server_then_both_windows(tmp_path, fake_browser):
    instance = tmp_path / "instance"
    port = free_port()
    env = {**os.environ, "KASIR_INSTANCE_PATH": str(instance), "PORT": str(port), "JOBS_ENABLED": "false"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "kasir", "kiosk", "--browser", str(fake_browser),
                             "--display-offset", "1920"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Server Kasir dijalankan" in result.stdout
    pid = int((instance / "server.pid").read_text())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        deadline = time.monotonic() + 10
        while len(list(tmp_path.glob("launch-*.args"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        launched = sorted(path.read_text() for path in tmp_path.glob("launch-*.args"))
        assert len(launched) == 2
        assert any(f"--app=http://127.0.0.1:{port}/pos\n" in args for args in launched)
        assert any(f"--app=http://127.0.0.1:{port}/display/1\n" in args for args in launched)
        for profile in ("cashier", "display"):  # no translate bar or password bubble on the till
            preferences = json.loads((instance / "kiosk" / profile / "Default" / "Preferences").read_text())
            assert preferences["translate"] == {"enabled": False}
    finally:
        os.kill(pid, signal.SIGTERM)
    # SIGTERM (what systemd sends) ends the server cleanly: its lock file goes away.
    deadline = time.monotonic() + 15
    while (instance / "server.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (instance / "server.pid").exists()


@pytest.mark.live
def test_a_second_server_on_the_same_instance_is_refused(tmp_path):
    server = LiveServer(tmp_path, {"JOBS_ENABLED": "false"}).start()
    try:
        second = subprocess.run([sys.executable, "-m", "kasir", "serve", "--port", str(free_port())],
                                cwd=PROJECT_ROOT, env=server.env, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "sudah berjalan" in second.stderr
        wait_for_port(server.port, server.process)
    finally:
        server.stop()


@pytest.mark.live
@sqlite_only("restore replaces the SQLite file")
def test_restore_is_refused_while_the_server_runs(tmp_path):
    server = LiveServer(tmp_path, {"JOBS_ENABLED": "false"}).start()
    try:
        restore = subprocess.run([sys.executable, "-m", "kasir", "restore", "--yes", str(tmp_path / "kasir.db")],
                                 cwd=PROJECT_ROOT, env=server.env, capture_output=True, text=True, timeout=60)
        assert restore.returncode != 0 and "masih berjalan" in restore.stderr
        wait_for_port(server.port, server.process)
    finally:
        server.stop()


# --- install-autostart ----------------------------------------------------------------------------------

def test_install_autostart_writes_a_systemd_user_unit_and_a_kiosk_entry(runner, tmp_path):
    result = runner.invoke(args=["install-autostart", "--platform", "linux", "--user-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    unit = (tmp_path / ".config/systemd/user/kasir.service").read_text()
    assert f"ExecStart={sys.executable} -m kasir serve\n" in unit
    assert f"WorkingDirectory={PROJECT_ROOT}\n" in unit
    assert f"EnvironmentFile=-{PROJECT_ROOT / '.env'}\n" in unit
    assert "Restart=always\n" in unit and "WantedBy=default.target\n" in unit
    entry = (tmp_path / ".config/autostart/kasir-kiosk.desktop").read_text()
    assert f"{sys.executable} -m kasir kiosk\n" in entry and f"Path={PROJECT_ROOT}\n" in entry
    assert "systemctl --user enable --now kasir" in result.output
    assert "loginctl enable-linger" in result.output


def test_install_autostart_print_writes_nothing(runner, tmp_path):
    home = tmp_path / "home"
    result = runner.invoke(args=["install-autostart", "--print", "--platform", "linux", "--user-dir", str(home)])
    assert result.exit_code == 0
    assert "[Service]" in result.output and "[Desktop Entry]" in result.output
    assert not home.exists()


def test_windows_gets_a_startup_script(tmp_path, monkeypatch):
    monkeypatch.setenv("KASIR_INSTANCE_PATH", r"D:\Toko 100%\instance")
    [script] = autostart_files("windows", tmp_path, python=r"C:\Kasir App\.venv\Scripts\python.exe",
                               project_root=Path(r"C:\Kasir App"))
    assert script.path == tmp_path / "Microsoft/Windows/Start Menu/Programs/Startup/Kasir.cmd"
    lines = script.content.split("\r\n")
    assert 'cd /d "C:\\Kasir App"' in lines
    assert 'set "KASIR_INSTANCE_PATH=D:\\Toko 100%%\\instance"' in lines
    assert '"C:\\Kasir App\\.venv\\Scripts\\python.exe" -m kasir kiosk' in lines


def test_paths_with_spaces_are_quoted_for_systemd_and_desktop_files(tmp_path):
    unit, entry = autostart_files("linux", tmp_path, python="/home/toko/kasir app/.venv/bin/python",
                                  project_root=Path("/home/toko/kasir app"))
    assert 'ExecStart="/home/toko/kasir app/.venv/bin/python" -m kasir serve' in unit.content
    assert 'Exec="/home/toko/kasir app/.venv/bin/python" -m kasir kiosk' in entry.content
