"""Polls at the very ends of what the database holds (0001-01-01 .. 9999-12-31 23:59:59.999999
UTC) never crash a report, the store page or generate_report, and give the rules' figures.

Beyond the range ``datetime`` holds, a zone keeps the offset it has at the edge; weeks there
are computed with integers like any other, and the store page draws the local days the
calendar names (years 1 to 9999).
"""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import Store
from reports.generation import compute_report
from reports.snapshot import lookback_start
from reports.store_week import store_week
from reports.timeline import week_timeline
from reports.timeline_drawing import draw_week
from reports.uptime import FeedArrays, compute_uptime
from reports.uptime.inputs import MICROSECONDS_PER_DAY, epoch_microseconds
from reports.uptime.zones import local_to_utc, utc_offset_changes, utc_to_local
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.uptime_reference import store_figures

UTC = dt.UTC
FIRST = dt.datetime.min.replace(tzinfo=UTC)  # 0001-01-01 00:00:00 UTC
LAST = dt.datetime.max.replace(tzinfo=UTC)  # 9999-12-31 23:59:59.999999 UTC
FIRST_US, LAST_US = epoch_microseconds(FIRST), epoch_microseconds(LAST)
SECOND, MINUTE, HOUR = 1_000_000, 60_000_000, 3_600_000_000
DAY, WEEK = MICROSECONDS_PER_DAY, 7 * MICROSECONDS_PER_DAY
LOOKBACK_US = 14 * DAY
# 400 Gregorian years are 146,097 days, a whole number of weeks: the same dates, weekdays and
# (for zones past their last listed change, or before their first) the same offsets.
FOUR_CENTURIES_US = 146_097 * DAY
REFERENCE_US = 3600  # the property tests' tolerance against the reference, 1e-6 hours


def at(*fields) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=UTC)


def us(*fields) -> int:
    return epoch_microseconds(at(*fields))


def figures_of(result, store_id):
    row = result.store_ids.index(store_id)
    return {
        window: (int(result.uptime_us[window][row]), int(result.downtime_us[window][row]))
        for window in ("hour", "day", "week")
    }


# --- zones beyond the datetime range ---


