"""Hand-computed cases, one or more per uptime rule of the README (rule numbers in the names)."""

import datetime as dt

import pytest

from reports.uptime import FeedArrays, compute_uptime
from reports.uptime.engine import CSV_COLUMNS
from reports.uptime.inputs import epoch_microseconds
from tests.reports.worked_examples import EXAMPLE_A, EXAMPLE_B, MON, SAT, SUN, TUE, WED

UTC = dt.UTC
DAYS_14 = 14 * 86_400_000_000


def at(text: str) -> dt.datetime:
    """'2023-01-25 12:00' (a Wednesday) as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def report(polls, hours=(), zones=None, as_of="2023-01-25 12:00", method="last_known", lookback=DAYS_14):
    """{store_id: {column: float}} as the CSV would show it (rounded to 2 decimals)."""
    feeds = FeedArrays.from_rows(
        [(store, at(when), status == "active") for store, when, status in polls],
        [(store, day, t(opens), t(closes)) for store, day, opens, closes in hours],
        zones,
        default_zone="America/Chicago",
    )
    result = compute_uptime(feeds, epoch_microseconds(at(as_of)), lookback, method)
    return {row[0]: dict(zip(CSV_COLUMNS[1:], map(float, row[1:]), strict=True)) for row in result.rows()}


def figures(row):
    return (
        row["uptime_last_hour"],
        row["uptime_last_day"],
        row["uptime_last_week"],
        row["downtime_last_hour"],
        row["downtime_last_day"],
        row["downtime_last_week"],
    )


# --- The README's worked examples --------------------------------------------------------------


def test_worked_example_a_with_last_known():
    assert figures(report(**EXAMPLE_A)["a"]) == (15, 2.25, 2.25, 45, 0.75, 0.75)


def test_worked_example_a_with_nearest():
    assert figures(report(**EXAMPLE_A, method="nearest")["a"]) == (0, 1.74, 1.74, 60, 1.26, 1.26)


def test_worked_example_b_with_last_known():
    assert figures(report(**EXAMPLE_B)["b"]) == (30, 0.5, 0.5, 30, 23.5, 167.5)


def test_worked_example_b_with_nearest():
    row = report(**EXAMPLE_B, method="nearest")["b"]
    assert figures(row)[:2] + figures(row)[3:5] == (60, 3.75, 0, 20.25)


# --- Rule 1: as_of and the lookback ----------------------------------------------------------


def test_rule_1_polls_after_as_of_are_ignored():
    rows = report(
        [("s", "2023-01-25 11:00", "active"), ("s", "2023-01-25 11:30", "inactive")], as_of="2023-01-25 11:20"
    )
    assert figures(rows["s"])[:1] + figures(rows["s"])[3:4] == (60, 0)


def test_rule_1_polls_before_the_lookback_are_ignored():
    rows = report(
        [("s", "2023-01-10 11:00", "inactive"), ("s", "2023-01-25 11:00", "active")],
        as_of="2023-01-25 12:00",
    )
    # Without the 15-day-old poll the whole week is active.
    assert figures(rows["s"]) == (60, 24, 168, 0, 0, 0)


def test_rule_1_the_lookback_is_configurable_and_inclusive_at_both_ends():
    polls = [("s", "2023-01-15 12:00", "inactive"), ("s", "2023-01-25 12:00", "active")]
    ten_days = 10 * 86_400_000_000
    assert "s" in report(polls, lookback=ten_days)
    assert figures(report(polls, lookback=ten_days)["s"])[3] == 60  # the poll at as_of: no weight
    assert "s" in report([("s", "2023-01-15 12:00", "inactive")], lookback=ten_days)
    assert report([("s", "2023-01-15 11:59", "inactive")], lookback=ten_days) == {}


def test_rule_1_a_lookback_shorter_than_a_week_is_refused():
    feeds = FeedArrays.from_rows([], default_zone="UTC")
    with pytest.raises(ValueError, match="last week"):
        compute_uptime(feeds, 0, 6 * 86_400_000_000)


# --- Rule 2: rolling windows ending at as_of -------------------------------------------------


def test_rule_2_windows_are_rolling_and_end_at_as_of():
    # Active until 09:30, then inactive: the hour [10:30, 11:30) is all inactive, the day all
    # but the polled part before 09:30.
    rows = report(
        [("s", "2023-01-25 08:00", "active"), ("s", "2023-01-25 09:30", "inactive")],
        as_of="2023-01-25 11:30",
    )
    assert figures(rows["s"]) == (0, 22, 166, 60, 2, 2)


# --- Rule 3: which stores, in which order ------------------------------------------------------


def test_rule_3_stores_are_sorted_as_text_and_only_those_with_recent_polls_appear():
    rows = report(
        [
            ("9", "2023-01-25 11:00", "active"),
            ("10", "2023-01-25 11:00", "active"),
            ("d84a4552-3668-4075-ad1d-16840294f818", "2023-01-25 11:00", "active"),
            ("old", "2023-01-01 11:00", "active"),
        ],
        hours=[("hours-only", MON, "09:00", "17:00")],
    )
    assert list(rows) == ["10", "9", "d84a4552-3668-4075-ad1d-16840294f818"]


# --- Rule 4: time zones ----------------------------------------------------------------------


def test_rule_4_a_store_without_a_zone_is_in_america_chicago():
    # Wednesday 09:00-10:00 in Chicago (CST, UTC-6) is 15:00-16:00 UTC.
    polls = [("s", "2023-01-25 15:30", "active")]
    hours = [("s", WED, "09:00", "10:00")]
    assert figures(report(polls, hours, as_of="2023-01-25 16:00")["s"])[:3] == (60, 1, 1)
    assert figures(report(polls, hours, {"s": "UTC"}, as_of="2023-01-25 16:00")["s"])[:3] == (0, 1, 1)


# --- Rule 5: business hours -------------------------------------------------------------------


def test_rule_5_a_store_without_hours_is_open_all_the_time():
    rows = report([("s", "2023-01-20 00:00", "active")])
    assert figures(rows["s"]) == (60, 24, 168, 0, 0, 0)


def test_rule_5_a_weekday_without_a_row_is_closed():
    # Only Monday is listed: the week holds one Monday (2023-01-23) of 8 hours.
    rows = report([("s", "2023-01-23 10:00", "inactive")], [("s", MON, "09:00", "17:00")], {"s": "UTC"})
    assert figures(rows["s"]) == (0, 0, 0, 0, 0, 8)


def test_rule_5_an_overnight_row_runs_into_the_next_date():
    # Tuesday 22:00 - Wednesday 02:00 (UTC); as_of Wednesday 12:00.
    rows = report([("s", "2023-01-24 23:00", "active")], [("s", TUE, "22:00", "02:00")], {"s": "UTC"})
    assert figures(rows["s"]) == (0, 4, 4, 0, 0, 0)


def test_rule_5_equal_start_and_end_mean_24_hours_from_the_start():
    rows = report([("s", "2023-01-24 12:00", "active")], [("s", TUE, "06:00", "06:00")], {"s": "UTC"})
    # Tuesday 06:00 to Wednesday 06:00: the day window [Tue 12:00, Wed 12:00) sees 18 hours.
    assert figures(rows["s"]) == (0, 18, 24, 0, 0, 0)


def test_rule_5_times_are_taken_literally():
    rows = report([("s", "2023-01-24 12:00", "active")], [("s", TUE, "00:00:00", "23:59:59")], {"s": "UTC"})
    assert rows["s"]["uptime_last_week"] == round((24 * 3600 - 1) / 3600, 2)  # 23.9997 -> 24.0
    rows = report([("s", "2023-01-24 12:00", "active")], [("s", TUE, "00:00:00", "23:00:00")], {"s": "UTC"})
    assert rows["s"]["uptime_last_week"] == 23


def test_rule_5_hours_use_each_dates_own_daylight_saving_offset():
    # America/Chicago, Sunday 2023-03-12 (CST -> CDT at 02:00) and Monday 2023-03-13.
    # Sunday 09:00-17:00 CDT is 14:00-22:00 UTC; Saturday 09:00-17:00 CST is 15:00-23:00 UTC.
    polls = [
        ("s", "2023-03-11 14:30", "inactive"),  # Saturday 08:30 CST: before opening
        ("s", "2023-03-11 15:30", "active"),
        ("s", "2023-03-12 14:30", "inactive"),  # Sunday 09:30 CDT: inside
        ("s", "2023-03-12 22:30", "active"),  # Sunday 17:30 CDT: closed
    ]
    hours = [("s", SAT, "09:00", "17:00"), ("s", SUN, "09:00", "17:00")]
    rows = report(polls, hours, {"s": "America/Chicago"}, as_of="2023-03-13 00:00")
    assert figures(rows["s"]) == (0, 0, 8, 0, 8, 8)


def test_rule_5_a_missing_local_time_uses_the_offset_before_the_change():
    # 02:30 does not exist in Chicago on 2023-03-12; read with CST (-6) it is 08:30 UTC,
    # so 02:30-04:00 local is 08:30-09:00 UTC: half an hour.
    rows = report(
        [("s", "2023-03-12 08:45", "active")],
        [("s", SUN, "02:30", "04:00")],
        {"s": "America/Chicago"},
        as_of="2023-03-12 12:00",
    )
    assert figures(rows["s"]) == (0, 0.5, 0.5, 0, 0, 0)


def test_rule_5_an_ambiguous_local_time_is_its_first_occurrence():
    # 01:30 happens twice in Chicago on 2023-11-05; the first (CDT, -5) is 06:30 UTC.
    # 01:30-03:00 local is 06:30 UTC to 09:00 UTC: two and a half hours.
    rows = report(
        [("s", "2023-11-05 07:00", "active")],
        [("s", SUN, "01:30", "03:00")],
        {"s": "America/Chicago"},
        as_of="2023-11-05 12:00",
    )
    assert figures(rows["s"]) == (0, 2.5, 2.5, 0, 0, 0)


def test_rule_5_overlapping_and_touching_rows_merge_into_one_session():
    # 09-12 and 12-15 touch, 10-11 overlaps: one session 09-15. With last_known the 10:00 poll
    # holds until 13:00; two separate sessions would instead open 12:00 with the 13:00 poll.
    hours = [("s", WED, "09:00", "12:00"), ("s", WED, "12:00", "15:00"), ("s", WED, "10:00", "11:00")]
    polls = [("s", "2023-01-25 10:00", "inactive"), ("s", "2023-01-25 13:00", "active")]
    rows = report(polls, hours, {"s": "UTC"}, as_of="2023-01-25 15:00")
    assert figures(rows["s"]) == (60, 2, 2, 0, 4, 4)


def test_rule_5_up_to_four_rows_a_day_and_duplicates_count_once():
    hours = [
        ("s", WED, "00:00:00", "00:10:00"),
        ("s", WED, "06:00", "07:00"),
        ("s", WED, "11:00:00", "23:59:00"),
        ("s", WED, "11:00:00", "23:59:00"),
    ]
    rows = report([("s", "2023-01-25 06:30", "active")], hours, {"s": "UTC"}, as_of="2023-01-26 00:00")
    assert rows["s"]["uptime_last_week"] == round((10 + 60 + 12 * 60 + 59) / 60, 2)


# --- Rule 6: evidence -------------------------------------------------------------------------


def test_rule_6_polls_outside_hours_are_ignored_when_polls_inside_exist():
    polls = [("s", "2023-01-25 08:00", "inactive"), ("s", "2023-01-25 10:00", "active")]
    rows = report(polls, [("s", WED, "09:00", "12:00")], {"s": "UTC"})
    assert figures(rows["s"]) == (60, 3, 3, 0, 0, 0)


def test_rule_6_a_store_without_polls_inside_hours_uses_all_its_polls():
    polls = [("s", "2023-01-25 08:00", "inactive"), ("s", "2023-01-25 13:00", "active")]
    rows = report(polls, [("s", WED, "09:00", "12:00")], {"s": "UTC"})
    # last_known carries the 08:00 poll (the latest before the session) through it.
    assert figures(rows["s"]) == (0, 0, 0, 60, 3, 3)


# --- Rule 7: extrapolation --------------------------------------------------------------------


def test_rule_7_a_session_without_polls_takes_the_latest_evidence_before_it():
    # Monday and Tuesday 09-17 (UTC); polls only on Monday; Tuesday carries Monday's last.
    polls = [("s", "2023-01-23 10:00", "active"), ("s", "2023-01-23 16:00", "inactive")]
    hours = [("s", MON, "09:00", "17:00"), ("s", TUE, "09:00", "17:00")]
    rows = report(polls, hours, {"s": "UTC"}, as_of="2023-01-25 00:00")
    assert figures(rows["s"]) == (0, 0, 7, 0, 8, 9)


def test_rule_7_without_earlier_evidence_a_session_takes_the_earliest_after_it():
    polls = [("s", "2023-01-24 10:00", "inactive")]
    hours = [("s", MON, "09:00", "17:00"), ("s", TUE, "09:00", "17:00")]
    rows = report(polls, hours, {"s": "UTC"}, as_of="2023-01-25 00:00")
    assert figures(rows["s"]) == (0, 0, 0, 0, 8, 16)


def test_rule_7_nearest_gives_a_tie_to_the_earlier_poll():
    # Polls at 10:00 (active) and 12:00 (inactive): the midpoint 11:00 splits the session.
    polls = [("s", "2023-01-25 10:00", "active"), ("s", "2023-01-25 12:00", "inactive")]
    rows = report(polls, [("s", WED, "09:00", "13:00")], {"s": "UTC"}, as_of="2023-01-25 13:00", method="nearest")
    assert figures(rows["s"]) == (0, 2, 2, 60, 2, 2)


def test_rule_7_nearest_uses_evidence_from_other_sessions():
    polls = [("s", "2023-01-24 09:30", "inactive"), ("s", "2023-01-25 09:30", "active")]
    hours = [("s", TUE, "09:00", "10:00"), ("s", TUE, "20:00", "22:00"), ("s", WED, "09:00", "10:00")]
    rows = report(polls, hours, {"s": "UTC"}, as_of="2023-01-25 12:00", method="nearest")
    # Midpoint Tuesday 21:30: 20:00-21:30 inactive, 21:30-22:00 active.
    assert figures(rows["s"]) == (0, 1.5, 1.5, 0, 1.5, 2.5)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        report(**EXAMPLE_B, method="median")


# --- Rule 9: output ---------------------------------------------------------------------------


def test_rule_9_columns_units_and_rounding():
    feeds = FeedArrays.from_rows([("s", at("2023-01-25 11:40"), False)], default_zone="UTC")
    result = compute_uptime(feeds, epoch_microseconds(at("2023-01-25 12:00")), DAYS_14)
    assert CSV_COLUMNS == (
        "store_id",
        "uptime_last_hour",
        "uptime_last_day",
        "uptime_last_week",
        "downtime_last_hour",
        "downtime_last_day",
        "downtime_last_week",
    )
    assert list(result.rows()) == [["s", "0.00", "0.00", "0.00", "60.00", "24.00", "168.00"]]
    feeds = FeedArrays.from_rows(
        [("s", at("2023-01-25 11:00"), False), ("s", at("2023-01-25 11:20:00.400000"), True)], default_zone="UTC"
    )
    result = compute_uptime(feeds, epoch_microseconds(at("2023-01-25 12:00")), DAYS_14)
    # 39:59.6 minutes up = 39.9933 minutes -> 39.99; 0.66656 hours -> 0.67.
    assert list(result.rows())[0][1:3] == ["39.99", "0.67"]
