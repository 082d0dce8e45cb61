"""Scheduled reports: each owner may have one, daily or weekly at a local time in a chosen zone.

A schedule's ``next_run_at`` is its next slot in UTC. The sweep (``alerts.tasks.sweep``, every
minute) runs each due schedule once: a worker claims it by moving ``next_run_at`` to the first
slot after *now* with a conditional update, so two workers, a re-delivered sweep, or a sweep
after hours of downtime (several missed slots) trigger one report, never one per missed slot.
The report has the extended columns and covers the owner's stores; when it completes,
``report_completed`` sends ``report.ready`` (with the CSV link) to the owner's channels that
notify reports. A report that fails sends nothing; its run keeps it, so the admin shows why.

Slots follow the wall clock of the schedule's zone (``zoneinfo``, ``fold=0``):

- a local time that does not exist on a spring-forward day fires at the UTC instant the offset
  *before* the change gives: 02:30 in America/Chicago on 2024-03-10 is 08:30 UTC, which the
  clocks show as 03:30 CDT;
- a local time that happens twice on a fall-back day fires once, at its first occurrence:
  01:30 in America/Chicago on 2024-11-03 is 06:30 UTC (CDT), not again at 07:30 UTC (CST).

An owner whose stores have no polls (or who has no stores) gets no report for the slot: the run
records the sentence in ``last_outcome`` instead of making a report that can only fail.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts import delivery
from alerts.models import ReportSchedule, ScheduledRun
from alerts.notifications import plan_report_deliveries
from monitoring.models import Owner, Store
from monitoring.timezones import is_valid_timezone, validate_timezone_name
from reports.actions import do_trigger_report
from reports.generation import NoPollsError, check_report_time
from reports.models import Report

log = logging.getLogger(__name__)

# Scheduled reports carry every column (the issue: "with the extended columns").
SCHEDULED_COLUMNS = "extended"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# The fields whose change moves next_run_at (to the first slot after the change).
SCHEDULE_FIELDS = ("frequency", "weekday", "local_time", "time_zone", "enabled")


# --- Slots ----------------------------------------------------------------------------------


def next_slot(schedule: ReportSchedule, after: dt.datetime) -> dt.datetime:
    """The first instant strictly after ``after`` at which the schedule's zone reads its local
    time on a matching day (every day, or its weekday); in UTC. See the module's DST rules."""
    zone = ZoneInfo(schedule.time_zone)
    after_utc = after.astimezone(dt.UTC)
    local_date = after_utc.astimezone(zone).date()
    # From the day before: in a zone whose change skips midnight, yesterday's local time can map
    # (fold=0) to an instant that falls on today's local date.
    for days in range(-1, 9):
        day = local_date + dt.timedelta(days=days)
        if schedule.frequency == ReportSchedule.Frequency.WEEKLY and day.weekday() != schedule.weekday:
            continue
        slot = dt.datetime.combine(day, schedule.local_time, tzinfo=zone).astimezone(dt.UTC)
        if slot > after_utc:
            return slot
    raise AssertionError(f"{schedule} has no slot in the 8 days after {after_utc:%Y-%m-%d %H:%M} UTC")


def describe_schedule(schedule: ReportSchedule) -> str:
    """``weekly on Monday at 08:00 (Europe/Berlin)``; ``off`` for a disabled schedule."""
    if not schedule.enabled:
        return "off"
    when = "daily" if schedule.frequency == ReportSchedule.Frequency.DAILY else f"weekly on {_weekday_name(schedule)}"
    return f"{when} at {schedule.local_time:%H:%M} ({schedule.time_zone})"


def describe_next_run(schedule: ReportSchedule) -> str:
    """``Monday 2024-03-11 08:00 CET (07:00 UTC)``, the next run in the schedule's zone and in
    UTC; ``none`` when the schedule is off."""
    if schedule.next_run_at is None:
        return "none"
    utc = schedule.next_run_at.astimezone(dt.UTC)
    if not is_valid_timezone(schedule.time_zone):  # saved around the validation (a shell): say so, never fail
        return f"{utc:%Y-%m-%d %H:%M} UTC (“{schedule.time_zone}” is not a time zone)"
    local = utc.astimezone(ZoneInfo(schedule.time_zone))
    return f"{local:%A %Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC)"


def _weekday_name(schedule: ReportSchedule) -> str:
    return WEEKDAYS[schedule.weekday] if schedule.weekday is not None and 0 <= schedule.weekday < 7 else "?"


# --- Setting a schedule -----------------------------------------------------------------------