@pytest.mark.parametrize(
    ("zone", "edge", "beyond"),
    [
        ("Asia/Tokyo", at(9999, 12, 30), us(9999, 12, 31, 23) + 5 * DAY),
        ("Pacific/Kiritimati", at(9999, 12, 30), us(9999, 12, 31, 23) + 5 * DAY),
        ("America/Chicago", at(1, 1, 2), FIRST_US - 5 * DAY),  # local mean time, -05:50:36
        ("Australia/Sydney", at(9999, 12, 30), us(9999, 12, 31, 23) + 5 * DAY),
    ],
)
def test_a_zone_keeps_its_offset_at_the_edge_of_the_datetime_range_beyond_it(zone, edge, beyond):
    offset_us = int(edge.astimezone(ZoneInfo(zone)).utcoffset().total_seconds()) * SECOND
    start, end = sorted((epoch_microseconds(edge), beyond))

    transitions, offsets = utc_offset_changes(zone, start, end)

    assert (transitions, offsets) == ((), (offset_us // SECOND,))
    local = utc_to_local(np.array([beyond]), zone)
    assert local.tolist() == [beyond + offset_us]
    assert local_to_utc(local, zone).tolist() == [beyond]


@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Beirut", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_utc_to_local_agrees_with_zoneinfo_every_quarter_hour_of_a_year(zone):
    # The timeline's integer conversion, checked where datetime can check it.
    start = us(2023, 1, 1)
    instants = np.arange(start, start + 365 * DAY, 15 * MINUTE, dtype=np.int64)
    naive_epoch = dt.datetime(1970, 1, 1)
    expected = [
        (at(1970, 1, 1) + dt.timedelta(microseconds=t)).astimezone(ZoneInfo(zone)).replace(tzinfo=None) - naive_epoch
        for t in instants.tolist()
    ]

    got = utc_to_local(instants, zone)

    assert got.tolist() == [delta // dt.timedelta(microseconds=1) for delta in expected]


# --- the engine, hand-computed ---


def edge_feeds():
    """Stores whose weeks end at the last instant the database holds:

    - ``always``: no hours, zone UTC; inactive at 23:00, active at 23:30 and at the last instant;
    - ``tokyo``: Fridays 09:00-17:00 in Tokyo (00:00-08:00 UTC); active 01:00, inactive 05:00
      UTC on Friday 9999-12-31;
    - ``kiritimati``: Saturdays 00:00-12:00 at UTC+14, i.e. Saturday 10000-01-01 local, 10:00-22:00
      UTC on 9999-12-31; inactive 12:00, active 20:00 UTC.
    """
    polls = [
        ("always", at(9999, 12, 31, 23), False),
        ("always", at(9999, 12, 31, 23, 30), True),
        ("always", LAST, True),
        ("tokyo", at(9999, 12, 31, 1), True),
        ("tokyo", at(9999, 12, 31, 5), False),
        ("kiritimati", at(9999, 12, 31, 12), False),
        ("kiritimati", at(9999, 12, 31, 20), True),
    ]
    hours = [("tokyo", 4, dt.time(9), dt.time(17)), ("kiritimati", 5, dt.time(0), dt.time(12))]
    zones = {"always": "UTC", "tokyo": "Asia/Tokyo", "kiritimati": "Pacific/Kiritimati"}
    return polls, hours, zones


EDGE_FIGURES = {
    # (uptime, downtime) µs per window, as_of = 9999-12-31 23:59:59.999999
    "always": {
        "hour": (30 * MINUTE - 1, 30 * MINUTE + 1),
        "day": (30 * MINUTE - 1, 23 * HOUR + 30 * MINUTE + 1),
        "week": (30 * MINUTE - 1, 167 * HOUR + 30 * MINUTE + 1),
    },
    "tokyo": {"hour": (0, 0), "day": (5 * HOUR, 3 * HOUR), "week": (5 * HOUR, 3 * HOUR)},
    "kiritimati": {"hour": (0, 0), "day": (2 * HOUR, 10 * HOUR), "week": (2 * HOUR, 10 * HOUR)},
}


def test_the_engine_gives_the_rules_figures_for_a_week_ending_at_the_last_instant():
    polls, hours, zones = edge_feeds()
    feeds = FeedArrays.from_rows(polls, hours, zones, default_zone="America/Chicago")

    result = compute_uptime(feeds, LAST_US, LOOKBACK_US)

    assert result.store_ids == ["always", "kiritimati", "tokyo"]
    for store_id, expected in EDGE_FIGURES.items():
        assert figures_of(result, store_id) == expected, store_id


def test_the_engine_gives_the_rules_figures_for_a_week_reaching_before_year_1():
    # 0001-01-01 is a Monday; Chicago is on local mean time (-05:50:36), so Monday 09:00-17:00
    # is 14:50:36-22:50:36 UTC. The week before as_of 0001-01-02 00:00 starts in year 0.
    polls = [("chicago", at(1, 1, 1, 15), False), ("chicago", at(1, 1, 1, 20), True), ("first", FIRST, True)]
    hours = [("chicago", 0, dt.time(9), dt.time(17))]
    feeds = FeedArrays.from_rows(polls, hours, {"chicago": "America/Chicago"}, default_zone="UTC")

    result = compute_uptime(feeds, us(1, 1, 2), LOOKBACK_US)

    down, up = 5 * HOUR + 9 * MINUTE + 24 * SECOND, 2 * HOUR + 50 * MINUTE + 36 * SECOND
    assert figures_of(result, "chicago") == {"hour": (0, 0), "day": (up, down), "week": (up, down)}
    # Open all the time, one active poll: active over every window, even the part before year 1.
    assert figures_of(result, "first") == {"hour": (HOUR, 0), "day": (DAY, 0), "week": (WEEK, 0)}


# --- the engine, properties at both ends ---

ZONES = ["UTC", "America/Chicago", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Australia/Lord_Howe"]
hours_rows = st.tuples(
    st.integers(0, 6),
    st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 30, 59])),
    st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 30, 59])),
)


@st.composite
def edge_scenarios(draw):
    """An as_of within ten days of either end of the database's range, and a few stores whose
    polls lie in the lookback and inside that range."""
    at_end = draw(st.booleans())
    shift = draw(st.integers(0, 10 * DAY))
    as_of = LAST_US - shift if at_end else FIRST_US + shift
    stores = []
    for _ in range(draw(st.integers(1, 3))):
        times = draw(st.sets(st.integers(max(as_of - LOOKBACK_US, FIRST_US), as_of), min_size=1, max_size=12))
        polls = [(t, draw(st.booleans())) for t in sorted(times)]
        hours = draw(st.one_of(st.just([]), st.lists(hours_rows, min_size=1, max_size=6)))
        stores.append((polls, hours, draw(st.sampled_from(ZONES))))
    return as_of, stores


