"""The week timeline: local days, daylight-saving days, and spans that add up to the figures."""

import datetime as dt
import zlib
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from reports.timeline import HOUR_US, WEEK_US, assumed_spans, evidence_times, local_days, week_timeline
from reports.timeline_drawing import LABEL_WIDTH, RIGHT_MARGIN, VIEW_WIDTH, draw_week
from reports.uptime import FeedArrays, compute_uptime
from reports.uptime.inputs import MICROSECONDS_PER_DAY, epoch_microseconds

UTC = dt.UTC
EMPTY = np.zeros(0, dtype=np.int64)


def us(text, zone="UTC"):
    return epoch_microseconds(dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)))


def empty_timeline(zone, as_of_us):
    return week_timeline(
        zone, as_of_us, (EMPTY, EMPTY), (EMPTY, EMPTY, EMPTY.astype(bool)), (EMPTY, EMPTY.astype(bool))
    )


def report_and_timeline(zone, as_of_us, polls, hours=(), method="last_known"):
    """Run the calculator on one store and draw its timeline from the calculator's own arrays."""
    feeds = FeedArrays.from_rows(polls, hours, {"s": zone}, default_zone="America/Chicago")
    figures = compute_uptime(feeds, as_of_us, 14 * MICROSECONDS_PER_DAY, method=method)
    timeline = week_timeline(
        zone,
        as_of_us,
        sessions=(figures.sessions.start, figures.sessions.end),
        segments=(figures.segments.start, figures.segments.end, figures.segments.active),
        polls=(feeds.poll_time_us, feeds.poll_active),
    )
    return figures, timeline


def test_a_week_ending_mid_day_has_eight_local_days_the_first_and_last_cut():
    as_of = us("2023-01-25 18:13:22.479220")
    timeline = empty_timeline("UTC", as_of)
    assert [day.date.isoformat() for day in timeline.days] == [f"2023-01-{d}" for d in range(18, 26)]
    assert timeline.days[0].visible_start_us == as_of - WEEK_US
    assert timeline.days[-1].visible_end_us == as_of
    assert all(day.hours == 24 for day in timeline.days)


def test_a_week_ending_at_local_midnight_has_seven_whole_days():
    as_of = us("2023-01-26 00:00", "Asia/Kolkata")
    timeline = empty_timeline("Asia/Kolkata", as_of)
    assert len(timeline.days) == 7
    assert all(day.visible_start_us == day.start_us and day.visible_end_us == day.end_us for day in timeline.days)


def test_rows_start_at_local_midnight_and_tile_time():
    timeline = empty_timeline("America/New_York", us("2023-03-15 18:00"))
    for day in timeline.days:
        midnight = dt.datetime.combine(day.date, dt.time(0), tzinfo=ZoneInfo("America/New_York"))
        assert day.start_us == epoch_microseconds(midnight)
    assert all(a.end_us == b.start_us for a, b in pairwise(timeline.days))


def test_the_spring_forward_day_has_23_hours_and_its_clock_skips_two_oclock():
    timeline = empty_timeline("America/Chicago", us("2023-03-15 18:00"))
    (change,) = [day for day in timeline.days if day.date == dt.date(2023, 3, 12)]
    assert change.hours == 23
    assert [mark.hour for mark in change.hour_marks][:4] == [0, 1, 3, 4]
    assert [(tick.time_us, tick.shift_minutes) for tick in change.clock_changes] == [(us("2023-03-12 08:00"), 60)]
    assert all(day.hours == 24 for day in timeline.days if day is not change)


def test_the_fall_back_day_has_25_hours_and_its_clock_shows_one_oclock_twice():
    timeline = empty_timeline("America/Chicago", us("2023-11-08 18:00"))
    (change,) = [day for day in timeline.days if day.date == dt.date(2023, 11, 5)]
    assert change.hours == 25
    assert [mark.hour for mark in change.hour_marks][:4] == [0, 1, 1, 2]
    assert len(change.hour_marks) == 25
    # The axis runs to 25 hours so the long day fits at the same scale as the others.
    assert timeline.axis_us == 25 * HOUR_US


