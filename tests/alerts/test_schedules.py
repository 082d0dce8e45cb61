"""Scheduled reports (alerts.schedules): slots in local time across daylight saving, due
schedules run once, report.ready once per channel. The clock is frozen by passing ``now``."""

import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from alerts import schedules
from alerts.models import Channel, Delivery, ReportSchedule, ScheduledRun
from alerts.notifications import report_payload
from reports import actions
from reports.models import Report
from tests.alerts.factories import ChannelFactory, ReportScheduleFactory
from tests.factories import BusinessHoursFactory, OwnerFactory, StatusPollFactory, StoreFactory, TimezoneFactory


def utc(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def schedule_of(frequency="daily", at="08:00", zone="UTC", weekday=None):
    """An unsaved schedule: next_slot needs no database."""
    hour, minute = map(int, at.split(":"))
    return ReportSchedule(frequency=frequency, weekday=weekday, local_time=dt.time(hour, minute), time_zone=zone)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Report CSVs go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def queued(monkeypatch):
    """The pks handed to alerts.delivery.queue_delivery (sending is the channels' work)."""
    pks = []
    monkeypatch.setattr("alerts.delivery.queue_delivery", lambda pk, at=None: pks.append(pk))
    return pks


@pytest.fixture
def alpha(db):
    """Owner alpha with one store (zone UTC, open Wednesday 09:00-12:00) and three polls."""
    owner = OwnerFactory(slug="alpha", name="Alpha Pizza")
    store = StoreFactory(store_id="a", owner=owner)
    TimezoneFactory(store=store, timezone_str="UTC")
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(9), end_time_local=dt.time(12))
    for when, status in [("07:00", "active"), ("10:14", "active"), ("11:15", "inactive")]:
        StatusPollFactory(store=store, timestamp_utc=utc(f"2023-01-25 {when}"), status=status)
    return owner


# --- Slots: hand-computed UTC instants ------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        # America/Chicago, spring forward on Sunday 2024-03-10 at 02:00 CST (-6) -> 03:00 CDT (-5).
        (schedule_of(at="08:00", zone="America/Chicago"), "2024-03-09 14:00", "2024-03-10 13:00"),
        (schedule_of(at="08:00", zone="America/Chicago"), "2024-03-10 13:00", "2024-03-11 13:00"),
        # 02:30 does not exist on 2024-03-10: the offset before the change (-6) gives 08:30 UTC,
        # which the clocks read as 03:30 CDT; the next day it is 02:30 CDT, 07:30 UTC.
        (schedule_of(at="02:30", zone="America/Chicago"), "2024-03-09 08:30", "2024-03-10 08:30"),
        (schedule_of(at="02:30", zone="America/Chicago"), "2024-03-10 08:30", "2024-03-11 07:30"),
        # Fall back on Sunday 2024-11-03 at 02:00 CDT -> 01:00 CST: 01:30 happens twice and fires
        # once, at the first (CDT, 06:30 UTC); the second (07:30 UTC) is skipped.
        (schedule_of(at="01:30", zone="America/Chicago"), "2024-11-02 06:30", "2024-11-03 06:30"),
        (schedule_of(at="01:30", zone="America/Chicago"), "2024-11-03 06:30", "2024-11-04 07:30"),
        (schedule_of(at="08:00", zone="America/Chicago"), "2024-11-02 13:00", "2024-11-03 14:00"),
        # Weekly on Sunday (6) 08:00 Chicago, the week before and the week after the change.
        (schedule_of("weekly", "08:00", "America/Chicago", 6), "2024-03-04 00:00", "2024-03-10 13:00"),
        (schedule_of("weekly", "08:00", "America/Chicago", 6), "2024-03-10 13:00", "2024-03-17 13:00"),
        (schedule_of("weekly", "08:00", "America/Chicago", 6), "2024-03-03 14:00", "2024-03-10 13:00"),
        # Europe/Berlin: 2024-03-31 02:00 CET (+1) -> 03:00 CEST (+2); 2024-10-27 03:00 CEST -> 02:00 CET.
        (schedule_of(at="07:00", zone="Europe/Berlin"), "2024-03-30 06:00", "2024-03-31 05:00"),
        (schedule_of("weekly", "02:30", "Europe/Berlin", 6), "2024-03-25 00:00", "2024-03-31 01:30"),
        (schedule_of("weekly", "02:30", "Europe/Berlin", 6), "2024-10-21 00:00", "2024-10-27 00:30"),
        (schedule_of("weekly", "02:30", "Europe/Berlin", 6), "2024-10-27 00:30", "2024-11-03 01:30"),
        # Asia/Kolkata, +05:30 all year: no change, and local days begin 5.5 hours before UTC's.
        (schedule_of(at="09:00", zone="Asia/Kolkata"), "2024-03-10 03:29", "2024-03-10 03:30"),
        (schedule_of(at="09:00", zone="Asia/Kolkata"), "2024-03-10 03:30", "2024-03-11 03:30"),
        (schedule_of("weekly", "23:45", "Asia/Kolkata", 4), "2024-03-10 00:00", "2024-03-15 18:15"),
        (schedule_of("weekly", "02:00", "Asia/Kolkata", 0), "2024-03-10 00:00", "2024-03-10 20:30"),
        # UTC, weekly on Wednesday: strictly after, so the slot itself gives next week's.
        (schedule_of("weekly", "08:00", "UTC", 2), "2024-03-06 08:00", "2024-03-13 08:00"),
        (schedule_of("weekly", "08:00", "UTC", 2), "2024-03-06 07:59", "2024-03-06 08:00"),
    ],
)
def test_next_slot_follows_the_local_wall_clock(schedule, after, expected):
    assert schedules.next_slot(schedule, utc(after)) == utc(expected)


