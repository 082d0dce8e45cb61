"""A test-only app for the workers of the end-to-end tests: reports that take their time.

``E2E_SLOW_REPORT_SECONDS``: every report first waits that long (before reading anything), so
a test can kill or stop the worker while a report is Running. ``E2E_SLOW_SNAPSHOT_SECONDS``:
the snapshot read waits that long inside its read transaction, just before it reads the polls,
so a test can break the database connection in the middle of a read. ``E2E_SLOW_SHARD_SECONDS``:
every shard of a sharded report waits that long after its claim, before it imports the
snapshot and computes, so a test can load data or kill a worker while a shard runs. It patches the worker
process only; production code has no hook for it.
"""

import os
import time

from django.apps import AppConfig


class SlowReportsConfig(AppConfig):
    name = "tests.reports"
    label = "e2e_slow_reports"

    def ready(self):
        from reports import generation, shards, snapshot

        report_seconds = float(os.environ.get("E2E_SLOW_REPORT_SECONDS") or 0)
        snapshot_seconds = float(os.environ.get("E2E_SLOW_SNAPSHOT_SECONDS") or 0)
        shard_seconds = float(os.environ.get("E2E_SLOW_SHARD_SECONDS") or 0)
        compute_report = generation.compute_report
        read_polls = snapshot.read_polls
        compute_shard = shards._compute

        def slow_compute_report(progress=None, **parameters):
            if progress:
                progress(0.0, "waiting (end-to-end test)")
            time.sleep(report_seconds)  # the heartbeat thread keeps beating meanwhile
            return compute_report(progress=progress, **parameters)

        def slow_read_polls(polls):
            time.sleep(snapshot_seconds)  # inside the read transaction, whose first query has run
            return read_polls(polls)

        def slow_compute_shard(report, shard):
            time.sleep(shard_seconds)  # claimed and heartbeating, not yet in the snapshot
            return compute_shard(report, shard)

        generation.compute_report = slow_compute_report
        shards._compute = slow_compute_shard
        snapshot.read_polls = slow_read_polls
