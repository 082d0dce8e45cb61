"""Owners, their stores, the stores' status polls, weekly business hours and time zones.

The defaults for missing data live here and nowhere else: a store without business hours rows
is open all the time, and a store without a time zone row is in ``DEFAULT_TIMEZONE``.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from monitoring.timezones import DEFAULT_TIMEZONE, validate_timezone_name


class Owner(models.Model):
    """A restaurant business: it owns stores, and its users see those stores and nothing else.

    A user may belong to several owners; staff users see every store whatever their owners.
    """

    name = models.CharField(max_length=200)
    # How the feeds (store_owners.csv), the API (``owner``) and the commands name it.
    slug = models.SlugField(max_length=100, unique=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="owners", blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    """A restaurant, known by the feeds' ``store_id`` (a 64-bit integer or a UUID, kept as text)."""

    DEFAULT_TIMEZONE = DEFAULT_TIMEZONE

    store_id = models.CharField(max_length=64, unique=True)
    # At most one owner; a store without one is visible to staff only (monitoring.access).
    owner = models.ForeignKey(Owner, on_delete=models.SET_NULL, null=True, blank=True, related_name="stores")
    # The newest poll ever loaded for the store (None: none yet), kept by the loaders
    # (monitoring.ingestion.backends) so that freshness never scans the polls table. Pruning
    # old polls leaves it as it is: it says when the store last reported.
    last_polled_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["store_id"]

    def __str__(self) -> str:
        return self.store_id

    @property
    def timezone_name(self) -> str:
        """The store's tz database zone, or the default zone when the feed gave none."""
        try:
            return self.timezone.timezone_str
        except Timezone.DoesNotExist:
            return DEFAULT_TIMEZONE

    @property
    def is_always_open(self) -> bool:
        """A store without business hours rows is open 24 hours a day, 7 days a week."""
        return not self.business_hours.exists()


class PollStatus(models.TextChoices):
    """What a poll saw; the feeds spell it exactly so (ingestion and the snapshot read use these)."""

    ACTIVE = "active", "active"
    INACTIVE = "inactive", "inactive"


# No feed has polls before this: an older time is a broken clock or a placeholder such as
# 0001-01-01. Loads refuse such polls, and reports refuse such times (reports.generation).
EARLIEST_POLL_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class StatusPollQuerySet(models.QuerySet["StatusPoll"]):
    def newest_time(self) -> dt.datetime | None:
        """The newest poll timestamp of these polls (None without any): a report's default as_of."""
        return self.order_by("-timestamp_utc").values_list("timestamp_utc", flat=True).first()

    def oldest_time(self) -> dt.datetime | None:
        """The oldest poll timestamp of these polls (None without any): where report times can start."""
        return self.order_by("timestamp_utc").values_list("timestamp_utc", flat=True).first()


class StatusPoll(models.Model):
    """One observation: at ``timestamp_utc`` the store was active or inactive."""

    Status = PollStatus

    # No separate index on store: the unique (store, timestamp_utc) index serves store lookups.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="polls", db_index=False)
    timestamp_utc = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices)

    objects = StatusPollQuerySet.as_manager()

    class Meta:
        ordering = ["store", "timestamp_utc"]
        constraints = [
            models.UniqueConstraint(fields=["store", "timestamp_utc"], name="statuspoll_unique_store_time"),
            models.CheckConstraint(condition=Q(status__in=PollStatus.values), name="statuspoll_status_valid"),
        ]
        # Reports read the polls of all stores between two times.
        indexes = [models.Index(fields=["timestamp_utc"], name="statuspoll_time_idx")]

    def __str__(self) -> str:
        return f"{self.store_id} {self.timestamp_utc:%Y-%m-%d %H:%M:%S} {self.status}"


class BusinessHours(models.Model):
    """One opening interval in the store's local time; a store may list several per weekday.

    ``end_time_local`` before ``start_time_local`` runs overnight into the next date, and equal
    times mean 24 hours from the start (see the uptime rules in the README).
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="business_hours")
    day_of_week = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time_local = models.TimeField()
    end_time_local = models.TimeField()

    class Meta:
        verbose_name_plural = "business hours"
        ordering = ["store", "day_of_week", "start_time_local"]
        constraints = [
            models.CheckConstraint(
                condition=Q(day_of_week__gte=0) & Q(day_of_week__lte=6), name="businesshours_day_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_day_of_week_display()} {self.start_time_local:%H:%M:%S}-{self.end_time_local:%H:%M:%S}"


class Timezone(models.Model):
    """The tz database zone a store's business hours are written in."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="timezone")
    timezone_str = models.CharField(max_length=64, validators=[validate_timezone_name])

    class Meta:
        ordering = ["store"]

    def __str__(self) -> str:
        return self.timezone_str


class ImportSource(models.TextChoices):
    """The way a load came in (monitoring.imports records every one)."""

    COMMAND = "command", "load_csvs command"
    API = "api", "push API"
    FOLDER = "folder", "watched folder"
    RETENTION = "retention", "poll retention"


class ImportStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"
    # The same content (sha256) was already imported completely; nothing was read.
    SKIPPED = "skipped", "Skipped"


class ImportQuerySet(models.QuerySet["Import"]):
    def complete(self) -> "ImportQuerySet":
        return self.filter(status=ImportStatus.COMPLETE)

    def last_complete(self) -> "Import | None":
        """The newest complete load of data (retention runs are not data arriving)."""
        return self.complete().exclude(source=ImportSource.RETENTION).order_by("-finished_at").first()

    def completed_with(self, feed: str, sha256: str) -> "Import | None":
        """An earlier complete import of exactly this content for this feed."""
        return self.complete().filter(feed=feed, sha256=sha256).order_by("-finished_at").first()


class Import(models.Model):
    """The ledger: one row per file (or request body) loaded, from any path, and per prune run.

    A row is written as ``Running`` before the load starts, outside its transaction, and updated
    when it ends, so a failed or interrupted load stays on record with its error sentence.
    """

    Source = ImportSource
    Status = ImportStatus

    source = models.CharField(max_length=16, choices=Source.choices)
    # The file name, or for a push the request ("POST /api/feeds/polls").
    name = models.CharField(max_length=300)
    # A monitoring.ingestion.Feed value: timezones, hours, owners or polls.
    feed = models.CharField(max_length=16, db_index=True)
    # Of the uncompressed content: the same feed sent again (gzip or not) is recognised.
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    rows_read = models.BigIntegerField(default=0)
    rows_inserted = models.BigIntegerField(default=0)
    rows_duplicate = models.BigIntegerField(default=0)
    rows_skipped = models.BigIntegerField(default=0)
    # Retention: the polls a prune run deleted.
    rows_deleted = models.BigIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # The summary line of a complete load (FeedSummary.describe), or why it was skipped.
    summary = models.TextField(blank=True)
    # Why it failed: the sentence naming file, line and field (or several, one per line).
    error = models.TextField(blank=True)

    objects = ImportQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["status", "finished_at"], name="import_status_finished_idx")]
        permissions = [("ingest_feeds", "Can push feeds (POST /api/feeds/…)")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.feed} {self.name} ({self.get_status_display()})"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
