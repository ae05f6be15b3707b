"""The real server: `python -m kasir serve` on a loopback port, and talking to it as a browser's form would."""
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from support.config import ON_POSTGRES, PROJECT_ROOT
from support.databases import postgres, query_database

TIMEOUT = 15
BASKET = {"SKU0001": 3_500, "SKU0006": 4_000}  # Indomie Goreng + Aqua 600 ml: Rp 7.500 a sale


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


class LiveServer:
    """`python -m kasir serve` in a subprocess with its own instance folder."""

    def __init__(self, instance: Path, env_extra: dict | None = None):
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KASIR_INSTANCE_PATH": str(instance), "PORT": str(self.port),
                    "RATELIMIT_ENABLED": "false", **(env_extra or {})}
        # Where the server keeps its data, for tests that look at the rows behind its answers.
        if (env_extra or {}).get("DATABASE_URL"):  # a second server on the first one's database
            self.database_url = env_extra["DATABASE_URL"]
        elif ON_POSTGRES:
            self.database_url = postgres().fresh_database()  # dropped at the end of the session
            self.env["DATABASE_URL"] = self.database_url
        else:
            self.env.pop("DATABASE_URL", None)
            self.database_url = f"sqlite:///{instance / 'kasir.db'}"
        self.process: subprocess.Popen | None = None
        self.admin_password = ""

    def kasir(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kasir", *args], cwd=PROJECT_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)

    def start(self) -> "LiveServer":
        self.kasir("db", "upgrade")
        output = self.kasir("demo-data").stdout
        match = re.search(r"Login admin: admin / (\S+)", output)
        self.admin_password = match.group(1) if match else ""
        return self.serve()

    def serve(self) -> "LiveServer":
        """Start (or restart, on the same port and data) the server process."""
        self.log = open(self.instance / "server.log", "a")
        self.process = subprocess.Popen([sys.executable, "-m", "kasir", "serve", "--threads", "8"], cwd=PROJECT_ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()
            self.process = None


def start_server(tmp_path_factory, **env) -> LiveServer:
    """A started live server with demo data in a fresh instance folder; receipts go to a file in it."""
    instance = tmp_path_factory.mktemp("qris-live")
    extra = {"PRINTER_URL": f"file://{instance / 'receipts.bin'}", **env}
    return LiveServer(instance, extra).start()


def order_id_of(server, payment_id):
    """The order id of a live server's payment, read from its database."""
    return query_database(server.database_url, "SELECT order_id FROM payments WHERE id = :id", id=payment_id)[0][0]


def csrf_from_form(body: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)


def csrf_from_hx_headers(body: str) -> str:
    return json.loads(html.unescape(re.search(r"hx-headers='([^']+)'", body).group(1)))["X-CSRFToken"]


def htmx_headers(token: str) -> dict:
    return {"X-CSRFToken": token, "HX-Request": "true"}


def log_in_cashier(url: str) -> tuple[requests.Session, str]:
    """A `requests` session logged in as the demo cashier on register 1; returns it with its CSRF token."""
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=TIMEOUT)
    page = session.post(f"{url}/login", timeout=TIMEOUT, data={
        "csrf_token": csrf_from_form(page.text), "mode": "pin", "username": "kasir", "pin": "1234"})
    page = session.post(f"{url}/pos/register", timeout=TIMEOUT,
                        data={"csrf_token": csrf_from_form(page.text), "register": "1"})
    assert page.url == f"{url}/pos"
    return session, csrf_from_hx_headers(page.text)

