"""Benchmark `manage.py load_csvs` on a realistic polls file: first load and re-load.

    .venv/bin/python benchmarks/bench_load.py [--rows 1850000] [--stores 14000] [--repeat 3] [--sqlite]
    .venv/bin/python benchmarks/bench_load.py --feeds-dir benchmarks/out/feeds-140000-6-1 [--repeat 3]

With ``--feeds-dir`` it loads a directory of feed files instead (e.g. one written by
``manage.py generate_sample_data``): ``manage.py load_csvs DIR`` into a fresh, empty database per
repeat, timed as a whole process, with the figures of each feed from the command's summary.

Creates a fresh database for every repeat (PostgreSQL: ``storemonitor_bench`` on
127.0.0.1:5432 as postgres; SQLite: a file under benchmarks/out/), migrates it, writes a polls
file shaped like the 2024 feed (UUID store ids, about hourly polls per store with jitter, in time
order, fractions without trailing zeros, a few repeated rows) and runs ``load_csvs`` as a child
process twice. Wall time is measured around the child; peak memory is the child's own maximum
resident set size, ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` taken in a small helper process
that starts it (see ``benchmarks/child_process.py``). On PostgreSQL it also times a plain ``\\copy`` of the same file
into an index-less table, the floor a loader can approach.

Targets (issue 2): 1.85 M polls into an empty PostgreSQL database in at most 30 s, re-load in at
most 30 s, peak memory at most 500 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import child_process  # benchmarks/child_process.py, beside this script
import numpy as np
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "benchmarks" / "out"  # git ignores it
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_DATABASE = "storemonitor_bench"
HOUR_US = 3_600_000_000
END = np.datetime64("2024-10-10T00:00:00", "us")
TARGET_SECONDS = 30.0
TARGET_PEAK_MB = 500.0


@dataclass
class Measurement:
    label: str
    rows: int
    seconds: float
    peak_mb: float | None
    output: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def generate_polls(path: Path, rows: int, stores: int, duplicates: int, seed: int) -> int:
    """Write the polls file; return how many distinct (store, timestamp) rows it holds."""
    rng = np.random.default_rng(seed)
    ids = np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(stores)], dtype=object)
    per_store = np.full(stores, rows // stores)
    per_store[: rows % stores] += 1
    store_of_row = np.repeat(np.arange(stores), per_store)
    first_row_of_store = np.cumsum(per_store) - per_store
    poll_number = np.arange(rows) - np.repeat(first_row_of_store, per_store)
    # Each store is polled about hourly at its own minute, with a minute or two of jitter.
    phase = rng.integers(0, HOUR_US, stores)
    jitter = rng.normal(0, 90e6, rows).astype(np.int64)
    micros = (poll_number - per_store.max()) * HOUR_US + phase[store_of_row] + jitter
    inactive = rng.random(rows) < 0.08
    # A few exact repeats of earlier rows, as overlapping exports produce.
    copies = rng.choice(rows, size=duplicates, replace=False)
    originals = rng.choice(rows, size=duplicates, replace=False)
    store_of_row[copies], micros[copies], inactive[copies] = (
        store_of_row[originals],
        micros[originals],
        inactive[originals],
    )
    order = np.argsort(micros, kind="stable")
    times = np.datetime_as_string(END + micros[order].astype("timedelta64[us]"), unit="us")
    # '2024-10-03T23:33:20.412740' -> '2024-10-03 23:33:20.41274', as the feeds write it.
    times = np.char.rstrip(np.char.rstrip(np.char.replace(times, "T", " "), "0"), ".")
    statuses = np.where(inactive[order], "inactive", "active")
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("store_id,status,timestamp_utc\n")
        chunk = 200_000
        for start in range(0, rows, chunk):
            part = slice(start, start + chunk)
            out.writelines(
                f"{store},{status},{when} UTC\n"
                for store, status, when in zip(
                    ids[store_of_row[order][part]], statuses[part].tolist(), times[part].tolist(), strict=True
                )
            )
    return len({(int(s), int(m)) for s, m in zip(store_of_row, micros, strict=True)})


def polls_file(rows: int, stores: int, duplicates: int, seed: int) -> tuple[Path, int]:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"store_status-{rows}-{stores}-{duplicates}-{seed}.csv"
    distinct_file = path.with_suffix(".distinct")
    if not (path.exists() and distinct_file.exists()):
        started = time.perf_counter()
        distinct = generate_polls(path, rows, stores, duplicates, seed)
        distinct_file.write_text(str(distinct))
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
    return path, int(distinct_file.read_text())


# Runs one command and writes "<wall seconds> <exit status> <peak RSS KiB>" to the file named
# first. A small process of its own: Linux counts the memory a child had before exec (the
# parent's, after fork) in its peak, so measuring straight from this benchmark, which holds numpy
# and the generated data, would overstate the loader's peak.
def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run and measure a child process that must succeed: its wall seconds, peak RSS in MB, output."""
    run = child_process.run_child(args, env)
    if run.status != 0:
        sys.exit(f"{' '.join(args)} failed with status {run.status}:\n{run.output}")
    return run.seconds, run.peak_mb, run.output


