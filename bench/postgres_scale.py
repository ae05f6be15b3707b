"""Past one machine: two Kasir server processes on one PostgreSQL database against one, as a ratio.

Starts a throwaway PostgreSQL cluster with the repository's .ci/postgres (Debian's postgresql; loopback
only, trust auth, durability off: the data is thrown away; stopped and deleted at exit, whatever happens),
then two `python -m kasir serve --threads T` processes from --code on that one database (two instance
folders with the same keys, as two machines would share them). The same C keep-alive clients
(bench.harness.Connection) send N requests per row, in R rounds that alternate: all clients to process A
(one process), then the clients split between A and B (two processes). Prints req/s per row and the
ratio two/one. Target (issue #22): two processes >= 1.6x one.

The clients run on the same machine as both servers and the database: on a 2-core machine two processes
cannot show much, so the core count is printed beside the ratio.

    python bench/postgres_scale.py [--code DIR] [--requests 1000] [--clients 8] [--rounds 3] [--threads 8]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ROOT,
    api_token,
    bench_parser,
    kasir_env,
    kasir_instance,
    parse_args,
    print_table,
    run_load,
    serve,
    signed_webhook,
)

CLUSTER_SCRIPT = ROOT / ".ci" / "postgres"
TIME_LIMIT_SECONDS = 120  # per round


@contextmanager
def postgres_cluster():
    """A throwaway cluster on a free loopback port; yields its URL; stopped and deleted at exit."""
    folder = Path(tempfile.mkdtemp(prefix="kasir-bench-pg-"))
    try:
        url = subprocess.run([str(CLUSTER_SCRIPT), "start", str(folder)], check=True, capture_output=True, text=True,
                             timeout=120).stdout.strip().splitlines()[-1]
        yield url
    finally:
        if (folder / "data" / "postmaster.pid").exists():
            subprocess.run([str(CLUSTER_SCRIPT), "stop", str(folder)], timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)
    n, clients, rounds = args.requests, args.clients, args.rounds
    per_round = max(1, n // rounds)
    rows = []

    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_cluster())
        instance, environment = stack.enter_context(kasir_instance(args.code, DATABASE_URL=database_url))
        second = Path(tempfile.mkdtemp(prefix="kasir-bench-"))  # the other machine: the same keys and database
        stack.callback(shutil.rmtree, second, ignore_errors=True)
        shutil.copytree(instance, second, dirs_exist_ok=True)
        first_server = stack.enter_context(serve(args.code, instance, environment, args.threads))
        second_server = stack.enter_context(
            serve(args.code, second, kasir_env(args.code, second, DATABASE_URL=database_url), args.threads))
        one, two = [first_server.url], [first_server.url, second_server.url]
        auth = {"Authorization": f"Bearer {api_token(args.code, instance, DATABASE_URL=database_url)}",
                "Content-Type": "application/json"}
        run = uuid.uuid4().hex[:6]
        created: dict[str, list[dict]] = {"one": [], "two": []}

        def create(label):
            def request(i):
                body = json.dumps({"order_id": f"PG-{run}-{label}-{i}", "amount": 10000 + i}).encode()
                return "POST", "/payments", {**auth, "Idempotency-Key": f"pg-{run}-{label}-{i}"}, body, {201}
            return request

        def webhook(label):
            def request(i):
                payment = created[label][i]
                body = json.dumps({"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"],
                                   "amount": payment["amount"], "status": "SUCCESS", "ref_no": f"{i:012d}"}).encode()
                return "POST", "/webhooks/qris", signed_webhook(body, f"pg-{run}-{label}-{i}"), body, {200}
            return request

        def poll(label):
            return lambda i: ("GET", f"/payments/{created[label][i % len(created[label])]['payment_id']}", auth, b"",
                              {200})

        def measure(title, make_request, keep=False):
            """Alternating rounds on one process and on two; the row's req/s for each."""
            elapsed, done = {"one": 0.0, "two": 0.0}, {"one": 0, "two": 0}
            for round_number in range(rounds):
                for label, urls in (("one", one), ("two", two)):
                    offset = round_number * per_round
                    answers: dict[int, dict] = {}
                    request = make_request(label)
                    rate, latencies = run_load(
                        urls, clients, per_round, lambda i: request(offset + i), TIME_LIMIT_SECONDS,
                        on_answer=(lambda i, body: answers.__setitem__(offset + i, json.loads(body))) if keep else None)
                    elapsed[label] += len(latencies) / rate
                    done[label] += len(latencies)
                    created[label].extend(answers[i] for i in sorted(answers))
            rates = {label: done[label] / elapsed[label] for label in elapsed}
            rows.append([title, f"{rates['one']:.0f}", f"{rates['two']:.0f}", f"{rates['two'] / rates['one']:.2f}"])

        measure("POST /payments (new, keyed)", create, keep=True)
        measure("POST /webhooks/qris (PENDING→PAID)", webhook)
        measure("GET /payments/<id> (API key)", poll)

    print_table(f"{n} requests per row and per setup, in {rounds} alternating rounds; {clients} keep-alive clients, "
                f"waitress --threads {args.threads} per process, one PostgreSQL database; this machine has "
                f"{os.cpu_count()} cores (clients, servers and database share them). Target: two >= 1.6x one",
                ["endpoint", "one process req/s", "two processes req/s", "two / one"], rows)


if __name__ == "__main__":
    main()
