"""Shared bench plumbing: start Kasir and baseline servers on loopback, log in, sign webhooks, time things.

Every script here takes `--code DIR` (default: the repository it lives in) and measures the Kasir code in
DIR: `python -m kasir serve` runs as its own waitress process with cwd and PYTHONPATH set to DIR and this
interpreter (the shared venv's), so two checkouts can be measured back to back with the same harness.
Nothing here imports `kasir`. Every server is started on 127.0.0.1, killed when its `with` block ends,
and every loop is bounded in count and time.
"""
import argparse
import hashlib
import hmac
import html
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "bench-webhook-secret"  # PROVIDER_WEBHOOK_SECRET of every Kasir started here
CLI_TIMEOUT_SECONDS = 300
HELLO_WORLD = (
    "def app(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', '2')])\n"
    "    return [b'{}']\n"
)
# The yardstick for the polls: a bare Flask JSON view on the same waitress with the same threads.
FLASK_HELLO_WORLD = (
    "from flask import Flask, jsonify\n"
    "app = Flask(__name__)\n"
    "@app.get('/')\n"
    "def index():\n"
    "    return jsonify({})\n"
)


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with `--code DIR`, the Kasir checkout to measure (checked to hold `kasir/`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--code", type=lambda text: Path(text).resolve(), default=ROOT,
                        help=f"Kasir checkout to measure (default {ROOT})")
    return parser


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if not (args.code / "kasir" / "__init__.py").is_file():
        parser.error(f"--code {args.code}: no kasir package there")
    print(f"Kasir code: {args.code} ({describe_code(args.code)}); {os.cpu_count()} cores", flush=True)
    return args


def describe_code(code: Path) -> str:
    """The checkout's commit and whether it has local changes, for the printed header."""
    try:
        commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "kasir"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not a git checkout"
    return f"{commit or 'no commit'}{' + local changes in kasir/' if dirty else ''}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def stop(process: subprocess.Popen) -> None:
    """Terminate a child we started, and kill it if it does not exit within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def kasir_env(code: Path, instance: Path, **env) -> dict[str, str]:
    """The environment of a Kasir process: code from `code`, mock provider, no rate limits, no printer."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "PROVIDER", "KASIR_INSTANCE_PATH", "PYTHONPATH")}
    environment.update({"PYTHONPATH": str(code), "KASIR_INSTANCE_PATH": str(instance), "PROVIDER": "mock",
                        "RATELIMIT_ENABLED": "false", "PRINTER_URL": "none",
                        "PROVIDER_WEBHOOK_SECRET": WEBHOOK_SECRET, **env})
    return environment


def kasir_cli(code: Path, environment: dict[str, str], *args: str) -> str:
    """Run `python -m kasir ARGS` from `code`; its stdout."""
    return subprocess.run([sys.executable, "-m", "kasir", *args], cwd=code, env=environment, check=True,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS).stdout


