"""Status polling with many concurrent pollers, next to a waitress hello-world measured in the same run.

What tills, customer displays and other apps poll every second: the till's QR status
(`/pos/payments/<id>/status`, cashier session), the customer display (`/display/<register>/state`, both
the 204 "nothing changed" answer and the full partial) and the API's `GET /payments/<id>` (API key).
Starts `python -m kasir serve --threads T` with one register per poller, each with an open QR, and a
waitress hello-world with the same thread count (plus a bare Flask JSON view, the issue's yardstick); P keep-alive
pollers (bench.harness.Connection, one thread each, the same client for both servers) send N requests per
row back to back, in R rounds each right after a hello-world round of the same size (bench.harness.paired_load).
Prints req/s, p50 and p99, with req/s (median over the rounds) and p99 as ratios of the hello-world's.

    python bench/polling.py [--pollers 20] [--requests 5000] [--rounds 5] [--threads 8]
"""
import argparse
import json
import re
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FLASK_HELLO_WORLD,
    HELLO_REQUEST,
    Connection,
    api_token,
    cashier_session,
    cookie_header,
    hello_world_server,
    kasir_server,
    paired_load,
    print_table,
    run_load,
    summary,
)

TIME_LIMIT_SECONDS = 60  # per row


def open_qr(base_url: str, register: str) -> tuple[dict, str]:
    """A cashier on `register` with one item in the cart and its QR open: (htmx headers with cookie, payment id)."""
    session, headers = cashier_session(base_url, register)
    session.post(f"{base_url}/pos/cart/scan", data={"q": "SKU0001"}, headers=headers)
    modal = session.post(f"{base_url}/pos/checkout/qris", headers=headers).text
    payment_id = modal.split('data-payment="', 1)[1].split('"', 1)[0]
    return {**headers, "Cookie": cookie_header(session)}, payment_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    pollers, n = args.pollers, args.requests
    rows, hello_rates, hello_latencies = [], [], []

    with hello_world_server(args.threads) as hello:
        run_load(hello, pollers, n // args.rounds, lambda i: HELLO_REQUEST, TIME_LIMIT_SECONDS)  # warm-up

        def measure(label, base_url, make_request):
            paired = paired_load(hello, base_url, pollers, n, make_request, args.rounds, TIME_LIMIT_SECONDS)
            stats = summary(paired.latencies)
            rows.append([label, f"{paired.rate:.0f}", f"{stats['p50']:.1f}", f"{stats['p99']:.1f}",
                         f"{paired.ratio:.2f}", f"{paired.p99_ratio:.1f}"])
            hello_latencies.extend(paired.hello_latencies)
            hello_rates.append(paired.hello_rate)

        with hello_world_server(args.threads, FLASK_HELLO_WORLD) as flask_hello:
            run_load(flask_hello, pollers, n // args.rounds, lambda i: HELLO_REQUEST, TIME_LIMIT_SECONDS)  # warm-up
            measure("bare Flask JSON view (yardstick)", flask_hello, lambda i: HELLO_REQUEST)
        with kasir_server(args.threads, registers=pollers) as (url, instance):
            tills = [open_qr(url, str(code)) for code in range(1, pollers + 1)]
            measure("GET /pos/payments/<id>/status (till)", url,
                    lambda i: ("GET", f"/pos/payments/{tills[i % pollers][1]}/status", tills[i % pollers][0], b"",
                               {200}))

            versions = {}
            reader = Connection(url)
            for code in range(1, pollers + 1):
                status, body = reader.request("GET", f"/display/{code}/state")
                versions[code] = re.search(rb'data-version="([^"]+)"', body).group(1).decode()
            reader.close()
            measure("GET /display/<register>/state (204 unchanged)", url,
                    lambda i: ("GET", f"/display/{i % pollers + 1}/state?v={versions[i % pollers + 1]}", {}, b"",
                               {204}))
            measure("GET /display/<register>/state (200, QR shown)", url,
                    lambda i: ("GET", f"/display/{i % pollers + 1}/state", {}, b"", {200}))

            auth = {"Authorization": f"Bearer {api_token(instance)}", "Content-Type": "application/json"}
            payment_ids = []
            writer = Connection(url)
            for i in range(pollers):
                body = json.dumps({"order_id": f"POLL-{uuid.uuid4().hex[:8]}", "amount": 10000 + i}).encode()
                status, answer = writer.request("POST", "/payments", auth, body)
                payment_ids.append(json.loads(answer)["payment_id"])
            writer.close()
            measure("GET /payments/<id> (API key)", url,
                    lambda i: ("GET", f"/payments/{payment_ids[i % pollers]}", auth, b"", {200}))

    stats = summary(hello_latencies)
    rows.insert(0, ["waitress hello-world GET (paired rounds)", f"{statistics.median(hello_rates):.0f}",
                    f"{stats['p50']:.1f}", f"{stats['p99']:.1f}", "1.00", "1.0"])
    print_table(f"{n} requests per row in {args.rounds} rounds, each right after a hello-world round; "
                f"{pollers} concurrent keep-alive pollers, waitress --threads {args.threads}, SQLite",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "req/s vs hello", "p99 vs hello"], rows)

if __name__ == "__main__":
    main()
