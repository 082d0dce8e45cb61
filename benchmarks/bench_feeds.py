#!/usr/bin/env python
"""Benchmark of the feeds' push API (issue 13): an hourly push, a whole polls file through the API
against load_csvs, and the web server's memory during a 100 MB upload.

    .venv/bin/python benchmarks/bench_feeds.py [--rows 1850000] [--stores 14000] [--pushes 5]

Over real HTTP to a real server process: ``manage.py runserver --noreload`` (the project names no
other WSGI server; production runs ``storemonitor.wsgi`` under any), on PostgreSQL, in databases
it creates afresh (``storemonitor_bench_feeds`` on BENCH_POSTGRES_SERVER, default
postgres://postgres@127.0.0.1:5432). The polls file is bench_load's (UUID store ids, about hourly
polls, 2024 shaped), cached under benchmarks/out/.

1. Pushing one hour of polls for every store (14,000 rows) into a database already holding the
   1.85 M polls: best and median of BENCH_PUSHES pushes (each a new hour). Target <= 1 s.
2. The 1.85 M-row file loaded through the API (plain CSV; the server's MAX_FEED_UPLOAD_MB raised
   to take it) against ``load_csvs`` of the same file, each into an empty database. The
   load_csvs figure is the whole command (its start-up included); the API figure is the request.
   Target: API <= 1.5 x load_csvs.
3. The server's peak resident memory (VmHWM of its process, started afresh) during the push of
   a 100 MB polls CSV with the default limit. Target < 300 MB.

Figures are printed; nothing is asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_load  # beside this script: the polls file and the measured child process
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "benchmarks" / "out"
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_SERVER", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("BENCH_DATABASE", "storemonitor_bench_feeds")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
MEGABYTE = 1024 * 1024
UPLOAD_MB = 100
TARGET_PUSH_SECONDS = 1.0
TARGET_RATIO = 1.5
TARGET_PEAK_MB = 300.0


def fresh_database() -> str:
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    url = f"{POSTGRES_SERVER}/{DATABASE}"
    manage(["migrate", "--noinput", "-v", "0"], url)
    return url


def environment(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "STOREMONITOR_VAR_DIR": str(OUT_DIR / "var-feeds"),
        # As in production: no debug bookkeeping of every query, plain HTTP on the loopback.
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-that-is-long-enough-for-django-checks",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(args: list[str], database_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=environment(database_url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def api_token(database_url: str) -> str:
    manage(
        [
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.filter(username='bench').exists() or User.objects.create_user('bench', is_staff=True)",
        ],
        database_url,
    )
    return manage(["create_api_token", "bench"], database_url).strip().splitlines()[-1]


class Server:
    """``manage.py runserver --noreload`` in a process of its own, stopped on exit."""

    def __init__(self, database_url: str, **settings: str):
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.log = open(OUT_DIR / "bench_feeds_server.log", "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{PORT}"],
            cwd=PROJECT_DIR,
            env=environment(database_url, **settings),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server stopped: see {self.log.name}")
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        sys.exit("the server did not start within 30 s")

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def peak_mb(self) -> float:
        """The process's peak resident set so far (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc")