def test_next_slot_takes_an_after_in_any_offset_and_answers_in_utc():
    after = dt.datetime(2024, 3, 9, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-6)))  # 14:00 UTC
    slot = schedules.next_slot(schedule_of(at="08:00", zone="America/Chicago"), after)
    assert (slot, slot.tzinfo) == (utc("2024-03-10 13:00"), dt.UTC)


def test_the_next_run_is_described_in_the_zone_and_in_utc():
    schedule = schedule_of(at="02:30", zone="America/Chicago")
    schedule.next_run_at = utc("2024-03-10 08:30")
    assert schedules.describe_next_run(schedule) == "Sunday 2024-03-10 03:30 CDT (2024-03-10 08:30 UTC)"
    assert schedules.describe_schedule(schedule) == "daily at 02:30 (America/Chicago)"
    assert schedules.describe_schedule(schedule_of("weekly", "08:00", "UTC", 0)) == "weekly on Monday at 08:00 (UTC)"
    broken = schedule_of(zone="Mars/Olympus")
    broken.next_run_at = utc("2024-03-10 08:30")
    assert schedules.describe_next_run(broken) == "2024-03-10 08:30 UTC (“Mars/Olympus” is not a time zone)"


# --- Firing across a daylight-saving change (the frozen-clock test) -------------------


def sweeps_between(start, end, minutes=15):
    """run_due_schedules every ``minutes`` from start to end, as the sweep does; the triggered
    slots and the sweep times that triggered them."""
    fired = []
    now = start
    while now <= end:
        if schedules.run_due_schedules(now=now).startswith("1 "):
            fired.append(now)
        now += dt.timedelta(minutes=minutes)
    return fired


@pytest.mark.django_db
def test_a_scheduled_report_fires_at_the_right_local_time_across_the_spring_change(alpha):
    schedules.save_schedule(
        alpha, frequency="daily", local_time=dt.time(8), time_zone="America/Chicago", now=utc("2024-03-09 12:00")
    )
    fired = sweeps_between(utc("2024-03-09 12:00"), utc("2024-03-11 14:00"))
    # 08:00 CST is 14:00 UTC; from Sunday on, 08:00 CDT is 13:00 UTC.
    assert fired == [utc("2024-03-09 14:00"), utc("2024-03-10 13:00"), utc("2024-03-11 13:00")]
    slots = sorted(ScheduledRun.objects.values_list("slot_at", flat=True))
    assert slots == fired
    assert Report.objects.filter(owner=alpha, columns="extended").count() == 3
    assert ReportSchedule.objects.get().next_run_at == utc("2024-03-12 13:00")


