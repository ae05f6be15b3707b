"""A realistic shop: the server's CPU above idle while 10 tills and 10 displays poll, and paid → screen.

Kasir runs from --code (`python -m kasir serve`, SQLite, mock provider, jobs on). Each till is a logged-in
cashier page on its own register, with a QR open for its customer, and requests what the page's htmx
asks for: the QR's status every second (`#qris-status`), the money bar every 2 s (`#money-bar`) and the
print status every 10 s (`#print-status`). Each display is `/display/<register>` polling its state every
second (`#display-state`). Every poll follows the URL in the element the server last sent (so the
display's `?v=` version, when the code has one) and sends an ETag back as If-None-Match when the code
gives one, as the browser's cache does. Every --payment-every seconds the next till's customer pays: the
harness sends the mock provider's signed webhook, the till's next status poll gets 286 (paid → till),
the display turns from its QR (paid → display), and 2 s later the till opens the next customer's QR.

Server CPU (utime + stime of the server process, /proc/<pid>/stat) is measured over --seconds with no
requests at all (the idle server: its jobs, with the same QRs open) and then over --seconds of the shop;
the difference is the shop's cost, printed as % of one core. The same is then measured for the bare
Flask JSON view (bench/polling.py's baseline, same waitress and threads) asked at the shop's request rate by
as many keep-alive clients: the framework's own floor on this machine, and the shop's cost as a ratio of it.
Targets (issue #22): <= 5 % of one core above idle; paid → screen p95 <= 1.2 s with 1 s polling (a 60 s run
has 6 payments: for a tighter p95, bench/paid_to_screen.py or a longer --seconds).

    python bench/shop.py [--code DIR] [--seconds 60] [--tills 10] [--payment-every 10] [--threads 8]
"""
import json
import os
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.harness import (  # noqa: E402
    FLASK_HELLO_WORLD,
    bench_parser,
    cashier_session,
    cpu_seconds,
    hello_world_process,
    kasir_server,
    open_qr,
    parse_args,
    payment_row,
    poll_url,
    print_table,
    signed_webhook,
    summary,
)

REQUEST_TIMEOUT_SECONDS = 10
SETTLE_SECONDS = 3  # after setup, and after the screens start, before a window is measured
DRAIN_SECONDS = 5  # after the shop's window, for the last payment to reach its screens
MODAL_CLOSES_SECONDS = 2  # the till's success modal closes after 2 s; then the next customer's QR


class Shop:
    """What the screens saw, shared by their threads: requests by kind and status, paid → screen times."""

    def __init__(self, base_url: str, database: Path):
        self.base_url, self.database = base_url, database
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.requests: Counter = Counter()
        self.latencies: dict[str, list[float]] = {"till": [], "display": []}
        self.errors: list[str] = []

    def count(self, kind: str, answer: str) -> None:
        with self.lock:
            self.requests[(kind, answer)] += 1

    def seen(self, screen: str, sent_at: float) -> None:
        with self.lock:
            self.latencies[screen].append((time.perf_counter() - sent_at) * 1000)


class Poll:
    """One element htmx polls: its URL (the `hx-get` the server last sent) and when it is next due."""

    def __init__(self, element_id: str, url: str, period: float, due: float):
        self.element_id, self.url, self.period, self.due = element_id, url, period, due
        self.etag: str | None = None


