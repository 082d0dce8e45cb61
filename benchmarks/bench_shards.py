#!/usr/bin/env python
"""Sharded against unsharded report time, with a real ``manage.py qcluster`` (reports.shards).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/storemonitor_bench_shards \\
    REDIS_URL=redis://127.0.0.1:6379/4 \\
    .venv/bin/python benchmarks/bench_shards.py [--workers 1 2 4] [--shard-stores 35000 17500] [--trials 3]

Needs a PostgreSQL database with the data already loaded (``manage.py migrate`` then
``manage.py load_csvs benchmarks/out/feeds-140000-6-1``) and Redis. For each configuration it
starts one qcluster (Q_WORKERS workers, REPORT_SHARD_STORES, its own queue name), waits until it
runs, triggers a report of every store at the newest poll and times it until Complete, sampling
the summed resident memory of the cluster's processes. The unsharded run has REPORT_SHARD_STORES
above the store count. Prints the best of ``--trials`` per row, its ratio to the unsharded
time, and checks that every sharded CSV and outages CSV equals the unsharded one byte for byte.
The issue's target: 2 workers in at most 0.65x the unsharded time on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storemonitor.settings")
# The cluster writes the CSVs there and this process reads them back: one MEDIA_ROOT for both.
MEDIA = Path(tempfile.mkdtemp(prefix="bench_shards_media_"))
os.environ["MEDIA_ROOT"] = str(MEDIA)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django_q.conf import Conf  # noqa: E402

from monitoring.models import Store  # noqa: E402
from reports import actions, processes  # noqa: E402
from reports.models import Report  # noqa: E402


def cluster_rss_mib(pid: int) -> float:
    """Summed VmRSS of the cluster's main process and every process below it."""
    total_kib = 0
    for member in [pid, *(child.pid for child in processes.descendants(pid))]:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            pass  # it just exited
    return total_kib / 1024


def busy_cpu_seconds() -> float:
    """CPU time spent by every process of the machine so far (/proc/stat: all but idle and
    iowait), so that a run's share counts the PostgreSQL backends as well as the workers."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def one_run(workers: int, shard_stores: int, log: Path) -> tuple[float, float, float, Report]:
    """Seconds from trigger to Complete, peak cluster RSS (MiB), CPU seconds of the whole
    machine meanwhile, and the report."""
    env = {
        **os.environ,
        "Q_WORKERS": str(workers),
        "REPORT_SHARD_STORES": str(shard_stores),
    }
    with open(log, "w") as output:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while "running." not in log.read_text():
                if cluster.poll() is not None:
                    sys.exit(f"qcluster exited before it ran:\n{log.read_text()}")
                time.sleep(0.1)
            peak = cluster_rss_mib(cluster.pid)
            started, cpu_before = time.monotonic(), busy_cpu_seconds()
            report = actions.do_trigger_report()
            while True:
                report.refresh_from_db()
                if report.status in (Report.Status.COMPLETE, Report.Status.FAILED):
                    break
                peak = max(peak, cluster_rss_mib(cluster.pid))
                time.sleep(0.2)
            seconds, cpu = time.monotonic() - started, busy_cpu_seconds() - cpu_before
        finally:
            cluster.terminate()
            cluster.wait(60)
    if report.status != Report.Status.COMPLETE:
        sys.exit(f"report {report.report_id} failed: {report.error}\n{log.read_text()[-3000:]}")
    return seconds, peak, cpu, report


def files_of(report: Report) -> tuple[bytes, bytes]:
    with report.csv_file.open("rb") as csv_file, report.outages_file.open("rb") as outages_file:
        return csv_file.read(), outages_file.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="Q_WORKERS of the sharded runs")
    parser.add_argument("--shard-stores", type=int, nargs="+", default=[35_000, 17_500], help="REPORT_SHARD_STORES")
    parser.add_argument("--trials", type=int, default=3, help="runs per row; the best is shown (default 3)")
    parser.add_argument("--unsharded-workers", type=int, default=2, help="Q_WORKERS of the unsharded run")
    options = parser.parse_args()
    if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database with the data loaded, and REDIS_URL.")
    import redis

    # The queue is the service's own ("storemonitor") on the Redis database of REDIS_URL: give the
    # benchmark a database of its own (setting Q_CLUSTER_NAME needs an ALT_CLUSTERS entry in
    # Q_CLUSTER, which the settings do not have). Drop leftovers of an interrupted run.
    redis.from_url(settings.REDIS_URL).delete(f"django_q:{Conf.PREFIX}:q")
    stores = Store.objects.count()
    print(f"{stores} stores, database {settings.DATABASES['default']['NAME']}, {os.cpu_count()} cores")
    configs = [(options.unsharded_workers, stores + 1)] + [
        (workers, shard_stores) for shard_stores in options.shard_stores for workers in options.workers
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_shards_") as scratch:
        log = Path(scratch) / "qcluster.log"
        reference = None
        for workers, shard_stores in configs:
            trials = []
            for _ in range(options.trials):
                seconds, peak, cpu, report = one_run(workers, shard_stores, log)
                files = files_of(report)
                if reference is None:
                    reference = files
                same = files == reference
                trials.append((seconds, peak, report.shard_count, same, cpu))
                print(
                    f"  workers={workers} REPORT_SHARD_STORES={shard_stores} shards={report.shard_count}: "
                    f"{seconds:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB, files equal the unsharded: {same}",
                    flush=True,
                )
                report.csv_file.delete(save=False)
                report.outages_file.delete(save=False)
                Report.objects.filter(pk=report.pk).delete()
            rows.append((workers, shard_stores, trials))
    shutil.rmtree(MEDIA, ignore_errors=True)
    unsharded = min(seconds for seconds, *_ in rows[0][2])
    print()
    # The CPU of the whole machine (workers and PostgreSQL) over the run, divided by the cores:
    # no schedule of the work can finish faster than that on this machine.
    cores = os.cpu_count() or 1
    header = (
        "workers",
        "REPORT_SHARD_STORES",
        "shards",
        "best s",
        "ratio",
        "CPU s",
        "CPU/cores",
        "peak RSS MiB",
        "same",
    )
    print("{:>7} {:>19} {:>6} {:>7} {:>6} {:>6} {:>9} {:>12} {}".format(*header))
    for workers, shard_stores, trials in rows:
        best = min(trials)
        seconds, _, shards, _, cpu = best
        peak = max(trial[1] for trial in trials)
        same = all(trial[3] for trial in trials)
        print(
            f"{workers:>7} {shard_stores:>19} {shards:>6} {seconds:>7.1f} {seconds / unsharded:>6.2f} "
            f"{cpu:>6.1f} {cpu / cores:>9.1f} {peak:>12.0f} {'yes' if same else 'NO'}"
        )
    if not all(trial[3] for *_, trials in rows for trial in trials):
        sys.exit("a sharded report differs from the unsharded one")


if __name__ == "__main__":
    main()
