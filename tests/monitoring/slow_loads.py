"""A test-only app for the workers of the end-to-end tests: loads that take their time.

``E2E_SLOW_LOAD_SECONDS``: every load waits that long after its ledger row is written (Running)
and before it reads the file, so a test can kill a worker in the middle of a load. It patches
the worker process only; production code has no hook for it.
"""

import os
import time

from django.apps import AppConfig


class SlowLoadsConfig(AppConfig):
    name = "tests.monitoring"
    label = "e2e_slow_loads"

    def ready(self):
        from monitoring import imports

        seconds = float(os.environ.get("E2E_SLOW_LOAD_SECONDS") or 0)
        load_feeds = imports.load_feeds

        def slow_load_feeds(**arguments):
            time.sleep(seconds)  # the claim's lease thread keeps renewing meanwhile
            return load_feeds(**arguments)

        imports.load_feeds = slow_load_feeds
