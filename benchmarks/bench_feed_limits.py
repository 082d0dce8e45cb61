"""Benchmark what `manage.py load_csvs` costs on feeds with one enormous row.

    .venv/bin/python benchmarks/bench_feed_limits.py [--megabytes 300]

Writes two gzip polls files into a temporary directory, each a header, a good row, one row
that inflates to ``--megabytes`` MB and another good row:

- ``one_line.csv.gz``: the big row is a single line (no line break in 300 MB);
- ``quoted_field.csv.gz``: the big row is a quoted field that spans lines of 100 characters,
  so every physical line is short and only the row is long.

Then it migrates a throwaway SQLite database (``STOREMONITOR_VAR_DIR`` in the same temporary
directory) and runs ``load_csvs --polls FILE`` as a child process on each file, with and without
``--skip-invalid``, plus a small good file for the baseline of Django's start-up. For each run
it prints the wall time, the child's peak resident memory (``getrusage(RUSAGE_CHILDREN)``,
taken in a small helper process that starts it, see ``benchmarks/child_process.py``), its exit status and the
first line of what it said. The bound being measured is ``MAX_FEED_LINE_CHARS`` (1 MiB).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zlib
from pathlib import Path

import child_process  # benchmarks/child_process.py, beside this script

PROJECT_DIR = Path(__file__).resolve().parent.parent
HEADER = "store_id,status,timestamp_utc\n"
GOOD_ROWS = ("1,active,2023-01-25 18:13:22.47922 UTC\n", "2,inactive,2023-01-25 18:13:22.47922 UTC\n")
MEGABYTE = 1 << 20

# Runs the command given after the figures file and writes "seconds status peak_kib" there:
# RUSAGE_CHILDREN of this helper covers that one command and nothing else.


def write_gzip(path: Path, head: str, block: str, blocks: int, tail: str) -> None:
    """``head``, ``blocks`` copies of ``block`` and ``tail``, gzip-compressed block by block."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    encoded = block.encode()
    with open(path, "wb") as out:
        out.write(compressor.compress(head.encode()))
        for _ in range(blocks):
            out.write(compressor.compress(encoded))
        out.write(compressor.compress(tail.encode()))
        out.write(compressor.flush())


def write_feeds(directory: Path, megabytes: int) -> dict[str, Path]:
    one_line = directory / "one_line.csv.gz"
    write_gzip(one_line, HEADER + GOOD_ROWS[0], "x" * MEGABYTE, megabytes, "\n" + GOOD_ROWS[1])
    quoted = directory / "quoted_field.csv.gz"
    lines = ("x" * 99 + "\n") * (MEGABYTE // 100)
    write_gzip(
        quoted, HEADER + GOOD_ROWS[0] + '"', lines, megabytes, '",active,2023-01-25 18:13:22 UTC\n' + GOOD_ROWS[1]
    )
    small = directory / "good.csv.gz"
    write_gzip(small, HEADER, "", 0, "".join(GOOD_ROWS))
    return {"good rows only": small, f"one {megabytes} MB line": one_line, f"a {megabytes} MB quoted field": quoted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=300, help="size of the big row, in MB (default 300)")
    options = parser.parse_args()
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    with tempfile.TemporaryDirectory(prefix="bench_feed_limits_") as temporary:
        scratch = Path(temporary)
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["STOREMONITOR_VAR_DIR"] = str(scratch / "var")
        print(f"writing the feeds ({options.megabytes} MB rows) ...", flush=True)
        feeds = write_feeds(scratch, options.megabytes)
        for label, path in feeds.items():
            print(f"  {path.name}: {path.stat().st_size / MEGABYTE:.1f} MB compressed ({label})")
        migrate = child_process.run_child([*manage, "migrate", "--noinput", "-v", "0"], env)
        if migrate.status:
            sys.exit(f"migrate failed:\n{migrate.output}")
        print(f"\n{'file':<22} {'options':<15} {'seconds':>8} {'peak MB':>8} {'status':>6}  first line of output")
        for label, path in feeds.items():
            for extra in ([], ["--skip-invalid"]):
                run = child_process.run_child([*manage, "load_csvs", "--polls", str(path), *extra], env)
                said = next((line for line in run.output.splitlines() if line.strip()), "")
                flags = " ".join(extra) or "-"
                print(f"{label:<22} {flags:<15} {run.seconds:>8.2f} {run.peak_mb:>8.1f} {run.status:>6}  {said[:150]}")
                if label == "good rows only":
                    break


if __name__ == "__main__":
    main()