@pytest.mark.django_db
def test_a_scheduled_report_fires_once_across_the_autumn_change(alpha):
    schedules.save_schedule(
        alpha, frequency="daily", local_time=dt.time(1, 30), time_zone="America/Chicago", now=utc("2024-11-02 00:00")
    )
    fired = sweeps_between(utc("2024-11-02 00:00"), utc("2024-11-04 12:00"), minutes=10)
    # 01:30 CDT = 06:30 UTC; on 3 November 01:30 comes twice and fires at its first (still CDT).
    assert fired == [utc("2024-11-02 06:30"), utc("2024-11-03 06:30"), utc("2024-11-04 07:30")]


# --- Running due schedules ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_schedule_due_three_slots_ago_runs_once_and_moves_to_the_next_future_slot(alpha):
    schedule = ReportScheduleFactory(owner=alpha, local_time=dt.time(8), next_run_at=utc("2024-03-08 08:00"))
    now = utc("2024-03-10 09:00")  # slots of 8, 9 and 10 March have passed
    assert schedules.run_due_schedules(now=now) == "1 scheduled report(s) triggered"
    schedule.refresh_from_db()
    assert (schedule.next_run_at, schedule.last_run_at) == (utc("2024-03-11 08:00"), now)
    run = ScheduledRun.objects.get()
    assert (run.schedule, run.slot_at, run.notified_at) == (schedule, utc("2024-03-08 08:00"), None)
    assert (run.report.owner, run.report.columns, run.report.status, run.report.requested_by) == (
        alpha,
        "extended",
        "Pending",
        None,
    )
    assert schedule.last_outcome == f"Report {run.report.report_id} triggered for the slot 2024-03-08 08:00 UTC."
    assert schedules.run_due_schedules(now=now + dt.timedelta(minutes=1)) == "0 scheduled report(s) triggered"
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_two_sweeps_of_one_due_schedule_make_one_report(alpha):
    ReportScheduleFactory(owner=alpha, next_run_at=utc("2024-03-10 08:00"))
    now = utc("2024-03-10 08:00")
    outcomes = [schedules.run_due_schedules(now=now), schedules.run_due_schedules(now=now)]
    assert outcomes == ["1 scheduled report(s) triggered", "0 scheduled report(s) triggered"]
    assert (Report.objects.count(), ScheduledRun.objects.count()) == (1, 1)


@pytest.mark.django_db
def test_a_worker_that_read_the_schedule_before_another_ran_it_runs_nothing(alpha):
    """The conditional update: worker A read the due schedule, worker B claimed and ran it, then A
    tries with the next_run_at it read."""
    ReportScheduleFactory(owner=alpha, next_run_at=utc("2024-03-10 08:00"))
    now = utc("2024-03-10 08:01")
    read_by_a = ReportSchedule.objects.select_related("owner").get()
    assert schedules.run_due_schedules(now=now) == "1 scheduled report(s) triggered"  # worker B
    assert schedules.run_schedule(read_by_a, now) is None
    assert (Report.objects.count(), ScheduledRun.objects.count()) == (1, 1)