def push(path: Path, token: str, feed: str = "polls") -> tuple[float, int, dict]:
    """POST the file as text/csv, streamed from disk; wall seconds, status, answer."""
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600, blocksize=MEGABYTE)
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": "text/csv",
        "Content-Length": str(path.stat().st_size),
    }
    started = time.perf_counter()
    with open(path, "rb") as body:
        connection.request("POST", f"/api/feeds/{feed}", body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, response.status, answer


def store_ids(path: Path, stores: int) -> list[str]:
    """The distinct store ids of the polls file, in first-seen order."""
    seen: dict[str, None] = {}
    with open(path) as feed:
        next(feed)
        for line in feed:
            seen.setdefault(line.split(",", 1)[0], None)
            if len(seen) == stores:
                break
    return list(seen)


def hour_file(ids: list[str], hour: int) -> Path:
    """One poll per store in the hour ``hour`` after the polls file's end."""
    path = OUT_DIR / f"push-hour-{hour}.csv"
    start = dt.datetime(2024, 10, 10) + dt.timedelta(hours=hour)
    with open(path, "w") as out:
        out.write("store_id,status,timestamp_utc\n")
        for number, store in enumerate(ids):
            when = start + dt.timedelta(seconds=number * 3600 // len(ids), microseconds=number)
            out.write(f"{store},{'inactive' if number % 13 == 0 else 'active'},{when:%Y-%m-%d %H:%M:%S.%f} UTC\n")
    return path


def upload_file(path: Path, megabytes: int) -> Path:
    """The first whole lines of the polls file that fit in ``megabytes``."""
    cut = OUT_DIR / f"{path.stem}-first-{megabytes}MB.csv"
    if not cut.exists():
        limit = megabytes * MEGABYTE
        with open(path, "rb") as source, open(cut, "wb") as out:
            written = 0
            for line in source:
                if written + len(line) > limit:
                    break
                out.write(line)
                written += len(line)
    return cut


def check(status: int, answer: dict, what: str) -> None:
    if status not in (200, 201):
        sys.exit(f"{what}: HTTP {status}: {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 1_850_000)))
    parser.add_argument("--stores", type=int, default=int(os.environ.get("BENCH_STORES", 14_000)))
    parser.add_argument("--pushes", type=int, default=int(os.environ.get("BENCH_PUSHES", 5)))
    args = parser.parse_args()

    polls, distinct = bench_load.polls_file(args.rows, args.stores, duplicates=10, seed=1)
    size_mb = polls.stat().st_size / MEGABYTE
    print(f"polls file: {polls.name} ({args.rows:,} rows, {distinct:,} distinct, {size_mb:.0f} MB)")

    # 2a, and the stored polls of 1: load_csvs into an empty database.
    url = fresh_database()
    run = bench_load.child_process.run_child(
        [sys.executable, "manage.py", "load_csvs", "--polls", str(polls)], environment(url)
    )
    if run.status != 0:
        sys.exit(f"load_csvs failed:\n{run.output}")
    command_seconds = run.seconds
    print(f"load_csvs of {args.rows:,} rows into an empty database: {command_seconds:.1f} s, peak {run.peak_mb:.0f} MB")

    # 1: hourly pushes on top of the stored polls.
    token = api_token(url)
    ids = store_ids(polls, args.stores)
    times = []
    with Server(url):
        for hour in range(args.pushes):
            seconds, status, answer = push(hour_file(ids, hour), token)
            check(status, answer, "hourly push")
            times.append(seconds)
    print(
        f"1. push of one hour ({len(ids):,} rows) onto {distinct:,} polls: best {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s of {len(times)} "
        f"(target <= {TARGET_PUSH_SECONDS:.0f} s: {'met' if min(times) <= TARGET_PUSH_SECONDS else 'MISSED'})"
    )

    # 2b: the whole file through the API into an empty database.
    url = fresh_database()
    token = api_token(url)
    limit = str(int(size_mb) + 50)
    with Server(url, MAX_FEED_UPLOAD_MB=limit) as server:
        api_seconds, status, answer = push(polls, token)
        check(status, answer, "whole-file push")
        whole_peak = server.peak_mb()
    ratio = api_seconds / command_seconds
    print(
        f"2. {args.rows:,} rows through the API: {api_seconds:.1f} s ({answer['rows_inserted']:,} inserted; server "
        f"peak {whole_peak:.0f} MB) vs load_csvs {command_seconds:.1f} s: {ratio:.2f} x "
        f"(target <= {TARGET_RATIO} x: {'met' if ratio <= TARGET_RATIO else 'MISSED'})"
    )

    # 3: the server's memory during a 100 MB upload, in a fresh process and database.
    upload = upload_file(polls, UPLOAD_MB)
    url = fresh_database()
    token = api_token(url)
    with Server(url) as server:
        idle = server.peak_mb()
        seconds, status, answer = push(upload, token)
        check(status, answer, "100 MB push")
        peak = server.peak_mb()
    print(
        f"3. server peak RSS during a {upload.stat().st_size / MEGABYTE:.0f} MB upload ({answer['rows_read']:,} rows, "
        f"{seconds:.1f} s): {peak:.0f} MB (idle {idle:.0f} MB) "
        f"(target < {TARGET_PEAK_MB:.0f} MB: {'met' if peak < TARGET_PEAK_MB else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