def parse_weekday(text: str) -> int:
    """0 (Monday) .. 6 (Sunday) from ``monday``, ``Mon`` or ``0``; ValidationError otherwise."""
    cleaned = text.strip().lower()
    if cleaned.isdigit() and int(cleaned) < 7:
        return int(cleaned)
    for number, name in enumerate(WEEKDAYS):
        if len(cleaned) >= 3 and name.lower().startswith(cleaned):
            return number
    raise ValidationError(
        f"“{text}” is not a weekday: write its name (monday … sunday, or mon … sun) or 0 (Monday) to 6 (Sunday)."
    )


def parse_local_time(text: str) -> dt.time:
    """A time of day written HH:MM (24-hour clock); ValidationError otherwise."""
    try:
        return dt.datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise ValidationError(
            f"“{text}” is not a time of day: write it HH:MM on a 24-hour clock, e.g. 08:00."
        ) from None


def validate_schedule(
    *, frequency: object, weekday: object, local_time: object, time_zone: object
) -> dict[str, object]:
    """The schedule's fields, checked and normalised (a daily schedule has no weekday).

    Raises ValidationError with a sentence per wrong field (a dict keyed by field name, as
    forms attach them).
    """
    errors: dict[str, str] = {}
    if frequency not in ReportSchedule.Frequency.values:
        errors["frequency"] = f"“{frequency}” is not a frequency: choose daily or weekly."
    if frequency == ReportSchedule.Frequency.WEEKLY:
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            errors["weekday"] = "A weekly report needs its weekday: 0 (Monday) to 6 (Sunday)."
    else:
        weekday = None
    if not isinstance(local_time, dt.time) or local_time.tzinfo is not None:
        errors["local_time"] = "The report's time must be a time of day (HH:MM), without a zone: the zone is separate."
    elif (local_time.second, local_time.microsecond) != (0, 0):
        errors["local_time"] = f"{local_time} has seconds: the report's time is set to the minute (HH:MM)."
    try:
        if not isinstance(time_zone, str):
            raise ValidationError("not text")
        validate_timezone_name(time_zone)
    except ValidationError:
        errors["time_zone"] = (
            f"“{time_zone}” is not a time zone of the tz database: write one like America/Chicago, "
            "Europe/Berlin or UTC."
        )
    if errors:
        raise ValidationError(errors)
    return {"frequency": frequency, "weekday": weekday, "local_time": local_time, "time_zone": time_zone}


def plan_next_run(schedule: ReportSchedule, *, changed: bool, now: dt.datetime | None = None) -> None:
    """Set ``next_run_at`` on the (unsaved) schedule: the first slot after now when its fields
    changed or it has none yet, None when it is off; an unchanged schedule keeps its slot."""
    if not schedule.enabled:
        schedule.next_run_at = None
    elif changed or schedule.next_run_at is None:
        schedule.next_run_at = next_slot(schedule, now or timezone.now())


def save_schedule(
    owner: Owner,
    *,
    frequency: str,
    local_time: dt.time,
    time_zone: str,
    weekday: int | None = None,
    enabled: bool = True,
    now: dt.datetime | None = None,
) -> ReportSchedule:
    """Create or change the owner's schedule; ``next_run_at`` is recomputed when a field changed.

    Raises ValidationError (sentences keyed by field) for wrong fields; nothing is saved then.
    """
    fields = validate_schedule(frequency=frequency, weekday=weekday, local_time=local_time, time_zone=time_zone)
    fields["enabled"] = bool(enabled)
    with transaction.atomic():
        schedule = ReportSchedule.objects.select_for_update().filter(owner=owner).first()
        if schedule is None:
            schedule = ReportSchedule(owner=owner)
            changed = True
        else:
            changed = any(getattr(schedule, name) != value for name, value in fields.items())
        for name, value in fields.items():
            setattr(schedule, name, value)
        plan_next_run(schedule, changed=changed, now=now)
        schedule.save()
    return schedule


def disable_schedule(owner: Owner) -> ReportSchedule | None:
    """Turn the owner's schedule off (its fields are kept); None when the owner has none."""
    schedule = ReportSchedule.objects.filter(owner=owner).first()
    if schedule is None:
        return None
    schedule.enabled = False
    plan_next_run(schedule, changed=True)
    schedule.save(update_fields=["enabled", "next_run_at"])
    return schedule


# --- Running due schedules --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleOutcome:
    """What one claimed schedule did: the report it triggered, or why it made none."""

    schedule: ReportSchedule
    report: Report | None
    sentence: str


