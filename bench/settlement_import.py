"""Settlement import: `python -m kasir reconcile --file` over a 100 000-row gateway CSV, next to reading the
same file with the csv module and inserting its rows with executemany into an SQLite table (the floor any
import pays).

Kasir runs from --code in a child process (cwd and PYTHONPATH set to DIR) on a temporary SQLite instance
migrated by its own migrations; the child times only the command (Flask's CLI runner, in-process), not its
imports. Prints seconds and the ratio.

    python bench/settlement_import.py [--code DIR] [--rows 100000]
"""
import csv
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import CLI_TIMEOUT_SECONDS, bench_parser, kasir_env, parse_args, print_table  # noqa: E402

HEADER = "provider_trx_id,order_id,amount,fee,net_amount,settlement_date,status\n"
DAY = "2026-11-24"
# Run in the child, from the code under test: migrate, then time `reconcile --date DAY --file CSV`.
CHILD = """
import sys, time
from kasir import create_app
runner = create_app().test_cli_runner()
for args in (["db", "upgrade"], ["reconcile", "--date", sys.argv[1], "--file", sys.argv[2]]):
    started = time.perf_counter()
    result = runner.invoke(args=args)
    if result.exit_code != 0:
        sys.exit(f"{args[0]} failed: {result.output[-2000:]} {result.exception!r}")
print(time.perf_counter() - started)
"""


def write_file(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write(HEADER)
        for number in range(rows):
            out.write(f"trx-{number:06d},WEB-{number:06d},27500,193,27307,{DAY},settlement\n")


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


def kasir_seconds(code: Path, path: Path, folder: Path) -> float:
    answer = subprocess.run([sys.executable, "-c", CHILD, DAY, str(path)], cwd=code, env=kasir_env(code, folder),
                            check=True, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS)
    return float(answer.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parse_args(parser)
    with tempfile.TemporaryDirectory(prefix="kasir-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "settlement.csv"
        write_file(path, args.rows)
        floor = baseline_seconds(path, folder)
        seconds = kasir_seconds(args.code, path, folder)
    print_table(f"Settlement import, {args.rows} rows", ["what", "seconds", "ratio to the floor"],
                [["csv + executemany (floor)", f"{floor:.2f}", "1.0"],
                 ["python -m kasir reconcile --file", f"{seconds:.2f}", f"{seconds / floor:.1f}"]])


if __name__ == "__main__":
    main()
