"""Sending deliveries: exactly once per event and channel, every attempt logged.

- ``queue_delivery(delivery_pk, at=None)``: hand a delivery to the job queue (now, or at ``at``
  as a django-q2 schedule of type ONCE). It never raises: the sweep sends what was not queued.
- ``deliver(delivery_pk) -> str | None``: claim it with a conditional update (Pending and due →
  Sending, with this worker's name) and send it; None when another worker has it or it is done,
  so a task delivered twice, or two workers, send once.
- ``send_test(channel) -> DeliveryAttempt``: a test delivery sent at once, never retried.
- ``send_due_deliveries(now=None) -> str``: the sweep (every minute, ``alerts.tasks.sweep``):
  re-queues Pending deliveries whose retry is due and whose task was lost, and releases claims
  whose worker died.

A failed attempt is retried after ``ALERT_RETRY_DELAYS_SECONDS[attempts - 1]``; when the delays
are used up the delivery is Failed and its channel shown as failing until its next success.

Exactly once holds while workers live. A worker that dies in the middle of a send leaves its
claim (Sending); after ``claim_lease()`` the sweep counts that attempt as failed and queues the
delivery again, so a receiver that got the dead worker's request gets it a second time: after
a crash mid-send the guarantee is at least once. Receivers deduplicate on the
X-Storemonitor-Delivery header, which is the same for every attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.tasks import async_task

from alerts.models import Channel, Delivery, DeliveryAttempt, Incident
from alerts.notifications import plan_test_delivery
from alerts.senders import SendResult, elapsed_ms, send, validate_target, validate_webhook_url
from reports.actions import worker_identity

__all__ = [
    "claim_lease",
    "deliver",
    "queue_delivery",
    "send_due_deliveries",
    "send_test",
    "validate_target",
    "validate_webhook_url",
]

log = logging.getLogger(__name__)

Status = Delivery.Status
DELIVER_TASK = "alerts.tasks.deliver"
# The sweep leaves a Pending delivery this long past due to the task or schedule that was made
# for it (django-q2's scheduler looks every 30 s), and only then queues it again itself.
SWEEP_GRACE = dt.timedelta(seconds=60)


def claim_lease() -> dt.timedelta:
    """How long a claim may stand before its worker counts as dead: two send timeouts (an
    attempt's connect and read) and a minute to write the outcome."""
    return dt.timedelta(seconds=2 * settings.ALERT_SEND_TIMEOUT_SECONDS + 60)


def queue_delivery(delivery_pk: int, at: dt.datetime | None = None) -> None:
    """A task to send the delivery now, or a ONCE schedule at ``at``. Queue errors are logged,
    never raised: the delivery stays Pending and the sweep queues it."""
    try:
        if at is None:
            async_task(DELIVER_TASK, delivery_pk, group="alerts")
        else:
            Schedule.objects.create(
                name=f"alerts: retry of delivery {delivery_pk}",
                func=DELIVER_TASK,
                args=str(delivery_pk),
                schedule_type=Schedule.ONCE,
                next_run=at,
                repeats=-1,  # a ONCE schedule with negative repeats is deleted once it ran
                # A cluster of its own name (a private test queue) runs only its own schedules.
                cluster=None if Conf.CLUSTER_NAME == Conf.PREFIX else Conf.CLUSTER_NAME,
            )
    except Exception:
        log.exception("could not queue delivery pk=%s; the sweep sends it", delivery_pk)


def deliver(delivery_pk: int) -> str | None:
    """Claim the delivery and make one attempt; what happened, or None when it was not this
    worker's to send (claimed elsewhere, not yet due, sent, failed, or gone)."""
    worker = worker_identity()
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_pk, status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Status.SENDING, claimed_by=worker, claimed_at=now)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("channel", "channel__owner", "report").get(pk=delivery_pk)
    if not delivery.channel.enabled and delivery.event != Delivery.Event.TEST:
        reason = f"Not sent: the channel {delivery.channel} was disabled before the delivery went out."
        _owned(delivery).update(status=Status.FAILED, last_error=reason, claimed_by="", claimed_at=None)
        return reason
    attempt = _attempt(delivery, worker)
    if attempt.ok:
        return _succeeded(delivery, attempt)
    return _failed(delivery, attempt, retry=delivery.event != Delivery.Event.TEST)


