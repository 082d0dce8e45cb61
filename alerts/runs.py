"""One reconciliation at a time, however many imports ask for one.

Every import queues a reconcile task. A task claims the single ``ReconcileState`` row with a
conditional update; a task that finds it claimed sets ``rerun_requested`` and returns, and the
running one goes round once more before it lets go, so the last import is always reconciled and
a burst of imports costs one or two runs, not one each. A claim older than ``RECONCILE_LEASE``
(its worker died) is taken over.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.delivery import queue_delivery
from alerts.incidents import ReconcileResult, reconcile_incidents
from alerts.models import ReconcileState
from alerts.notifications import plan_incident_deliveries

log = logging.getLogger(__name__)

RECONCILE_LEASE = dt.timedelta(minutes=10)
# A run goes round at most this many times, then queues a new task for the next round.
MAX_ROUNDS = 5


def reconcile_and_plan(as_of: dt.datetime | None = None) -> tuple[ReconcileResult, list[int]]:
    """One reconciliation and the deliveries it calls for; returns the result and the new
    deliveries' pks (queued for sending by the caller)."""
    result = reconcile_incidents(as_of)
    if result.as_of is None:
        return result, []
    with transaction.atomic():
        planned = plan_incident_deliveries(result.as_of)
    return result, [delivery.pk for delivery in planned]


def run_reconcile(
    runner: str, *, now: dt.datetime | None = None, as_of: dt.datetime | None = None
) -> list[ReconcileResult] | None:
    """Reconcile, unless another run holds the claim (then ask it to go round again and return
    None). Returns the results of each round. ``as_of`` is the first round's report time
    (default: just after the newest poll); rounds that imports ask for meanwhile use the newest."""
    state_pk = _state_pk()
    moment = now or timezone.now()
    if not _claim(state_pk, runner, moment):
        ReconcileState.objects.filter(pk=state_pk).update(rerun_requested=True)
        # The holder may have let go between the claim and the request, and would never see it.
        if not _claim(state_pk, runner, moment):
            log.info("a reconciliation is running; it will go round once more")
            return None
    results = []
    try:
        for round_number in range(MAX_ROUNDS):
            result, deliveries = reconcile_and_plan(as_of if round_number == 0 else None)
            results.append(result)
            for delivery_pk in deliveries:
                queue_delivery(delivery_pk)
            ReconcileState.objects.filter(pk=state_pk, runner=runner).update(
                last_as_of=result.as_of,
                last_finished_at=timezone.now(),
                last_seconds=result.seconds,
                last_summary=result.describe(),
            )
            # Let go unless an import asked for another round while this one ran, in one conditional
            # update: a request made between a separate check and the release would be lost.
            if _release(state_pk, runner, unless_rerun_requested=True):
                return results
            if not ReconcileState.objects.filter(pk=state_pk, runner=runner).update(rerun_requested=False):
                return results  # this run outlived its lease and another one holds the claim now
    finally:
        _release(state_pk, runner)  # nothing left to do when already released
    # Imports kept asking for MAX_ROUNDS rounds: a new task takes the one still owed.
    from alerts.tasks import queue_reconcile  # alerts.tasks imports this module

    queue_reconcile()
    return results


def _release(state_pk: int, runner: str, *, unless_rerun_requested: bool = False) -> int:
    held = ReconcileState.objects.filter(pk=state_pk, runner=runner)
    if unless_rerun_requested:
        held = held.filter(rerun_requested=False)
    return held.update(running_since=None, runner="")


def _claim(state_pk: int, runner: str, moment: dt.datetime) -> int:
    return (
        ReconcileState.objects.filter(pk=state_pk)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=moment - RECONCILE_LEASE))
        .update(running_since=moment, runner=runner, rerun_requested=False)
    )


def _state_pk() -> int:
    state, _ = ReconcileState.objects.get_or_create(pk=1)
    return state.pk
