"""Settings of the real ``qcluster`` processes started by the end-to-end tests (never the service).

The service's own settings, pointed at pytest's test database, with a fast queue poll, a
one-second heartbeat and a private queue name; the tests pass values as E2E_* variables.
"""

import os

from storemonitor.settings import *  # noqa: F403
from storemonitor.settings import DATABASES, INSTALLED_APPS, Q_CLUSTER

DATABASES["default"]["NAME"] = os.environ["E2E_DATABASE_NAME"]

Q_CLUSTER = {
    **Q_CLUSTER,
    # A queue of its own, so parallel test runs sharing one Redis never take each other's tasks.
    "cluster_name": os.environ["E2E_CLUSTER_NAME"],
    # E2E_WORKERS=1: a cluster of a single worker (a sharded report must finish there too).
    "workers": int(os.environ.get("E2E_WORKERS", "2")),
    "queue_limit": 2,
    "poll": 0.1,
    "timeout": 90,
    "retry": 150,
    # The guard calls the scheduler when its counter of guard_cycle seconds reaches 30: a cycle of
    # 30 (E2E_GUARD_CYCLE=30) runs the scheduler as the cluster starts, not half a minute later.
    "guard_cycle": float(os.environ.get("E2E_GUARD_CYCLE", "0.5")),
}

REPORT_HEARTBEAT_SECONDS = 1
REPORT_STALL_SECONDS = int(os.environ.get("E2E_STALL_SECONDS", "120"))
REPORT_MAX_ATTEMPTS = int(os.environ.get("E2E_MAX_ATTEMPTS", "2"))

if (
    os.environ.get("E2E_SLOW_REPORT_SECONDS")
    or os.environ.get("E2E_SLOW_SNAPSHOT_SECONDS")
    or os.environ.get("E2E_SLOW_SHARD_SECONDS")
):
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.reports.slow_reports.SlowReportsConfig"]
# The watched folder itself comes from the service's own INCOMING_DIR, INCOMING_POLL_SECONDS and
# INCOMING_LEASE_SECONDS variables; E2E_SLOW_LOAD_SECONDS makes every load wait inside it.
if os.environ.get("E2E_SLOW_LOAD_SECONDS"):
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.monitoring.slow_loads.SlowLoadsConfig"]
