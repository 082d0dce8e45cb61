"""Incidents reconciled with the outages (README rule 10, method last_known): hand-computed cases.

Each case states the polls and hours, the report time (a microsecond after the newest poll unless
given), and the incidents a report at that time shows. 2023-01-25 is a Wednesday.
"""

import datetime as dt

import pytest

from alerts.incidents import SETTLED_MARGIN_US, incident_time, reconcile_incidents
from alerts.models import Incident
from tests.alerts.factories import ChannelFactory, DeliveryFactory, IncidentFactory
from tests.factories import BusinessHoursFactory, OwnerFactory, StatusPollFactory, StoreFactory, TimezoneFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SESSION_CLOSED = Incident.EndedBy.SESSION_CLOSED
ACTIVE_POLL = Incident.EndedBy.ACTIVE_POLL
MICROSECOND = dt.timedelta(microseconds=1)
LOOKBACK = dt.timedelta(days=14)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def store_in(zone: str, store_id: str = "a", hours=()):
    """A store in ``zone`` with hours rows (day, "HH:MM" opening, "HH:MM" closing); none: open all the time."""
    store = StoreFactory(store_id=store_id)
    TimezoneFactory(store=store, timezone_str=zone)
    for day, opens, closes in hours:
        BusinessHoursFactory(
            store=store,
            day_of_week=day,
            start_time_local=dt.time.fromisoformat(opens),
            end_time_local=dt.time.fromisoformat(closes),
        )
    return store


def polls(store, *rows: tuple[str, str]):
    for when, status in rows:
        StatusPollFactory(store=store, timestamp_utc=utc(when), status=status)


def clock_poll(when: str):
    """An active poll of another store (open all the time): it only moves the report time."""
    polls(StoreFactory(store_id="clock"), (when, "active"))


def incidents(store) -> list[tuple]:
    """The current incidents of a store (or store_id) as (start, end, ended_by, opened_by_poll_at),
    oldest first."""
    store_id = store if isinstance(store, str) else store.store_id
    return [
        (i.started_at, i.ended_at, i.ended_by, i.opened_by_poll_at)
        for i in Incident.objects.current().filter(store__store_id=store_id).order_by("started_at")
    ]


# --- The rules, one case each ------------------------------------------------------------------


def test_an_outage_until_closing_time_is_an_incident_ended_by_the_session_closing():
    a = store_in("UTC", hours=[(2, "09:00", "12:00")])
    polls(a, ("2023-01-25 10:14", "active"), ("2023-01-25 11:15", "inactive"))
    clock_poll("2023-01-25 12:00")

    result = reconcile_incidents()

    assert result.as_of == utc("2023-01-25 12:00") + MICROSECOND
    assert incidents(a) == [(utc("2023-01-25 11:15"), utc("2023-01-25 12:00"), SESSION_CLOSED, utc("2023-01-25 11:15"))]
    incident = Incident.objects.get()
    assert (incident.session_start, incident.session_end) == (utc("2023-01-25 09:00"), utc("2023-01-25 12:00"))
    assert (result.outages, result.created, result.updated, result.unchanged) == (1, 1, 0, 0)
    # Already over when first seen: recorded as ended, never as opened.
    assert (result.opened, result.ended) == ([], [incident.pk])


def test_an_outage_going_on_at_the_report_time_is_an_open_incident():
    a = store_in("UTC", hours=[(2, "09:00", "12:00")])
    polls(a, ("2023-01-25 10:14", "active"), ("2023-01-25 11:15", "inactive"))

    result = reconcile_incidents()

    # The newest poll is the store's own inactive one: a microsecond later its outage is ongoing.
    assert result.as_of == utc("2023-01-25 11:15") + MICROSECOND
    assert incidents(a) == [(utc("2023-01-25 11:15"), None, "", utc("2023-01-25 11:15"))]
    assert result.opened == [Incident.objects.get().pk]
    assert Incident.objects.open().count() == 1


