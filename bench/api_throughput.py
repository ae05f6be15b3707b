"""API throughput on SQLite: POST /payments and POST /webhooks/qris, next to a waitress hello-world.

Starts Kasir from --code (`python -m kasir serve`, RATELIMIT_ENABLED=false, temporary instance, mock
provider, SQLite as the code sets it up: WAL with synchronous=FULL) and a plain waitress hello-world with
the same thread count on loopback, then sends a bounded number of requests over C keep-alive connections
(bench.harness.Connection, one thread each; the same client for both servers), in R rounds each right after
a hello-world round of the same size (bench.harness.paired_load), and prints req/s, p50 and p99 per
endpoint, and req/s as a fraction of the hello-world's (median over the rounds). The webhooks are signed
as the mock provider expects (bench.harness.signed_webhook). Targets (issue #22): POST /payments >= 150/s,
webhooks >= 250/s.

    python bench/api_throughput.py [--code DIR] [--requests 1000] [--clients 8] [--rounds 5] [--threads 8]
"""
import json
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    HELLO_REQUEST,
    api_token,
    bench_parser,
    hello_world_server,
    kasir_server,
    paired_load,
    parse_args,
    print_table,
    run_load,
    signed_webhook,
    summary,
)

TIME_LIMIT_SECONDS = 120  # per row


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)
    n, clients = args.requests, args.clients
    rows, hello_rates, hello_latencies = [], [], []

    with hello_world_server(args.threads) as hello, \
            kasir_server(args.code, args.threads) as server:
        url = server.url
        run_load(hello, clients, n // args.rounds, lambda i: HELLO_REQUEST, TIME_LIMIT_SECONDS)  # warm-up

        def measure(label, make_request, on_answer=None):
            paired = paired_load(hello, url, clients, n, make_request, args.rounds, TIME_LIMIT_SECONDS, on_answer)
            stats = summary(paired.latencies)
            rows.append([label, f"{paired.rate:.0f}", f"{stats['p50']:.1f}", f"{stats['p99']:.1f}",
                         f"{paired.ratio:.2f}"])
            hello_latencies.extend(paired.baseline_latencies)
            hello_rates.append(paired.baseline_rate)

        auth = {"Authorization": f"Bearer {api_token(args.code, server.instance)}"}
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
            return ("POST", "/webhooks/qris", signed_webhook(body, f"evt-{run}-{i}"), body, {200})

        measure("POST /webhooks/qris (PENDING→PAID)", webhook)

    stats = summary(hello_latencies)
    rows.insert(0, ["waitress hello-world GET (paired rounds)", f"{statistics.median(hello_rates):.0f}",
                    f"{stats['p50']:.1f}", f"{stats['p99']:.1f}", "1.00"])
    print_table(f"{n} requests per row in {args.rounds} rounds, each right after a hello-world round; {clients} "
                f"keep-alive clients, waitress --threads {args.threads}, SQLite (WAL, synchronous=FULL)",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "vs hello-world"], rows)

if __name__ == "__main__":
    main()
