"""Shared bench plumbing: start Kasir and a waitress hello-world on loopback, log in, time things.

Every script here starts its own servers on 127.0.0.1, bounds its work in count and time, prints a
table, and compares with a baseline measured in the same run.
"""
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HELLO_WORLD = (
    "def app(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', '2')])\n"
    "    return [b'{}']\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


@contextmanager
def kasir_server(threads: int = 8, registers: int = 1, **env):
    """A real `python -m kasir serve` with demo data in a temporary instance folder."""
    instance = Path(tempfile.mkdtemp(prefix="kasir-bench-"))
    port = free_port()
    environment = {**os.environ, "KASIR_INSTANCE_PATH": str(instance), "PORT": str(port),
                   "RATELIMIT_ENABLED": "false", "PRINTER_URL": "none", **env}
    environment.pop("DATABASE_URL", None)

    def kasir(*args):
        return subprocess.run([sys.executable, "-m", "kasir", *args], cwd=ROOT, env=environment, check=True,
                              capture_output=True, text=True).stdout

    kasir("db", "upgrade")
    kasir("demo-data")
    with sqlite3.connect(instance / "kasir.db") as connection:
        for code in range(2, registers + 1):
            connection.execute("INSERT INTO registers (code, name, active, display_version) VALUES (?, ?, 1, 0)",
                               (str(code), f"Kasir {code}"))
    log = open(instance / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "kasir", "serve", "--threads", str(threads)], cwd=ROOT,
                               env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", instance
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@contextmanager
def hello_world_server(threads: int = 8):
    """The baseline: waitress serving a WSGI app that does nothing, with the same thread count."""
    folder = Path(tempfile.mkdtemp(prefix="kasir-hello-"))
    (folder / "hello.py").write_text(HELLO_WORLD)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "waitress", f"--port={port}", "--host=127.0.0.1",
                                f"--threads={threads}", "hello:app"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def cashier_session(base_url: str, register: str = "1") -> tuple[requests.Session, dict]:
    """Log in as the demo cashier on `register`; returns the session and the htmx headers (CSRF)."""
    session = requests.Session()
    page = session.get(f"{base_url}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(f"{base_url}/login", data={"csrf_token": token, "mode": "pin", "username": "kasir", "pin": "1234"})
    session.cookies.set("kasir_register", register)
    pos = session.get(f"{base_url}/pos").text
    headers = {"HX-Request": "true", "X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', pos).group(1)}
    return session, headers


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "mean": statistics.fmean(values)}


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
