"""Benchmark `manage.py prune_polls`: how long each batch holds its locks, the total, and what a
load and a report feel meanwhile.

    .venv/bin/python benchmarks/bench_prune.py [--polls 1850000] [--stores 1000] [--days 180]
        [--older-than 90] [--batch-size 50000] [--repeat 1] [--sqlite] [--database NAME]

For every repeat it migrates the database (PostgreSQL: ``storemonitor_bench_prune`` on
127.0.0.1:5432 as postgres, created if missing, its polls and stores emptied; SQLite: a fresh
file under benchmarks/out/), fills it with polls spread evenly over ``--days`` days (every store
polled at its own pace with a minute or two of jitter, stored in (store, time) order as a load
writes them), and runs ``prune_polls -v 2`` as a child process, which prints how long each
batch's transaction (its locks) lasted. Wall time and peak memory are the child's
(``benchmarks/child_process.py``).

Meanwhile a probe connection of this process does, every 20 ms, what a load and a report do: it
inserts and commits one new poll (inside the kept range, so the cutoff does not move), and reads
the polls of the last REPORT_LOOKBACK_DAYS in one REPEATABLE READ transaction (SQLite: a deferred
one). It prints the slowest of each: on PostgreSQL neither waits for the prune, on SQLite an
insert waits for the batch that holds the write lock.

Target (issue 13): no batch holds its locks for more than 1 s; 1.85 M polls pruned by half in
well under a minute on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sqlite3
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import child_process  # benchmarks/child_process.py, beside this script
import numpy as np
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "benchmarks" / "out"  # git ignores it
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_DATABASE = "storemonitor_bench_prune"
END = np.datetime64("2024-10-10T00:00:00", "us")
DAY_US = 86_400_000_000
LOOKBACK_DAYS = 14
PROBE_EVERY_SECONDS = 0.02
TARGET_BATCH_SECONDS = 1.0
BATCH_LINE = re.compile(r"^batch (\d+): ([\d.]+) s$")


@dataclass
class Probe:
    """The slowest write and read a concurrent load and report saw while the prune ran."""

    inserts: list[float] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)


@dataclass
class Run:
    polls: int
    expected_deleted: int
    seconds: float
    peak_mb: float
    batch_seconds: list[float]
    summary: str
    probe: Probe


def poll_times(polls: int, stores: int, days: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(store number, µs before END, inactive) of every poll, in (store, time) order."""
    rng = np.random.default_rng(seed)
    per_store = np.full(stores, polls // stores)
    per_store[: polls % stores] += 1
    store_of_poll = np.repeat(np.arange(stores), per_store)
    first = np.cumsum(per_store) - per_store
    number = np.arange(polls) - np.repeat(first, per_store)
    # Each store's polls spread evenly over the days, at its own phase, with 90 s of jitter.
    spacing = days * DAY_US // per_store.max()
    phase = rng.integers(0, spacing, stores)
    jitter = np.clip(rng.normal(0, 90e6, polls), -spacing / 3, spacing / 3).astype(np.int64)
    before_end = (per_store[store_of_poll] - 1 - number) * spacing + phase[store_of_poll] + jitter
    return store_of_poll, np.maximum(before_end, 0), rng.random(polls) < 0.08


def fill_postgresql(database_url: str, stores: int, times: tuple) -> None:
    store_of_poll, before_end, inactive = times
    stamps = END - before_end.astype("timedelta64[us]")
    with psycopg.connect(database_url) as db:
        db.execute("TRUNCATE monitoring_statuspoll, monitoring_businesshours, monitoring_timezone, monitoring_store")
        db.execute("DELETE FROM monitoring_import")
        db.execute(
            "INSERT INTO monitoring_store (store_id) SELECT 'bench-' || g FROM generate_series(0, %s - 1) g", [stores]
        )
        first_pk = db.execute("SELECT min(id) FROM monitoring_store").fetchone()[0]
        with db.cursor().copy(
            "COPY monitoring_statuspoll (store_id, timestamp_utc, status) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "timestamptz", "text"])
            statuses = np.where(inactive, "inactive", "active")
            for store, stamp, status in zip(
                (store_of_poll + first_pk).tolist(), stamps.astype(object), statuses.tolist(), strict=True
            ):
                copy.write_row((store, stamp.replace(tzinfo=dt.UTC), status))
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE monitoring_statuspoll")
        # The fill's dirty pages are written now, not by a checkpoint in the middle of the prune.
        db.execute("CHECKPOINT")


def fill_sqlite(path: Path, stores: int, times: tuple) -> None:
    store_of_poll, before_end, inactive = times
    stamps = np.datetime_as_string(END - before_end.astype("timedelta64[us]"), unit="us")
    texts = np.char.replace(stamps, "T", " ")
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO monitoring_store (store_id) VALUES (?)", [(f"bench-{n}",) for n in range(stores)])
        first_pk = db.execute("SELECT min(id) FROM monitoring_store").fetchone()[0]
        statuses = np.where(inactive, "inactive", "active")
        db.executemany(
            "INSERT INTO monitoring_statuspoll (store_id, timestamp_utc, status) VALUES (?, ?, ?)",
            zip((store_of_poll + first_pk).tolist(), texts.tolist(), statuses.tolist(), strict=True),
        )
        db.execute("ANALYZE")


class ProbeThread(threading.Thread):
    """A load's one-poll insert and a report's lookback read, every 20 ms, each timed."""

    def __init__(self, connect, sqlite: bool, newest: np.datetime64):
        super().__init__(daemon=True)
        self.connect, self.sqlite, self.newest = connect, sqlite, newest
        self.stop = threading.Event()
        self.probe = Probe()
        self.inserted = 0

    def run(self) -> None:
        db = self.connect()
        store = db.execute("SELECT max(id) FROM monitoring_store").fetchone()[0]
        since = self.newest - np.timedelta64(LOOKBACK_DAYS, "D")
        while not self.stop.is_set():
            # A day before the newest poll, one µs apart: kept by the prune, never moving its cutoff.
            stamp = self.newest - np.timedelta64(1, "D") + np.timedelta64(self.inserted, "us")
            started = time.perf_counter()
            db.execute(
                "INSERT INTO monitoring_statuspoll (store_id, timestamp_utc, status) VALUES (%s, %s, 'active')"
                if not self.sqlite
                else "INSERT INTO monitoring_statuspoll (store_id, timestamp_utc, status) VALUES (?, ?, 'active')",
                (store, _stamp(stamp, self.sqlite)),
            )
            db.commit()
            self.probe.inserts.append(time.perf_counter() - started)
            self.inserted += 1
            started = time.perf_counter()
            if self.sqlite:
                db.execute("BEGIN DEFERRED")
                db.execute(
                    "SELECT count(*) FROM monitoring_statuspoll WHERE timestamp_utc >= ?", (_stamp(since, True),)
                )
            else:
                db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                db.execute(
                    "SELECT count(*) FROM monitoring_statuspoll WHERE timestamp_utc >= %s", (_stamp(since, False),)
                )
            db.commit()
            self.probe.reads.append(time.perf_counter() - started)
            self.stop.wait(PROBE_EVERY_SECONDS)
        db.close()


def _stamp(moment: np.datetime64, sqlite: bool):
    text = str(np.datetime_as_string(moment, unit="us")).replace("T", " ")
    return text if sqlite else text + "+00"


def prepare(args) -> tuple[str, object]:
    """Migrate a database for the benchmark; return its DATABASE_URL and a probe connector."""
    if args.sqlite:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / "bench_prune.sqlite3"
        for leftover in OUT_DIR.glob("bench_prune.sqlite3*"):
            leftover.unlink()
        url = f"sqlite:///{path}"

        def connect():
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            return _AutoBegin(db)

        return url, connect
    with psycopg.connect(f"{args.postgres_server}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone():
            admin.execute(f"CREATE DATABASE {args.database}")
    url = f"{args.postgres_server}/{args.database}"
    return url, lambda: psycopg.connect(url)


class _AutoBegin:
    """sqlite3 in autocommit mode, with psycopg's shape: an insert opens its own transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.open = False

    def execute(self, sql: str, params=()):
        if sql.startswith("BEGIN"):
            self.open = True
        elif sql.startswith("INSERT") and not self.open:
            self.db.execute("BEGIN IMMEDIATE")
            self.open = True
        return self.db.execute(sql, params)

    def commit(self) -> None:
        if self.open:
            self.db.execute("COMMIT")
            self.open = False

    def close(self) -> None:
        self.db.close()


def count(connect, where: str = "", params=()) -> int:
    db = connect()
    try:
        return db.execute(f"SELECT count(*) FROM monitoring_statuspoll {where}", params).fetchone()[0]
    finally:
        db.commit()
        db.close()


def one_repeat(args) -> Run:
    url, connect = prepare(args)
    env = {**os.environ, "DATABASE_URL": url, "POLL_RETENTION_DAYS": "0"}
    manage = [sys.executable, "manage.py"]
    migrate = child_process.run_child([*manage, "migrate", "--noinput", "-v", "0"], env)
    if migrate.status:
        sys.exit(f"migrate failed:\n{migrate.output}")
    times = poll_times(args.polls, args.stores, args.days, args.seed)
    started = time.perf_counter()
    if args.sqlite:
        fill_sqlite(Path(url.removeprefix("sqlite:///")), args.stores, times)
    else:
        fill_postgresql(url, args.stores, times)
    print(
        f"filled {args.polls:,} polls of {args.stores:,} stores over {args.days} days "
        f"in {time.perf_counter() - started:.1f} s"
    )
    newest = END - np.timedelta64(int(times[1].min()), "us")
    cutoff = newest - np.timedelta64(args.older_than, "D")
    expected = count(connect, "WHERE timestamp_utc < " + ("?" if args.sqlite else "%s"), (_stamp(cutoff, args.sqlite),))

    probe = ProbeThread(connect, args.sqlite, newest)
    probe.start()
    time.sleep(0.2)  # the probe is running before the prune starts
    command = [
        *manage,
        "prune_polls",
        "--older-than",
        str(args.older_than),
        "--batch-size",
        str(args.batch_size),
        "-v",
        "2",
    ]
    prune = child_process.run_child(command, env)
    probe.stop.set()
    probe.join(timeout=30)
    if prune.status:
        sys.exit(f"prune_polls failed with status {prune.status}:\n{prune.output}")
    lines = prune.output.strip().splitlines()
    batch_seconds = [float(m.group(2)) for line in lines if (m := BATCH_LINE.match(line))]
    left = count(connect)
    if left != args.polls - expected + probe.inserted:
        sys.exit(f"{left:,} polls left, expected {args.polls - expected + probe.inserted:,}")
    return Run(args.polls, expected, prune.seconds, prune.peak_mb, batch_seconds, lines[-1], probe.probe)


def print_run(number: int, run: Run) -> None:
    batches = run.batch_seconds
    print(f"repeat {number}: {run.summary}")
    print(
        f"  prune_polls wall {run.seconds:.1f} s, peak {run.peak_mb:.0f} MB; "
        f"{run.expected_deleted:,} of {run.polls:,} polls deleted"
    )
    print(
        f"  {len(batches)} batches holding their locks: median {statistics.median(batches):.3f} s, "
        f"longest {max(batches):.3f} s, together {sum(batches):.1f} s"
    )
    for label, seconds in [("probe insert (a load)", run.probe.inserts), ("probe read (a report)", run.probe.reads)]:
        print(
            f"  {label:<22} {len(seconds):>5} times: median {statistics.median(seconds) * 1000:.1f} ms, "
            f"slowest {max(seconds) * 1000:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=1_850_000, help="polls in the database (default 1,850,000)")
    parser.add_argument("--stores", type=int, default=1_000, help="stores (default 1,000)")
    parser.add_argument("--days", type=int, default=180, help="days the polls span (default 180)")
    parser.add_argument("--older-than", type=int, default=90, help="prune_polls --older-than (default 90)")
    parser.add_argument("--batch-size", type=int, default=50_000, help="prune_polls --batch-size (default 50,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="fill and prune this many times")
    parser.add_argument("--sqlite", action="store_true", help="benchmark SQLite instead of PostgreSQL")
    parser.add_argument("--database", default=BENCH_DATABASE, help=f"PostgreSQL database (default {BENCH_DATABASE})")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER, help=f"default {POSTGRES_SERVER}")
    args = parser.parse_args()

    print(
        f"{'sqlite' if args.sqlite else 'postgresql'}: "
        f"prune_polls --older-than {args.older_than} --batch-size {args.batch_size:,}"
    )
    runs = []
    for number in range(1, args.repeat + 1):
        runs.append(one_repeat(args))
        print_run(number, runs[-1])
    longest = max(max(run.batch_seconds) for run in runs)
    verdict = "met" if longest <= TARGET_BATCH_SECONDS else "MISSED"
    print(f"target (every batch holds its locks <= {TARGET_BATCH_SECONDS:.0f} s): {verdict} (longest {longest:.3f} s)")


if __name__ == "__main__":
    main()
