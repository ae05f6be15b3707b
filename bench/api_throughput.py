"""API throughput on SQLite: POST /payments and POST /webhooks/qris, next to a waitress hello-world.

Starts `python -m kasir serve` (RATELIMIT_ENABLED=false, temporary instance, mock provider) and a plain
waitress hello-world with the same thread count on loopback, then sends a bounded number of requests
over C keep-alive connections (bench.harness.Connection, one thread each; the same client for both
servers), in R rounds each right after a hello-world round of the same size (bench.harness.paired_load), and
prints req/s, p50 and p99 per endpoint, and req/s as a fraction of the hello-world's (median over the rounds).

    python bench/api_throughput.py [--requests 1000] [--clients 8] [--rounds 5] [--threads 8]
"""
import argparse
import json
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    HELLO_REQUEST,
    api_token,
    hello_world_server,
    kasir_server,
    paired_load,
    print_table,
    run_load,
    summary,
)
from kasir.webhooks.generic import signed_headers  # noqa: E402

WEBHOOK_SECRET = "bench-webhook-secret"
TIME_LIMIT_SECONDS = 120  # per row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n, clients = args.requests, args.clients
    rows, hello_rates, hello_latencies = [], [], []

    with hello_world_server(args.threads) as hello, \
            kasir_server(args.threads, PROVIDER_WEBHOOK_SECRET=WEBHOOK_SECRET) as (url, instance):
        run_load(hello, clients, n // args.rounds, lambda i: HELLO_REQUEST, TIME_LIMIT_SECONDS)  # warm-up

        def measure(label, make_request, on_answer=None):
            paired = paired_load(hello, url, clients, n, make_request, args.rounds, TIME_LIMIT_SECONDS, on_answer)
            stats = summary(paired.latencies)
            rows.append([label, f"{paired.rate:.0f}", f"{stats['p50']:.1f}", f"{stats['p99']:.1f}",
                         f"{paired.ratio:.2f}"])
            hello_latencies.extend(paired.hello_latencies)
            hello_rates.append(paired.hello_rate)

        auth = {"Authorization": f"Bearer {api_token(instance)}"}
        run = uuid.uuid4().hex[:6]

        def create(i):
            body = json.dumps({"order_id": f"B-{run}-{i}", "amount": 10000 + i}).encode()
            return ("POST", "/payments", {**auth, "Content-Type": "application/json",
                                          "Idempotency-Key": f"k-{run}-{i}"},
                    body, {201})

        payments: dict[int, dict] = {}
        measure("POST /payments (new, keyed)", create,
                on_answer=lambda i, body: payments.__setitem__(i, json.loads(body)))
        created = sorted(payments)
        measure("POST /payments (replay)", lambda i: create(created[i % len(created)]))
        created = [payments[i] for i in created]
        measure("GET /payments/<id>",
                lambda i: ("GET", f"/payments/{created[i % len(created)]['payment_id']}", auth, b"", {200}))

        def webhook(i):
            payment = created[i]
            body = json.dumps({"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"],
                               "amount": payment["amount"], "status": "SUCCESS", "ref_no": f"{i:012d}"}).encode()
            return ("POST", "/webhooks/qris", signed_headers(WEBHOOK_SECRET, body, f"evt-{run}-{i}"), body, {200})

        measure("POST /webhooks/qris (PENDING→PAID)", webhook)

    stats = summary(hello_latencies)
    rows.insert(0, ["waitress hello-world GET (paired rounds)", f"{statistics.median(hello_rates):.0f}",
                    f"{stats['p50']:.1f}", f"{stats['p99']:.1f}", "1.00"])
    print_table(f"{n} requests per row in {args.rounds} rounds, each right after a hello-world round; {clients} "
                f"keep-alive clients, waitress --threads {args.threads}, SQLite (WAL, synchronous=FULL)",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "vs hello-world"], rows)

if __name__ == "__main__":
    main()
