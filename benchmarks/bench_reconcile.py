#!/usr/bin/env python
"""Benchmark of the incident reconciliation (issue 14): after a backfill, and after hourly imports.

    .venv/bin/python benchmarks/bench_reconcile.py                 # 14,000 stores x 7 days, PostgreSQL
    .venv/bin/python benchmarks/bench_reconcile.py --stores 2000   # a quicker look

It generates the feeds with `generate_sample_data` (cached under benchmarks/out/), loads them
with `load_csvs` into a dedicated PostgreSQL database (default `storemonitor_bench_reconcile`),
then measures, in this process:

1. the report's own work on the same data (`compute_report` and the CSV written to memory),
   best of --repeat;
2. the reconciliation of the backfill: every incident created from nothing (the incidents are
   deleted before each repeat), best of --repeat, and its ratio to 1 (target at most 1.5x);
3. --hours hourly imports: each one poll per store an hour after the newest (8 % inactive, at
   the store's own minute), loaded through `import_feeds` as every path loads, then the
   reconciliation timed (target at most 2 s each).

Figures are printed; nothing is asserted (the machine is shared and noisy). No channel exists,
so no delivery is planned; planning reads only open incidents and channels.
"""

import argparse
import datetime as dt
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_report  # noqa: E402  (beside this script: the data set and its database)

# generate_sample_data's newest poll (its default --end).
GENERATED_END = dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=dt.UTC)


def prepare_database(args) -> None:
    """bench_report's database and feeds (generated, loaded once), without an earlier run's
    hourly polls, vacuumed and analysed."""
    import psycopg

    url = f"{args.server}/{args.database}"
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone()
    if exists and not args.fresh:
        with psycopg.connect(url) as conn:
            # A previous run's hourly imports come after the generated polls: forget them.
            conn.execute("DELETE FROM monitoring_statuspoll WHERE timestamp_utc > %s", [GENERATED_END])
    os.environ.update(bench_report.prepare_database(args))
    os.environ.pop("REDIS_URL", None)
    # Earlier runs deleted rows (their hourly polls, their incidents): measure on tidy tables
    # with fresh statistics, as a database after its autovacuum is.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE monitoring_statuspoll")
        conn.execute("VACUUM ANALYZE alerts_incident")


def best_of(repeats, function, before=None):
    times, result = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), times, result


def hourly_polls_file(folder: Path, hour: int, newest: dt.datetime, store_ids: list[str], seed: int) -> Path:
    """One poll per store in the hour after ``newest`` + ``hour`` hours, 8 % inactive."""
    import random

    rng = random.Random(seed + hour)
    path = folder / f"store_status_hour{hour}.csv"
    start = newest + dt.timedelta(hours=hour)
    with open(path, "w", encoding="utf-8") as out:
        out.write("store_id,status,timestamp_utc\n")
        for store_id in store_ids:
            moment = start + dt.timedelta(seconds=rng.uniform(1, 3600))
            status = "inactive" if rng.random() < 0.08 else "active"
            out.write(f"{store_id},{status},{moment:%Y-%m-%d %H:%M:%S.%f} UTC\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=14_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hours", type=int, default=3, help="hourly imports to measure")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="storemonitor_bench_reconcile")
    parser.add_argument("--fresh", action="store_true", help="drop and reload the database first")
    args = parser.parse_args()
    prepare_database(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storemonitor.settings")
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from alerts.incidents import reconcile_incidents
    from alerts.models import Incident
    from monitoring.imports import import_feeds
    from monitoring.ingestion import Feed
    from monitoring.models import StatusPoll, Store
    from reports.generation import compute_report, write_report_csv

    polls = StatusPoll.objects.count()
    print(f"data: {Store.objects.count():,} stores, {polls:,} polls, newest {StatusPoll.objects.newest_time()}")

    def report_work():
        data = compute_report()
        write_report_csv(data.figures, io.StringIO())
        return data

    report_best, report_times, _ = best_of(args.repeat, report_work)
    print(f"report (compute_report + CSV): best {report_best:.2f} s of {[round(t, 2) for t in report_times]}")

    def forget_incidents():
        Incident.objects.all().delete()

    backfill_best, backfill_times, result = best_of(args.repeat, reconcile_incidents, before=forget_incidents)
    print(f"reconcile the backfill: {result.created:,} incidents created ({len(result.opened):,} open)")
    print(
        f"  best {backfill_best:.2f} s of {[round(t, 2) for t in backfill_times]}: "
        f"{backfill_best / report_best:.2f}x the report (target at most 1.5x)"
    )
    again = reconcile_incidents()
    print(
        f"reconcile again, nothing new: {again.seconds:.2f} s, {again.unchanged:,} unchanged, {again.created} created"
    )

    store_ids = list(Store.objects.order_by("pk").values_list("store_id", flat=True))
    newest = StatusPoll.objects.newest_time()
    with tempfile.TemporaryDirectory() as folder:
        for hour in range(args.hours):
            path = hourly_polls_file(Path(folder), hour, newest, store_ids, args.seed)
            started = time.perf_counter()
            import_feeds({Feed.POLLS: path}, source="command", force=True)  # a previous run loaded the same file
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            result = reconcile_incidents()
            seconds = time.perf_counter() - started
            print(
                f"hour {hour + 1}: import of {len(store_ids):,} polls {loaded:.2f} s; reconcile {seconds:.2f} s "
                f"(target at most 2 s): {result.created} created, {result.updated} updated "
                f"({len(result.ended)} ended), {result.unchanged:,} unchanged, {result.deleted} deleted"
            )


if __name__ == "__main__":
    main()
