"""Reports: one row per requested uptime report, with its CSV as a file."""

import datetime as dt
import re
import secrets

from django.conf import settings
from django.db import models

from reports.uptime import CSV_COLUMNS, DEFAULT_METHOD, EXTENDED_CSV_COLUMNS, METHOD_LABELS, METHODS

# The calculator owns the methods; the model stores their names.
METHOD_CHOICES = [(method, METHOD_LABELS[method]) for method in METHODS]

# The column sets a report can be asked for (API, generate_report, the dashboard), by name: the
# default keeps the assignment's seven columns byte for byte; "extended" appends the outage
# figures of rules 11-13. The calculator owns the columns; the model stores the set's name.
COLUMN_SETS: dict[str, tuple[str, ...]] = {"basic": CSV_COLUMNS, "extended": EXTENDED_CSV_COLUMNS}
DEFAULT_COLUMNS = "basic"
COLUMNS_CHOICES = [(name, f"{name} ({len(columns)} columns)") for name, columns in COLUMN_SETS.items()]


def new_report_id() -> str:
    """A random, unguessable, URL-safe identifier (128 bits)."""
    return secrets.token_urlsafe(16)


# What new_report_id() gives: 16 bytes as 22 characters of the URL-safe base64 alphabet. An id of
# another shape is unknown without asking the database (the API answers 404).
REPORT_ID = re.compile("[A-Za-z0-9_-]{22}")


def retention_period() -> dt.timedelta:
    """How long a report and its CSV are kept after it was created (REPORT_RETENTION_DAYS)."""
    return dt.timedelta(days=settings.REPORT_RETENTION_DAYS)


def report_csv_path(report: "Report", filename: str) -> str:
    created = report.created_at
    return f"reports/{created:%Y}/{created:%m}/{report.report_id}.csv"


def report_outages_path(report: "Report", filename: str) -> str:
    """Next to the report's CSV: ``reports/<yyyy>/<mm>/<report_id>-outages.csv``."""
    created = report.created_at
    return f"reports/{created:%Y}/{created:%m}/{report.report_id}-outages.csv"


class ReportQuerySet(models.QuerySet["Report"]):
    def visible_to(self, user) -> "ReportQuerySet":
        """The reports ``user`` may see (monitoring.access): all of them for staff and allowed
        anonymous callers, otherwise the reports of the owners the user belongs to. A report of
        every store (no owner) is visible to staff only."""
        from monitoring.access import owners_of, sees_all_stores

        if sees_all_stores(user):
            return self
        return self.filter(owner__in=owners_of(user))


class Report(models.Model):
    class Status(models.TextChoices):
        PENDING = "Pending"
        RUNNING = "Running"
        COMPLETE = "Complete"
        FAILED = "Failed"

    report_id = models.CharField(max_length=32, unique=True, default=new_report_id, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    # Requested report time; when none was asked for, filled with the newest poll when it runs.
    as_of = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=16, choices=METHOD_CHOICES, default=DEFAULT_METHOD)
    # Which columns its CSV has (COLUMN_SETS).
    columns = models.CharField(max_length=16, choices=COLUMNS_CHOICES, default=DEFAULT_COLUMNS)
    progress = models.FloatField(default=0.0)
    store_count = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    csv_file = models.FileField(upload_to=report_csv_path, blank=True)
    # Every store's outages, written by the same run from the same figures; empty for reports
    # completed before outages were kept.
    outages_file = models.FileField(upload_to=report_outages_path, blank=True)
    # The dashboard's stores needing attention and offline now (reports.attention), as of the
    # report's time; empty for reports completed before it was kept.
    summary = models.JSONField(default=dict, blank=True)
    # Job bookkeeping (reports.actions): runs started so far, when the task was last queued
    # and its django-q2 id, and which worker (host:pid) runs it, alive as of heartbeat_at.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=32, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    # The qcluster run (host:pid of its main process) of that worker: a stopping cluster gives
    # back the reports its workers were running (reports.cluster).
    cluster = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Whose stores it covers: one owner's (a report triggered by that owner's user), or every
    # store (None: staff and anonymous callers). Who asked for it, when someone signed in did.
    owner = models.ForeignKey(
        "monitoring.Owner", on_delete=models.CASCADE, null=True, blank=True, related_name="reports"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    # A sharded report (reports.shards, PostgreSQL only): how many shards its current run has (0:
    # computed in one piece), and the snapshot its coordinating worker exported for them.
    shard_count = models.PositiveSmallIntegerField(default=0)
    snapshot_id = models.CharField(max_length=64, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=1), name="report_progress_0_to_1"
            ),
            models.CheckConstraint(condition=models.Q(method__in=list(METHODS)), name="report_method_valid"),
            models.CheckConstraint(condition=models.Q(columns__in=list(COLUMN_SETS)), name="report_columns_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} ({self.status})"

    @property
    def refused_by_queue(self) -> bool:
        """Failed without ever starting: the job queue could not take it (see reports.actions)."""
        return self.status == self.Status.FAILED and self.started_at is None

    @property
    def kept_until(self) -> dt.datetime:
        """When the report and its CSVs become due for pruning (``reports.retention``)."""
        return self.created_at + retention_period()

    @property
    def duration(self) -> dt.timedelta | None:
        """Time from start to finish (or to now while running); None before it starts."""
        return run_duration(self.started_at, self.finished_at)


class ReportShard(models.Model):
    """One piece of a sharded report: the stores whose primary key is in [first_store_pk,
    last_store_pk], computed by any worker inside the report's exported snapshot (reports.shards).

    Claimed, heartbeated and retried as a report is (``attempts``, ``worker``, ``heartbeat_at``),
    and belongs to one run of its report (``report_attempt``): a shard of an earlier run never
    writes into a later one. Its results wait in ``csv_part``, ``outages_part`` and
    ``summary_part`` until the report's coordinator merges them, then are emptied.
    """

    class Status(models.TextChoices):
        PENDING = "Pending"
        RUNNING = "Running"
        COMPLETE = "Complete"
        FAILED = "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="shards")
    report_attempt = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField(help_text="1 to the report's shard count, in store order")
    first_store_pk = models.BigIntegerField()
    last_store_pk = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    store_count = models.PositiveIntegerField(null=True, blank=True, help_text="Stores it reported on")
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=32, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    cluster = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    csv_part = models.TextField(blank=True)
    outages_part = models.TextField(blank=True)
    summary_part = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["report", "number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "report_attempt", "number"], name="report_shard_unique_number"),
            models.CheckConstraint(
                condition=models.Q(first_store_pk__lte=models.F("last_store_pk")), name="report_shard_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"shard {self.number} of report {self.report_id} ({self.status})"

    @property
    def duration(self) -> dt.timedelta | None:
        """Time from its latest start to finish (or to now while running); None before."""
        return run_duration(self.started_at, self.finished_at)


def run_duration(started_at: dt.datetime | None, finished_at: dt.datetime | None) -> dt.timedelta | None:
    """From ``started_at`` to ``finished_at``, or to now while unfinished; None if not started."""
    if started_at is None:
        return None
    from django.utils import timezone

    return (finished_at or timezone.now()) - started_at
