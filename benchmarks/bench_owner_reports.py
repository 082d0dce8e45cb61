#!/usr/bin/env python
"""Benchmark of owner reports (issue 12): `generate_report --owner SLUG` as a whole process for
owners of several sizes, against the all-stores report of the same data, and a check that each
owner's CSV holds exactly that owner's lines of the all-stores CSV.

    .venv/bin/python benchmarks/bench_report.py          # first: generates and loads the data
    .venv/bin/python benchmarks/bench_owner_reports.py   # then this, on the same database

It gives N stores of the benchmark database (default `storemonitor_bench_report`, 14,000
stores) to an owner "bench-<N>" for each size N (consecutive runs by store_id), times the
reports best of --repeats, and leaves the owners in place. Figures are printed; nothing is
asserted but the CSVs' agreement (the machine is shared and noisy).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_report import timed_child  # noqa: E402  (the same whole-process timing)

AS_OF = "2023-01-25T18:00:00Z"


def give_stores_to_owners(url: str, sizes: list[int]) -> dict[int, set[str]]:
    """Owner bench-N owns N stores, the sizes taking consecutive runs of stores by store_id (the
    other stores have no owner). Returns each size's store ids."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("UPDATE monitoring_store SET owner_id = NULL")
        offset = 0
        for size in sizes:
            owner = conn.execute(
                "INSERT INTO monitoring_owner (name, slug) VALUES (%s, %s) "
                "ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                [f"Bench {size} stores", f"bench-{size}"],
            ).fetchone()[0]
            conn.execute(
                "UPDATE monitoring_store SET owner_id = %s WHERE id IN "
                "(SELECT id FROM monitoring_store ORDER BY store_id OFFSET %s LIMIT %s)",
                [owner, offset, size],
            )
            offset += size
        rows = conn.execute(
            "SELECT o.slug, s.store_id FROM monitoring_store s JOIN monitoring_owner o ON o.id = s.owner_id"
        ).fetchall()
    return {size: {store_id for slug, store_id in rows if slug == f"bench-{size}"} for size in sizes}


def best_report(args, env, out: Path, extra: list[str]) -> tuple[float, list[float], float]:
    runs = [
        timed_child(["generate_report", "--as-of", AS_OF, "--out", str(out), *extra], env) for _ in range(args.repeats)
    ]
    seconds = [s for s, _ in runs]
    return min(seconds), seconds, max(mb for _, mb in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="storemonitor_bench_report")
    parser.add_argument(
        "--sizes", default="140,1400,7000", help="owner sizes in stores, comma-separated (sum <= stores)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    url = f"{args.server}/{args.database}"
    env = dict(os.environ, DATABASE_URL=url, DEBUG="1")
    env.pop("REDIS_URL", None)
    owned = give_stores_to_owners(url, sizes)

    with tempfile.TemporaryDirectory() as scratch:
        every = Path(scratch) / "all.csv"
        best, seconds, peak = best_report(args, env, every, [])
        all_lines = every.read_text().splitlines()
        header, rows = all_lines[0], all_lines[1:]
        print(
            f"all stores ({len(rows):,}): best {best:.2f} s of {', '.join(f'{s:.2f}' for s in seconds)}; "
            f"peak {peak:.0f} MB"
        )
        for size in sizes:
            out = Path(scratch) / f"owner-{size}.csv"
            best_owner, seconds, peak = best_report(args, env, out, ["--owner", f"bench-{size}"])
            lines = out.read_text().splitlines()
            expected = [line for line in rows if line.split(",", 1)[0] in owned[size]]
            same = lines[0] == header and lines[1:] == expected
            print(
                f"owner bench-{size} ({len(owned[size]):,} stores): best {best_owner:.2f} s "
                f"({best_owner / best:.2f}x the all-stores report) "
                f"of {', '.join(f'{s:.2f}' for s in seconds)}; peak {peak:.0f} MB; "
                f"{len(lines) - 1:,} rows, {'identical to' if same else 'DIFFERENT from'} those stores' lines "
                "of the all-stores CSV"
            )


if __name__ == "__main__":
    main()