def test_an_active_poll_ends_the_incident_it_keeps():
    a = store_in("UTC", hours=[(2, "09:00", "12:00")])
    polls(a, ("2023-01-25 10:14", "active"), ("2023-01-25 11:15", "inactive"))
    reconcile_incidents()
    opened = Incident.objects.get()

    polls(a, ("2023-01-25 11:40", "active"))
    result = reconcile_incidents()

    assert incidents(a) == [(utc("2023-01-25 11:15"), utc("2023-01-25 11:40"), ACTIVE_POLL, utc("2023-01-25 11:15"))]
    assert Incident.objects.get().pk == opened.pk
    assert (result.updated, result.ended, result.opened) == (1, [opened.pk], [])


def test_a_store_offline_at_closing_and_still_at_the_next_opening_has_two_incidents():
    a = store_in("UTC", hours=[(1, "09:00", "12:00"), (2, "09:00", "12:00")])  # Tuesday and Wednesday
    polls(a, ("2023-01-24 10:00", "active"), ("2023-01-24 11:00", "inactive"))
    clock_poll("2023-01-24 11:30")
    reconcile_incidents()
    tuesday = Incident.objects.get()
    assert tuesday.ended_at is None

    # No poll of the store since; the next report time is inside Wednesday's session.
    clock_poll("2023-01-25 10:00")
    result = reconcile_incidents()

    # Closed at closing time; Wednesday's session takes the status of the latest poll before it
    # (rule 7), so a new incident opens at the opening, opened by that same poll.
    tuesday_poll = utc("2023-01-24 11:00")
    assert incidents(a) == [
        (utc("2023-01-24 11:00"), utc("2023-01-24 12:00"), SESSION_CLOSED, tuesday_poll),
        (utc("2023-01-25 09:00"), None, "", tuesday_poll),
    ]
    wednesday = Incident.objects.exclude(pk=tuesday.pk).get()
    assert (result.created, result.updated, result.ended, result.opened) == (1, 1, [tuesday.pk], [wednesday.pk])


def test_split_shifts_give_one_incident_per_session():
    a = store_in("UTC", hours=[(2, "09:00", "12:00"), (2, "17:00", "21:00")])
    polls(a, ("2023-01-18 10:00", "active"))  # a week before: the earlier sessions take no inactive status
    polls(a, ("2023-01-25 11:00", "inactive"), ("2023-01-25 18:00", "inactive"), ("2023-01-25 19:00", "active"))

    reconcile_incidents()

    # Each session's first poll holds back to its opening (rule 7); the store was closed between.
    assert incidents(a) == [
        (utc("2023-01-25 09:00"), utc("2023-01-25 12:00"), SESSION_CLOSED, utc("2023-01-25 11:00")),
        (utc("2023-01-25 17:00"), utc("2023-01-25 19:00"), ACTIVE_POLL, utc("2023-01-25 18:00")),
    ]


def test_a_store_open_all_the_time_has_one_incident_over_days():
    a = store_in("UTC")
    polls(
        a,
        ("2023-01-23 10:00", "active"),
        ("2023-01-23 12:00", "inactive"),
        ("2023-01-25 08:00", "inactive"),
        ("2023-01-25 15:00", "active"),
    )

    result = reconcile_incidents()

    assert incidents(a) == [(utc("2023-01-23 12:00"), utc("2023-01-25 15:00"), ACTIVE_POLL, utc("2023-01-23 12:00"))]
    # Its one session, as the engine holds it: from the lookback's start to a day past as_of.
    incident = Incident.objects.get()
    assert incident.session_start == result.as_of - LOOKBACK
    assert incident.session_end == result.as_of + dt.timedelta(days=1)


def test_closing_times_follow_the_stores_zone_across_the_spring_forward():
    # America/Chicago moved from CST (-6) to CDT (-5) at 02:00 on Sunday 2023-03-12. Open Saturday
    # and Sunday 01:00-04:00 local: Saturday [07:00, 10:00) UTC, Sunday [07:00, 09:00) UTC.
    a = store_in("America/Chicago", hours=[(5, "01:00", "04:00"), (6, "01:00", "04:00")])
    # Active the weekend before, so the earlier weekend's sessions take no inactive status.
    polls(a, ("2023-03-05 08:00", "active"), ("2023-03-11 08:00", "inactive"))
    clock_poll("2023-03-12 12:00")

    reconcile_incidents()

    inactive_poll = utc("2023-03-11 08:00")
    assert incidents(a) == [
        (utc("2023-03-11 07:00"), utc("2023-03-11 10:00"), SESSION_CLOSED, inactive_poll),
        (utc("2023-03-12 07:00"), utc("2023-03-12 09:00"), SESSION_CLOSED, inactive_poll),
    ]


