"""django-q2 entry point of poll retention; the work happens in ``monitoring.retention``.

Wiring (``monitoring.apps``): ``migrate`` keeps a daily schedule that prunes polls older than
POLL_RETENTION_DAYS, and deletes it when POLL_RETENTION_DAYS is 0 (keep every poll).
"""

import logging

from django.conf import settings
from django_q.models import Schedule

from monitoring import retention
from monitoring.schedules import keep_schedule

log = logging.getLogger(__name__)

POLL_RETENTION_SCHEDULE = "monitoring: prune old polls"


def retention_run_name(days: int) -> str:
    """How the ledger names a scheduled run."""
    return f"daily retention (POLL_RETENTION_DAYS={days})"


def prune_old_polls() -> str:
    """Task (scheduled daily): delete the polls older than POLL_RETENTION_DAYS before the newest poll."""
    days = settings.POLL_RETENTION_DAYS
    if not days:
        # The schedule is deleted at the next migrate; until then a run keeps every poll.
        return "POLL_RETENTION_DAYS is 0: every poll is kept."
    pruning = retention.prune_polls(days, name=retention_run_name(days))
    log.info("%s", pruning.describe())
    return pruning.describe()


def ensure_poll_retention_schedule(using="default", **kwargs) -> None:
    """``post_migrate`` receiver: create or repair the daily schedule, or delete it when
    POLL_RETENTION_DAYS is 0. next_run is set only when it is created, so a later migrate keeps
    the time of day it runs at (monitoring.schedules)."""
    keep_schedule(
        using,
        POLL_RETENTION_SCHEDULE,
        enabled=bool(settings.POLL_RETENTION_DAYS),
        func="monitoring.retention_tasks.prune_old_polls",
        schedule_type=Schedule.DAILY,
    )
