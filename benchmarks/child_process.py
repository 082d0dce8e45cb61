"""Wall time, exit status and peak memory of a command run as a child process, for the benchmarks.

The figures are taken by a small helper process that starts the command (``MEASURE``), so the
peak resident set is the command's own, not the benchmark's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
status = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{seconds} {status} {peak}")
"""


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    status: int
    peak_mb: float
    output: str  # stdout and stderr together


def run_child(args: list[str], env: dict[str, str]) -> ChildRun:
    """Run ``args`` in the project directory and measure it."""
    with tempfile.TemporaryDirectory() as scratch:
        figures, log = Path(scratch) / "figures", Path(scratch) / "output"
        with open(log, "w") as output:
            subprocess.run(
                [sys.executable, "-S", "-c", MEASURE, str(figures), *args],
                cwd=PROJECT_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
            )
        seconds, status, peak_kib = figures.read_text().split()
        return ChildRun(float(seconds), int(status), int(peak_kib) / 1024, log.read_text())  # ru_maxrss: KiB