def engine_on(as_of_us, stores, method, shift_us=0):
    n = len(stores)
    poll_store = [i for i, (polls, _, _) in enumerate(stores) for _ in polls]
    poll_time = [t + shift_us for polls, _, _ in stores for t, _ in polls]
    poll_active = [a for polls, _, _ in stores for _, a in polls]
    rows = [(i, day, opens, closes) for i, (_, hours, _) in enumerate(stores) for day, opens, closes in hours]

    def micros(moment):
        return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * SECOND

    feeds = FeedArrays(
        store_ids=[f"store-{i}" for i in range(n)],
        store_zones=[zone for _, _, zone in stores],
        poll_store=np.array(poll_store, dtype=np.int64),
        poll_time_us=np.array(poll_time, dtype=np.int64),
        poll_active=np.array(poll_active, dtype=bool),
        hours_store=np.array([r[0] for r in rows], dtype=np.int64),
        hours_day=np.array([r[1] for r in rows], dtype=np.int64),
        hours_start_us=np.array([micros(r[2]) for r in rows], dtype=np.int64),
        hours_end_us=np.array([micros(r[3]) for r in rows], dtype=np.int64),
    )
    return compute_uptime(feeds, as_of_us + shift_us, LOOKBACK_US, method)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=edge_scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_at_either_end_the_engine_gives_what_it_gives_four_hundred_years_inside(scenario, method):
    as_of, stores = scenario
    # Towards the middle of the range, where datetime and the reference implementation work.
    shift = -FOUR_CENTURIES_US if as_of > 0 else FOUR_CENTURIES_US

    edge = engine_on(as_of, stores, method)
    inside = engine_on(as_of, stores, method, shift_us=shift)

    assert edge.store_ids == inside.store_ids == [f"store-{i}" for i in range(len(stores))]
    for window in ("hour", "day", "week"):
        np.testing.assert_array_equal(edge.uptime_us[window], inside.uptime_us[window])
        np.testing.assert_array_equal(edge.downtime_us[window], inside.downtime_us[window])
        np.testing.assert_array_equal(edge.uptime_us[window] + edge.downtime_us[window], edge.business_us[window])
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    inside_as_of = epoch + dt.timedelta(microseconds=as_of + shift)
    for row, (polls, hours, zone) in enumerate(stores):
        shifted = [(epoch + dt.timedelta(microseconds=t + shift), a) for t, a in polls]
        expected = store_figures(shifted, hours, zone, inside_as_of, dt.timedelta(microseconds=LOOKBACK_US), method)
        for window in ("hour", "day", "week"):
            for which, got in (("uptime", edge.uptime_us), ("downtime", edge.downtime_us)):
                # The reference cuts `nearest` at exact midpoints, the engine at whole µs.
                assert got[window][row] == pytest.approx(float(expected[window][which]) * HOUR, abs=REFERENCE_US)


# --- the store page's timeline ---


def test_a_week_past_the_end_of_the_calendar_draws_the_days_it_names():
    # In Tokyo the last instant is 10000-01-01 08:59:59 local: that date has no row, 9999-12-31
    # is the last, and it ends at local midnight, 15:00 UTC.
    polls, hours, zones = edge_feeds()
    feeds = FeedArrays.from_rows(polls, hours, zones, default_zone="UTC")
    result = compute_uptime(feeds, LAST_US, LOOKBACK_US)
    store = feeds.store_ids.index("tokyo")
    sessions, segments = result.sessions, result.segments

    timeline = week_timeline(
        "Asia/Tokyo",
        LAST_US,
        sessions=(sessions.start[sessions.store == store], sessions.end[sessions.store == store]),
        segments=tuple(a[segments.store == store] for a in (segments.start, segments.end, segments.active)),
        polls=(feeds.poll_time_us[feeds.poll_store == store], feeds.poll_active[feeds.poll_store == store]),
    )
    drawing = draw_week(timeline)

    assert [day.date.isoformat() for day in timeline.days] == [f"9999-12-{d}" for d in range(25, 32)]
    assert timeline.days[-1].end_us == us(9999, 12, 31, 15)
    assert timeline.status_us(True) == EDGE_FIGURES["tokyo"]["week"][0]
    assert timeline.status_us(False) == EDGE_FIGURES["tokyo"]["week"][1]
    assert [s["title"] for s in drawing.rows[-1]["segments"]] == [
        "active 09:00–14:00 (5 h 00 min)",
        "inactive 14:00–17:00 (3 h 00 min)",
    ]
    assert [p["title"] for p in drawing.rows[-1]["polls"]] == ["poll 10:00:00 active", "poll 14:00:00 inactive"]