def add_registers(database: Path, count: int) -> None:
    """Registers 2..count next to the demo's register 1, filling whatever NOT NULL columns the schema has."""
    with closing(sqlite3.connect(database)) as connection, connection:
        columns = connection.execute("PRAGMA table_info(registers)").fetchall()  # cid, name, type, notnull, dflt, pk
        for code in range(2, count + 1):
            row = {"code": str(code), "name": f"Kasir {code}", "active": 1}
            row.update({name: 0 for _cid, name, _type, notnull, default, pk in columns
                        if notnull and default is None and not pk and name not in row})
            row = {name: value for name, value in row.items() if name in {column[1] for column in columns}}
            connection.execute(f"INSERT INTO registers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                               tuple(row.values()))


@contextmanager
def kasir_instance(code: Path, registers: int = 1, **env):
    """A temporary instance folder, migrated, with demo data (and `registers` registers on SQLite):
    yields (instance, environment); the folder is deleted afterwards."""
    instance = Path(tempfile.mkdtemp(prefix="kasir-bench-"))
    try:
        environment = kasir_env(code, instance, **env)
        kasir_cli(code, environment, "db", "upgrade")
        kasir_cli(code, environment, "demo-data")
        if registers > 1:
            add_registers(instance / "kasir.db", registers)
        yield instance, environment
    finally:
        shutil.rmtree(instance, ignore_errors=True)


@dataclass
class Server:
    url: str
    instance: Path
    pid: int


@contextmanager
def serve(code: Path, instance: Path, environment: dict[str, str], threads: int = 8):
    """`python -m kasir serve --threads T` on a free loopback port; yields a Server, killed at exit."""
    port = free_port()
    log_path = instance / f"server-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "kasir", "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--threads", str(threads)], cwd=code, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            try:
                wait_for_port(port, process)
            except (RuntimeError, TimeoutError):
                log.flush()
                print(log_path.read_text()[-3000:], file=sys.stderr)
                raise
            yield Server(f"http://127.0.0.1:{port}", instance, process.pid)
        finally:
            stop(process)


@contextmanager
def kasir_server(code: Path, threads: int = 8, registers: int = 1, **env):
    """A real Kasir server from `code` on a temporary SQLite instance with demo data; yields a Server."""
    with kasir_instance(code, registers, **env) as (instance, environment), \
            serve(code, instance, environment, threads) as server:
        yield server


@contextmanager
def hello_world_process(threads: int = 8, source: str = HELLO_WORLD):
    """A baseline: waitress serving `source`'s `app` with the same thread count; yields (url, pid)."""
    folder = Path(tempfile.mkdtemp(prefix="kasir-hello-"))
    (folder / "hello.py").write_text(source)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "waitress", f"--port={port}", "--host=127.0.0.1",
                                f"--threads={threads}", "hello:app"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def hello_world_server(threads: int = 8, source: str = HELLO_WORLD):
    with hello_world_process(threads, source) as (url, _pid):
        yield url


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (Linux)."""
    return proc_status_kb(pid, "VmRSS") / 1024


def proc_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def api_token(code: Path, instance: Path, **env) -> str:
    """A fresh API key for the Kasir on `instance` (`api-key create` prints the token on its last line)."""
    return kasir_cli(code, kasir_env(code, instance, **env), "api-key", "create", "bench").strip().splitlines()[-1]


def signed_webhook(body: bytes, event_id: str, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """Headers of a generic-format webhook (/webhooks/qris, the mock provider's; DESIGN §7):
    hex HMAC-SHA256 of the raw body with PROVIDER_WEBHOOK_SECRET, the event id, the unix time."""
    return {"Content-Type": "application/json",
            "X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "X-Event-Id": event_id, "X-Timestamp": str(int(time.time()))}


def payment_row(database: Path, payment_id: str) -> tuple[str, str, int]:
    """What the gateway knows about a payment (order id, its own id, amount), from the payments table."""
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT order_id, provider_trx_id, amount FROM payments WHERE id = ?",
                                  (payment_id,)).fetchone()


def poll_url(fragment: str, element_id: str) -> str | None:
    """The `hx-get` of the element with this id in an HTML fragment (what htmx would poll), or None."""
    match = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', fragment)
    found = match and re.search(r'\bhx-get="([^"]*)"', match.group(0))
    return html.unescape(found.group(1)) if found else None


def cookie_header(session: requests.Session) -> str:
    """A logged-in requests session's cookies as one Cookie header, for the raw Connection client."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def cashier_session(base_url: str, register: str = "1") -> tuple[requests.Session, dict, str]:
    """Log in as the demo cashier on `register`: the session, the htmx headers (CSRF) and the /pos page."""
    session = requests.Session()
    page = session.get(f"{base_url}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(f"{base_url}/login", data={"csrf_token": token, "mode": "pin", "username": "kasir", "pin": "1234"})
    session.cookies.set("kasir_register", register)
    pos = session.get(f"{base_url}/pos").text
    headers = {"HX-Request": "true", "X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', pos).group(1)}
    return session, headers, pos


def open_qr(base_url: str, session: requests.Session, headers: dict) -> tuple[str, str]:
    """Put one item in the till's cart and open its QR: (payment id, the modal's HTML)."""
    session.post(f"{base_url}/pos/cart/scan", data={"q": "SKU0001"}, headers=headers)
    modal = session.post(f"{base_url}/pos/checkout/qris", headers=headers).text
    return modal.split('data-payment="', 1)[1].split('"', 1)[0], modal


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
        """Send one request and read its answer: (status, body)."""
        status, answer, _fields = self.exchange(method, path, headers, body)
        return status, answer

    def exchange(self, method: str, path: str, headers: dict | None = None,
                 body: bytes = b"") -> tuple[int, bytes, dict[str, str]]:
        """Send one request and read its answer (Content-Length bodies only, as Flask and waitress send):
        (status, body, header fields with lower-case names)."""
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
        bodiless = status in (204, 304) or method == "HEAD"  # whatever Content-Length says (RFC 9110)
        answer = b"" if bodiless else self._read_exactly(int(fields.get("content-length", 0)))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer, fields


def run_load(base_url: str | list[str], clients: int, total: int, make_request, time_limit: float = 60,
             on_answer=None) -> tuple[float, list[float]]:
    """`total` requests over `clients` keep-alive connections, each in its own thread, for at most
    `time_limit` seconds; make_request(i) -> (method, path, headers, body, expected statuses), and
    on_answer(i, body), when given, sees each answer. With a list of URLs, client k talks to the k-th
    (round robin). Returns (requests per second, latencies in ms)."""
    urls = [base_url] if isinstance(base_url, str) else base_url
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + time_limit

    def client(url: str):
        connection = Connection(url)
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

    threads = [threading.Thread(target=client, args=(urls[k % len(urls)],)) for k in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    return len(latencies) / elapsed, latencies


HELLO_REQUEST = ("GET", "/", {}, b"", {200})  # what both baselines answer


@dataclass
class Paired:
    """A row measured in rounds, each right after a baseline round of the same size and clients."""
    rate: float  # requests per second over all rounds
    latencies: list[float]
    ratio: float  # the median over rounds of rate / the baseline's rate just before
    baseline_rate: float
    baseline_latencies: list[float]

    @property
    def p99_ratio(self) -> float:
        return summary(self.latencies)["p99"] / summary(self.baseline_latencies)["p99"]


def paired_load(baseline_url: str, url: str, clients: int, total: int, make_request, rounds: int = 5,
                time_limit: float = 60, on_answer=None) -> Paired:
    """`total` requests to `url` in `rounds` rounds, each after a round of the same size of HELLO_REQUEST to
    the baseline server.

    A shared VM's speed drifts by a third within a minute; a baseline measured once, minutes away from
    the row, turns that drift into the ratio. Paired rounds see the same machine."""
    per_round = max(1, total // rounds)
    ratios, latencies, baseline_latencies, elapsed, baseline_elapsed = [], [], [], 0.0, 0.0
    for round_number in range(rounds):
        offset = round_number * per_round
        started = time.perf_counter()
        baseline_rate, baseline_round = run_load(baseline_url, clients, per_round, lambda i: HELLO_REQUEST,
                                                 time_limit)
        baseline_elapsed += time.perf_counter() - started
        started = time.perf_counter()
        rate, round_latencies = run_load(
            url, clients, per_round, lambda i: make_request(offset + i), time_limit,
            on_answer=(lambda i, body: on_answer(offset + i, body)) if on_answer else None)
        elapsed += time.perf_counter() - started
        ratios.append(rate / baseline_rate)
        latencies += round_latencies
        baseline_latencies += baseline_round
    return Paired(len(latencies) / elapsed, latencies, statistics.median(ratios),
                  len(baseline_latencies) / baseline_elapsed, baseline_latencies)