def send_test(channel: Channel) -> DeliveryAttempt:
    """Send a test event to ``channel`` now (disabled channels too) and return its one attempt.
    A failed test is not retried and does not mark the channel failing; a success clears it."""
    planned = plan_test_delivery(channel)
    worker = worker_identity()
    now = timezone.now()
    # The sweep never takes test deliveries, so this claim cannot be lost to it.
    Delivery.objects.filter(pk=planned.pk, status=Status.PENDING).update(
        status=Status.SENDING, claimed_by=worker, claimed_at=now
    )
    delivery = Delivery.objects.select_related("channel", "channel__owner", "report").get(pk=planned.pk)
    attempt = _attempt(delivery, worker)
    if attempt.ok:
        _succeeded(delivery, attempt)
    else:
        _failed(delivery, attempt, retry=False)
    return attempt


def send_due_deliveries(now: dt.datetime | None = None) -> str:
    """Release claims older than the lease (their worker died mid-send: the attempt counts as
    failed and the delivery is retried, or given up after the last retry), then queue the
    Pending deliveries due for longer than SWEEP_GRACE. Returns what it did, as a sentence."""
    now = now or timezone.now()
    released = 0
    stale = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=now - claim_lease()).select_related(
        "channel", "channel__owner"
    )
    for delivery in stale:
        if _release_dead_claim(delivery, now):
            released += 1

    due_before = now - SWEEP_GRACE
    due = (
        Delivery.objects.filter(status=Status.PENDING)
        .exclude(event=Delivery.Event.TEST)  # tests are sent by send_test, in the request
        .filter(Q(next_attempt_at__isnull=True, created_at__lte=due_before) | Q(next_attempt_at__lte=due_before))
        .values_list("pk", flat=True)
    )
    queued = 0
    for delivery_pk in due:
        queue_delivery(delivery_pk)
        queued += 1
    deliveries = "delivery" if queued == 1 else "deliveries"
    claims = "claim" if released == 1 else "claims"
    return f"{queued} due {deliveries} queued, {released} dead worker {claims} released"


# --- Internals -------------------------------------------------------------------------------


def _owned(delivery: Delivery):
    """The delivery's row while this claim still holds it: every write after the send is
    conditional on it, so a claim the sweep gave away is never overwritten."""
    return Delivery.objects.filter(
        pk=delivery.pk, status=Status.SENDING, claimed_by=delivery.claimed_by, claimed_at=delivery.claimed_at
    )


def _attempt(delivery: Delivery, worker: str) -> DeliveryAttempt:
    """One send, logged: the attempt's row is written before the send (so a worker that dies
    in it leaves a trace) and completed after."""
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts + 1,
        started_at=timezone.now(),
        worker=worker,
        error="Sending… (no outcome recorded yet).",
    )
    started = time.monotonic()
    try:
        result = send(delivery)
    except Exception as error:  # a bug in a sender must not leave the claim standing
        log.exception("sender of delivery pk=%s raised", delivery.pk)
        result = SendResult(False, error=f"The sender raised {type(error).__name__}: {error}")
    attempt.duration_ms = elapsed_ms(started)
    attempt.ok = result.ok
    attempt.status_code = result.status_code
    attempt.error = result.error
    attempt.save(update_fields=["duration_ms", "ok", "status_code", "error"])
    return attempt


