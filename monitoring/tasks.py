"""django-q2 entry points of the watched folder; the work happens in ``monitoring.incoming``.

``migrate`` keeps the schedule (``monitoring.apps``): present while ``INCOMING_DIR`` is set,
deleted when it is not. How often it really runs, with django-q2 1.11: the cluster's guard
calls the scheduler about every 30 s (``counter += guard_cycle`` until 30), and a ``MINUTES``
schedule counts whole minutes. So the task itself sets its schedule's ``next_run`` to
``INCOMING_POLL_SECONDS`` after it started, and the first scheduler tick at or after that time
queues it again: a pass every INCOMING_POLL_SECONDS to INCOMING_POLL_SECONDS + 30 s. Below 30 s
one task could not be queued often enough, so it keeps watching for one scheduler period
(:data:`SCHEDULER_PERIOD_SECONDS`), a pass every INCOMING_POLL_SECONDS; that holds one worker
busy all the time. Two passes at once (a slow pass and the next one) are safe: claims keep them
apart.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from time import monotonic, sleep

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from monitoring import incoming
from monitoring.schedules import keep_schedule

log = logging.getLogger(__name__)

INCOMING_SCHEDULE = "monitoring: load the watched folder"
# How often the django-q2 1.11 cluster runs its scheduler (django_q/cluster.py, Guard.guard).
SCHEDULER_PERIOD_SECONDS = 30


def load_incoming() -> str:
    """Task (the watched-folder schedule): one pass over INCOMING_DIR, or passes for one scheduler
    period when INCOMING_POLL_SECONDS is shorter than it."""
    poll_seconds = settings.INCOMING_POLL_SECONDS
    Schedule.objects.filter(name=INCOMING_SCHEDULE).update(next_run=timezone.now() + timedelta(seconds=poll_seconds))
    watch_until = monotonic() + (SCHEDULER_PERIOD_SECONDS if poll_seconds < SCHEDULER_PERIOD_SECONDS else 0)
    lines: list[str] = []
    while True:
        report = incoming.run_pass()
        if report.results or report.problem:
            lines += report.describe()
        if report.problem or monotonic() + poll_seconds > watch_until:
            break
        sleep(poll_seconds)
    return "\n".join(lines) or "nothing to load"


def ensure_incoming_schedule(using: str = "default", **kwargs: object) -> None:
    """``post_migrate`` receiver: create or repair the watched-folder schedule while INCOMING_DIR is
    set (first run now); delete it when it is not."""
    keep_schedule(
        using,
        INCOMING_SCHEDULE,
        enabled=settings.INCOMING_DIR is not None,
        func="monitoring.tasks.load_incoming",
        schedule_type=Schedule.MINUTES,
        # The task sets next_run itself; this is the interval should it not get to run.
        minutes=max(1, math.ceil(settings.INCOMING_POLL_SECONDS / 60)),
    )
