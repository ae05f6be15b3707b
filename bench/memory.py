"""Memory: resident set size of the Kasir server after many payments, next to a waitress hello-world's.

Starts Kasir from --code (`python -m kasir serve --threads T`, temporary SQLite instance, mock provider,
jobs on, RATELIMIT_ENABLED=false) and a waitress hello-world with the same thread count, then creates N
payments through POST /payments over C keep-alive connections (bench.harness.Connection) and reads VmRSS
and VmHWM (peak) of each server process from /proc/<pid>/status at checkpoints. Linux only.
Target (issue #22): RSS <= 120 MB after 10 000 payments.

    python bench/memory.py [--code DIR] [--payments 10000] [--clients 8] [--threads 8]
"""
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    api_token,
    bench_parser,
    hello_world_process,
    kasir_server,
    parse_args,
    print_table,
    proc_status_kb,
    rss_mb,
    run_load,
)

TIME_LIMIT_SECONDS = 600
LIMIT_MB = 120


def peak_mb(pid: int) -> float:
    return proc_status_kb(pid, "VmHWM") / 1024


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)
    rows = []

    with hello_world_process(args.threads) as (hello, pid):
        run_load(hello, args.clients, args.payments, lambda i: ("GET", "/", {}, b"", {200}))
        hello_rss = rss_mb(pid)
        rows.append([f"waitress hello-world after {args.payments} requests (baseline)", f"{hello_rss:.1f}",
                     f"{peak_mb(pid):.1f}", "1.0"])

    with kasir_server(args.code, args.threads) as server:
        url, pid = server.url, server.pid
        auth = {"Authorization": f"Bearer {api_token(args.code, server.instance)}",
                "Content-Type": "application/json"}
        run = uuid.uuid4().hex[:6]

        def create(i):
            body = json.dumps({"order_id": f"M-{run}-{i}", "amount": 10000 + i % 90000}).encode()
            return "POST", "/payments", {**auth, "Idempotency-Key": f"m-{run}-{i}"}, body, {201}

        def checkpoint(label):
            rss = rss_mb(pid)
            rows.append([label, f"{rss:.1f}", f"{peak_mb(pid):.1f}", f"{rss / hello_rss:.1f}"])

        checkpoint("Kasir serve, started")
        done = 0
        for target in sorted({min(1000, args.payments), args.payments}):
            rate, latencies = run_load(url, args.clients, target - done, lambda i: create(done + i), TIME_LIMIT_SECONDS)
            done += len(latencies)
            checkpoint(f"Kasir serve after {done} payments ({rate:.0f}/s)")

    print_table(f"RSS of the server process (MB), {args.clients} clients, waitress --threads {args.threads}, SQLite; "
                f"target ≤ {LIMIT_MB} MB after 10 000 payments",
                ["server", "RSS MB", "peak MB", "vs hello-world"], rows)


if __name__ == "__main__":
    main()
