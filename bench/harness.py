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
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HELLO_WORLD = (
    "def app(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', '2')])\n"
    "    return [b'{}']\n"
)
# The yardstick for "the database and auth add almost nothing": a bare Flask JSON view.
FLASK_HELLO_WORLD = (
    "from flask import Flask, jsonify\n"
    "app = Flask(__name__)\n"
    "@app.get('/')\n"
    "def index():\n"
    "    return jsonify({})\n"
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
def hello_world_process(threads: int = 8, source: str = HELLO_WORLD):
    """The baseline: waitress serving a WSGI app that does nothing, with the same thread count; (url, pid)."""
    folder = Path(tempfile.mkdtemp(prefix="kasir-hello-"))
    (folder / "hello.py").write_text(source)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "waitress", f"--port={port}", "--host=127.0.0.1",
                                f"--threads={threads}", "hello:app"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def hello_world_server(threads: int = 8, source: str = HELLO_WORLD):
    with hello_world_process(threads, source) as (url, _pid):
        yield url


def server_pid(instance: Path) -> int:
    """The pid of the `serve` running on `instance` (it holds instance/server.pid)."""
    return int((instance / "server.pid").read_text().strip())


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cookie_header(session: requests.Session) -> str:
    """A logged-in requests session's cookies as one Cookie header, for the raw Connection client."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def api_token(instance: Path) -> str:
    """A fresh API key for the Kasir on `instance` (`api-key create` prints the token on its last line)."""
    env = {**os.environ, "KASIR_INSTANCE_PATH": str(instance)}
    env.pop("DATABASE_URL", None)
    output = subprocess.run([sys.executable, "-m", "kasir", "api-key", "create", "bench"], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True).stdout
    return output.strip().splitlines()[-1]


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


class Connection:
    """A keep-alive HTTP/1.1 client over one raw socket: far cheaper per request than requests.Session,
    so that on a 2-core machine the load generator is not what limits the server being measured."""

    def __init__(self, base_url: str):
        host, port = base_url.removeprefix("http://").split(":")
        self.address, self.host_header = (host, int(port)), f"{host}:{port}"
        self.sock = None
        self.buffer = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return body

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read its answer (Content-Length bodies only, as Flask and waitress send)."""
        if self.sock is None:
            self._connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
        if "chunked" in fields.get("transfer-encoding", ""):
            raise RuntimeError(f"{method} {path}: chunked answer; this client reads Content-Length bodies only")
        answer = self._read_exactly(int(fields.get("content-length", 0)))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer


def run_load(base_url: str, clients: int, total: int, make_request, time_limit: float = 60,
             on_answer=None) -> tuple[float, list[float]]:
    """`total` requests over `clients` keep-alive connections, each in its own thread, for at most
    `time_limit` seconds; make_request(i) -> (method, path, headers, body, expected statuses), and
    on_answer(i, body), when given, sees each answer. Returns (requests per second, latencies in ms)."""
    import threading

    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + time_limit

    def client():
        connection = Connection(base_url)
        mine = []
        try:
            while time.monotonic() < deadline and not failures:
                with lock:
                    index = next(counter, None)
                if index is None:
                    break
                method, path, headers, body, expected = make_request(index)
                started = time.perf_counter()
                status, answer = connection.request(method, path, headers, body)
                mine.append((time.perf_counter() - started) * 1000)
                if status not in expected:
                    failures.append(f"{method} {path} answered {status}: {answer[:300]!r}")
                elif on_answer is not None:
                    on_answer(index, answer)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    return len(latencies) / elapsed, latencies


HELLO_REQUEST = ("GET", "/", {}, b"", {200})


@dataclass
class Paired:
    """A row measured in rounds, each right after a hello-world round of the same size and clients."""
    rate: float  # requests per second over all rounds
    latencies: list[float]
    ratio: float  # the median over rounds of rate / the hello-world's rate just before
    hello_rate: float
    hello_latencies: list[float]

    @property
    def p99_ratio(self) -> float:
        return summary(self.latencies)["p99"] / summary(self.hello_latencies)["p99"]


def paired_load(hello_url: str, url: str, clients: int, total: int, make_request, rounds: int = 5,
                time_limit: float = 60, on_answer=None) -> Paired:
    """`total` requests to `url` in `rounds` rounds, each after a round of the same size to the hello-world.

    A shared VM's speed drifts by a third within a minute; a hello-world measured once, minutes away from
    the row, turns that drift into the ratio. Paired rounds see the same machine."""
    per_round = max(1, total // rounds)
    ratios, latencies, hello_latencies, elapsed, hello_elapsed = [], [], [], 0.0, 0.0
    for round_number in range(rounds):
        offset = round_number * per_round
        started = time.perf_counter()
        hello_rate, hello_round = run_load(hello_url, clients, per_round, lambda i: HELLO_REQUEST, time_limit)
        hello_elapsed += time.perf_counter() - started
        started = time.perf_counter()
        rate, round_latencies = run_load(
            url, clients, per_round, lambda i: make_request(offset + i), time_limit,
            on_answer=(lambda i, body: on_answer(offset + i, body)) if on_answer else None)
        elapsed += time.perf_counter() - started
        ratios.append(rate / hello_rate)
        latencies += round_latencies
        hello_latencies += hello_round
    return Paired(len(latencies) / elapsed, latencies, statistics.median(ratios), len(hello_latencies) / hello_elapsed,
                  hello_latencies)
