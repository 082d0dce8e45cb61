"""The alerts' django-q2 tasks and the signal receivers that queue them."""

from __future__ import annotations

import logging

from django.db import transaction
from django_q.models import Schedule
from django_q.tasks import async_task

from alerts import delivery, runs, schedules
from monitoring.schedules import keep_schedule
from reports.actions import worker_identity

log = logging.getLogger(__name__)

SWEEP_SCHEDULE = "alerts: due deliveries and scheduled reports"


def reconcile() -> str:
    """Task: reconcile the incidents with the newest outages and send what that calls for."""
    results = runs.run_reconcile(worker_identity())
    if results is None:
        return "another reconciliation is running; it goes round once more"
    return " | ".join(result.describe() for result in results)


def deliver(delivery_pk: int) -> str | None:
    """Task: send one delivery (a second delivery of the same task sends nothing)."""
    return delivery.deliver(delivery_pk)


def sweep() -> str:
    """Task (every minute): deliveries whose retry is due or whose worker died, and the
    scheduled reports whose time has come."""
    return f"{delivery.send_due_deliveries()}; {schedules.run_due_schedules()}"


def queue_reconcile() -> None:
    try:
        async_task("alerts.tasks.reconcile", group="alerts")
    except Exception:
        log.exception("could not queue the reconciliation of incidents")


def reconcile_after_import(sender, outcome, using="default", **kwargs) -> None:
    """feeds_imported receiver: reconcile once the import's transaction has committed."""
    transaction.on_commit(queue_reconcile, using=using)


def notify_report_completed(sender, report, **kwargs) -> None:
    """report_completed receiver: report.ready for a scheduled report (alerts.schedules)."""
    schedules.report_completed(report)


def ensure_sweep_schedule(using="default", **kwargs) -> None:
    """post_migrate receiver: the periodic sweep."""
    keep_schedule(using, SWEEP_SCHEDULE, func="alerts.tasks.sweep", schedule_type=Schedule.MINUTES, minutes=1)
