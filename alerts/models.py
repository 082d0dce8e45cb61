"""Incidents (outages seen live), owners' notification channels, deliveries and scheduled reports.

An ``Incident`` is never written by hand: ``alerts.incidents.reconcile_incidents`` makes the rows
equal to the outages (README rule 10) of the newest report time after every import. A
``Delivery`` is one event for one channel, created at most once (unique constraints) and sent
by the worker that claims it with a conditional update (``alerts.delivery``).
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from monitoring.access import AnyUser, visible_stores


class IncidentQuerySet(models.QuerySet["Incident"]):
    def current(self) -> "IncidentQuerySet":
        """Incidents the outages still show: not retracted by later evidence."""
        return self.exclude(ended_by=Incident.EndedBy.RETRACTED)

    def open(self) -> "IncidentQuerySet":
        return self.current().filter(ended_at__isnull=True)

    def visible_to(self, user: AnyUser) -> "IncidentQuerySet":
        """The incidents of the stores ``user`` may see (monitoring.access)."""
        return self.filter(store__in=visible_stores(user))


class Incident(models.Model):
    """The live form of an outage: a store inactive inside one business session.

    ``ended_at`` is None while the store is still inactive at the newest report time. An
    incident that later polls or corrected hours show never happened is *retracted* when a
    notification about it went out (so the channel hears that it is over), deleted otherwise.
    """

    class EndedBy(models.TextChoices):
        ACTIVE_POLL = "active_poll", "an active poll"
        SESSION_CLOSED = "session_closed", "closing time"
        RETRACTED = "retracted", "retracted: later data showed no outage"

    store = models.ForeignKey("monitoring.Store", on_delete=models.CASCADE, related_name="incidents")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=16, choices=EndedBy.choices, blank=True)
    # The business session holding it (as the engine holds it: cut to the report's lookback).
    session_start = models.DateTimeField()
    session_end = models.DateTimeField()
    # The time of the inactive poll whose status opened it (a time, not a key: retention
    # prunes old polls).
    opened_by_poll_at = models.DateTimeField(null=True, blank=True)
    # When the first channel was sent the opened / the closed notification.
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    closed_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["store", "started_at"], name="incident_store_start"),
            models.Index(fields=["ended_at"], name="incident_open", condition=Q(ended_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "started_at"], condition=~Q(ended_by="retracted"), name="incident_one_per_start"
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.ended_at is None else f"ended {self.ended_at:%Y-%m-%d %H:%M} UTC"
        return f"{self.store.store_id} offline from {self.started_at:%Y-%m-%d %H:%M} UTC ({state})"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def duration(self, as_of: dt.datetime | None = None) -> dt.timedelta | None:
        """How long it lasted; while open, until ``as_of`` (None when not given)."""
        end = self.ended_at or as_of
        return None if end is None else end - self.started_at


class Channel(models.Model):
    """Where an owner's notifications go: a signed webhook, an email address, or an Apprise URL."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "webhook"
        EMAIL = "email", "email"
        APPRISE = "apprise", "Apprise URL"

    owner = models.ForeignKey("monitoring.Owner", on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    # The webhook's URL, the email address, or the Apprise URL (which may hold a service token).
    target = models.CharField(max_length=2000)
    # Webhooks only: the key of the HMAC-SHA256 signature of every body.
    secret = models.CharField(max_length=200, blank=True)
    # Notify an incident only once it has been open this long (measured on the polls' clock).
    grace_minutes = models.PositiveIntegerField(default=0)
    quiet_stores = models.ManyToManyField("monitoring.Store", blank=True, related_name="+")
    notify_incidents = models.BooleanField(default=True)
    notify_reports = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    # Set when a delivery was given up after its last retry; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["owner__slug", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} of {self.owner.slug}"


class Delivery(models.Model):
    """One event for one channel: created once, claimed by one worker, every attempt logged."""

    class Event(models.TextChoices):
        INCIDENT_OPENED = "incident.opened"
        INCIDENT_CLOSED = "incident.closed"
        REPORT_READY = "report.ready"
        TEST = "test"

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its (next) attempt at next_attempt_at
        SENDING = "sending"  # claimed by claimed_by at claimed_at
        SENT = "sent"
        FAILED = "failed"  # given up after the last retry

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=Event.choices)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    report = models.ForeignKey(
        "reports.Report", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    # The event's JSON, fixed when the delivery is created: every retry sends the same body.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=255, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "event", "incident"],
                condition=Q(incident__isnull=False),
                name="delivery_once_per_incident_event",
            ),
            models.UniqueConstraint(
                fields=["channel", "event", "report"],
                condition=Q(report__isnull=False),
                name="delivery_once_per_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, by whom, and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # webhooks: the HTTP status
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {'ok' if self.ok else 'failed'}"


class ReportSchedule(models.Model):
    """An owner's scheduled report: daily or weekly at a local time in a chosen zone.

    ``next_run_at`` is the next slot in UTC; a worker claims a due schedule by moving it to the
    first slot after now (a conditional update), so missed slots run once, not once each.
    """

    class Frequency(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"

    owner = models.OneToOneField("monitoring.Owner", on_delete=models.CASCADE, related_name="report_schedule")
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True)  # weekly: 0 = Monday .. 6 = Sunday
    local_time = models.TimeField(default=dt.time(8, 0))
    time_zone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # What the last run did: the report it triggered, or why it made none (an owner without polls).
    last_outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["owner__slug"]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} report of {self.owner.slug}"


class ScheduledRun(models.Model):
    """One run of a schedule: the report it triggered, and whether report.ready was sent out."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="runs")
    slot_at = models.DateTimeField()  # the slot (UTC) this run stands for
    report = models.OneToOneField("reports.Report", on_delete=models.CASCADE, related_name="scheduled_run")
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-slot_at"]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.slot_at:%Y-%m-%d %H:%M} UTC"


class ReconcileState(models.Model):
    """The one row that serialises reconciliations: a run claims it with a conditional update;
    a request while one runs sets ``rerun_requested`` and that run goes round once more."""

    running_since = models.DateTimeField(null=True, blank=True)
    runner = models.CharField(max_length=255, blank=True)
    rerun_requested = models.BooleanField(default=False)
    last_as_of = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_seconds = models.FloatField(null=True, blank=True)
    last_summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"running since {self.running_since}" if self.running_since else "idle"