def fresh_postgresql(server: str, database: str = BENCH_DATABASE) -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {database}")
    return f"{server}/{database}"


def fresh_sqlite() -> str:
    path = OUT_DIR / "bench.sqlite3"
    for leftover in OUT_DIR.glob("bench.sqlite3*"):
        leftover.unlink()
    return f"sqlite:///{path}"


def copy_floor(database_url: str, path: Path, rows: int) -> Measurement:
    """A plain psql \\copy of the file into an index-less table."""
    sql = "CREATE TABLE copy_floor (store_id text, status text, timestamp_utc timestamptz)"
    subprocess.run(["psql", "-q", database_url, "-c", sql], check=True)
    seconds, _, _ = run_child(
        ["psql", "-q", database_url, "-c", f"\\copy copy_floor FROM '{path}' WITH (FORMAT csv, HEADER)"],
        dict(os.environ),
    )
    subprocess.run(["psql", "-q", database_url, "-c", "DROP TABLE copy_floor"], check=True)
    return Measurement("\\copy floor", rows, seconds, None)


def count_polls(database_url: str) -> int:
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return db.execute("SELECT count(*) FROM monitoring_statuspoll").fetchone()[0]
    with psycopg.connect(database_url) as db:
        return db.execute("SELECT count(*) FROM monitoring_statuspoll").fetchone()[0]


def one_repeat(args, path: Path, distinct: int) -> list[Measurement]:
    database_url = fresh_sqlite() if args.sqlite else fresh_postgresql(args.postgres_server, args.database)
    env = {**os.environ, "DATABASE_URL": database_url}
    manage = [sys.executable, "manage.py"]
    run_child([*manage, "migrate", "--noinput", "-v", "0"], env)
    measurements = []
    if not args.sqlite and shutil.which("psql"):
        measurements.append(copy_floor(database_url, path, args.rows))
    for label in ("first load", "re-load"):
        # --force: the re-load is measured reading and checking every row, not skipped by the
        # import ledger as content already imported (that takes only the hashing pass).
        seconds, peak_mb, output = run_child([*manage, "load_csvs", "--polls", str(path), "--force"], env)
        measurements.append(Measurement(label, args.rows, seconds, peak_mb, output))
        stored = count_polls(database_url)
        if stored != distinct:
            sys.exit(f"after the {label} the database holds {stored:,} polls, expected {distinct:,}")
    return measurements


# A feed's line of the load_csvs summary: "polls store_status.csv: 18,725,813 read, ... in 53.1 s".
FEED_LINE = re.compile(r"^(?P<feed>\w+) (?P<file>\S+): (?P<read>[\d,]+) read, .* in (?P<seconds>[\d.]+) s$")


