"""A test-only app for the worker of the kill tests: every report first waits a few seconds.

It patches ``reports.generation.compute_report`` inside the worker process only, so a test can
kill the worker while a report is Running; production code has no hook for it.
"""

import os
import time

from django.apps import AppConfig


class SlowReportsConfig(AppConfig):
    name = "tests.reports"
    label = "e2e_slow_reports"

    def ready(self):
        from reports import generation

        seconds = float(os.environ["E2E_SLOW_REPORT_SECONDS"])
        compute_report = generation.compute_report

        def slow_compute_report(as_of=None, method="last_known", progress=None, store_id=None):
            if progress:
                progress(0.0, "waiting (end-to-end test)")
            time.sleep(seconds)  # the heartbeat thread keeps beating meanwhile
            return compute_report(as_of=as_of, method=method, progress=progress, store_id=store_id)

        generation.compute_report = slow_compute_report