def test_no_polls_means_nothing_to_reconcile():
    result = reconcile_incidents()
    assert result.as_of is None
    assert incident_time() is None
    assert result.describe() == "No polls yet: no incidents to reconcile."


def test_a_result_describes_itself_in_one_sentence():
    a = store_in("UTC", hours=[(2, "09:00", "12:00")])
    polls(a, ("2023-01-25 10:14", "active"), ("2023-01-25 11:15", "inactive"))
    result = reconcile_incidents()
    assert result.describe().startswith(
        "Incidents as of 2023-01-25 11:15:00 UTC (1 outage in the lookback): 1 created, 0 updated, "
        "0 unchanged, 0 deleted, 0 retracted; 1 opened, 0 ended; "
    )


# --- An incident older than the lookback, kept and ended ---------------------------------------


def test_an_incident_that_began_before_the_lookback_keeps_its_real_start():
    a = store_in("UTC")
    polls(a, ("2023-01-10 09:00", "active"), ("2023-01-10 10:00", "inactive"), ("2023-01-20 11:00", "inactive"))
    reconcile_incidents()
    assert incidents(a) == [(utc("2023-01-10 10:00"), None, "", utc("2023-01-10 10:00"))]

    # Five days later the January 10 polls are out of the lookback: the outage the report shows
    # is cut at the lookback's start, which is what the incident's start is compared by.
    polls(a, ("2023-01-25 11:00", "inactive"))
    unchanged = reconcile_incidents()
    assert (unchanged.unchanged, unchanged.updated, unchanged.created) == (1, 0, 0)

    polls(a, ("2023-01-25 11:30", "active"))
    ended = reconcile_incidents()
    assert ended.updated == 1
    # It keeps the poll that opened it too, though the report no longer holds that poll.
    assert incidents(a) == [(utc("2023-01-10 10:00"), utc("2023-01-25 11:30"), ACTIVE_POLL, utc("2023-01-10 10:00"))]


def test_the_lookback_passing_a_stores_last_poll_of_a_day_invents_no_incident():
    # Open every day 09:00-17:00. On 01-11 the last poll, 16:30, is active; 01-12 begins inactive.
    a = store_in("UTC", hours=[(day, "09:00", "17:00") for day in range(7)])
    polls(
        a,
        ("2023-01-11 16:30", "active"),
        ("2023-01-12 09:30", "inactive"),
        ("2023-01-12 10:30", "active"),
        ("2023-01-25 10:00", "active"),
    )
    reconcile_incidents(utc("2023-01-25 16:00"))
    real = [(utc("2023-01-12 09:00"), utc("2023-01-12 10:30"), ACTIVE_POLL, utc("2023-01-12 09:30"))]
    assert incidents(a) == real

    # At 16:45 the lookback starts at 01-11 16:45, after that day's last poll: the rest of that
    # session has no poll before it in the report, so it takes the status of the earliest after
    # (rule 7), inactive, and the report shows an outage [01-11 16:45, 17:00) nobody saw.
    result = reconcile_incidents(utc("2023-01-25 16:45"))

    assert result.outages == 2
    assert incidents(a) == real
    assert (result.created, result.unchanged) == (0, 1)


