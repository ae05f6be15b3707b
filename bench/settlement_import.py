"""Settlement import: `reconcile.run` over a 100 000-row gateway CSV, next to reading the same file with
the csv module and inserting its rows with executemany into an SQLite table (the floor any import pays).

Uses a temporary SQLite instance migrated by the real migrations; prints seconds and the ratio.

    python bench/settlement_import.py [--rows 100000]
"""
import argparse
import csv
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from bench.harness import print_table  # noqa: E402
from kasir import create_app  # noqa: E402
from kasir.reports import reconcile  # noqa: E402

HEADER = "provider_trx_id,order_id,amount,fee,net_amount,settlement_date,status\n"


def write_file(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write(HEADER)
        for number in range(rows):
            out.write(f"trx-{number:06d},WEB-{number:06d},27500,193,27307,2026-11-24,settlement\n")


def baseline_seconds(path: Path, folder: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(folder / "baseline.db")
    connection.execute("CREATE TABLE rows (trx_id, order_id, amount, fee, net_amount, day, status)")
    with path.open(newline="") as lines:
        reader = csv.reader(lines)
        next(reader)
        connection.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)", reader)
    connection.commit()
    connection.close()
    return time.perf_counter() - started


def kasir_seconds(path: Path, folder: Path) -> float:
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'kasir.db'}",
                      "JOBS_ENABLED": False, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        started = time.perf_counter()
        reconcile.run(date(2026, 11, 24), path)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasir-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "settlement.csv"
        write_file(path, args.rows)
        floor = baseline_seconds(path, folder)
        seconds = kasir_seconds(path, folder)
    print_table(f"Settlement import, {args.rows} rows", ["what", "seconds", "ratio to the floor"],
                [["csv + executemany (floor)", f"{floor:.2f}", "1.0"],
                 ["reconcile.run", f"{seconds:.2f}", f"{seconds / floor:.1f}"]])


if __name__ == "__main__":
    main()
