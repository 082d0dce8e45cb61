#!/usr/bin/env python
"""How long `manage.py qcluster` takes to exit after a SIGTERM, to its process group and to its
main process alone.

    .venv/bin/python benchmarks/bench_worker_stop.py [--trials 10]

Starts an idle cluster on a throwaway SQLite database (ORM broker) each trial, waits until it
says it runs, sends SIGTERM and times the exit. Prints every trial and the worst; nothing is
asserted (the tests check the 15-second bound with a report running).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def one_stop(env: dict[str, str], log: Path, *, group: bool) -> float:
    with open(log, "w") as output:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while "running." not in log.read_text():
            if cluster.poll() is not None:
                sys.exit(f"qcluster exited before it ran:\n{log.read_text()}")
            time.sleep(0.1)
        time.sleep(0.3)
        started = time.monotonic()
        if group:
            os.killpg(cluster.pid, signal.SIGTERM)
        else:
            cluster.send_signal(signal.SIGTERM)
        cluster.wait(60)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="stops of each kind (default 10)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_worker_stop_") as scratch:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        env["STOREMONITOR_VAR_DIR"] = scratch
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)
        log = Path(scratch) / "qcluster.log"
        for group, label in ((True, "SIGTERM to the process group"), (False, "SIGTERM to the main process")):
            seconds = [one_stop(env, log, group=group) for _ in range(options.trials)]
            print(f"{label}: exit after {' '.join(f'{s:.2f}' for s in seconds)} s (worst {max(seconds):.2f} s)")


if __name__ == "__main__":
    main()
