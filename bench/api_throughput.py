"""API throughput on SQLite: POST /payments and POST /webhooks/qris, next to a waitress hello-world.

Starts `python -m kasir serve` (RATELIMIT_ENABLED=false, temporary instance, mock provider) and a plain
waitress hello-world with the same thread count on loopback, then sends a bounded number of requests
over C keep-alive connections (bench.harness.Connection, one thread each; the same client for both
servers) and prints req/s, p50 and p99 per endpoint, and req/s as a fraction of the hello-world's.

    python bench/api_throughput.py [--requests 1000] [--clients 8] [--threads 8]
"""
import argparse
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import api_token, hello_world_server, kasir_server, print_table, run_load, summary  # noqa: E402
from kasir.webhooks.generic import signed_headers  # noqa: E402

WEBHOOK_SECRET = "bench-webhook-secret"
TIME_LIMIT_SECONDS = 120  # per row


def row(label: str, rate: float, latencies: list[float], baseline: float) -> list[str]:
    stats = summary(latencies)
    return [label, f"{rate:.0f}", f"{stats['p50']:.1f}", f"{stats['p99']:.1f}", f"{rate / baseline:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n, clients = args.requests, args.clients

    def load(base_url, make_request):
        return run_load(base_url, clients, n, make_request, TIME_LIMIT_SECONDS)

    with hello_world_server(args.threads) as hello:
        load(hello, lambda i: ("GET", "/", {}, b"", {200}))  # warm-up
        baseline, latencies = load(hello, lambda i: ("GET", "/", {}, b"", {200}))
    rows = [row("waitress hello-world GET", baseline, latencies, baseline)]

    with kasir_server(args.threads, PROVIDER_WEBHOOK_SECRET=WEBHOOK_SECRET) as (url, instance):
        auth = {"Authorization": f"Bearer {api_token(instance)}"}
        run = uuid.uuid4().hex[:6]

        def create(i):
            body = json.dumps({"order_id": f"B-{run}-{i}", "amount": 10000 + i}).encode()
            return ("POST", "/payments", {**auth, "Content-Type": "application/json", "Idempotency-Key": f"k-{run}-{i}"},
                    body, {201})

        payments: dict[int, dict] = {}
        rate, latencies = run_load(url, clients, n, create, TIME_LIMIT_SECONDS,
                                   on_answer=lambda i, body: payments.__setitem__(i, json.loads(body)))
        rows.append(row("POST /payments (new, keyed)", rate, latencies, baseline))
        created = sorted(payments)
        rate, latencies = load(url, lambda i: create(created[i % len(created)]))
        rows.append(row("POST /payments (replay)", rate, latencies, baseline))
        created = [payments[i] for i in created]
        rate, latencies = load(url, lambda i: ("GET", f"/payments/{created[i % len(created)]['payment_id']}", auth, b"", {200}))
        rows.append(row("GET /payments/<id>", rate, latencies, baseline))

        def webhook(i):
            payment = created[i]
            body = json.dumps({"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"],
                               "amount": payment["amount"], "status": "SUCCESS", "ref_no": f"{i:012d}"}).encode()
            return ("POST", "/webhooks/qris", signed_headers(WEBHOOK_SECRET, body, f"evt-{run}-{i}"), body, {200})

        rate, latencies = run_load(url, clients, len(created), webhook, TIME_LIMIT_SECONDS)
        rows.append(row("POST /webhooks/qris (PENDING→PAID)", rate, latencies, baseline))

    print_table(f"{n} requests per row, {clients} keep-alive clients, waitress --threads {args.threads}, "
                "SQLite (WAL, synchronous=FULL)", ["endpoint", "req/s", "p50 ms", "p99 ms", "vs hello-world"], rows)


if __name__ == "__main__":
    main()