def test_a_week_wholly_before_the_calendar_has_no_rows_and_still_draws():
    times, statuses = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    timeline = week_timeline("UTC", FIRST_US, (times, times), (times, times, statuses), (times, statuses))

    drawing = draw_week(timeline)

    assert timeline.days == []
    assert drawing.rows == []


# --- through the database, the command and the page ---


@pytest.fixture
def edge_polls(db):
    """The stores of ``edge_feeds`` in the database, plus one store polled at the first instant."""
    polls, hours, zones = edge_feeds()
    for store_id, when, active in polls:
        StatusPollFactory(store__store_id=store_id, timestamp_utc=when, status="active" if active else "inactive")
    for store_id, day, opens, closes in hours:
        BusinessHoursFactory(store__store_id=store_id, day_of_week=day, start_time_local=opens, end_time_local=closes)
    for store_id, zone in zones.items():
        TimezoneFactory(store=StoreFactory(store_id=store_id), timezone_str=zone)
    StatusPollFactory(store__store_id="first", timestamp_utc=FIRST, status="active")


def test_the_default_report_ends_at_the_last_instant_and_gives_the_rules_figures(edge_polls):
    data = compute_report()

    assert data.as_of == LAST
    for store_id, expected in EDGE_FIGURES.items():
        assert figures_of(data.figures, store_id) == expected, store_id
    assert "first" not in data.figures.store_ids


def test_a_report_as_of_the_first_instant_reads_the_polls_at_it(edge_polls):
    data = compute_report(as_of=FIRST)

    assert data.figures.store_ids == ["first"]
    assert figures_of(data.figures, "first") == {"hour": (HOUR, 0), "day": (DAY, 0), "week": (WEEK, 0)}


def test_the_lookback_of_an_as_of_in_the_first_days_starts_at_the_first_instant():
    assert lookback_start(at(1, 1, 3), dt.timedelta(days=14)) == FIRST
    assert lookback_start(at(1, 1, 20), dt.timedelta(days=14)) == at(1, 1, 6)


def test_generate_report_writes_the_report_ending_at_the_last_instant(edge_polls):
    out, err = io.StringIO(), io.StringIO()

    call_command("generate_report", stdout=out, stderr=err)

    assert out.getvalue().splitlines()[1:] == [
        "always,30.00,0.50,0.50,30.00,23.50,167.50",
        "kiritimati,0.00,2.00,2.00,0.00,10.00,10.00",
        "tokyo,0.00,5.00,5.00,0.00,3.00,3.00",
    ]
    assert "3 stores as of 9999-12-31T23:59:59.999999+00:00" in err.getvalue()


@pytest.mark.parametrize(("store_id", "days"), [("tokyo", 7), ("always", 8), ("first", 8)])
def test_the_store_page_at_the_end_of_the_range_shows_the_week_and_figures(client, edge_polls, store_id, days):
    response = client.get(f"/stores/{store_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-days="{days}"' in page
    assert "9999-12-31 23:59:59 UTC" in page
    assert ("No polls in the 14 days before as of" in page) == (store_id == "first")


def test_the_store_week_of_the_first_day_draws_its_day_and_figures(edge_polls):
    chicago = StoreFactory(store_id="chicago")
    TimezoneFactory(store=chicago, timezone_str="America/Chicago")
    BusinessHoursFactory(store=chicago, day_of_week=0, start_time_local=dt.time(9), end_time_local=dt.time(17))
    StatusPollFactory(store=chicago, timestamp_utc=at(1, 1, 1, 15), status="inactive")
    StatusPollFactory(store=chicago, timestamp_utc=at(1, 1, 1, 20), status="active")
    store = Store.objects.select_related("timezone").prefetch_related("business_hours").get(store_id="chicago")

    week = store_week(store, as_of=at(1, 1, 2))
    drawing = draw_week(week.timeline)

    assert [day.date for day in week.timeline.days] == [dt.date(1, 1, 1)]
    assert week.report.row == ["chicago", "0.00", "2.84", "2.84", "0.00", "5.16", "5.16"]
    assert week.timeline.status_us(True) == week.report.data.figures.uptime_us["week"][0]
    assert [s["title"] for s in drawing.rows[0]["sessions"]] == ["business hours 09:00–17:00 (8 h 00 min)"]