@pytest.mark.django_db
def test_schedules_not_due_or_off_do_not_run(alpha):
    other = OwnerFactory(slug="beta")
    ReportScheduleFactory(owner=alpha, next_run_at=utc("2024-03-10 08:00"))
    ReportScheduleFactory(owner=other, enabled=False, next_run_at=utc("2024-03-01 08:00"))
    assert schedules.run_due_schedules(now=utc("2024-03-10 07:59")) == "0 scheduled report(s) triggered"
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_an_owner_without_polls_gets_a_sentence_not_a_failing_report():
    owner = OwnerFactory(slug="empty", name="Empty Eats")
    StoreFactory(store_id="e", owner=owner)
    schedule = ReportScheduleFactory(owner=owner, next_run_at=utc("2024-03-10 08:00"))
    outcome = schedules.run_due_schedules(now=utc("2024-03-10 08:00"))
    sentence = (
        "No report for Empty Eats at 2024-03-10 08:00 UTC: The stores this report covers have no polls yet: "
        "load their feeds with manage.py load_csvs."
    )
    assert outcome == f"0 scheduled report(s) triggered, 1 skipped ({sentence})"
    schedule.refresh_from_db()
    assert (schedule.last_outcome, schedule.next_run_at) == (sentence, utc("2024-03-11 08:00"))
    assert (Report.objects.count(), ScheduledRun.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_an_owner_without_stores_gets_a_sentence():
    schedule = ReportScheduleFactory(owner=OwnerFactory(name="No Stores"), next_run_at=utc("2024-03-10 08:00"))
    schedules.run_due_schedules(now=utc("2024-03-10 08:00"))
    schedule.refresh_from_db()
    assert schedule.last_outcome == (
        "No report for No Stores at 2024-03-10 08:00 UTC: the owner has no stores yet "
        "(store_owners.csv gives them their stores)."
    )
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_a_broken_schedule_does_not_stop_the_others(alpha, caplog):
    broken = ReportScheduleFactory(
        owner=OwnerFactory(slug="broken"), time_zone="Mars/Olympus", next_run_at=utc("2024-03-10 07:00")
    )
    ReportScheduleFactory(owner=alpha, next_run_at=utc("2024-03-10 08:00"))
    outcome = schedules.run_due_schedules(now=utc("2024-03-10 08:00"))
    assert outcome == "1 scheduled report(s) triggered, 1 could not be run (see the worker log)"
    assert "scheduled report of broken could not be run" in caplog.text
    broken.refresh_from_db()
    assert broken.next_run_at == utc("2024-03-10 07:00")  # still due: tried again by the next sweep


# --- report.ready ---------------------------------------------------------------------------


@pytest.fixture
def channels(alpha):
    """Alpha's channels: webhook and email notify reports, one does not, one is disabled; and
    another owner's channel."""
    return {
        "webhook": ChannelFactory(owner=alpha),
        "email": ChannelFactory(owner=alpha, kind=Channel.Kind.EMAIL, target="alpha@example.com", secret=""),
        "incidents only": ChannelFactory(owner=alpha, notify_reports=False),
        "disabled": ChannelFactory(owner=alpha, enabled=False),
        "beta's": ChannelFactory(owner=OwnerFactory(slug="beta")),
    }


def scheduled_report(owner, status="Complete"):
    schedule = ReportScheduleFactory(owner=owner)
    report = Report.objects.create(owner=owner, columns="extended", status=status, as_of=utc("2023-01-25 11:15"))
    ScheduledRun.objects.create(schedule=schedule, slot_at=utc("2024-03-10 08:00"), report=report)
    return report


@pytest.mark.django_db
def test_a_completed_scheduled_report_is_planned_once_per_channel_that_notifies_reports(
    alpha, channels, queued, django_capture_on_commit_callbacks
):
    report = scheduled_report(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        schedules.report_completed(report)
    deliveries = Delivery.objects.filter(event="report.ready")
    assert {delivery.channel for delivery in deliveries} == {channels["webhook"], channels["email"]}
    assert all(delivery.report == report and delivery.payload == report_payload(report) for delivery in deliveries)
    assert sorted(queued) == sorted(delivery.pk for delivery in deliveries)
    assert ScheduledRun.objects.get().notified_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        schedules.report_completed(report)
    assert Delivery.objects.count() == 2
    assert len(queued) == 2


@pytest.mark.django_db
def test_deliveries_are_queued_only_when_the_transaction_commits(alpha, channels, queued):
    schedules.report_completed(scheduled_report(alpha))  # the test's transaction never commits
    assert (Delivery.objects.count(), queued) == (2, [])


@pytest.mark.django_db
def test_a_failed_or_unscheduled_report_sends_nothing(alpha, channels, queued, django_capture_on_commit_callbacks):
    failed = scheduled_report(alpha, status="Failed")
    unscheduled = Report.objects.create(owner=alpha, status="Complete")
    with django_capture_on_commit_callbacks(execute=True):
        schedules.report_completed(failed)
        schedules.report_completed(unscheduled)
    assert (Delivery.objects.count(), queued) == (0, [])
    assert ScheduledRun.objects.get().notified_at is None  # the run keeps its failed report


@pytest.mark.django_db
def test_a_queue_that_cannot_be_reached_leaves_the_delivery_pending(
    alpha, channels, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def unreachable(pk, at=None):
        raise ConnectionError("broker down")

    monkeypatch.setattr("alerts.delivery.queue_delivery", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        schedules.report_completed(scheduled_report(alpha))
    assert list(Delivery.objects.values_list("status", flat=True)) == ["pending", "pending"]
    assert "could not queue report.ready delivery" in caplog.text


@pytest.mark.django_db
def test_end_to_end_a_due_schedule_runs_its_report_and_plans_report_ready(
    alpha, channels, queued, django_capture_on_commit_callbacks
):
    """Sweep -> do_trigger_report -> the report task on commit (sync job queue in tests) ->
    do_run_report -> report_completed signal -> report.ready with the CSV link."""
    ReportScheduleFactory(owner=alpha, local_time=dt.time(8), next_run_at=utc("2024-03-10 08:00"))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedules.run_due_schedules(now=utc("2024-03-10 08:00")) == "1 scheduled report(s) triggered"
    report = ScheduledRun.objects.get().report
    assert (report.status, report.columns, report.store_count, report.as_of) == (
        "Complete",
        "extended",
        1,
        utc("2023-01-25 11:15"),
    )
    with report.csv_file.open("rb") as csv:
        assert b"outages_last_week" in csv.readline()  # a column of the extended set only
    deliveries = list(Delivery.objects.filter(event="report.ready", report=report))
    assert {delivery.channel for delivery in deliveries} == {channels["webhook"], channels["email"]}
    csv_link = f"{settings.SITE_URL}/api/reports/{report.report_id}/csv"
    assert [delivery.payload["links"]["csv"] for delivery in deliveries] == [csv_link, csv_link]
    assert deliveries[0].payload["report"] == {
        "report_id": report.report_id,
        "as_of": "2023-01-25T11:15:00Z",
        "columns": "extended",
        "store_count": 1,
    }
    assert sorted(queued) == sorted(delivery.pk for delivery in deliveries)


@pytest.mark.django_db
def test_a_report_run_directly_sends_report_ready_through_the_signal(alpha, channels, queued):
    ReportScheduleFactory(owner=alpha, next_run_at=utc("2024-03-10 08:00"))
    schedules.run_due_schedules(now=utc("2024-03-10 08:00"))  # its task is not queued: no commit
    report = ScheduledRun.objects.get().report
    assert actions.do_run_report(report.pk) == "Complete"
    assert Delivery.objects.filter(event="report.ready", report=report).count() == 2


# --- Setting a schedule ---------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_a_schedule_plans_its_first_slot_and_keeps_it_while_nothing_changes(alpha):
    now = utc("2024-03-06 12:00")  # a Wednesday
    schedule = schedules.save_schedule(
        alpha, frequency="weekly", weekday=0, local_time=dt.time(7), time_zone="Europe/Berlin", now=now
    )
    assert schedule.next_run_at == utc("2024-03-11 06:00")  # Monday 07:00 CET
    again = schedules.save_schedule(
        alpha,
        frequency="weekly",
        weekday=0,
        local_time=dt.time(7),
        time_zone="Europe/Berlin",
        now=utc("2024-03-11 07:00"),
    )
    assert (again.pk, again.next_run_at) == (schedule.pk, utc("2024-03-11 06:00"))  # unchanged: still due
    moved = schedules.save_schedule(
        alpha, frequency="daily", weekday=3, local_time=dt.time(7), time_zone="Europe/Berlin", now=now
    )
    assert (moved.next_run_at, moved.weekday) == (utc("2024-03-07 06:00"), None)  # daily: no weekday
    assert ReportSchedule.objects.count() == 1


@pytest.mark.django_db
def test_turning_a_schedule_off_clears_its_next_run_and_on_again_plans_one(alpha):
    schedules.save_schedule(
        alpha, frequency="daily", local_time=dt.time(8), time_zone="UTC", now=utc("2024-03-06 12:00")
    )
    off = schedules.disable_schedule(alpha)
    assert (off.enabled, off.next_run_at) == (False, None)
    assert ReportSchedule.objects.get().next_run_at is None
    assert schedules.run_due_schedules(now=utc("2024-03-20 00:00")) == "0 scheduled report(s) triggered"
    on = schedules.save_schedule(
        alpha, frequency="daily", local_time=dt.time(8), time_zone="UTC", now=utc("2024-03-20")
    )
    assert on.next_run_at == utc("2024-03-20 08:00")
    assert schedules.disable_schedule(OwnerFactory(slug="none")) is None


@pytest.mark.django_db
def test_saving_a_disabled_schedule_keeps_no_next_run(alpha):
    schedule = schedules.save_schedule(
        alpha, frequency="daily", local_time=dt.time(8), time_zone="UTC", enabled=False, now=utc("2024-03-06")
    )
    assert (schedule.enabled, schedule.next_run_at) == (False, None)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"frequency": "hourly"}, {"frequency": ["“hourly” is not a frequency: choose daily or weekly."]}),
        ({"frequency": "weekly"}, {"weekday": ["A weekly report needs its weekday: 0 (Monday) to 6 (Sunday)."]}),
        (
            {"frequency": "weekly", "weekday": 7},
            {"weekday": ["A weekly report needs its weekday: 0 (Monday) to 6 (Sunday)."]},
        ),
        (
            {"time_zone": "Central Time"},
            {
                "time_zone": [
                    "“Central Time” is not a time zone of the tz database: write one like America/Chicago, "
                    "Europe/Berlin or UTC."
                ]
            },
        ),
        (
            {"local_time": dt.time(8, 0, 30)},
            {"local_time": ["08:00:30 has seconds: the report's time is set to the minute (HH:MM)."]},
        ),
        (
            {"local_time": "8am"},
            {"local_time": ["The report's time must be a time of day (HH:MM), without a zone: the zone is separate."]},
        ),
    ],
)
def test_wrong_fields_are_refused_with_a_sentence_per_field(fields, errors):
    given = {"frequency": "daily", "weekday": None, "local_time": dt.time(8), "time_zone": "UTC", **fields}
    with pytest.raises(ValidationError) as refused:
        schedules.validate_schedule(**given)
    assert refused.value.message_dict == errors


