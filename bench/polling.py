"""Status polling with many concurrent pollers, as ratios of a bare Flask JSON view measured in the same run.

What tills, customer displays and other apps poll every second: the till's QR status
(`/pos/payments/<id>/status`, cashier session), the customer display's state (`/display/<register>/state`:
the "nothing changed" answer, as the page asks for it, and the full partial) and the API's
`GET /payments/<id>` (API key). Starts Kasir from --code (`python -m kasir serve --threads T`) with one
register per poller, each with an open QR, and two baselines on waitress with the same thread count: a bare
Flask JSON view (the issue's yardstick) and a bare WSGI hello-world (the machine's, for reference).
P keep-alive pollers (bench.harness.Connection, one thread each, the same client for every server) send N
requests per row back to back, in R rounds each right after a round of the Flask view
(bench.harness.paired_load). Prints req/s, p50 and p99, and req/s (median over the rounds) and p99 as ratios
of the Flask view's. Targets (issue #22): each poll >= 0.35 of the Flask view, p99 <= 4x.

    python bench/polling.py [--code DIR] [--pollers 20] [--requests 5000] [--rounds 5] [--threads 8]
"""
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
    bench_parser,
    cashier_session,
    cookie_header,
    hello_world_server,
    kasir_server,
    open_qr,
    paired_load,
    parse_args,
    poll_url,
    print_table,
    run_load,
    summary,
)

TIME_LIMIT_SECONDS = 60  # per round


def till_poll(base_url: str, register: str) -> tuple[dict, str, int]:
    """A till on `register` with its QR open: (its headers, cookie included; the status poll's path: the
    partial's own `hx-get`, with `?v=` when the code has a version there; the status it gets)."""
    session, headers, _page = cashier_session(base_url, register)
    payment_id, modal = open_qr(base_url, session, headers)
    path = poll_url(modal, "qris-status") or f"/pos/payments/{payment_id}/status"
    headers = {**headers, "Cookie": cookie_header(session)}
    connection = Connection(base_url)
    try:
        status, _body, _fields = connection.exchange("GET", path, headers)
    finally:
        connection.close()
    return headers, path, status


def unchanged_display_poll(base_url: str, code: int) -> tuple[str, dict, int]:
    """What a display page asks once it shows the current state: the partial's own `hx-get` (with `?v=` if
    the code puts it there) and If-None-Match when the answer had an ETag; (path, headers, status it gets)."""
    connection = Connection(base_url)
    try:
        status, body, fields = connection.exchange("GET", f"/display/{code}/state")
        path = poll_url(body.decode(), "display-state") or f"/display/{code}/state"
        headers = {"If-None-Match": fields["etag"]} if "etag" in fields else {}
        status, _body, _fields = connection.exchange("GET", path, headers)
    finally:
        connection.close()
    return path, headers, status


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)
    pollers, n = args.pollers, args.requests
    rows, baseline_rates, baseline_latencies = [], [], []

    with hello_world_server(args.threads, FLASK_HELLO_WORLD) as flask_view, \
            hello_world_server(args.threads) as wsgi_hello:
        for url in (flask_view, wsgi_hello):  # warm-up
            run_load(url, pollers, n // args.rounds, lambda i: HELLO_REQUEST, TIME_LIMIT_SECONDS)

        def measure(label, base_url, make_request):
            paired = paired_load(flask_view, base_url, pollers, n, make_request, args.rounds, TIME_LIMIT_SECONDS)
            stats = summary(paired.latencies)
            rows.append([label, f"{paired.rate:.0f}", f"{stats['p50']:.1f}", f"{stats['p99']:.1f}",
                         f"{paired.ratio:.2f}", f"{paired.p99_ratio:.1f}"])
            baseline_latencies.extend(paired.baseline_latencies)
            baseline_rates.append(paired.baseline_rate)

        measure("bare WSGI hello-world (the machine's, reference)", wsgi_hello, lambda i: HELLO_REQUEST)
        with kasir_server(args.code, args.threads, registers=pollers) as server:
            url = server.url
            tills = [till_poll(url, str(code)) for code in range(1, pollers + 1)]
            waiting = sorted({status for _headers, _path, status in tills})
            example = re.sub(r"([?&]v=)[^&]*", r"\1<version>", tills[0][1].replace(tills[0][1].split("/")[3], "<id>"))
            measure(f"GET {example} (till, {'/'.join(map(str, waiting))})", url,
                    lambda i: ("GET", tills[i % pollers][1], tills[i % pollers][0], b"", set(waiting)))

            displays = [unchanged_display_poll(url, code) for code in range(1, pollers + 1)]
            unchanged = sorted({status for _path, _headers, status in displays})
            example = re.sub(r"([?&]v=)[^&]*", r"\1<version>", displays[0][0].replace("/1/", "/<register>/"))
            example += " + If-None-Match" if displays[0][1] else ""
            measure(f"GET {example} ({'/'.join(map(str, unchanged))} unchanged)", url,
                    lambda i: ("GET", displays[i % pollers][0], displays[i % pollers][1], b"", set(unchanged)))
            measure("GET /display/<register>/state (200, QR shown)", url,
                    lambda i: ("GET", f"/display/{i % pollers + 1}/state", {}, b"", {200}))

            auth = {"Authorization": f"Bearer {api_token(args.code, server.instance)}",
                    "Content-Type": "application/json"}
            payment_ids = []
            writer = Connection(url)
            for i in range(pollers):
                body = json.dumps({"order_id": f"POLL-{uuid.uuid4().hex[:8]}", "amount": 10000 + i}).encode()
                status, answer = writer.request("POST", "/payments", auth, body)
                payment_ids.append(json.loads(answer)["payment_id"])
            writer.close()
            measure("GET /payments/<id> (API key)", url,
                    lambda i: ("GET", f"/payments/{payment_ids[i % pollers]}", auth, b"", {200}))

    stats = summary(baseline_latencies)
    rows.insert(0, ["bare Flask JSON view (baseline, paired rounds)", f"{statistics.median(baseline_rates):.0f}",
                    f"{stats['p50']:.1f}", f"{stats['p99']:.1f}", "1.00", "1.0"])
    print_table(f"{n} requests per row in {args.rounds} rounds, each right after a round of the bare Flask view; "
                f"{pollers} concurrent keep-alive pollers, waitress --threads {args.threads}, SQLite. "
                f"Targets: polls >= 0.35 of the Flask view, p99 <= 4x",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "req/s vs Flask view", "p99 vs Flask view"], rows)


if __name__ == "__main__":
    main()