def test_a_late_poll_inside_an_incident_becomes_the_poll_that_opened_it(feeds):
    feeds.zones(("a", "UTC"))
    feeds.hours(("a", 1, "09:00", "12:00"), ("a", 2, "09:00", "12:00"))
    feeds.polls(
        ("a", "active", "2023-01-24 10:00"), ("a", "inactive", "2023-01-24 11:00"), ("z", "active", "2023-01-25 11:30")
    )
    reconcile_incidents()
    wednesday = Incident.objects.get(started_at=utc("2023-01-25 09:00"))
    assert wednesday.opened_by_poll_at == utc("2023-01-24 11:00")  # carried from Tuesday

    feeds.polls(("a", "inactive", "2023-01-25 10:00"))  # late: the same outage, now seen inside it
    result = reconcile_incidents()

    # As a first reconciliation of all these polls would have it: the first inactive poll inside.
    wednesday.refresh_from_db()
    assert wednesday.opened_by_poll_at == utc("2023-01-25 10:00")
    assert (wednesday.started_at, wednesday.ended_at) == (utc("2023-01-25 09:00"), None)
    assert (result.updated, result.unchanged, result.opened, result.ended) == (1, 1, [], [])


# --- Removal: deleted, retracted, settled, history ---------------------------------------------


def test_an_incident_no_outage_shows_is_deleted_when_no_channel_heard_of_it(feeds):
    feeds.zones(("a", "UTC"))
    feeds.hours(("a", 2, "09:00", "12:00"))
    feeds.polls(
        ("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"), ("z", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    assert Incident.objects.count() == 1

    feeds.hours(("a", 3, "09:00", "12:00"))  # corrected: open on Thursdays, not Wednesdays
    result = reconcile_incidents()

    assert (result.deleted, result.retracted) == (1, 0)
    assert not Incident.objects.exists()


def test_an_incident_a_channel_heard_of_is_retracted_not_deleted(feeds):
    feeds.zones(("a", "UTC"))
    feeds.hours(("a", 2, "09:00", "12:00"))
    feeds.polls(("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"))
    reconcile_incidents()
    incident = Incident.objects.get()
    owner = OwnerFactory(slug="alpha")
    DeliveryFactory(incident=incident, channel=ChannelFactory(owner=owner))

    feeds.hours(("a", 3, "09:00", "12:00"))
    result = reconcile_incidents()

    assert (result.deleted, result.retracted, result.ended) == (0, 1, [incident.pk])
    incident.refresh_from_db()
    assert incident.ended_by == Incident.EndedBy.RETRACTED
    assert incident.ended_at == result.as_of  # it was open: it ends when the evidence took it back
    assert not Incident.objects.current().exists()
    assert not Incident.objects.open().exists()
    # Once retracted it is not looked at again.
    again = reconcile_incidents()
    assert (again.retracted, again.deleted, again.created) == (0, 0, 0)


def test_an_ended_incident_retracted_keeps_its_end(feeds):
    feeds.zones(("a", "UTC"))
    feeds.hours(("a", 2, "09:00", "12:00"))
    feeds.polls(
        ("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"), ("z", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    incident = Incident.objects.get()
    DeliveryFactory(incident=incident, channel=ChannelFactory())

    feeds.hours(("a", 3, "09:00", "12:00"))
    result = reconcile_incidents()

    incident.refresh_from_db()
    assert (incident.ended_by, incident.ended_at) == (Incident.EndedBy.RETRACTED, utc("2023-01-25 12:00"))
    assert (result.retracted, result.ended) == (1, [])


def test_settled_incidents_are_never_changed_and_history_is_never_touched():
    a = store_in("UTC")
    as_of = utc("2023-01-25 12:00")
    lookback_start = as_of - LOOKBACK  # 2023-01-11 12:00
    settled_before = lookback_start + dt.timedelta(microseconds=SETTLED_MARGIN_US)  # 2023-01-12 12:00
    polls(
        a,
        ("2023-01-11 13:00", "active"),
        ("2023-01-12 06:00", "inactive"),
        ("2023-01-12 07:00", "active"),
        ("2023-01-25 11:00", "active"),
    )

    def incident(start, end):
        return IncidentFactory(store=a, started_at=utc(start), ended_at=utc(end), ended_by=ACTIVE_POLL)

    # The outage [01-12 06:00, 07:00) is shown differently by a settled incident: kept as it is.
    differs = incident("2023-01-12 06:30", "2023-01-12 07:00")
    # No outage shows these: settled (ending at the margin's end, included) is kept, the later one goes.
    settled = incident("2023-01-12 10:00", "2023-01-12 12:00")
    unsettled = incident("2023-01-13 08:00", "2023-01-13 09:00")
    # Ended before the lookback: history.
    history = incident("2023-01-10 08:00", "2023-01-10 09:00")
    assert settled.ended_at == settled_before

    result = reconcile_incidents(as_of)

    assert (result.unchanged, result.deleted, result.created, result.updated) == (2, 1, 0, 0)
    assert not Incident.objects.filter(pk=unsettled.pk).exists()
    for kept in (differs, settled, history):
        before = (kept.started_at, kept.ended_at, kept.ended_by, kept.updated_at)
        kept.refresh_from_db()
        assert (kept.started_at, kept.ended_at, kept.ended_by, kept.updated_at) == before


def test_a_store_no_longer_reported_keeps_its_incidents():
    a = store_in("UTC")
    polls(a, ("2023-01-05 09:00", "active"), ("2023-01-05 10:00", "inactive"))
    reconcile_incidents()
    assert incidents(a) == [(utc("2023-01-05 10:00"), None, "", utc("2023-01-05 10:00"))]

    # Three weeks on, the store has no poll in the lookback: not in the report, left as it is.
    clock_poll("2023-01-26 10:00")
    result = reconcile_incidents()

    assert (result.outages, result.deleted, result.updated) == (0, 0, 0)
    assert incidents(a) == [(utc("2023-01-05 10:00"), None, "", utc("2023-01-05 10:00"))]


# --- Convergence: late, out-of-order and re-sent data, corrected hours -------------------------

OPEN_WEDNESDAY_MORNING = ("a", 2, "09:00", "12:00")


def wednesday_store(feeds, *hours):
    feeds.zones(("a", "UTC"))
    if hours:
        feeds.hours(*hours)


def only_incident():
    return Incident.objects.current().get()


def test_polls_imported_later_file_first_give_the_incidents_of_the_whole(feeds):
    wednesday_store(feeds, OPEN_WEDNESDAY_MORNING)
    feeds.polls(("a", "active", "2023-01-25 11:40"), ("z", "active", "2023-01-25 12:00"))
    assert reconcile_incidents().created == 0

    feeds.polls(("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"))
    result = reconcile_incidents()

    assert incidents("a") == [(utc("2023-01-25 11:15"), utc("2023-01-25 11:40"), ACTIVE_POLL, utc("2023-01-25 11:15"))]
    # Over when first seen: recorded as ended, so no channel is told it opened.
    assert (result.created, result.opened) == (1, [])


def test_a_late_inactive_poll_before_an_incident_extends_it_and_keeps_it(feeds):
    wednesday_store(feeds)  # no hours: open all the time
    feeds.polls(
        ("a", "active", "2023-01-25 09:00"), ("a", "inactive", "2023-01-25 11:00"), ("a", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    first = only_incident()

    feeds.polls(("a", "inactive", "2023-01-25 10:00"))
    result = reconcile_incidents()

    assert incidents("a") == [(utc("2023-01-25 10:00"), utc("2023-01-25 12:00"), ACTIVE_POLL, utc("2023-01-25 10:00"))]
    assert only_incident().pk == first.pk
    assert (result.updated, result.created, result.deleted) == (1, 0, 0)


def test_a_late_inactive_poll_before_an_open_incident_extends_it_and_keeps_it_open(feeds):
    wednesday_store(feeds)
    feeds.polls(
        ("a", "active", "2023-01-25 09:00"), ("a", "inactive", "2023-01-25 11:00"), ("z", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    first = only_incident()
    channel_heard = DeliveryFactory(incident=first, channel=ChannelFactory())  # so losing it would show

    feeds.polls(("a", "inactive", "2023-01-25 10:00"))
    result = reconcile_incidents()

    assert incidents("a") == [(utc("2023-01-25 10:00"), None, "", utc("2023-01-25 10:00"))]
    assert only_incident().pk == first.pk == channel_heard.incident_id
    assert (result.updated, result.created, result.retracted, result.opened, result.ended) == (1, 0, 0, [], [])


def test_a_late_active_poll_shrinks_an_incident_and_keeps_it(feeds):
    wednesday_store(feeds)
    feeds.polls(
        ("a", "active", "2023-01-25 09:00"), ("a", "inactive", "2023-01-25 10:00"), ("a", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    first = only_incident()

    feeds.polls(("a", "active", "2023-01-25 11:00"))
    reconcile_incidents()

    assert incidents("a") == [(utc("2023-01-25 10:00"), utc("2023-01-25 11:00"), ACTIVE_POLL, utc("2023-01-25 10:00"))]
    assert only_incident().pk == first.pk


def test_late_polls_that_split_an_incident_keep_it_for_the_first_part(feeds):
    wednesday_store(feeds)
    feeds.polls(
        ("a", "active", "2023-01-25 09:00"), ("a", "inactive", "2023-01-25 10:00"), ("a", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    first = only_incident()

    feeds.polls(("a", "active", "2023-01-25 10:30"), ("a", "inactive", "2023-01-25 11:00"))
    result = reconcile_incidents()

    assert incidents("a") == [
        (utc("2023-01-25 10:00"), utc("2023-01-25 10:30"), ACTIVE_POLL, utc("2023-01-25 10:00")),
        (utc("2023-01-25 11:00"), utc("2023-01-25 12:00"), ACTIVE_POLL, utc("2023-01-25 11:00")),
    ]
    assert Incident.objects.order_by("started_at").first().pk == first.pk
    assert (result.updated, result.created) == (1, 1)


def test_a_late_active_poll_ends_an_open_incident_in_the_past(feeds):
    wednesday_store(feeds)
    feeds.polls(("a", "active", "2023-01-25 09:00"), ("a", "inactive", "2023-01-25 10:00"))
    feeds.polls(("z", "active", "2023-01-25 12:00"))
    reconcile_incidents()
    first = only_incident()
    assert first.ended_at is None

    feeds.polls(("a", "active", "2023-01-25 10:45"))
    result = reconcile_incidents()

    assert incidents("a") == [(utc("2023-01-25 10:00"), utc("2023-01-25 10:45"), ACTIVE_POLL, utc("2023-01-25 10:00"))]
    assert result.ended == [first.pk]


def test_corrected_hours_move_the_incident_with_its_session(feeds):
    wednesday_store(feeds, OPEN_WEDNESDAY_MORNING)
    feeds.polls(
        ("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"), ("z", "active", "2023-01-25 12:00")
    )
    reconcile_incidents()
    first = only_incident()

    feeds.hours(("a", 2, "11:30", "12:00"))  # replaces the store's hours
    reconcile_incidents()

    # No poll inside the new session: it takes the status of the latest poll before it (rule 7).
    assert incidents("a") == [
        (utc("2023-01-25 11:30"), utc("2023-01-25 12:00"), SESSION_CLOSED, utc("2023-01-25 11:15"))
    ]
    moved = only_incident()
    assert moved.pk == first.pk
    assert (moved.session_start, moved.session_end) == (utc("2023-01-25 11:30"), utc("2023-01-25 12:00"))


def test_corrected_hours_that_close_the_store_earlier_end_its_open_incident_at_closing(feeds):
    wednesday_store(feeds, ("a", 2, "09:00", "21:00"))
    feeds.polls(
        ("a", "active", "2023-01-25 10:14"), ("a", "inactive", "2023-01-25 11:15"), ("z", "active", "2023-01-25 13:00")
    )
    reconcile_incidents()
    assert only_incident().ended_at is None

    feeds.hours(OPEN_WEDNESDAY_MORNING)
    result = reconcile_incidents()

    assert incidents("a") == [
        (utc("2023-01-25 11:15"), utc("2023-01-25 12:00"), SESSION_CLOSED, utc("2023-01-25 11:15"))
    ]
    assert result.ended == [only_incident().pk]


def test_the_same_polls_imported_twice_change_nothing(feeds):
    wednesday_store(feeds, OPEN_WEDNESDAY_MORNING)
    rows = (
        ("a", "active", "2023-01-25 10:14"),
        ("a", "inactive", "2023-01-25 11:15"),
        ("z", "active", "2023-01-25 12:00"),
    )
    feeds.polls(*rows)
    reconcile_incidents()
    before = list(Incident.objects.values())

    outcome = feeds.polls(*rows, force=True)  # loaded again, not skipped by the ledger
    assert outcome.summary is not None
    result = reconcile_incidents()

    assert (result.created, result.updated, result.deleted, result.retracted, result.unchanged) == (0, 0, 0, 0, 1)
    assert list(Incident.objects.values()) == before


def test_reconciling_twice_changes_nothing():
    a = store_in("UTC", hours=[(1, "09:00", "12:00"), (2, "09:00", "12:00"), (2, "17:00", "21:00")])
    b = store_in("America/Chicago", store_id="b")
    polls(a, ("2023-01-17 10:00", "active"), ("2023-01-24 11:00", "inactive"), ("2023-01-25 18:00", "inactive"))
    polls(a, ("2023-01-25 19:00", "active"))
    polls(b, ("2023-01-20 10:00", "active"), ("2023-01-21 10:00", "inactive"), ("2023-01-25 20:00", "inactive"))
    first = reconcile_incidents()
    assert first.created == 4  # a: Tuesday, Wednesday morning and evening; b: one, ongoing since 01-21
    before = list(Incident.objects.order_by("pk").values())

    again = reconcile_incidents()

    assert (again.created, again.updated, again.deleted, again.retracted) == (0, 0, 0, 0)
    assert again.unchanged == first.created
    assert (again.opened, again.ended) == ([], [])
    assert list(Incident.objects.order_by("pk").values()) == before


def test_a_report_time_before_the_newest_leaves_the_incidents_after_it_alone():
    a = store_in("UTC")
    polls(a, ("2023-01-25 09:00", "active"), ("2023-01-25 10:00", "inactive"), ("2023-01-25 11:00", "active"))
    polls(a, ("2023-01-25 12:00", "inactive"), ("2023-01-25 13:00", "active"))
    reconcile_incidents()
    before = list(Incident.objects.order_by("pk").values())

    # At 10:30 the first outage is going on and the second has not begun: it is no business of
    # that report's (it would delete it, or retract it with an end before its start).
    result = reconcile_incidents(utc("2023-01-25 10:30"))

    assert (result.deleted, result.retracted, result.updated) == (0, 0, 1)
    assert incidents(a) == [
        (utc("2023-01-25 10:00"), None, "", utc("2023-01-25 10:00")),
        (utc("2023-01-25 12:00"), utc("2023-01-25 13:00"), ACTIVE_POLL, utc("2023-01-25 12:00")),
    ]
    # The newest time puts everything back as it was, the same rows.
    reconcile_incidents()
    after = list(Incident.objects.order_by("pk").values())
    assert [{k: v for k, v in row.items() if k != "updated_at"} for row in after] == [
        {k: v for k, v in row.items() if k != "updated_at"} for row in before
    ]


def test_an_incident_keeps_an_opening_poll_older_than_the_lookback():
    a = store_in("UTC", hours=[(day, "09:00", "21:00") for day in range(7)])
    polls(a, ("2023-01-11 10:00", "active"), ("2023-01-11 11:00", "inactive"))
    polls(a, ("2023-01-13 10:00", "inactive"), ("2023-01-13 11:00", "active"))
    reconcile_incidents(utc("2023-01-20 12:00"))
    carried = Incident.objects.get(started_at=utc("2023-01-12 09:00"))
    # 01-12 has no poll: it takes the status of the latest poll before it (rule 7).
    assert (carried.ended_at, carried.opened_by_poll_at) == (utc("2023-01-12 21:00"), utc("2023-01-11 11:00"))

    # The lookback now starts at 01-11 12:00: the report still shows the outage of 01-12 (from
    # the earliest poll after it), but no longer holds the poll that opened it.
    result = reconcile_incidents(utc("2023-01-25 12:00"))

    carried.refresh_from_db()
    assert carried.opened_by_poll_at == utc("2023-01-11 11:00")
    assert (result.updated, result.unchanged, result.created) == (0, 3, 0)