@pytest.mark.django_db
def test_a_refused_schedule_saves_nothing(alpha):
    with pytest.raises(ValidationError):
        schedules.save_schedule(alpha, frequency="daily", local_time=dt.time(8), time_zone="Nowhere/Land")
    assert ReportSchedule.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "weekday"), [("monday", 0), ("Mon", 0), ("0", 0), ("sunday", 6), (" SAT ", 5), ("6", 6)]
)
def test_weekdays_are_read_by_name_or_number(text, weekday):
    assert schedules.parse_weekday(text) == weekday


@pytest.mark.parametrize("text", ["7", "mo", "funday", "", "-1"])
def test_a_wrong_weekday_is_a_sentence(text):
    with pytest.raises(ValidationError, match="is not a weekday: write its name"):
        schedules.parse_weekday(text)


def test_times_of_day_are_read_as_hh_mm():
    assert schedules.parse_local_time(" 08:30 ") == dt.time(8, 30)
    with pytest.raises(ValidationError) as refused:
        schedules.parse_local_time("25:00")
    assert refused.value.messages == ["“25:00” is not a time of day: write it HH:MM on a 24-hour clock, e.g. 08:00."]


# --- Admin ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_saves_a_schedule_with_its_next_run_and_refuses_a_wrong_zone(admin_client, alpha):
    form = {
        "owner": alpha.pk,
        "frequency": "weekly",
        "weekday": "2",
        "local_time": "08:00",
        "time_zone": "Moon/Base",
        "enabled": "on",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
    }
    refused = admin_client.post("/admin/alerts/reportschedule/add/", form)
    assert refused.status_code == 200
    assert "“Moon/Base” is not a time zone of the tz database" in refused.content.decode()
    assert ReportSchedule.objects.count() == 0

    response = admin_client.post("/admin/alerts/reportschedule/add/", {**form, "time_zone": "UTC"})
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.next_run_at is not None
    assert schedule.next_run_at == schedules.next_slot(schedule, schedule.next_run_at - dt.timedelta(days=7))
    assert (schedule.next_run_at.weekday(), schedule.next_run_at.time()) == (2, dt.time(8))  # Wednesday 08:00 UTC

    unchecked = {key: value for key, value in form.items() if key != "enabled"}
    change = admin_client.post(f"/admin/alerts/reportschedule/{schedule.pk}/change/", {**unchecked, "time_zone": "UTC"})
    assert change.status_code == 302
    assert ReportSchedule.objects.get().next_run_at is None  # off: no next run


@pytest.mark.django_db
def test_the_admin_shows_a_schedule_s_runs_with_the_report_s_error(admin_client, alpha):
    report = scheduled_report(alpha, status="Failed")
    Report.objects.filter(pk=report.pk).update(error="The stores this report covers have no polls yet.")
    schedule = ReportSchedule.objects.get()
    page = admin_client.get(f"/admin/alerts/reportschedule/{schedule.pk}/change/").content.decode()
    assert "Failed: The stores this report covers have no polls yet." in page
    assert report.report_id in page
    assert admin_client.get("/admin/alerts/reportschedule/").status_code == 200