def test_a_zone_whose_clock_jumps_at_midnight_still_gets_contiguous_days():
    # Beirut goes from 23:59:59 to 01:00 on 2023-03-26 (the zone skips local midnight).
    days = local_days("Asia/Beirut", us("2023-03-24 12:00"), us("2023-03-28 12:00"))
    dates = [date.isoformat() for date, _, _ in days]
    assert dates == ["2023-03-24", "2023-03-25", "2023-03-26", "2023-03-27", "2023-03-28"]
    lengths = [(end - start) / HOUR_US for _, start, end in days]
    assert lengths == [24, 24, 23, 24, 24]
    assert all(before[2] == after[1] for before, after in pairwise(days))


def test_half_hour_zones_mark_their_own_full_hours():
    timeline = empty_timeline("Asia/Kolkata", us("2023-01-25 12:00"))
    day = timeline.days[1]
    assert [mark.offset_us for mark in day.hour_marks[:3]] == [0, HOUR_US, 2 * HOUR_US]
    assert day.hour_marks[0].time_us == us("2023-01-19 00:00", "Asia/Kolkata")


def test_spans_are_cut_to_the_window_and_to_each_day():
    as_of = us("2023-01-25 12:00")
    start = as_of - WEEK_US
    sessions = (
        np.array([start - HOUR_US, us("2023-01-20 22:00")]),
        np.array([start + HOUR_US, us("2023-01-21 02:00")]),
    )
    timeline = week_timeline("UTC", as_of, sessions, (EMPTY, EMPTY, EMPTY.astype(bool)), (EMPTY, EMPTY.astype(bool)))
    spans = [(day.date.day, s.start_us, s.end_us) for day in timeline.days for s in day.sessions]
    assert spans == [
        (18, start, start + HOUR_US),
        (20, us("2023-01-20 22:00"), us("2023-01-21 00:00")),
        (21, us("2023-01-21 00:00"), us("2023-01-21 02:00")),
    ]
    assert timeline.business_us() == 5 * HOUR_US


def test_polls_in_the_window_become_ticks_including_one_at_as_of():
    as_of = us("2023-01-25 12:00")
    times = np.array([as_of - WEEK_US - 1, as_of - WEEK_US, us("2023-01-22 03:00"), as_of, as_of + 1])
    active = np.array([True, False, True, False, True])
    timeline = week_timeline("UTC", as_of, (EMPTY, EMPTY), (EMPTY, EMPTY, EMPTY.astype(bool)), (times, active))
    ticks = [(tick.time_us, tick.active) for day in timeline.days for tick in day.polls]
    assert ticks == [(as_of - WEEK_US, False), (us("2023-01-22 03:00"), True), (as_of, False)]


ZONES = ["America/Chicago", "America/New_York", "Asia/Beirut", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@pytest.mark.parametrize("method", ["last_known", "nearest"])
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    "as_of_text", ["2023-03-15 18:13:22.479220", "2023-11-08 06:00", "2023-04-05 13:59:59", "2023-10-04 00:00"]
)
def test_drawn_green_and_red_add_up_to_the_calculators_week_figures_exactly(zone, as_of_text, method):
    as_of = us(as_of_text)
    rng = np.random.default_rng(zlib.crc32(f"{zone} {as_of_text} {method}".encode()))
    poll_times = np.sort(rng.integers(as_of - 10 * MICROSECONDS_PER_DAY, as_of + HOUR_US, size=300))
    polls = [
        ("s", dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=int(t)), rng.random() < 0.7)
        for t in poll_times
    ]
    hours = [("s", day, dt.time(9), dt.time(17)) for day in range(5)] + [
        ("s", 5, dt.time(22), dt.time(2)),  # overnight
        ("s", 6, dt.time(1, 30), dt.time(3, 30)),  # across the spring gap and the autumn repeat
    ]
    figures, timeline = report_and_timeline(zone, as_of, polls, hours, method)
    assert timeline.status_us(True) == figures.uptime_us["week"][0]
    assert timeline.status_us(False) == figures.downtime_us["week"][0]
    assert timeline.business_us() == figures.business_us["week"][0]
    assert timeline.days[0].visible_start_us == as_of - WEEK_US


