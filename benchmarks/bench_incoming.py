"""Benchmark the watched folder against ``load_csvs`` on a realistic polls file.

    .venv/bin/python benchmarks/bench_incoming.py [--rows 1850000] [--stores 14000] [--repeat 3]

For every repeat and each way in, a fresh PostgreSQL database (``storemonitor_bench_incoming`` on
127.0.0.1:5432 as postgres), migrated, then:

- ``load_csvs --polls FILE`` as a child process, timed around the child;
- the folder: ``manage.py load_incoming`` watching a fresh folder with INCOMING_POLL_SECONDS=1
  (the same pass the workers' schedule runs); once its first pass ran, the file is dropped in as
  writers should (copied in under a dotted name and synced, renamed into place) and timed from
  the rename to its arrival in processed/. That includes up to one poll interval of waiting.

The polls file is the one ``benchmarks/bench_load.py`` writes (shaped like the 2024 feed, cached
under benchmarks/out/). Target (issue 13): the folder takes at most 1.5 x the time of load_csvs.
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

import bench_load  # benchmarks/bench_load.py, beside this script: the polls file and child runs
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_DATABASE = "storemonitor_bench_incoming"
TARGET_RATIO = 1.5
FIRST_PASS_TIMEOUT = 60
LOAD_TIMEOUT = 600


def fresh_database(server: str) -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    database_url = f"{server}/{BENCH_DATABASE}"
    env = {**os.environ, "DATABASE_URL": database_url}
    bench_load.run_child([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    return database_url


def time_load_csvs(server: str, path: Path) -> float:
    env = {**os.environ, "DATABASE_URL": fresh_database(server)}
    seconds, _, _ = bench_load.run_child([sys.executable, "manage.py", "load_csvs", "--polls", str(path)], env)
    return seconds


def time_folder(server: str, path: Path) -> tuple[float, str]:
    """Seconds from the drop to the file's arrival in processed/, and what the pass said."""
    with tempfile.TemporaryDirectory(prefix="bench-incoming-") as scratch:
        folder = Path(scratch) / "incoming"
        folder.mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": fresh_database(server),
            "INCOMING_DIR": str(folder),
            "INCOMING_POLL_SECONDS": "1",
        }
        log_path = Path(scratch) / "load_incoming.log"
        with open(log_path, "wb") as log:
            watcher = subprocess.Popen(
                [sys.executable, "manage.py", "load_incoming"],
                cwd=PROJECT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until(lambda: (folder / "processed").is_dir(), FIRST_PASS_TIMEOUT, "the first pass", watcher)
                partial = folder / f".{path.name}.part"
                shutil.copyfile(path, partial)
                os.sync()  # the copy's writeback would otherwise compete with the load
                dropped = time.perf_counter()
                os.rename(partial, folder / "store_status.csv")
                arrived = folder / "processed" / "store_status.csv"
                wait_until(arrived.exists, LOAD_TIMEOUT, "the file to be processed", watcher, interval=0.05)
                seconds = time.perf_counter() - dropped
            finally:
                watcher.terminate()
                watcher.wait(30)
        output = log_path.read_text()
        if (folder / "failed").exists() and any((folder / "failed").iterdir()):
            sys.exit(f"the folder failed the file:\n{output}")
        # The command's own line (the rest of the output is the log).
        said = next((line for line in output.splitlines() if line.startswith("store_status.csv")), "")
        return seconds, said


def wait_until(predicate, timeout: float, what: str, process: subprocess.Popen, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            sys.exit(f"load_incoming exited with status {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            sys.exit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_load.add_polls_file_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of each (default 3)")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER, help=f"default {POSTGRES_SERVER}")
    parser.add_argument("--out", type=Path, default=bench_load.OUT_DIR, help="where the polls file is cached")
    args = parser.parse_args()

    bench_load.OUT_DIR = args.out
    path, distinct = bench_load.polls_file(args.rows, args.stores, args.duplicates, args.seed)
    print(f"postgresql: {path} ({args.rows:,} rows, {distinct:,} distinct, {path.stat().st_size / 2**20:.0f} MB)")
    direct, folder = [], []
    for number in range(1, args.repeat + 1):
        direct.append(time_load_csvs(args.postgres_server, path))
        seconds, said = time_folder(args.postgres_server, path)
        folder.append(seconds)
        print(f"repeat {number}: load_csvs {direct[-1]:.1f} s, folder (drop to processed/) {seconds:.1f} s")
        print(f"    {said or '(the pass said nothing)'}")
    best_direct, best_folder = min(direct), min(folder)
    ratio = best_folder / best_direct
    print(f"best of {args.repeat}: load_csvs {best_direct:.1f} s, folder {best_folder:.1f} s, ratio {ratio:.2f}")
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target (folder <= {TARGET_RATIO} x load_csvs): {verdict}")


if __name__ == "__main__":
    main()
