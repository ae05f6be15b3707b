"""Paid → screen: time from the gateway sending its webhook to the success partial reaching a polling till.

For each payment the register's cashier session (one login per till) builds a cart and opens a QR; a poller asks
for its status the way the till's htmx does (following the `hx-get` of the element each answer swaps in); the
simulator's webhook is sent; we record when the first 286 (final partial) arrives after the webhook was sent
(measuring from its 200 instead would reward a server that makes the payment visible before it answers). Two
pollers: every 1 s with a random phase (what htmx does on the till) and every 20 ms (the server's own share).
Baseline in the same run: a waitress hello-world round trip. Kasir runs from --code; the webhooks are signed as the
mock provider expects (bench.harness.signed_webhook). Target (issue #22): p95 <= 1.2 s with 1 s polling.

    python bench/paid_to_screen.py [--code DIR] [--payments 100] [--registers 10]
"""
import json
import random
import secrets
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.harness import (  # noqa: E402
    bench_parser,
    cashier_session,
    hello_world_server,
    kasir_server,
    open_qr,
    parse_args,
    payment_row,
    poll_url,
    print_table,
    signed_webhook,
    summary,
)

TIME_LIMIT_SECONDS = 240


def one_payment(base_url: str, database: Path, till: tuple, interval: float) -> float:
    session, headers, _page = till
    payment_id, modal = open_qr(base_url, session, headers)
    order_id, trx_id, amount = payment_row(database, payment_id)
    seen_at: list[float] = []

    def poll():
        url = poll_url(modal, "qris-status") or f"/pos/payments/{payment_id}/status"
        time.sleep(random.uniform(0, interval))  # a till's poll has no fixed phase relative to the payment
        while time.monotonic() < give_up:
            answer = session.get(base_url + url, headers=headers)
            if answer.status_code == 286:
                seen_at.append(time.perf_counter())
                return
            if answer.headers.get("HX-Reswap") != "none":  # htmx swaps the element in: it says what to poll next
                url = poll_url(answer.text, "qris-status") or url
            time.sleep(interval)

    give_up = time.monotonic() + 15
    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(random.uniform(0.05, 0.3))
    body = json.dumps({"trx_id": trx_id, "order_id": order_id, "amount": amount, "status": "SUCCESS",
                       "ref_no": "BENCH"}).encode()
    sent_at = time.perf_counter()
    reply = requests.post(f"{base_url}/webhooks/qris", data=body,
                          headers=signed_webhook(body, f"bench-{secrets.token_hex(6)}"))
    if reply.status_code != 200:
        raise RuntimeError(f"webhook answered {reply.status_code}: {reply.text}")
    poller.join()
    return (seen_at[0] - sent_at) * 1000


def measure(base_url: str, database: Path, interval: float, payments: int, registers: int,
            deadline: float) -> list[float]:
    """`payments` payments spread over one worker per register; their latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(payments))

    def worker(register: str):
        # One login per till, as in a shop: a PIN check costs tens of milliseconds of CPU, which would
        # otherwise be measured as the other tills' wait.
        till = cashier_session(base_url, register)
        for _ in counter:
            if time.monotonic() > deadline:
                return
            latency = one_payment(base_url, database, till, interval)
            with lock:
                latencies.append(latency)

    threads = [threading.Thread(target=worker, args=(str(code),)) for code in range(1, registers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def run(code: Path, payments: int, registers: int) -> None:
    with hello_world_server() as hello:
        session = requests.Session()
        round_trips = []
        for _ in range(200):
            started = time.perf_counter()
            session.get(hello)
            round_trips.append((time.perf_counter() - started) * 1000)
    deadline = time.monotonic() + TIME_LIMIT_SECONDS
    with kasir_server(code, registers=registers) as server:
        results = {}
        for label, interval in (("till poll every 1 s", 1.0), ("poll every 20 ms", 0.02)):
            latencies = measure(server.url, server.instance / "kasir.db", interval, payments, registers, deadline)
            results[label] = summary(latencies)
    rows = [[label, stats["n"], f"{stats['p50']:.0f}", f"{stats['p95']:.0f}", f"{stats['mean']:.0f}"]
            for label, stats in results.items()]
    hello_stats = summary(round_trips)
    rows.append(["hello-world round trip (baseline)", hello_stats["n"], f"{hello_stats['p50']:.1f}",
                 f"{hello_stats['p95']:.1f}", f"{hello_stats['mean']:.1f}"])
    print_table("Paid → screen latency (ms), webhook sent → first 286 at the till",
                ["poller", "n", "p50", "p95", "mean"], rows)
    fast = results["poll every 20 ms"]
    print(f"\nServer share p50 = {fast['p50'] / hello_stats['p50']:.1f}× a hello-world round trip.")


if __name__ == "__main__":
    parser = bench_parser(__doc__)
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--registers", type=int, default=10)
    arguments = parse_args(parser)
    run(arguments.code, arguments.payments, arguments.registers)