def _succeeded(delivery: Delivery, attempt: DeliveryAttempt) -> str:
    sent_at = timezone.now()
    _owned(delivery).update(
        status=Status.SENT,
        sent_at=sent_at,
        attempts=F("attempts") + 1,
        last_error="",
        next_attempt_at=None,
        claimed_by="",
        claimed_at=None,
    )
    # The channel works again.
    Channel.objects.filter(pk=delivery.channel_id).exclude(failing_since=None, last_error="").update(
        failing_since=None, last_error=""
    )
    if delivery.incident_id is not None:
        if delivery.event == Delivery.Event.INCIDENT_OPENED:
            Incident.objects.filter(pk=delivery.incident_id, opened_notified_at=None).update(opened_notified_at=sent_at)
        elif delivery.event == Delivery.Event.INCIDENT_CLOSED:
            Incident.objects.filter(pk=delivery.incident_id, closed_notified_at=None).update(closed_notified_at=sent_at)
    code = f" (HTTP {attempt.status_code})" if attempt.status_code else ""
    return f"{delivery.event} delivery {delivery.pk} sent to {delivery.channel}{code} at attempt {attempt.number}"


def _failed(delivery: Delivery, attempt: DeliveryAttempt, *, retry: bool) -> str:
    """Back to Pending with the next delay, or Failed (and the channel failing) after the last."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    delays = settings.ALERT_RETRY_DELAYS_SECONDS
    again = retry and attempts <= len(delays)
    next_at = now + dt.timedelta(seconds=delays[attempts - 1]) if again else None
    moved = _owned(delivery).update(
        status=Status.PENDING if again else Status.FAILED,
        attempts=attempts,
        next_attempt_at=next_at,
        last_error=attempt.error,
        claimed_by="",
        claimed_at=None,
    )
    if next_at is not None:
        if moved:
            queue_delivery(delivery.pk, at=next_at)
        return (
            f"{delivery.event} delivery {delivery.pk} to {delivery.channel}: attempt {attempts} failed "
            f"({attempt.error}); next at {next_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if delivery.event == Delivery.Event.TEST:
        return f"test delivery {delivery.pk} to {delivery.channel} failed: {attempt.error}"
    return _give_up(delivery, attempts, attempt.error, now)


def _give_up(delivery: Delivery, attempts: int, error: str, now: dt.datetime) -> str:
    reason = (
        f"{delivery.event} delivery {delivery.pk} given up after {attempts} attempt{'' if attempts == 1 else 's'}: "
        f"{error}"
    )
    Channel.objects.filter(pk=delivery.channel_id).update(last_error=reason)
    Channel.objects.filter(pk=delivery.channel_id, failing_since=None).update(failing_since=now)
    log.warning("%s", reason)
    return reason


def _release_dead_claim(delivery: Delivery, now: dt.datetime) -> bool:
    """Count a dead worker's attempt as failed and retry it at once (or give it up after the
    last retry; a test, at once). Conditional on the claim being unchanged since it was read."""
    error = (
        f"The worker {delivery.claimed_by} stopped during this attempt (claimed "
        f"{delivery.claimed_at:%Y-%m-%d %H:%M:%S} UTC); whether the receiver got it is unknown."
    )
    attempts = delivery.attempts + 1
    retry = delivery.event != Delivery.Event.TEST and attempts <= len(settings.ALERT_RETRY_DELAYS_SECONDS)
    fields = {"attempts": attempts, "last_error": error, "claimed_by": "", "claimed_at": None}
    if retry:
        fields.update(status=Status.PENDING, next_attempt_at=now)
    else:
        fields.update(status=Status.FAILED, next_attempt_at=None)
    if not _owned(delivery).update(**fields):
        return False  # its worker finished after all, or another sweep released it
    DeliveryAttempt.objects.filter(delivery=delivery, number=attempts, worker=delivery.claimed_by, ok=False).update(
        error=error
    )
    if retry:
        queue_delivery(delivery.pk)
    elif delivery.event != Delivery.Event.TEST:
        _give_up(delivery, attempts, error, now)
    return True