def load_directory(args) -> None:
    """Whole-process ``load_csvs DIR`` into an empty database, ``args.repeat`` times."""
    directory = Path(args.feeds_dir).resolve()
    if not directory.is_dir():
        sys.exit(f"{directory} is not a directory")
    backend = "sqlite" if args.sqlite else "postgresql"
    print(f"{backend}: load_csvs {directory} into an empty database, {args.repeat} repeat(s)")
    runs: list[tuple[float, float, dict[str, tuple[int, float]]]] = []
    for number in range(1, args.repeat + 1):
        database_url = fresh_sqlite() if args.sqlite else fresh_postgresql(args.postgres_server, args.database)
        env = {**os.environ, "DATABASE_URL": database_url}
        run_child([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        seconds, peak_mb, output = run_child([sys.executable, "manage.py", "load_csvs", str(directory)], env)
        feeds = {
            f"{match['feed']} {match['file']}": (int(match["read"].replace(",", "")), float(match["seconds"]))
            for match in map(FEED_LINE.match, output.splitlines())
            if match
        }
        runs.append((seconds, peak_mb, feeds))
        per_feed = ", ".join(f"{name} {rows:,} rows {took:.1f} s" for name, (rows, took) in feeds.items())
        print(f"  repeat {number}: whole process {seconds:.1f} s, peak {peak_mb:.0f} MB ({per_feed})")
    best = min(runs, key=lambda run: run[0])
    seconds = sorted(run[0] for run in runs)
    print(
        f"best / median / worst whole process: {seconds[0]:.1f} / {statistics.median(seconds):.1f} / "
        f"{seconds[-1]:.1f} s; highest peak {max(run[1] for run in runs):.0f} MB"
    )
    for name in best[2]:
        print(f"  {name}: best {min(run[2][name][1] for run in runs if name in run[2]):.1f} s")


def print_table(title: str, measurements: list[Measurement]) -> None:
    print(title)
    print(f"  {'run':<12} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}")
    for m in measurements:
        peak = f"{m.peak_mb:.0f}" if m.peak_mb is not None else "-"
        print(f"  {m.label:<12} {m.rows:>10,} {m.seconds:>8.1f} {m.rows_per_second:>10,.0f} {peak:>8}")


def add_polls_file_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the generated polls file (polls_file), for every benchmark that loads it."""
    parser.add_argument("--rows", type=int, default=1_850_000, help="polls in the file (default 1,850,000)")
    parser.add_argument("--stores", type=int, default=14_000, help="stores (default 14,000)")
    parser.add_argument("--duplicates", type=int, default=10, help="rows repeating an earlier row (default 10)")
    parser.add_argument("--seed", type=int, default=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_polls_file_arguments(parser)
    parser.add_argument("--repeat", type=int, default=1, help="fresh database and both loads this many times")
    parser.add_argument("--sqlite", action="store_true", help="benchmark SQLite instead of PostgreSQL")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER, help=f"default {POSTGRES_SERVER}")
    parser.add_argument(
        "--database", default=BENCH_DATABASE, help=f"dropped and created per repeat (default {BENCH_DATABASE})"
    )
    parser.add_argument(
        "--feeds-dir",
        metavar="DIR",
        help="load this directory of feed files (load_csvs DIR) instead of a generated polls file",
    )
    args = parser.parse_args()
    if args.feeds_dir:
        load_directory(args)
        return

    path, distinct = polls_file(args.rows, args.stores, args.duplicates, args.seed)
    size_mb = path.stat().st_size / 2**20
    backend = "sqlite" if args.sqlite else "postgresql"
    counts = f"{args.rows:,} rows, {distinct:,} distinct, {args.stores:,} stores"
    print(f"{backend}: {path} ({counts}, {size_mb:.0f} MB)")
    runs = []
    for number in range(1, args.repeat + 1):
        measurements = one_repeat(args, path, distinct)
        runs.append(measurements)
        print_table(f"repeat {number}:", measurements)
        for m in measurements:
            if m.output:
                print("    " + m.output.strip().splitlines()[0])
    if args.repeat > 1:
        print(f"over {args.repeat} repeats (best / median / worst seconds, worst peak MB):")
        for index, first in enumerate(runs[0]):
            seconds = sorted(run[index].seconds for run in runs)
            spread = f"{seconds[0]:.1f} / {statistics.median(seconds):.1f} / {seconds[-1]:.1f} s"
            peaks = [run[index].peak_mb for run in runs if run[index].peak_mb is not None]
            peak = f", peak {max(peaks):.0f} MB" if peaks else ""
            print(f"  {first.label:<12} {spread}{peak}")
    if not args.sqlite:
        loads = [m for run in runs for m in run if m.peak_mb is not None]
        slowest = max(m.seconds for m in loads)
        peak = max(m.peak_mb for m in loads)
        verdict = "met" if slowest <= TARGET_SECONDS and peak <= TARGET_PEAK_MB else "MISSED"
        print(
            f"target (each load <= {TARGET_SECONDS:.0f} s, peak <= {TARGET_PEAK_MB:.0f} MB): {verdict} "
            f"(slowest load {slowest:.1f} s, highest peak {peak:.0f} MB)"
        )


if __name__ == "__main__":
    main()