def test_an_always_open_store_is_one_session_over_the_whole_week():
    as_of = us("2023-01-25 12:00")
    polls = [("s", dt.datetime(2023, 1, 20, tzinfo=UTC), True)]
    figures, timeline = report_and_timeline("UTC", as_of, polls)
    assert timeline.business_us() == WEEK_US
    assert timeline.status_us(True) == WEEK_US == figures.uptime_us["week"][0]


def test_the_drawing_scales_every_row_alike_and_keeps_the_exact_times():
    as_of = us("2023-11-08 18:00", "America/Chicago")
    polls = [
        ("s", dt.datetime(2023, 11, 4, 12, tzinfo=UTC), True),
        ("s", dt.datetime(2023, 11, 6, 12, tzinfo=UTC), False),
    ]
    figures, timeline = report_and_timeline("America/Chicago", as_of, polls)
    drawing = draw_week(timeline)
    assert len(drawing.rows) == len(timeline.days) == 8
    chart = VIEW_WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    per_hour = chart / 25  # the week has a 25-hour day
    for row, day in zip(drawing.rows, timeline.days, strict=True):
        assert row["day_width"] == pytest.approx(day.hours * per_hour, abs=0.01)
        assert row["dst"] == (day.hours != 24)
        for drawn, span in zip(row["segments"], day.segments, strict=True):
            assert drawn["end_us"] - drawn["start_us"] == span.duration_us
            assert drawn["width"] == pytest.approx(span.duration_us / HOUR_US * per_hour, abs=0.01)
    drawn_up = sum(s["end_us"] - s["start_us"] for row in drawing.rows for s in row["segments"] if s["active"])
    assert drawn_up == figures.uptime_us["week"][0]
    assert [a["label"] for a in drawing.axis][-1] == "24:00"
    long_day = next(row for row in drawing.rows if row["dst"])
    assert long_day["hours"] == "25 h day"
    assert [change["label"] for change in long_day["clock_changes"]] == ["02:00→01:00"]


# --- Outages and assumed time (issue 11) ---------------------------------------------------


def test_assumed_time_is_the_business_time_farther_than_the_radius_from_every_evidence_poll():
    minute = 60_000_000
    sessions = (
        np.array([us("2023-01-24 09:00"), us("2023-01-25 09:00")]),
        np.array([us("2023-01-24 21:00"), us("2023-01-25 21:00")]),
    )
    # 90 minutes around each: Tue 19:20-22:20, and Wed 08:00-11:00 joined with 09:00-12:00.
    evidence = np.array([us("2023-01-25 10:30"), us("2023-01-24 20:50"), us("2023-01-25 09:30")])
    start, end = assumed_spans(*sessions, evidence, 90 * minute)
    assert list(zip(start.tolist(), end.tolist(), strict=True)) == [
        (us("2023-01-24 09:00"), us("2023-01-24 19:20")),
        (us("2023-01-25 12:00"), us("2023-01-25 21:00")),
    ]
    # Exactly the radius away is near: nothing is assumed between two polls 3 hours apart.
    start, end = assumed_spans(*sessions, np.array([us("2023-01-24 10:30"), us("2023-01-24 13:30")]), 90 * minute)
    assert (start[0], end[0]) == (us("2023-01-24 15:00"), us("2023-01-24 21:00"))
    # Without evidence every session is assumed whole.
    start, end = assumed_spans(*sessions, EMPTY, 90 * minute)
    assert (start.tolist(), end.tolist()) == (sessions[0].tolist(), sessions[1].tolist())


