"""The catalogue at minimarket size: CSV import of N products, search-as-you-type and scan → cart.

Starts Kasir from --code (`python -m kasir serve`, SQLite, LOG_FORMAT=json) on loopback and builds the catalogue
through the admin's own CSV import: one upload of N generated products (realistic names: brand, product,
variant, size; unique SKU and EAN-13 barcode), timed from the POST until the progress component says it is done
(the import figure; the server's own figure, upload to end, is read from its import record); then the same
products again with new prices (every row an update, and a PriceChange audit row each).
Then, from one cashier on one keep-alive connection (bench.harness.Connection), as a till sends them:
- search-as-you-type: `GET /pos/products?q=` with the prefixes typed on the way to 1–3 words of a product
  name ("in", "ind", "indomie g", …), from common words (thousands of matches) and rare ones (a few);
- scan → cart: `POST /pos/cart/scan` with a product's barcode (the cart is emptied, unmeasured, every 20 lines).
Each row is measured in rounds, each right after a round of the same size of the bare Flask JSON view on
waitress with the same threads (bench.harness), and printed with p50/p95/p99 of both and the p95 ratio.
Two figures per request: round trip on loopback (client side) and server time, the `duration_ms` Kasir's
request log writes for it (before_request to after_request: the view and its database work, without
waitress and the socket), matched by the X-Request-Id the bench sends. Targets (issue #24): scan → cart p95
<= 30 ms and search p95 <= 50 ms server time at 50 000 products; import of 50 000 rows <= 20 s.

    python bench/catalogue.py [--code DIR] [--products 50000] [--searches 600] [--scans 400] [--rounds 4]
"""
import json
import random
import re
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FLASK_HELLO_WORLD,
    HELLO_REQUEST,
    Connection,
    bench_parser,
    cashier_session,
    cookie_header,
    hello_world_server,
    kasir_cli,
    kasir_instance,
    parse_args,
    print_table,
    serve,
    summary,
)

ADMIN = ("benchadmin", "bench-catalogue-admin-2026")
IMPORT_TIME_LIMIT = 300  # seconds: the bench gives up waiting for the import after this
CART_LINES = 20  # the cart is emptied after this many scans, as a shop's cart would be

BRANDS = ["Indomie", "Sedaap", "Sarimi", "Aqua", "Le Minerale", "Teh Pucuk", "Sosro", "Ultra", "Frisian Flag",
          "Indomilk", "Bear Brand", "Kapal Api", "ABC", "Good Day", "Torabika", "Nescafe", "Chitato", "Qtela",
          "Taro", "Oreo", "Roma", "Khong Guan", "Tango", "Beng Beng", "SilverQueen", "Lifebuoy", "Lux", "Dettol",
          "Pepsodent", "Ciptadent", "Sunsilk", "Clear", "Pantene", "Rinso", "Attack", "So Klin", "Molto",
          "Sunlight", "Mama Lemon", "Bango", "Sasa", "Masako", "Royco", "Kecap Nasional", "Sania", "Bimoli",
          "Filma", "Gulaku", "Rose Brand", "Blue Band"]
PRODUCTS = ["Goreng", "Soto", "Kari Ayam", "Ayam Bawang", "Rendang", "Air Mineral", "Teh Melati", "Susu Coklat",
            "Susu Stroberi", "Kopi Susu", "Kopi Hitam", "Keripik Kentang", "Biskuit Kelapa", "Wafer Coklat",
            "Sabun Mandi", "Sampo", "Pasta Gigi", "Deterjen Bubuk", "Pelembut", "Sabun Cuci Piring", "Kecap Manis",
            "Saus Sambal", "Penyedap Rasa", "Minyak Goreng", "Gula Pasir", "Tepung Terigu", "Margarin", "Mentega",
            "Permen Mint", "Coklat Batang"]
VARIANTS = ["Original", "Pedas", "Extra Pedas", "Jumbo", "Mini", "Lite", "Premium", "Spesial", "Keju", "Barbeque",
            "Rumput Laut", "Jeruk", "Apel", "Vanila", "Lemon", "Mint", "Lavender", "Sakura", "Segar", "Hemat"]
SIZES = ["50 g", "75 g", "85 g", "100 g", "200 g", "250 ml", "330 ml", "600 ml", "1 L", "1,5 L", "2 kg", "5 kg"]
CATEGORIES = ["Makanan Instan", "Minuman", "Susu", "Kopi", "Camilan", "Perawatan Diri", "Kebersihan", "Bumbu",
              "Sembako"]


def ean13(number: int) -> str:
    body = f"8997{number:08d}"  # not the demo catalogue's 899000…
    check = (10 - sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body)) % 10) % 10
    return body + str(check)


