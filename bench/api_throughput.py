"""API throughput on SQLite: POST /payments and POST /webhooks/qris, next to a waitress hello-world.

Starts `python -m kasir serve` (RATELIMIT_ENABLED=false, temporary instance, mock provider) and a plain
waitress hello-world with the same thread count on loopback, then sends a bounded number of requests
from C client threads (one keep-alive session each) and prints req/s, p50 and p99 per endpoint.

    python bench/api_throughput.py [--requests 400] [--clients 8] [--threads 8]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.harness import ROOT, hello_world_server, kasir_server, print_table, summary  # noqa: E402
from kasir.webhooks.generic import signed_headers  # noqa: E402

WEBHOOK_SECRET = "bench-webhook-secret"


def api_token(instance: Path) -> str:
    env = {**os.environ, "KASIR_INSTANCE_PATH": str(instance)}
    env.pop("DATABASE_URL", None)
    output = subprocess.run([sys.executable, "-m", "kasir", "api-key", "create", "bench"], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True).stdout
    return output.strip().splitlines()[-1]


def load(requests_total: int, clients: int, make_request) -> tuple[float, list[float]]:
    """Run make_request(session, i) for i in range(requests_total) over `clients` threads; (req/s, latencies ms)."""
    per_client = [list(range(c, requests_total, clients)) for c in range(clients)]

    def client(indexes):
        latencies = []
        with requests.Session() as session:
            for index in indexes:
                started = time.perf_counter()
                make_request(session, index)
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [value for chunk in pool.map(client, per_client) for value in chunk]
    return requests_total / (time.perf_counter() - started), latencies


def check(response, status: int):
    if response.status_code != status:
        raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n, clients = args.requests, args.clients
    rows = []

    with hello_world_server(args.threads) as hello:
        rate, latencies = load(n, clients, lambda s, i: check(s.get(f"{hello}/"), 200))
    baseline = rate
    rows.append(["waitress hello-world GET", f"{rate:.0f}", *(f"{summary(latencies)[k]:.1f}" for k in ("p50", "p99")), "1.00"])

    with kasir_server(args.threads, PROVIDER_WEBHOOK_SECRET=WEBHOOK_SECRET) as (url, instance):
        token = api_token(instance)
        auth = {"Authorization": f"Bearer {token}"}
        run = uuid.uuid4().hex[:6]
        created: list[dict] = [None] * n

        def create(session, i):
            response = check(session.post(f"{url}/payments", json={"order_id": f"B-{run}-{i}", "amount": 10000 + i},
                                          headers={**auth, "Idempotency-Key": f"k-{run}-{i}"}), 201)
            created[i] = response.json()

        rate, latencies = load(n, clients, create)
        rows.append(["POST /payments (new, keyed)", f"{rate:.0f}",
                     *(f"{summary(latencies)[k]:.1f}" for k in ("p50", "p99")), f"{rate / baseline:.2f}"])

        rate, latencies = load(n, clients, lambda s, i: check(s.post(
            f"{url}/payments", json={"order_id": f"B-{run}-{i}", "amount": 10000 + i},
            headers={**auth, "Idempotency-Key": f"k-{run}-{i}"}), 201))
        rows.append(["POST /payments (replay)", f"{rate:.0f}",
                     *(f"{summary(latencies)[k]:.1f}" for k in ("p50", "p99")), f"{rate / baseline:.2f}"])

        rate, latencies = load(n, clients, lambda s, i: check(s.get(f"{url}/payments/{created[i]['payment_id']}",
                                                                    headers=auth), 200))
        rows.append(["GET /payments/<id>", f"{rate:.0f}",
                     *(f"{summary(latencies)[k]:.1f}" for k in ("p50", "p99")), f"{rate / baseline:.2f}"])

        def webhook(session, i):
            payment = created[i]
            body = json.dumps({"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"],
                               "amount": payment["amount"], "status": "SUCCESS", "ref_no": f"{i:012d}"}).encode()
            check(session.post(f"{url}/webhooks/qris", data=body,
                               headers=signed_headers(WEBHOOK_SECRET, body, f"evt-{run}-{i}")), 200)

        rate, latencies = load(n, clients, webhook)
        rows.append(["POST /webhooks/qris (PENDING→PAID)", f"{rate:.0f}",
                     *(f"{summary(latencies)[k]:.1f}" for k in ("p50", "p99")), f"{rate / baseline:.2f}"])

    print_table(f"{n} requests per row, {clients} client threads, waitress --threads {args.threads}, SQLite (WAL, synchronous=FULL)",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "vs hello-world"], rows)


if __name__ == "__main__":
    main()