def run_due_schedules(now: dt.datetime | None = None) -> str:
    """Claim and run every enabled schedule whose ``next_run_at`` has come, once each; a sentence.

    Safe on several workers at once and after downtime: see the module's docstring.
    """
    now = now or timezone.now()
    due = list(
        ReportSchedule.objects.filter(enabled=True, next_run_at__lte=now)
        .select_related("owner")
        .order_by("next_run_at")
    )
    outcomes = []
    errors = 0
    for schedule in due:
        try:
            outcome = run_schedule(schedule, now)
        except Exception:
            # One broken schedule (a zone the tz database no longer has, a database hiccup) must
            # not stop the others; it stays due and the next sweep tries it again.
            log.exception("scheduled report of %s could not be run", schedule.owner.slug)
            errors += 1
            continue
        if outcome is not None:
            outcomes.append(outcome)
    triggered = sum(1 for outcome in outcomes if outcome.report is not None)
    skipped = [outcome.sentence for outcome in outcomes if outcome.report is None]
    parts = [f"{triggered} scheduled report(s) triggered"]
    if skipped:
        parts.append(f"{len(skipped)} skipped ({' '.join(skipped)})")
    if errors:
        parts.append(f"{errors} could not be run (see the worker log)")
    return ", ".join(parts)


def run_schedule(schedule: ReportSchedule, now: dt.datetime) -> ScheduleOutcome | None:
    """Claim one due schedule, as read, and trigger its report; None when another worker (or an
    edit of the schedule) moved it since it was read."""
    slot = schedule.next_run_at
    if slot is None:
        return None
    following = next_slot(schedule, now)
    with transaction.atomic():
        claimed = ReportSchedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at=slot).update(
            next_run_at=following, last_run_at=now
        )
        if claimed != 1:
            return None
        owner = schedule.owner
        why_not = _why_no_report(owner, slot)
        if why_not is not None:
            report = None
            sentence = why_not
        else:
            report = do_trigger_report(owner=owner, columns=SCHEDULED_COLUMNS, requested_by=None)
            ScheduledRun.objects.create(schedule=schedule, slot_at=slot, report=report)
            sentence = f"Report {report.report_id} triggered for the slot {slot:%Y-%m-%d %H:%M} UTC."
        ReportSchedule.objects.filter(pk=schedule.pk).update(last_outcome=sentence[:500])
    schedule.next_run_at, schedule.last_run_at, schedule.last_outcome = following, now, sentence
    (log.info if report else log.warning)("scheduled report of %s: %s", owner.slug, sentence)
    return ScheduleOutcome(schedule=schedule, report=report, sentence=sentence)


def _why_no_report(owner: Owner, slot: dt.datetime) -> str | None:
    """Why the owner's report could only fail (no stores, or no polls in them); None if it can run."""
    stores = Store.objects.filter(owner=owner)
    if not stores.exists():
        return (
            f"No report for {owner.name} at {slot:%Y-%m-%d %H:%M} UTC: the owner has no stores yet "
            "(store_owners.csv gives them their stores)."
        )
    try:
        check_report_time(None, stores=stores)
    except NoPollsError as error:
        return f"No report for {owner.name} at {slot:%Y-%m-%d %H:%M} UTC: {error}"
    return None


# --- Telling the owner ------------------------------------------------------------------------


def report_completed(report: Report) -> None:
    """report.ready for a scheduled run's report, once: the run is claimed with a conditional
    update of ``notified_at``, then each channel's delivery is planned and queued on commit.
    A report of no schedule, or not Complete, sends nothing."""
    if report.status != Report.Status.COMPLETE:
        return
    try:
        run = ScheduledRun.objects.get(report=report)
    except ScheduledRun.DoesNotExist:
        return
    if run.notified_at is not None:
        return
    with transaction.atomic():
        if ScheduledRun.objects.filter(pk=run.pk, notified_at__isnull=True).update(notified_at=timezone.now()) != 1:
            return
        planned = plan_report_deliveries(report)
        for planned_delivery in planned:
            transaction.on_commit(partial(_queue_delivery, planned_delivery.pk))
    log.info("report %s of schedule %s: report.ready planned for %s channel(s)", report.report_id, run, len(planned))


def _queue_delivery(delivery_pk: int) -> None:
    # Called after the report's run saved it Complete: a queue that cannot be reached must not
    # fail the report. The delivery row stays pending and the sweep sends it (alerts.delivery).
    try:
        delivery.queue_delivery(delivery_pk)
    except Exception:
        log.exception("could not queue report.ready delivery pk=%s; the sweep sends it", delivery_pk)