class Screen(threading.Thread):
    """A browser page on one keep-alive session: requests each poll when due until the shop stops."""

    def __init__(self, shop: Shop, session: requests.Session, headers: dict):
        super().__init__(daemon=True)
        self.shop, self.session, self.headers = shop, session, headers
        self.polls: list[Poll] = []

    def fetch(self, poll: Poll) -> requests.Response:
        headers = {**self.headers, **({"If-None-Match": poll.etag} if poll.etag else {})}
        response = self.session.get(self.shop.base_url + poll.url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        nothing_new = response.headers.get("HX-Reswap") == "none"  # htmx swaps nothing (kasir.web.nothing_new)
        self.shop.count(poll.element_id, f"{response.status_code}{' nothing new' if nothing_new else ''}")
        if response.status_code not in (200, 204, 286, 304):
            raise RuntimeError(f"GET {poll.url} answered {response.status_code}: {response.text[:300]}")
        poll.etag = response.headers.get("ETag", poll.etag)
        if response.status_code == 200 and not nothing_new:  # htmx swaps the element in: it says what to poll next
            poll.url = poll_url(response.text, poll.element_id) or poll.url
        poll.due = max(poll.due + poll.period, time.monotonic())
        self.answered(poll, response)
        return response

    def answered(self, poll: Poll, response: requests.Response) -> None:
        """What the page does with an answer beyond swapping it in (nothing, here)."""

    def chores(self) -> None:
        """What the page does besides polling (nothing, here)."""

    def run(self) -> None:
        try:
            while not self.shop.stop.is_set():
                self.chores()
                poll = min(self.polls, key=lambda poll: poll.due, default=None)
                wait = poll.due - time.monotonic() if poll else 0.2
                if wait > 0:
                    self.shop.stop.wait(min(wait, 0.2))
                else:
                    self.fetch(poll)
        except Exception as exc:  # reported by main(): a failed screen must not look like a quiet shop
            with self.shop.lock:
                self.shop.errors.append(f"{type(self).__name__}: {exc!r}")


class Display(Screen):
    """/display/<register>: its state every second; notices when a paid QR leaves the screen."""

    def __init__(self, shop: Shop, register: str):
        super().__init__(shop, requests.Session(), {"HX-Request": "true"})
        page = self.session.get(f"{shop.base_url}/display/{register}", timeout=REQUEST_TIMEOUT_SECONDS).text
        url = poll_url(page, "display-state") or f"/display/{register}/state"
        self.polls = [Poll("display-state", url, 1.0, time.monotonic())]
        self.paid_sent_at: float | None = None

    def answered(self, poll: Poll, response: requests.Response) -> None:
        mode = re.search(r'data-mode="([^"]*)"', response.text) if response.status_code == 200 else None
        if self.paid_sent_at is not None and mode and mode.group(1) != "qris":
            self.shop.seen("display", self.paid_sent_at)
            self.paid_sent_at = None


class Till(Screen):
    """A cashier's /pos on its register: money bar, print status and the open QR's status."""

    def __init__(self, shop: Shop, register: str, display: Display):
        session, headers, page = cashier_session(shop.base_url, register)
        super().__init__(shop, session, headers)
        now = time.monotonic()
        self.polls = [Poll(element_id, url, period, now) for element_id, period in (("money-bar", 2.0),
                                                                                    ("print-status", 10.0))
                      if (url := poll_url(page, element_id))]
        self.display = display
        self.payment_id: str | None = None
        self.paid_sent_at: float | None = None
        self.next_qr_at: float | None = None
        self.open_qr()

    def open_qr(self) -> None:
        self.payment_id, modal = open_qr(self.shop.base_url, self.session, self.headers)
        url = poll_url(modal, "qris-status") or f"/pos/payments/{self.payment_id}/status"
        self.polls.append(Poll("qris-status", url, 1.0, time.monotonic() + 1.0))
        self.next_qr_at = None

    def chores(self) -> None:
        if self.next_qr_at is not None and time.monotonic() >= self.next_qr_at:
            self.open_qr()

    def answered(self, poll: Poll, response: requests.Response) -> None:
        if poll.element_id == "qris-status" and response.status_code == 286:
            if self.paid_sent_at is not None:
                self.shop.seen("till", self.paid_sent_at)
            self.polls.remove(poll)
            self.payment_id = self.paid_sent_at = None
            self.next_qr_at = time.monotonic() + MODAL_CLOSES_SECONDS

    def pay(self, session: requests.Session) -> bool:
        """The customer pays this till's open QR: the gateway's signed webhook. False if no QR is open."""
        payment_id = self.payment_id
        if payment_id is None or self.paid_sent_at is not None:
            return False
        order_id, trx_id, amount = payment_row(self.shop.database, payment_id)
        body = json.dumps({"trx_id": trx_id, "order_id": order_id, "amount": amount, "status": "SUCCESS",
                           "ref_no": "SHOP"}).encode()
        self.paid_sent_at = self.display.paid_sent_at = time.perf_counter()
        reply = session.post(f"{self.shop.base_url}/webhooks/qris", data=body, timeout=REQUEST_TIMEOUT_SECONDS,
                             headers=signed_webhook(body, f"shop-{secrets.token_hex(6)}"))
        self.shop.count("webhook", str(reply.status_code))
        if reply.status_code != 200:
            raise RuntimeError(f"webhook answered {reply.status_code}: {reply.text[:300]}")
        return True


def server_cpu(pid: int, seconds: float, stop: threading.Event | None = None) -> float:
    """The process's CPU over the next `seconds`, as % of one core."""
    cpu, started = cpu_seconds(pid), time.monotonic()
    (stop or threading.Event()).wait(seconds)
    return (cpu_seconds(pid) - cpu) / (time.monotonic() - started) * 100


def customers(shop: Shop, tills: list[Till], seconds: float, every: float) -> int:
    """A payment every `every` seconds for `seconds`, at the tills in turn; how many were paid."""
    try:
        return pay_in_turn(shop, tills, seconds, every)
    except Exception as exc:  # reported by main()
        with shop.lock:
            shop.errors.append(f"customers: {exc!r}")
        return 0


def pay_in_turn(shop: Shop, tills: list[Till], seconds: float, every: float) -> int:
    """Payment k comes at a random moment of [k * every, (k + 1) * every): no fixed phase to the polls."""
    session, paid, turn = requests.Session(), 0, 0
    started = time.monotonic()
    for k in range(int(seconds // every)):
        if shop.stop.wait(max(0.0, started + (k + random.random()) * every - time.monotonic())) or shop.errors:
            break
        for offset in range(len(tills)):  # the next till whose customer has a QR to pay
            if tills[(turn + offset) % len(tills)].pay(session):
                turn, paid = turn + offset + 1, paid + 1
                break
    return paid


def bare_view_cpu(rate: float, clients: int, seconds: float, threads: int) -> tuple[float, float]:
    """The bare Flask JSON view asked `rate` times a second by `clients` keep-alive sessions (spread over the
    second like the screens): its server's CPU idle, then under that load, as % of one core."""
    with hello_world_process(threads, FLASK_HELLO_WORLD) as (url, pid):
        time.sleep(SETTLE_SECONDS)
        idle = server_cpu(pid, seconds)
        stop, errors = threading.Event(), []

        def client(first_due: float) -> None:
            session, period, due = requests.Session(), clients / rate, first_due
            try:
                while not stop.wait(max(0.0, due - time.monotonic())):
                    session.get(url, timeout=REQUEST_TIMEOUT_SECONDS).raise_for_status()
                    due = max(due + period, time.monotonic())
            except Exception as exc:  # reported below: a failed client must not look like a cheap view
                errors.append(repr(exc))

        start = time.monotonic()
        pollers = [threading.Thread(target=client, args=(start + i / rate,), daemon=True) for i in range(clients)]
        for poller in pollers:
            poller.start()
        time.sleep(SETTLE_SECONDS)
        busy = server_cpu(pid, seconds)
        stop.set()
        for poller in pollers:
            poller.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
    if errors:
        raise SystemExit(f"a bare view client failed: {errors[0]}")
    return idle, busy


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="length of each CPU window")
    parser.add_argument("--tills", type=int, default=10, help="tills, each with its register's display")
    parser.add_argument("--payment-every", type=float, default=10)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)

    with kasir_server(args.code, args.threads, registers=args.tills) as server:
        shop = Shop(server.url, server.instance / "kasir.db")
        displays = [Display(shop, str(code)) for code in range(1, args.tills + 1)]
        tills = [Till(shop, str(code), display) for code, display in zip(range(1, args.tills + 1), displays)]
        time.sleep(SETTLE_SECONDS)
        idle = server_cpu(server.pid, args.seconds)
        screens = [*tills, *displays]
        try:
            for screen in screens:
                screen.start()
            time.sleep(SETTLE_SECONDS)
            with shop.lock:
                shop.requests.clear()
            result: dict[str, int] = {}
            payer = threading.Thread(target=lambda: result.setdefault(
                "paid", customers(shop, tills, args.seconds, args.payment_every)), daemon=True)
            started = time.monotonic()
            payer.start()
            busy = server_cpu(server.pid, args.seconds)
            window = time.monotonic() - started
            with shop.lock:
                counted = Counter(shop.requests)
            payer.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
            drain_until = time.monotonic() + DRAIN_SECONDS
            while time.monotonic() < drain_until and any(till.paid_sent_at is not None for till in tills):
                time.sleep(0.1)
        finally:
            shop.stop.set()
            for screen in screens:
                screen.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
    if shop.errors:
        raise SystemExit(f"a screen failed: {shop.errors[0]}")

    rate = sum(counted.values()) / window
    bare_idle, bare_busy = bare_view_cpu(rate, 2 * args.tills, args.seconds, args.threads)
    kinds = sorted({kind for kind, _status in counted})
    request_rows = [[kind, f"{sum(n for (k, _s), n in counted.items() if k == kind) / window:.1f}",
                     ", ".join(f"{status}: {n}" for (k, status), n in sorted(counted.items()) if k == kind)]
                    for kind in kinds]
    request_rows.append(["all", f"{rate:.1f}", ""])
    print_table(f"Requests during the {window:.0f} s window ({args.tills} tills, {args.tills} displays, "
                f"{result.get('paid', 0)} payments)", ["what", "per second", "answers"], request_rows)
    print_table(f"Server CPU, % of one core (/proc/{server.pid}/stat, {args.seconds:.0f} s each; "
                f"waitress --threads {args.threads}, SQLite; {os.cpu_count()} cores)",
                ["window", "% of one core"],
                [["idle server (no requests)", f"{idle:.1f}"], ["shop", f"{busy:.1f}"],
                 ["shop above idle (target <= 5)", f"{busy - idle:.1f}"],
                 [f"bare Flask JSON view at {rate:.1f} req/s: idle; busy", f"{bare_idle:.1f}; {bare_busy:.1f}"],
                 ["bare Flask JSON view above idle (baseline)", f"{bare_busy - bare_idle:.1f}"],
                 ["shop above idle vs the bare view's", f"{(busy - idle) / max(bare_busy - bare_idle, 0.01):.1f}x"]])
    rows = []
    for screen, latencies in shop.latencies.items():
        stats = summary(latencies) if latencies else {"n": 0, "p50": float("nan"), "p95": float("nan")}
        rows.append([f"paid → {screen} (webhook sent → first answer showing it)", stats["n"], f"{stats['p50']:.0f}",
                     f"{stats['p95']:.0f}"])
    print_table("Paid → screen with 1 s polling (ms; target p95 <= 1200)", ["what", "n", "p50", "p95"], rows)


if __name__ == "__main__":
    main()
