"""`python -m kasir install-autostart`: the till starts by itself when the PC is switched on.

Linux: a systemd user unit keeps the server running (restarted when it stops; started at boot once
lingering is enabled) and a desktop autostart entry opens the kiosk windows when the shop user logs in.
Windows: a .cmd in the user's Startup folder runs `python -m kasir kiosk`, which also starts the server.
"""
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from .config import PROJECT_ROOT

SERVICE_NAME = "kasir"
# Settings the generated files pin when this command runs with them set; everything else comes from .env.
PINNED_VARIABLES = ("KASIR_INSTANCE_PATH",)


@dataclass(frozen=True)
class AutostartFile:
    path: Path
    content: str


def _systemd_quote(value: str) -> str:
    value = value.replace("%", "%%")  # systemd expands %-specifiers
    if any(char in value for char in ' "\\\'\t'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _desktop_quote(value: str) -> str:
    value = value.replace("%", "%%")  # field codes in Exec=
    if any(char in value for char in ' "`$\\\'\t'):
        return '"' + "".join("\\" + char if char in '"`$\\' else char for char in value) + '"'
    return value


def _batch_value(value: str) -> str:
    return value.replace("%", "%%")


def linux_files(home: Path, python: str, project_root: Path, pinned: dict[str, str]) -> list[AutostartFile]:
    environment = "".join(f"Environment={_systemd_quote(f'{name}={value}')}\n" for name, value in pinned.items())
    service = (
        "[Unit]\n"
        "Description=Kasir point of sale server\n"
        "After=network.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"WorkingDirectory={project_root}\n"
        f"EnvironmentFile=-{project_root / '.env'}\n"
        f"{environment}"
        "Environment=PYTHONUNBUFFERED=1\n"
        f"ExecStart={_systemd_quote(python)} -m kasir serve\n"
        "Restart=always\n"
        "RestartSec=3\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    env_prefix = ("env " + " ".join(_desktop_quote(f"{name}={value}") for name, value in pinned.items()) + " "
                  if pinned else "")
    desktop = (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Kasir\n"
        "Comment=Layar kasir dan layar pelanggan\n"
        f"Exec={env_prefix}{_desktop_quote(python)} -m kasir kiosk\n"
        f"Path={project_root}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )
    return [AutostartFile(home / ".config" / "systemd" / "user" / f"{SERVICE_NAME}.service", service),
            AutostartFile(home / ".config" / "autostart" / "kasir-kiosk.desktop", desktop)]


def windows_files(appdata: Path, python: str, project_root: Path, pinned: dict[str, str]) -> list[AutostartFile]:
    lines = [
        "@echo off",
        "rem Kasir: opens the till when this Windows user logs in (made by python -m kasir install-autostart).",
        f'cd /d "{_batch_value(str(project_root))}"',
        *(f'set "{name}={_batch_value(value)}"' for name, value in pinned.items()),
        f'"{_batch_value(python)}" -m kasir kiosk',
    ]
    startup = appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    return [AutostartFile(startup / "Kasir.cmd", "\r\n".join(lines) + "\r\n")]


def next_steps(platform: str) -> list[str]:
    if platform == "windows":
        return [
            "Kasir terbuka sendiri setiap kali pengguna Windows ini login.",
            "Agar kasir hidup lagi sendiri setelah listrik padam: aktifkan login otomatis (Win+R, netplwiz)",
            "dan di BIOS setel 'Restore on AC Power Loss' ke 'Power On'.",
        ]
    return [
        "Langkah berikutnya (jalankan sebagai pengguna toko, bukan root):",
        "  systemctl --user daemon-reload",
        f"  systemctl --user enable --now {SERVICE_NAME}",
        "  loginctl enable-linger \"$USER\"     # server hidup saat PC menyala, sebelum ada yang login",
        f"Cek: systemctl --user status {SERVICE_NAME}   ·   log: journalctl --user -u {SERVICE_NAME}",
        "Jendela kasir terbuka saat login; aktifkan login otomatis di pengaturan Pengguna desktop,",
        "dan di BIOS setel 'Restore on AC Power Loss' ke 'Power On'.",
    ]


def autostart_files(platform: str, user_dir: Path | None, python: str = sys.executable,
                    project_root: Path = PROJECT_ROOT) -> list[AutostartFile]:
    pinned = {name: os.environ[name] for name in PINNED_VARIABLES if os.environ.get(name)}
    if platform == "windows":
        appdata = user_dir or Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        return windows_files(appdata, python, project_root, pinned)
    return linux_files(user_dir or Path.home(), python, project_root, pinned)


@click.command("install-autostart")
@click.option("--print", "print_only", is_flag=True, help="Show the files instead of writing them.")
@click.option("--user-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write under this folder instead of the home folder (Linux) or %APPDATA% (Windows).")
@click.option("--platform", type=click.Choice(["linux", "windows"]),
              default="windows" if sys.platform == "win32" else "linux", show_default="this PC's")
def install_autostart_command(print_only, user_dir, platform):
    """Start Kasir by itself: a systemd user unit + desktop autostart (Linux), a Startup script (Windows)."""
    files = autostart_files(platform, user_dir)
    for file in files:
        if print_only:
            click.echo(f"# {file.path}\n{file.content}")
            continue
        file.path.parent.mkdir(parents=True, exist_ok=True)
        # newline="": the Windows script keeps its CRLF, the Linux files their LF, whatever writes them.
        file.path.write_text(file.content, newline="")
        click.echo(f"Ditulis: {file.path}")
    if not print_only:
        click.echo("\n".join(next_steps(platform)))