def test_evidence_is_the_polls_inside_sessions_or_all_of_them_when_none_is():
    sessions = (np.array([us("2023-01-25 09:00")]), np.array([us("2023-01-25 12:00")]))
    polls = np.array([us("2023-01-25 12:00"), us("2023-01-25 07:00"), us("2023-01-25 10:14")])
    # 12:00 is the closing instant: outside (rule 5's [opening, closing)).
    assert evidence_times(polls, *sessions).tolist() == [us("2023-01-25 10:14")]
    outside = np.array([us("2023-01-25 13:00"), us("2023-01-25 07:00")])
    assert evidence_times(outside, *sessions).tolist() == [us("2023-01-25 07:00"), us("2023-01-25 13:00")]


def test_an_outage_over_midnight_is_marked_in_both_rows_and_numbered_as_given():
    as_of = us("2023-01-25 12:00")
    outages = (
        np.array([us("2023-01-17 10:00"), us("2023-01-22 20:00")]),
        np.array([us("2023-01-18 14:00"), us("2023-01-23 03:00")]),
        np.array([False, False]),
    )
    timeline = week_timeline(
        "UTC", as_of, (EMPTY, EMPTY), (EMPTY, EMPTY, EMPTY.astype(bool)), (EMPTY, EMPTY.astype(bool)), outages=outages
    )
    marks = [
        (day.date.day, m.number, m.start_us, m.end_us, m.first, m.last) for day in timeline.days for m in day.outages
    ]
    assert marks == [
        # The first began before the week: cut to it, and not its first part.
        (18, 1, as_of - WEEK_US, us("2023-01-18 14:00"), False, True),
        (22, 2, us("2023-01-22 20:00"), us("2023-01-23 00:00"), True, False),
        (23, 2, us("2023-01-23 00:00"), us("2023-01-23 03:00"), False, True),
    ]
    drawing = draw_week(timeline)
    drawn = [(o["number"], o["first"], o["title"]) for row in drawing.rows for o in row["outages"]]
    assert drawn == [
        (1, False, "outage 1: 12:00–14:00"),
        (2, True, "outage 2: 20:00–00:00"),
        (2, False, "outage 2: 00:00–03:00"),
    ]


@pytest.mark.parametrize("method", ["last_known", "nearest"])
@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Kolkata", "UTC"])
def test_the_marked_outages_add_up_to_the_downtime_and_the_evidence_to_its_count(zone, method):
    as_of = us("2023-03-15 18:13:22.479220")
    rng = np.random.default_rng(zlib.crc32(f"outages {zone} {method}".encode()))
    poll_times = np.sort(rng.integers(as_of - 10 * MICROSECONDS_PER_DAY, as_of, size=120))
    polls = [
        ("s", dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=int(t)), rng.random() < 0.6)
        for t in poll_times
    ]
    hours = [("s", day, dt.time(9), dt.time(17)) for day in range(5)] + [("s", 5, dt.time(22), dt.time(2))]
    feeds = FeedArrays.from_rows(polls, hours, {"s": zone}, default_zone="America/Chicago")
    figures = compute_uptime(feeds, as_of, 14 * MICROSECONDS_PER_DAY, method=method)
    outages = figures.store_outages(0)
    week = outages.take(outages.end > as_of - WEEK_US)
    timeline = week_timeline(
        zone,
        as_of,
        sessions=(figures.sessions.start, figures.sessions.end),
        segments=(figures.segments.start, figures.segments.end, figures.segments.active),
        polls=(feeds.poll_time_us, feeds.poll_active),
        outages=(week.start, week.end, week.ongoing),
    )
    assert timeline.outage_us() == figures.downtime_us["week"][0]
    assert len({m.number for day in timeline.days for m in day.outages}) == figures.outage_counts["week"][0]
    evidence = evidence_times(feeds.poll_time_us, figures.sessions.start, figures.sessions.end)
    assert int(((evidence >= as_of - WEEK_US) & (evidence < as_of)).sum()) == figures.evidence_polls["week"][0]
