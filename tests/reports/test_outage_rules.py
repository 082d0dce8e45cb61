"""Hand-computed cases of the outage rules 10-13 of the README (rule numbers in the names)."""

import datetime as dt
import math

import pytest

from reports.uptime import (
    CSV_COLUMNS,
    EXTENDED_CSV_COLUMNS,
    OUTAGE_CSV_COLUMNS,
    FeedArrays,
    compute_uptime,
    epoch_microseconds,
    outage_rows,
)
from tests.reports.worked_examples import EXAMPLE_A, EXAMPLE_B, EXAMPLE_C, MON, SUN, THU, TUE, WED

UTC = dt.UTC
DAYS_14 = 14 * 86_400_000_000
NEW_COLUMNS = EXTENDED_CSV_COLUMNS[len(CSV_COLUMNS) :]


def at(text: str) -> dt.datetime:
    """'2023-01-25 12:00' (a Wednesday) as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(polls, hours=(), zones=None, as_of="2023-01-25 12:00", method="last_known", lookback=DAYS_14):
    feeds = FeedArrays.from_rows(
        [(store, at(when), status == "active") for store, when, status in polls],
        [(store, day, dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for store, day, start, end in hours],
        zones,
        default_zone="America/Chicago",
    )
    return feeds, compute_uptime(feeds, epoch_microseconds(at(as_of)), lookback, method)


def extended(**case):
    """{store_id: (outages h/d/w, uptime percent h/d/w, longest outage, polls h/d/w)} as in the CSV."""
    _, result = run(**case)
    return {row[0]: dict(zip(NEW_COLUMNS, row[len(CSV_COLUMNS) :], strict=True)) for row in result.rows(extended=True)}


def summary(row):
    return (
        tuple(int(row[f"outages_last_{w}"]) for w in ("hour", "day", "week")),
        tuple(row[f"uptime_percent_last_{w}"] for w in ("hour", "day", "week")),
        row["longest_outage_last_week"],
    )


def polls_counts(row):
    return tuple(int(row[f"polls_last_{w}"]) for w in ("hour", "day", "week"))


def outage_csv(**case):
    """The outages CSV rows without the store_id."""
    feeds, result = run(**case)
    return [row[1:] for row in outage_rows(result.outages, feeds.store_ids, feeds.store_zones)]


# --- The README's worked examples --------------------------------------------------------------


def test_worked_example_a_with_last_known():
    # Inactive 11:15-12:00: 15 of the hour's 60 minutes up, 2.25 of the day's 3 hours.
    row = extended(**EXAMPLE_A)["a"]
    assert summary(row) == ((1, 1, 1), ("25.00", "75.00", "75.00"), "0.75")
    # The 07:00 poll is outside hours, so not evidence.
    assert polls_counts(row) == (1, 2, 2)


def test_worked_example_a_with_nearest():
    # The midpoint of 10:14 and 11:15 is 10:44:30: up 1.7417 of 3 hours, then 1.2583 hours down.
    row = extended(**EXAMPLE_A, method="nearest")["a"]
    assert summary(row) == ((1, 1, 1), ("0.00", "58.06", "58.06"), "1.26")


def test_worked_example_b_with_last_known():
    # Inactive from the lookback's start to 11:30; the week cuts it to 167.5 hours.
    row = extended(**EXAMPLE_B)["b"]
    assert summary(row) == ((1, 1, 1), ("50.00", "2.08", "0.30"), "167.50")
    assert polls_counts(row) == (1, 2, 2)


def test_worked_example_b_with_nearest():
    # The midpoint 08:15 ends the outage: the last hour holds none; 3.75 of 24 hours up is 15.625 %.
    row = extended(**EXAMPLE_B, method="nearest")["b"]
    assert summary(row) == ((0, 1, 1), ("100.00", "15.62", "2.23"), "164.25")


def test_worked_example_c_with_last_known():
    # Outages: Tue 09-21 (from the 20:50 poll), Wed 10:30 on; in the week also the previous
    # Wednesday 09-21 (cut to 12-21), carried from the earliest poll after it.
    row = extended(**EXAMPLE_C)["c"]
    assert summary(row) == ((1, 2, 3), ("0.00", "12.50", "6.25"), "12.00")
    assert polls_counts(row) == (0, 3, 3)


def test_worked_example_c_with_nearest():
    # Midpoints Wed 03:10 and Wed 10:00: Wednesday is up 09:00-10:00 only, 1 of 12 and 24 hours.
    row = extended(**EXAMPLE_C, method="nearest")["c"]
    assert summary(row) == ((1, 2, 3), ("0.00", "8.33", "4.17"), "12.00")


def test_worked_example_c_lists_every_outage_of_the_lookback():
    assert [(start, end, minutes) for start, end, _, _, minutes in outage_csv(**EXAMPLE_C)] == [
        ("2023-01-11T12:00:00+00:00", "2023-01-11T21:00:00+00:00", "540.00"),  # cut to the lookback
        ("2023-01-17T09:00:00+00:00", "2023-01-17T21:00:00+00:00", "720.00"),
        ("2023-01-18T09:00:00+00:00", "2023-01-18T21:00:00+00:00", "720.00"),
        ("2023-01-24T09:00:00+00:00", "2023-01-24T21:00:00+00:00", "720.00"),
        ("2023-01-25T10:30:00+00:00", "2023-01-25T12:00:00+00:00", "90.00"),  # cut to as_of
    ]


# --- Rule 10: an outage is a maximal inactive interval inside one session ------------------------


def test_rule_10_inactive_stretches_in_the_two_sessions_of_a_split_shift_are_two_outages():
    # Lunch 11-14 ends inactive from 13:00; dinner 17-22 opens inactive until 18:30. The store
    # is closed in between, and still they are two outages.
    case = {
        "polls": [
            ("s", "2023-01-25 11:30", "active"),
            ("s", "2023-01-25 13:00", "inactive"),
            ("s", "2023-01-25 17:30", "inactive"),
            ("s", "2023-01-25 18:30", "active"),
        ],
        "hours": [("s", WED, "11:00", "14:00"), ("s", WED, "17:00", "22:00")],
        "zones": {"s": "UTC"},
        "as_of": "2023-01-25 22:00",
    }
    # Down 1 + 1.5 of 8 business hours: 68.75 % up.
    assert summary(extended(**case)["s"]) == ((0, 2, 2), ("100.00", "68.75", "68.75"), "1.50")
    _, result = run(**case)
    outages = result.outages
    assert list(zip(outages.start.tolist(), outages.end.tolist(), strict=True)) == [
        (epoch_microseconds(at("2023-01-25 13:00")), epoch_microseconds(at("2023-01-25 14:00"))),
        (epoch_microseconds(at("2023-01-25 17:00")), epoch_microseconds(at("2023-01-25 18:30"))),
    ]
    assert outages.session_start.tolist() == [epoch_microseconds(at(f"2023-01-25 {h}")) for h in ("11:00", "17:00")]
    assert outages.session_end.tolist() == [epoch_microseconds(at(f"2023-01-25 {h}")) for h in ("14:00", "22:00")]


@pytest.mark.parametrize(
    ("method", "outage"),
    [
        ("last_known", ("2023-01-25T11:00:00+00:00", "2023-01-25T13:00:00+00:00", "120.00")),
        # Cut at the midpoints 10:30 and 12:30.
        ("nearest", ("2023-01-25T10:30:00+00:00", "2023-01-25T12:30:00+00:00", "120.00")),
    ],
)
def test_rule_10_two_inactive_polls_in_a_row_make_one_outage(method, outage):
    case = {
        "polls": [
            ("s", "2023-01-25 10:00", "active"),
            ("s", "2023-01-25 11:00", "inactive"),
            ("s", "2023-01-25 12:00", "inactive"),
            ("s", "2023-01-25 13:00", "active"),
        ],
        "hours": [("s", WED, "09:00", "17:00")],
        "zones": {"s": "UTC"},
        "as_of": "2023-01-25 17:00",
        "method": method,
    }
    assert [(start, end, minutes) for start, end, _, _, minutes in outage_csv(**case)] == [outage]
    assert summary(extended(**case)["s"]) == ((0, 1, 1), ("100.00", "75.00", "75.00"), "2.00")


def test_rule_10_an_overnight_row_joined_to_the_next_days_row_holds_one_outage_across_both():
    # Tuesday 22:00-02:00 touches Wednesday 02:00-05:00: one session, so 01:00-04:00 is one outage.
    case = {
        "polls": [
            ("s", "2023-01-24 22:30", "active"),
            ("s", "2023-01-25 01:00", "inactive"),
            ("s", "2023-01-25 03:00", "inactive"),
            ("s", "2023-01-25 04:00", "active"),
        ],
        "hours": [("s", TUE, "22:00", "02:00"), ("s", WED, "02:00", "05:00")],
        "zones": {"s": "UTC"},
    }
    _, result = run(**case)
    assert (result.outages.start.tolist(), result.outages.end.tolist()) == (
        [epoch_microseconds(at("2023-01-25 01:00"))],
        [epoch_microseconds(at("2023-01-25 04:00"))],
    )
    assert (result.outages.session_start.tolist(), result.outages.session_end.tolist()) == (
        [epoch_microseconds(at("2023-01-24 22:00"))],
        [epoch_microseconds(at("2023-01-25 05:00"))],
    )


def test_rule_10_a_store_open_all_the_time_has_one_outage_spanning_days():
    case = {
        "polls": [
            ("s", "2023-01-23 10:00", "active"),
            ("s", "2023-01-23 12:00", "inactive"),
            ("s", "2023-01-25 11:00", "inactive"),
            ("s", "2023-01-25 11:30", "active"),
        ],
        "zones": {"s": "UTC"},
    }
    assert outage_csv(**case) == [
        [
            "2023-01-23T12:00:00+00:00",
            "2023-01-25T11:30:00+00:00",
            "2023-01-23T12:00:00+00:00",
            "2023-01-25T11:30:00+00:00",
            "2850.00",
        ]
    ]
    # 47.5 hours; the hour sees its first 30 minutes.
    assert summary(extended(**case)["s"]) == ((1, 1, 1), ("50.00", "2.08", "71.73"), "47.50")


def test_rule_10_an_outage_going_on_at_as_of_is_cut_there_and_marked_ongoing():
    # Open until 21:00; inactive from 11:00; the 12:30 poll comes after as_of and is ignored.
    case = {
        "polls": [
            ("s", "2023-01-25 10:00", "active"),
            ("s", "2023-01-25 11:00", "inactive"),
            ("s", "2023-01-25 12:30", "active"),
        ],
        "hours": [("s", WED, "09:00", "21:00")],
        "zones": {"s": "UTC"},
    }
    for method in ("last_known", "nearest"):
        _, result = run(**case, method=method)
        outages = result.outages
        assert outages.ongoing.tolist() == [True]
        assert outages.end.tolist() == [epoch_microseconds(at("2023-01-25 12:00"))]
        assert outages.session_end.tolist() == [epoch_microseconds(at("2023-01-25 21:00"))]
    # An inactive poll at as_of itself continues the outage, an active one ends it there.
    for status, ongoing in (("inactive", True), ("active", False)):
        polls = case["polls"][:2] + [("s", "2023-01-25 12:00", status)]
        _, result = run(**{**case, "polls": polls})
        assert result.outages.ongoing.tolist() == [ongoing]
        assert result.outages.end.tolist() == [epoch_microseconds(at("2023-01-25 12:00"))]


def test_rule_10_an_outage_ending_when_the_session_closes_at_as_of_is_not_ongoing():
    _, result = run(**EXAMPLE_A)
    assert result.outages.ongoing.tolist() == [False]


@pytest.mark.parametrize("method", ["last_known", "nearest"])
def test_rule_10_an_outage_starting_after_as_of_does_not_count(method):
    # Sessions run a day past as_of inside the engine, so Thursday opens inactive there at
    # 09:00 (carried from the last poll); only Wednesday's outage, cut at as_of, counts.
    case = {
        "polls": [("s", "2023-01-25 11:00", "active"), ("s", "2023-01-25 11:30", "inactive")],
        "hours": [("s", WED, "09:00", "21:00"), ("s", THU, "09:00", "21:00")],
        "zones": {"s": "UTC"},
        "method": method,
    }
    _, result = run(**case)
    assert result.sessions.end.max() > result.as_of_us + 9 * 3_600_000_000  # Thursday is there
    assert result.outages.end.tolist() == [result.as_of_us]
    assert result.outages.ongoing.tolist() == [True]


@pytest.mark.parametrize(
    ("day", "as_of", "local_start", "local_end", "hours"),
    [
        # Spring forward at 02:00: 00:00 CST (06:00 UTC) to 06:00 CDT (11:00 UTC) is 5 hours.
        ("2023-03-12", "2023-03-13 00:00", "2023-03-12T00:00:00-06:00", "2023-03-12T06:00:00-05:00", 5),
        # Fall back at 02:00: 00:00 CDT (05:00 UTC) to 06:00 CST (12:00 UTC) is 7 hours.
        ("2023-11-05", "2023-11-06 00:00", "2023-11-05T00:00:00-05:00", "2023-11-05T06:00:00-06:00", 7),
    ],
)
def test_rule_10_an_outage_across_a_daylight_saving_change_has_its_real_length_and_local_offsets(
    day, as_of, local_start, local_end, hours
):
    case = {
        "polls": [("s", f"{day} 08:00", "inactive")],
        "hours": [("s", SUN, "00:00", "06:00")],
        "zones": {"s": "America/Chicago"},
        "as_of": as_of,
    }
    # The Sunday before, with no poll of its own, is an outage too (carried from the one poll).
    before, row = outage_csv(**case)
    assert row[2:] == [local_start, local_end, f"{hours * 60:.2f}"]
    assert before[0] < row[0]
    assert summary(extended(**case)["s"]) == ((0, 1, 1), ("", "0.00", "0.00"), f"{hours:.2f}")


# --- Rule 11: outages in a window, the longest in the week ---------------------------------------


def test_rule_11_an_outage_that_began_before_the_week_counts_in_it_and_is_cut_to_it():
    # Open all the time; inactive from the lookback's start until Thursday 19th 12:00 (the first
    # poll's status holds from the opening), so the week [Wed 18th 12:00, ...) holds 24 hours of it.
    case = {
        "polls": [("s", "2023-01-17 12:00", "inactive"), ("s", "2023-01-19 12:00", "active")],
        "zones": {"s": "UTC"},
    }
    assert summary(extended(**case)["s"]) == ((0, 0, 1), ("100.00", "100.00", "85.71"), "24.00")
    _, result = run(**case)
    week_start = result.as_of_us - 7 * 86_400_000_000
    assert result.outages.started_before(week_start).tolist() == [True]
    assert result.outages.overlap_us(week_start).tolist() == [24 * 3_600_000_000]
    assert outage_csv(**case)[0][-1] == f"{8 * 24 * 60:.2f}"  # the whole outage, in the lookback


def test_rule_11_an_outage_that_ends_as_the_window_starts_is_not_in_it():
    case = {
        "polls": [
            ("s", "2023-01-25 09:00", "active"),
            ("s", "2023-01-25 10:00", "inactive"),
            ("s", "2023-01-25 11:00", "active"),
        ],
        "zones": {"s": "UTC"},
    }
    assert summary(extended(**case)["s"])[0] == (0, 1, 1)


def test_rule_11_the_longest_outage_is_the_longest_after_cutting_to_the_week():
    # Inactive Wed 18th 00:00-20:00 (cut to 12:00-20:00 by the week: 8 hours) and Mon 23rd
    # 10:00-16:00 (6 hours): the longest in the week is 8 hours, though 20 hours long in all.
    case = {
        "polls": [
            ("s", "2023-01-17 23:00", "active"),
            ("s", "2023-01-18 00:00", "inactive"),
            ("s", "2023-01-18 20:00", "active"),
            ("s", "2023-01-23 10:00", "inactive"),
            ("s", "2023-01-23 16:00", "active"),
        ],
        "zones": {"s": "UTC"},
    }
    assert summary(extended(**case)["s"]) == ((0, 0, 2), ("100.00", "100.00", "91.67"), "8.00")


# --- Rule 12: uptime percent -----------------------------------------------------------------


def test_rule_12_a_window_without_business_time_has_an_empty_uptime_percent():
    # Open Mondays 09-17 only: the last hour and day (Wednesday) hold no business time.
    case = {"polls": [("s", "2023-01-23 10:00", "inactive")], "hours": [("s", MON, "09:00", "17:00")]}
    assert summary(extended(**case, zones={"s": "UTC"})["s"]) == ((0, 0, 1), ("", "", "0.00"), "8.00")
    _, result = run(**case, zones={"s": "UTC"})
    assert [math.isnan(result.uptime_percent(window)[0]) for window in ("hour", "day", "week")] == [True, True, False]


# --- Rule 13: evidence in a window -------------------------------------------------------------


def test_rule_13_evidence_polls_are_counted_per_window_and_a_poll_at_as_of_weighs_nothing():
    case = {
        "polls": [
            ("s", "2023-01-18 11:00", "active"),  # a week and an hour ago: before the week
            ("s", "2023-01-18 13:00", "active"),  # inside the week and inside hours
            ("s", "2023-01-24 10:00", "active"),  # Tuesday: closed, not evidence
            ("s", "2023-01-25 08:00", "active"),  # before opening, not evidence
            ("s", "2023-01-25 09:30", "active"),
            ("s", "2023-01-25 11:10", "inactive"),
            ("s", "2023-01-25 11:50", "active"),
            ("s", "2023-01-25 12:00", "active"),  # at as_of: outside every window
        ],
        "hours": [("s", WED, "09:00", "21:00")],
        "zones": {"s": "UTC"},
    }
    assert polls_counts(extended(**case)["s"]) == (2, 3, 4)


def test_rule_13_a_week_of_downtime_resting_on_one_poll_shows_it():
    # Open 09-17 every day; no poll inside hours, so all polls are evidence (rule 6), and a lone
    # one carries every session: the week's 8 sessions (the first cut at 12:00) are 8 outages.
    rows = extended(
        polls=[("s", "2023-01-19 08:00", "inactive")],
        hours=[("s", day, "09:00", "17:00") for day in range(7)],
        zones={"s": "UTC"},
    )
    assert summary(rows["s"]) == ((1, 2, 8), ("0.00", "0.00", "0.00"), "8.00")
    assert polls_counts(rows["s"]) == (0, 0, 1)


# --- The extended CSV and the outages CSV ----------------------------------------------------------


def test_the_extended_rows_are_the_default_rows_followed_by_the_ten_new_columns():
    assert EXTENDED_CSV_COLUMNS == CSV_COLUMNS + (
        "outages_last_hour",
        "outages_last_day",
        "outages_last_week",
        "uptime_percent_last_hour",
        "uptime_percent_last_day",
        "uptime_percent_last_week",
        "longest_outage_last_week",
        "polls_last_hour",
        "polls_last_day",
        "polls_last_week",
    )
    _, result = run(polls=EXAMPLE_A["polls"] + EXAMPLE_B["polls"], hours=EXAMPLE_A["hours"], zones=EXAMPLE_A["zones"])
    extended_rows = list(result.rows(extended=True))
    assert [row[: len(CSV_COLUMNS)] for row in extended_rows] == list(result.rows())
    assert extended_rows == [
        ["a", "15.00", "2.25", "2.25", "45.00", "0.75", "0.75", "1", "1", "1", "25.00", "75.00", "75.00", "0.75"]
        + ["1", "2", "2"],
        ["b", "30.00", "0.50", "0.50", "30.00", "23.50", "167.50", "1", "1", "1", "50.00", "2.08", "0.30", "167.50"]
        + ["1", "2", "2"],
    ]


def test_the_outages_csv_is_sorted_by_store_id_then_start_with_local_times_in_each_stores_zone():
    polls = [
        ("9", "2023-01-18 05:00", "active"),  # so that the week before is up
        ("9", "2023-01-25 10:00:00.250000", "inactive"),
        ("9", "2023-01-25 11:00", "active"),
        ("10", "2023-01-11 13:00", "active"),
        ("10", "2023-01-24 10:00", "inactive"),
        ("10", "2023-01-24 11:00", "active"),
        ("10", "2023-01-25 11:30", "inactive"),
        ("up", "2023-01-25 11:30", "active"),
    ]
    hours = [("9", WED, "09:00", "17:00"), ("10", TUE, "09:00", "17:00"), ("10", WED, "09:00", "17:00")]
    feeds, result = run(polls, hours, zones={"9": "Asia/Kolkata", "10": "UTC"}, as_of="2023-01-25 12:00")
    assert OUTAGE_CSV_COLUMNS == ("store_id", "start_utc", "end_utc", "start_local", "end_local", "minutes")
    # Store 9: Wednesday 09:00-17:00 in Kolkata (UTC+05:30) is 03:30-11:30 UTC.
    assert list(outage_rows(result.outages, feeds.store_ids, feeds.store_zones)) == [
        ["10", "2023-01-24T09:00:00+00:00", "2023-01-24T11:00:00+00:00"]
        + ["2023-01-24T09:00:00+00:00", "2023-01-24T11:00:00+00:00", "120.00"],
        # Wednesday opens with its first poll's status, inactive.
        ["10", "2023-01-25T09:00:00+00:00", "2023-01-25T12:00:00+00:00"]
        + ["2023-01-25T09:00:00+00:00", "2023-01-25T12:00:00+00:00", "180.00"],
        ["9", "2023-01-25T03:30:00+00:00", "2023-01-25T11:00:00+00:00"]
        + ["2023-01-25T09:00:00+05:30", "2023-01-25T16:30:00+05:30", "450.00"],
    ]
    # The first poll's microseconds show where it cuts an outage, as datetime.isoformat writes them.
    _, result = run(polls, hours, zones={"9": "Asia/Kolkata", "10": "UTC"}, method="nearest")
    rows = {row[0]: row for row in outage_rows(result.outages, feeds.store_ids, feeds.store_zones)}
    # The midpoint of 10:00:00.25 and 11:00 is 10:30:00.125.
    assert rows["9"][1:] == [
        "2023-01-25T03:30:00+00:00",
        "2023-01-25T10:30:00.125000+00:00",
        "2023-01-25T09:00:00+05:30",
        "2023-01-25T16:00:00.125000+05:30",
        "420.00",
    ]


def test_a_stores_outages_are_the_same_alone_or_among_others_and_before_or_after_all_are_listed():
    _, alone = run(**EXAMPLE_C)
    together_feeds, together = run(
        polls=EXAMPLE_C["polls"] + EXAMPLE_A["polls"],
        hours=EXAMPLE_C["hours"] + EXAMPLE_A["hours"],
        zones={**EXAMPLE_A["zones"], **EXAMPLE_C["zones"]},
    )
    position = together_feeds.store_ids.index("c")
    assert position == 1
    one_store = together.store_outages(position)  # before every store's outages are worked out
    listed = together.outages.of_store(position)
    after = together.store_outages(position)
    for outages in (one_store, listed, after):
        assert outages.store.tolist() == [position] * 5
        for field in ("start", "end", "session_start", "session_end", "ongoing"):
            assert getattr(outages, field).tolist() == getattr(alone.outages, field).tolist()
    assert len(together.outages.of_store(0)) == 1  # store a's
    assert len(together.store_outages(5)) == 0  # not a store of the run


def test_the_outages_csv_writes_outages_at_the_ends_of_the_calendar_in_iso_form_beyond_years_1_to_9999():
    # Times there are integers like any other (README): a local time past 9999-12-31 is written
    # as year 10000, one before 0001-01-01 as year 0000, rather than failing.
    last = dt.datetime.max.replace(tzinfo=UTC)
    polls = [("s", last - dt.timedelta(hours=2), False), ("s", last, False)]
    feeds = FeedArrays.from_rows(polls, zones={"s": "Pacific/Kiritimati"}, default_zone="UTC")
    result = compute_uptime(feeds, epoch_microseconds(last), DAYS_14)
    (row,) = outage_rows(result.outages, feeds.store_ids, feeds.store_zones)
    assert row[2:5] == [
        "9999-12-31T23:59:59.999999+00:00",
        "9999-12-18T13:59:59.999999+14:00",
        "10000-01-01T13:59:59.999999+14:00",
    ]
    first = dt.datetime.min.replace(tzinfo=UTC)
    feeds = FeedArrays.from_rows([("s", first, False)], default_zone="UTC")
    result = compute_uptime(feeds, epoch_microseconds(first), DAYS_14)
    (row,) = outage_rows(result.outages, feeds.store_ids, feeds.store_zones)
    assert row[1:3] == ["0000-12-18T00:00:00+00:00", "0001-01-01T00:00:00+00:00"]
