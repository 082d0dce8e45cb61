#!/usr/bin/env python
"""Benchmark of report generation (issue 3): whole process, engine alone, memory, the speed
ratio against the plain reference implementation, and growth with the number of stores; the
extended figures and the outages CSV of issue 11 against the basic figures, whole process and
engine alone.

    .venv/bin/python benchmarks/bench_report.py                 # 14,000 stores x 6 days, PostgreSQL
    .venv/bin/python benchmarks/bench_report.py --stores 2000   # a quicker look
    .venv/bin/python benchmarks/bench_report.py --growth 1,2,4,10 --skip reference,scales
                                                    # + the whole process at 14,000 x 1, 2, 4, 10 stores

It generates the feeds with `generate_sample_data` (cached under benchmarks/out/), loads them
with `load_csvs` into a dedicated PostgreSQL database (default `storemonitor_bench_report`),
then measures. With ``--growth`` each scale's feeds (``--stores`` times k) are generated and
loaded once into a database of their own (``storemonitor_bench_report_<stores>``) and kept.
The snapshot read is printed beside the server's own cost of the same COPY statements
(``COPY ... TO '/dev/null'``, which needs a superuser). Figures are printed; nothing is
asserted (the machine is shared and noisy).
"""

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
UTC = dt.UTC


def timed_child(args, env):
    """Wall seconds and peak RSS (MB) of one manage.py run, measured with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode()
    if status != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024


def prepare_database(args, stores: int | None = None, database: str | None = None) -> dict:
    """The environment of manage.py runs on ``database`` (default ``--database``) holding the
    generated feeds of ``stores`` stores (default ``--stores``), generated and loaded if needed."""
    import psycopg

    stores = stores or args.stores
    database = database or args.database
    env = dict(os.environ, DATABASE_URL=f"{args.server}/{database}", DEBUG="1")
    env.pop("REDIS_URL", None)
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists and args.fresh:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{database}"')
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)

    feeds_dir = ROOT / "benchmarks" / "out" / f"feeds-{stores}-{args.days}-{args.seed}"
    if not (feeds_dir / "store_status.csv").exists():
        print(f"generating {stores} stores x {args.days} days into {feeds_dir} ...", flush=True)
        subprocess.run(
            [
                PYTHON,
                "manage.py",
                "generate_sample_data",
                "--stores",
                str(stores),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--out",
                str(feeds_dir),
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
    with psycopg.connect(f"{args.server}/{database}") as conn:
        polls = conn.execute("SELECT count(*) FROM monitoring_statuspoll").fetchone()[0]
    expected = count_lines(feeds_dir / "store_status.csv") - 1
    if polls != expected:
        print(f"loading {expected:,} polls with load_csvs into {database} ...", flush=True)
        subprocess.run([PYTHON, "manage.py", "load_csvs", str(feeds_dir)], env=env, cwd=ROOT, check=True)
        with psycopg.connect(f"{args.server}/{database}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # as autovacuum would soon: index-only scans, fresh statistics
    return env


def server_copy_seconds(server_url: str, statements) -> float:
    """Seconds the server takes to run the given ``COPY (...) TO STDOUT`` statements with the output
    sent to its own /dev/null: producing the rows, without the network or the client."""
    import psycopg

    total = 0.0
    with psycopg.connect(server_url, autocommit=True) as conn:
        for sql, params in statements:
            query = psycopg.ClientCursor(conn).mogrify(sql.replace(" TO STDOUT ", " TO '/dev/null' "), params)
            started = time.perf_counter()
            conn.execute(query)
            total += time.perf_counter() - started
    return total


def backend_cpu_seconds(backend_pid: int) -> float | None:
    """CPU seconds (user + system) the PostgreSQL backend process has used so far, from /proc;
    None where the server runs elsewhere or its processes cannot be read."""
    try:
        with open(f"/proc/{backend_pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def recording_copies(snapshot_module):
    """Replace ``snapshot_module.read_copy`` by a wrapper that records each COPY statement, the
    seconds the client spent on it (receiving and parsing) and the client's CPU seconds of it;
    returns the list it records into."""
    recorded: list[tuple[str, tuple, float, float]] = []
    original = snapshot_module.read_copy

    def read_copy(sql, params, kinds):
        started, started_cpu = time.perf_counter(), time.process_time()
        columns = original(sql, params, kinds)
        recorded.append((sql, tuple(params), time.perf_counter() - started, time.process_time() - started_cpu))
        return columns

    snapshot_module.read_copy = read_copy
    return recorded


def growth_table(args, scales: list[int]) -> None:
    """The whole process (start, read, compute, CSV) at each scale, each from its own database."""
    print(f"\n## growth: manage.py generate_report, whole process (best of {args.repeats})")
    print("| stores | polls | seconds | vs 1x | per 1x of data | µs per poll | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    out = ROOT / "benchmarks" / "out" / "report-growth.csv"
    for times in scales:
        stores = args.stores * times
        database = args.database if times == 1 else f"{args.database}_{stores}"
        env = prepare_database(args, stores, database)
        polls = (
            count_lines(ROOT / "benchmarks" / "out" / f"feeds-{stores}-{args.days}-{args.seed}" / "store_status.csv")
            - 1
        )
        runs = [timed_child(["generate_report", "--out", str(out)], env) for _ in range(args.repeats)]
        best = min(seconds for seconds, _ in runs)
        base = base or best / times
        print(
            f"| {stores:,} | {polls:,} | {best:.2f} | {best / (base * scales[0]):.1f}x | {best / times:.2f} | "
            f"{best / polls * 1e6:.2f} | {max(peak for _, peak in runs):,.0f} MB |",
            flush=True,
        )


def count_lines(path) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def replicate(feeds, times):
    """The same feeds with every store copied ``times`` times under new ids."""
    import numpy as np

    from reports.uptime import FeedArrays

    n = len(feeds.store_ids)
    shift = np.repeat(np.arange(times), [len(feeds.poll_store)] * times) * n
    hours_shift = np.repeat(np.arange(times), [len(feeds.hours_store)] * times) * n
    return FeedArrays(
        store_ids=[f"{s}-{k}" for k in range(times) for s in feeds.store_ids],
        store_zones=list(feeds.store_zones) * times,
        poll_store=np.tile(feeds.poll_store, times) + shift,
        poll_time_us=np.tile(feeds.poll_time_us, times),
        poll_active=np.tile(feeds.poll_active, times),
        hours_store=np.tile(feeds.hours_store, times) + hours_shift,
        hours_day=np.tile(feeds.hours_day, times),
        hours_start_us=np.tile(feeds.hours_start_us, times),
        hours_end_us=np.tile(feeds.hours_end_us, times),
    )


def subset(feeds, stores):
    """Only the given store positions, renumbered."""
    import numpy as np

    from reports.uptime import FeedArrays

    stores = np.sort(np.asarray(stores))
    new_position = np.full(len(feeds.store_ids), -1)
    new_position[stores] = np.arange(len(stores))
    polls = new_position[feeds.poll_store] >= 0
    hours = new_position[feeds.hours_store] >= 0
    return FeedArrays(
        store_ids=[feeds.store_ids[i] for i in stores],
        store_zones=[feeds.store_zones[i] for i in stores],
        poll_store=new_position[feeds.poll_store[polls]],
        poll_time_us=feeds.poll_time_us[polls],
        poll_active=feeds.poll_active[polls],
        hours_store=new_position[feeds.hours_store[hours]],
        hours_day=feeds.hours_day[hours],
        hours_start_us=feeds.hours_start_us[hours],
        hours_end_us=feeds.hours_end_us[hours],
    )


def best_of(repeats, function):
    times = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), times, result


def extended_figures(figures):
    """Everything the extended report needs on top of the basic figures (rules 10-13)."""
    _ = figures.outage_counts, figures.longest_outage_us
    for window in ("hour", "day", "week"):
        figures.uptime_percent(window)
    return figures


def outages_csv(figures, feeds):
    """The outages CSV of every store, written to memory; returns its rows."""
    import csv
    import io

    from reports.uptime import OUTAGE_CSV_COLUMNS, outage_rows

    writer = csv.writer(io.StringIO(), lineterminator="\n")
    writer.writerow(OUTAGE_CSV_COLUMNS)
    rows = list(outage_rows(figures.outages, feeds.store_ids, feeds.store_zones))
    writer.writerows(rows)
    return len(rows)


def reference_run(feeds, as_of, lookback, method):
    """Seconds for the reference on every store of ``feeds`` and its figures per store id."""
    from tests.reports.uptime_reference import store_figures

    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    polls = {i: [] for i in range(len(feeds.store_ids))}
    for store, micros, active in zip(
        feeds.poll_store.tolist(), feeds.poll_time_us.tolist(), feeds.poll_active.tolist(), strict=True
    ):
        polls[store].append((epoch + dt.timedelta(microseconds=micros), active))
    hours = {i: [] for i in range(len(feeds.store_ids))}
    midnight = dt.datetime(2000, 1, 1)
    for store, day, start, end in zip(
        feeds.hours_store.tolist(),
        feeds.hours_day.tolist(),
        feeds.hours_start_us.tolist(),
        feeds.hours_end_us.tolist(),
        strict=True,
    ):
        hours[store].append(
            (
                day,
                (midnight + dt.timedelta(microseconds=start)).time(),
                (midnight + dt.timedelta(microseconds=end)).time(),
            )
        )
    started = time.perf_counter()
    figures = {
        feeds.store_ids[i]: store_figures(polls[i], hours[i], feeds.store_zones[i], as_of, lookback, method)
        for i in range(len(feeds.store_ids))
    }
    return time.perf_counter() - started, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=14000)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="storemonitor_bench_report")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-stores", type=int, default=0, help="0: all stores (the same data)")
    parser.add_argument("--scales", default="1,2,4,10", help="engine growth: the data copied this many times")
    parser.add_argument(
        "--growth",
        default="",
        help="whole-process growth: e.g. 1,2,4,10 runs generate_report on --stores times each, "
        "each scale in its own database (generated and loaded the first time)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="sections to leave out, comma-separated: process, engine, reference, scales",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    env = prepare_database(args)
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="storemonitor.settings")
    import django

    django.setup()
    from reports.generation import lookback
    from reports.snapshot import read_snapshot
    from reports.uptime import DEFAULT_METHOD, METHODS, compute_uptime, epoch_microseconds

    print(
        f"\n# storemonitor report benchmark — {dt.datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )

    # 1. The whole process, as an operator runs it.
    if "process" not in skip:
        out = ROOT / "benchmarks" / "out" / "report.csv"
        outages_out = ROOT / "benchmarks" / "out" / "outages.csv"
        # Basic, extended, and extended with the outages CSV, taking turns so that the machine's
        # drift weighs on all three alike (issue 11: extended at most 1.25x, outages at most 1 s more).
        variants = {
            "basic": ["generate_report", "--out", str(out)],
            "extended": ["generate_report", "--columns", "extended", "--out", str(out)],
            "extended + outages CSV": [
                *("generate_report", "--columns", "extended", "--out", str(out)),
                *("--outages", str(outages_out)),
            ],
        }
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, command in variants.items():
                timings[name].append(timed_child(command, env))
        rows = count_lines(out) - 1
        print(f"\n## manage.py generate_report (whole process: start, read, compute, CSV), {rows:,} stores")
        basic_best = min(s for s, _ in timings["basic"])
        for name, runs in timings.items():
            best = min(s for s, _ in runs)
            print(
                f"{name:>24}: best {best:.2f} s ({best / basic_best:.2f}x basic); "
                f"runs {', '.join(f'{s:.2f}' for s, _ in runs)} s; peak RSS {max(m for _, m in runs):.0f} MB"
            )
        print(f"outages CSV: {count_lines(outages_out) - 1:,} outages")

    if args.growth:
        # Before anything is read in this process: a child's peak RSS counts this process's
        # memory at the fork.
        growth_table(args, [int(x) for x in args.growth.split(",")])

    # 2. The read, beside the server's own cost of the same COPY statements, taking turns.
    from django.db import connection

    import reports.snapshot

    copies = recording_copies(reports.snapshot)
    read_runs, read_cpu_runs, copy_runs, copy_cpu_runs, backend_runs, floor_runs = [], [], [], [], [], []
    for _ in range(args.repeats):
        copies.clear()
        connection.ensure_connection()
        backend_before = backend_cpu_seconds(connection.connection.info.backend_pid)
        started, started_cpu = time.perf_counter(), time.process_time()
        snapshot = read_snapshot(None, lookback())
        read_runs.append(time.perf_counter() - started)
        read_cpu_runs.append(time.process_time() - started_cpu)
        backend_after = backend_cpu_seconds(connection.connection.info.backend_pid)
        if backend_before is not None and backend_after is not None:
            backend_runs.append(backend_after - backend_before)
        copy_runs.append(sum(seconds for _, _, seconds, _ in copies))
        copy_cpu_runs.append(sum(cpu for _, _, _, cpu in copies))
        floor_runs.append(server_copy_seconds(env["DATABASE_URL"], [(sql, params) for sql, params, _, _ in copies]))
    feeds = snapshot.feeds
    as_of_us = epoch_microseconds(snapshot.as_of)
    lookback_us = lookback() // dt.timedelta(microseconds=1)
    floor = min(floor_runs)
    print(
        f"\n## snapshot read (PostgreSQL, one read transaction): {len(feeds.poll_store):,} polls, "
        f"{len(feeds.hours_store):,} hours rows, {len(feeds.store_ids):,} stores; best of {args.repeats}"
    )
    print(
        f"read_snapshot, whole: best {min(read_runs):.3f} s; runs {', '.join(f'{s:.3f}' for s in read_runs)} s; "
        f"client CPU best {min(read_cpu_runs):.3f} s"
    )
    print(
        f"of it the {len(copies)} COPY statements (polls, zones, hours; received and parsed): "
        f"best {min(copy_runs):.3f} s; "
        f"runs {', '.join(f'{s:.3f}' for s in copy_runs)} s; client CPU best {min(copy_cpu_runs):.3f} s"
    )
    print(
        f"the same COPY statements TO '/dev/null' on the server: best {floor:.3f} s; "
        f"runs {', '.join(f'{s:.3f}' for s in floor_runs)} s"
    )
    print(
        f"read / server COPY: whole read {min(read_runs) / floor:.2f}x, "
        f"the COPY statements {min(copy_runs) / floor:.2f}x"
    )
    if backend_runs:
        # The read needs two processes at once (the server producing rows, this one taking them);
        # when the machine's other load leaves them one core, the wall time is their sum.
        print(
            f"server backend CPU during the read: best {min(backend_runs):.3f} s; the read overlaps "
            f"client and server when its wall time is below client CPU + server CPU "
            f"({min(read_cpu_runs) + min(backend_runs):.3f} s); load average {os.getloadavg()[0]:.2f}"
        )
    engine = {}
    if "engine" not in skip:
        print("\n## engine compute alone (compute_uptime)")
        for method in METHODS:
            best, runs_, result = best_of(args.repeats, partial(compute_uptime, feeds, as_of_us, lookback_us, method))
            engine[method] = best
            print(
                f"{method:>10}: best {best:.3f} s; runs {', '.join(f'{s:.3f}' for s in runs_)} s; "
                f"{len(result.sessions):,} sessions, {len(result.segments):,} segments"
            )
        # 1b. The extended figures (issue 11): outages are worked out from the figures on first use,
        # so each run times the basic figures and then what the extended ones add to the same run
        # (the shared machine's noise between separate runs is larger than the difference).
        print(f"\n## extended figures against the basic ones (engine alone, best of {args.repeats})")
        print(
            "| method | basic | extended (basic + extra) | ratio | rows basic | rows extended | outages | outages CSV |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for method in METHODS:
            basic_runs, extended_runs = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                figures = compute_uptime(feeds, as_of_us, lookback_us, method)
                computed = time.perf_counter()
                extended_figures(figures)
                basic_runs.append(computed - started)
                extended_runs.append(time.perf_counter() - started)
            basic_best, extended_best = min(basic_runs), min(extended_runs)
            rows_best, _, _ = best_of(args.repeats, lambda figures=figures: list(figures.rows()))
            extended_rows_best, _, _ = best_of(args.repeats, lambda figures=figures: list(figures.rows(extended=True)))
            csv_best, _, n_outages = best_of(args.repeats, lambda figures=figures: outages_csv(figures, feeds))
            print(
                f"| {method} | {basic_best:.3f} s | {extended_best:.3f} s | {extended_best / basic_best:.2f}x | "
                f"{rows_best:.3f} s | {extended_rows_best:.3f} s | {n_outages:,} | {csv_best:.3f} s |"
            )

    import resource

    print(f"peak RSS of this process so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    # 3. Against the reference implementation, on the same stores.
    if "reference" not in skip:
        rng = random.Random(args.seed)
        everyone = range(len(feeds.store_ids))
        chosen = sorted(rng.sample(everyone, args.reference_stores)) if args.reference_stores else list(everyone)
        small = subset(feeds, chosen)
        print(f"\n## speed against the reference implementation ({len(chosen):,} stores, {DEFAULT_METHOD})")
        ref_seconds, ref_figures = reference_run(small, snapshot.as_of, lookback(), DEFAULT_METHOD)
        small_best, _, small_result = best_of(args.repeats, lambda: compute_uptime(small, as_of_us, lookback_us))
        worst = 0.0
        for row, store_id in enumerate(small_result.store_ids):
            for window in ("hour", "day", "week"):
                for which, values in (("uptime", small_result.uptime_us), ("downtime", small_result.downtime_us)):
                    worst = max(worst, abs(values[window][row] / 3.6e9 - float(ref_figures[store_id][window][which])))
        per_store_ref = ref_seconds / len(chosen)
        full_ref_estimate = per_store_ref * len(feeds.store_ids)
        print(
            f"reference: {ref_seconds:.2f} s ({per_store_ref * 1000:.1f} ms a store); engine on the same "
            f"stores: {small_best:.4f} s -> {ref_seconds / small_best:.0f}x"
        )
        if len(chosen) < len(feeds.store_ids) and DEFAULT_METHOD in engine:
            print(
                f"reference estimated for all {len(feeds.store_ids):,} stores: {full_ref_estimate:.0f} s; "
                f"engine {engine[DEFAULT_METHOD]:.3f} s -> {full_ref_estimate / engine[DEFAULT_METHOD]:.0f}x"
            )
        print(f"largest difference engine vs reference: {worst:.2e} hours")
        # The reference also works out the figures of rules 11-13 (its time above includes them).
        extended_figures(small_result)
        differing = 0
        for row, store_id in enumerate(small_result.store_ids):
            want = ref_figures[store_id]
            longest = small_result.longest_outage_us[row] / 3.6e9
            differing += (
                any(
                    small_result.outage_counts[window][row] != want[window]["outages"]
                    or small_result.evidence_polls[window][row] != want[window]["polls"]
                    for window in ("hour", "day", "week")
                )
                or abs(longest - float(want["week"]["longest_outage"])) > 1e-6
            )
        print(f"stores whose outage counts, evidence polls or longest outage differ from the reference: {differing}")

    # 4. Growth with the number of stores.
    if "scales" not in skip:
        print(f"\n## growth with the number of stores (engine, {DEFAULT_METHOD}, best of {args.repeats})")
        print("| stores | polls | seconds | vs 1x | µs per poll |")
        print("|---:|---:|---:|---:|---:|")
        base = None
        for times in [int(x) for x in args.scales.split(",")]:
            scaled = replicate(feeds, times)
            best, _, _ = best_of(args.repeats, partial(compute_uptime, scaled, as_of_us, lookback_us))
            base = base or best / times  # the first scale's time per copy of the data
            print(
                f"| {len(scaled.store_ids):,} | {len(scaled.poll_store):,} | {best:.3f} | "
                f"{best / base:.1f}x | {best / len(scaled.poll_store) * 1e6:.2f} |"
            )
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