def catalogue(count: int, rng: random.Random) -> list[tuple[str, str, str, str, int, int]]:
    """`count` products: (sku, barcode, name, category, price, stock). Names repeat their brand and product words
    a lot (common prefixes), and a serial in some names makes rare words too."""
    rows = []
    for n in range(1, count + 1):
        name = f"{rng.choice(BRANDS)} {rng.choice(PRODUCTS)} {rng.choice(VARIANTS)} {rng.choice(SIZES)}"
        if n % 7 == 0:
            name += f" Seri{n:05d}"  # a rare word: one product
        rows.append((f"BNC-{n:06d}", ean13(n), name, rng.choice(CATEGORIES), rng.randrange(10, 2000) * 100,
                     rng.randrange(0, 200)))
    return rows


def csv_bytes(rows) -> bytes:
    lines = ["sku,barcode,name,category,price,stock,active"]
    lines += [f'{sku},{barcode},"{name}",{category},{price},{stock},1'
              for sku, barcode, name, category, price, stock in rows]
    return ("\n".join(lines) + "\n").encode()


def typed_prefixes(rows, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(kind, text) of what a cashier types, letter by letter from 2 letters on, towards 1–3 words of a
    product's name or (6 times in 10) its brand and serial; the kind is the typed text's (`_kind`)."""
    prefixes: list[tuple[str, str]] = []
    serials = [row for row in rows if " Seri" in row[2]]
    while len(prefixes) < count:
        rare = rng.random() < 0.6
        _sku, _barcode, name, *_rest = rng.choice(serials if rare else rows)
        words = name.lower().split()
        target = f"{words[0]} {words[-1]}" if rare else " ".join(words[:rng.randint(1, 3)])
        prefixes += [(_kind(target[:end]), target[:end]) for end in range(2, len(target) + 1)
                     if not target[:end].endswith(" ")]
    return prefixes[:count]


def _kind(typed: str) -> str:
    """"rare" once the last word typed narrows to a few serials ("seri012": at most 7 of 50 000), else
    "common" (a brand or product word: hundreds to thousands of names)."""
    last = typed.split()[-1]
    return "rare" if len(typed.split()) > 1 and last.startswith("seri") and len(last) >= 7 else "common"


def admin_session(base_url: str) -> tuple[requests.Session, str]:
    """Log in as the bench's admin: the session and the import page's CSRF token."""
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{base_url}/login").text).group(1)
    session.post(f"{base_url}/login", data={"csrf_token": token, "mode": "password", "username": ADMIN[0],
                                           "password": ADMIN[1]})
    page = session.get(f"{base_url}/admin/products/import").text
    return session, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def import_catalogue(base_url: str, database: Path, body: bytes) -> list[str]:
    """Upload the CSV and wait for the end of its import: lines to print."""
    session, token = admin_session(base_url)
    started = time.perf_counter()
    answer = session.post(f"{base_url}/admin/products/import", data={"csrf_token": token},
                          files={"file": ("katalog.csv", body, "text/csv")}, allow_redirects=False)
    checked = time.perf_counter() - started
    progress = answer.headers.get("Location", "")
    if answer.status_code != 302 or "/admin/products/import/" not in progress:
        text = " ".join(re.sub(r"<[^>]+>", " ", answer.text).split())
        raise SystemExit(f"upload answered {answer.status_code}: {text[-1500:]}")
    progress_url = f"{base_url}{urlsplit(progress).path}/progress"
    deadline = started + IMPORT_TIME_LIMIT
    polls = 0
    while time.perf_counter() < deadline:
        fragment = session.get(progress_url).text
        polls += 1
        if "Impor selesai" in fragment or "Impor berhenti" in fragment:
            break
        time.sleep(0.25)
    else:
        raise SystemExit(f"import not done after {IMPORT_TIME_LIMIT} s")
    elapsed = time.perf_counter() - started
    if "Impor selesai" not in fragment:
        raise SystemExit(f"import stopped: {re.sub(r'<[^>]+>', ' ', fragment)[:500]}")
    with closing(sqlite3.connect(database)) as connection:
        total, created, updated, server_seconds = connection.execute(
            "SELECT total_rows, created, updated, (julianday(finished_at) - julianday(created_at)) * 86400 "
            "FROM product_imports ORDER BY id DESC LIMIT 1").fetchone()
    return [f"CSV import of {total} rows ({len(body) / 1e6:.1f} MB): {elapsed:.1f} s from upload to 'Impor selesai' "
            f"(upload + whole-file check {checked:.1f} s, then {polls} progress polls); server record "
            f"{server_seconds:.1f} s; {created} added, {updated} updated. Target <= 20 s."]


def server_times(log_path: Path, prefix: str) -> dict[str, float]:
    """duration_ms of the requests whose X-Request-Id starts with `prefix`, from Kasir's JSON request log."""
    found = {}
    for line in log_path.read_text().splitlines():
        if f'"request_id": "{prefix}' in line and '"duration_ms"' in line:
            entry = json.loads(line)
            found[entry["request_id"]] = entry["duration_ms"]
    return found


def paired_rounds(baseline: Connection, kasir: Connection, requests_: list, rounds: int, between=None):
    """Each request of `requests_` (method, path, headers, body, expected) on `kasir`, in `rounds` rounds, each
    right after as many bare Flask view requests: (kasir round trips, baseline round trips) in ms."""
    per_round = max(1, len(requests_) // rounds)
    timed, base = [], []
    for start in range(0, per_round * rounds, per_round):
        for _ in range(per_round):
            began = time.perf_counter()
            baseline.request(*HELLO_REQUEST[:4])
            base.append((time.perf_counter() - began) * 1000)
        for index in range(start, start + per_round):
            method, path, headers, body, expected = requests_[index]
            began = time.perf_counter()
            status, answer = kasir.request(method, path, headers, body)
            timed.append((time.perf_counter() - began) * 1000)
            if status not in expected:
                raise SystemExit(f"{method} {path} answered {status}: {answer[:300]!r}")
            if between:
                between(index)
    return timed, base


def row(label: str, values: list[float], baseline: list[float] | None = None) -> list[str]:
    stats = summary(values)
    ratio = f"{stats['p95'] / summary(baseline)['p95']:.1f}" if baseline else ""
    return [label, str(stats["n"]), f"{stats['p50']:.1f}", f"{stats['p95']:.1f}", f"{stats['p99']:.1f}", ratio]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--searches", type=int, default=600)
    parser.add_argument("--scans", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parse_args(parser)
    rng = random.Random(24)
    products = catalogue(args.products, rng)
    body = csv_bytes(products)

    with kasir_instance(args.code, LOG_FORMAT="json") as (instance, environment):
        kasir_cli(args.code, environment, "user", "create", ADMIN[0], "--role", "admin", "--password", ADMIN[1])
        with serve(args.code, instance, environment, args.threads) as server, \
                hello_world_server(args.threads, FLASK_HELLO_WORLD) as flask_view:
            lines = import_catalogue(server.url, instance / "kasir.db", body)
            # A new price list for the same products: every row an update (and a PriceChange audit row).
            repriced = [(sku, barcode, name, category, price + 100, stock)
                        for sku, barcode, name, category, price, stock in products]
            lines += import_catalogue(server.url, instance / "kasir.db", csv_bytes(repriced))
            session, headers, _page = cashier_session(server.url)
            headers = {**headers, "Cookie": cookie_header(session)}
            form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            found = session.get(f"{server.url}/pos/products", params={"q": products[-1][2]}, headers=headers).text
            lines.append(f"Search for the last imported name finds it: {products[-1][2] in found}")
            baseline, kasir = Connection(flask_view), Connection(server.url)
            for _ in range(50):  # warm-up of both
                baseline.request(*HELLO_REQUEST[:4])
                kasir.request("GET", "/pos/products?q=in", headers)

            prefixes = typed_prefixes(products, rng, args.searches)
            searches = [("GET", "/pos/products?" + urlencode({"q": text}),
                         {**headers, "X-Request-Id": f"bs-{kind}-{index}"}, b"", {200})
                        for index, (kind, text) in enumerate(prefixes)]
            search_trips, search_base = paired_rounds(baseline, kasir, searches, args.rounds)

            scanned = [rng.choice(products) for _ in range(args.scans)]
            scans = [("POST", "/pos/cart/scan", {**form, "X-Request-Id": f"bc-{index}"},
                      f"q={barcode}".encode(), {200}) for index, (_sku, barcode, *_rest) in enumerate(scanned)]

            def empty_cart(index: int) -> None:
                if (index + 1) % CART_LINES == 0:
                    kasir.request("POST", "/pos/cart/clear", form)

            scan_trips, scan_base = paired_rounds(baseline, kasir, scans, args.rounds, empty_cart)
            baseline.close()
            kasir.close()
            time.sleep(0.5)  # the last log lines reach the file
            log_path = next(instance.glob("server-*.log"))
            search_server = server_times(log_path, "bs-")
            scan_server = server_times(log_path, "bc-")

    kinds = {kind: [value for key, value in search_server.items() if key.startswith(f"bs-{kind}-")]
             for kind in ("common", "rare")}
    trips = {kind: [trip for trip, (k, _text) in zip(search_trips, prefixes) if k == kind] for kind in kinds}
    print("\n".join(lines))
    print_table(f"{args.products} products, SQLite, one cashier on one keep-alive connection, waitress --threads "
                f"{args.threads}; {args.rounds} rounds each right after as many bare Flask JSON view requests. "
                f"Targets: search p95 <= 50 ms, scan -> cart p95 <= 30 ms (server time)",
                ["request", "n", "p50 ms", "p95 ms", "p99 ms", "p95 vs Flask view"],
                [row("bare Flask JSON view (baseline, round trip)", search_base + scan_base),
                 row("search as you type, all prefixes: round trip", search_trips, search_base),
                 row("search as you type, all prefixes: server time", list(search_server.values())),
                 row("  common words: server time", kinds["common"]),
                 row("  common words: round trip", trips["common"], search_base),
                 row("  rare words: server time", kinds["rare"]),
                 row("  rare words: round trip", trips["rare"], search_base),
                 row("scan -> cart (POST /pos/cart/scan): round trip", scan_trips, scan_base),
                 row("scan -> cart (POST /pos/cart/scan): server time", list(scan_server.values()))])


if __name__ == "__main__":
    main()
