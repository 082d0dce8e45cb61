"""django-q2 entry points of the report jobs; the work happens in ``reports.actions``.

Wiring (``reports.apps``): every worker process runs the stalled-report check when it starts,
and ``migrate`` keeps two django-q2 schedules: the check every minute, pruning old reports
(``reports.retention``) every day.
"""

import logging

from django.db import DatabaseError
from django_q.conf import Conf
from django_q.models import Schedule

from monitoring.schedules import keep_schedule
from reports import actions, retention, shards

log = logging.getLogger(__name__)

RECOVERY_SCHEDULE = "reports: recover stalled reports"
PRUNE_SCHEDULE = "reports: prune old reports"


def run_report(report_pk: int):
    """Task: compute one report (queued by ``reports.actions.do_trigger_report``)."""
    return actions.do_run_report(report_pk)


def run_report_shard(shard_pk: int):
    """Task: compute one shard of a sharded report (queued by its coordinator, ``reports.shards``)."""
    return shards.run_shard_task(shard_pk)


def recover_stalled_reports() -> str:
    """Task (scheduled every minute): re-queue or fail reports whose worker died."""
    recovery = actions.recover_stalled_reports()
    if recovery.requeued or recovery.failed or recovery.resent:
        log.warning("%s", recovery.describe())
    return recovery.describe()


def prune_reports() -> str:
    """Task (scheduled daily): delete reports older than REPORT_RETENTION_DAYS with their CSVs."""
    pruning = retention.prune_reports()
    log.log(logging.WARNING if pruning.failed else logging.INFO, "%s", pruning.describe())
    return pruning.describe()


def recover_on_worker_start(sender, proc_name, **kwargs) -> None:
    """django-q2 ``post_spawn`` receiver: a starting worker first looks for stalled reports."""
    if Conf.SYNC:
        return  # sync mode "spawns" a worker per task inside the caller; nothing to recover
    try:
        recover_stalled_reports()
    except DatabaseError:
        # The schedule repeats the check; a worker must start even if the database is busy.
        log.exception("stalled-report check at worker start failed")


def ensure_recovery_schedule(using="default", **kwargs) -> None:
    """``post_migrate`` receiver: create or repair the every-minute recovery schedule."""
    keep_schedule(
        using,
        RECOVERY_SCHEDULE,
        func="reports.tasks.recover_stalled_reports",
        schedule_type=Schedule.MINUTES,
        minutes=1,
    )


def ensure_prune_schedule(using="default", **kwargs) -> None:
    """``post_migrate`` receiver: create or repair the daily schedule that prunes old reports."""
    keep_schedule(using, PRUNE_SCHEDULE, func="reports.tasks.prune_reports", schedule_type=Schedule.DAILY)
