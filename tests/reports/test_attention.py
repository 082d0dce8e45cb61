"""Hand-computed cases of the dashboard's summary: stores needing attention and offline now."""

import datetime as dt
import json

import pytest

from reports.attention import attention_summary
from reports.uptime import FeedArrays, compute_uptime, epoch_microseconds

UTC = dt.UTC
DAYS_14 = 14 * 86_400_000_000
TUE, WED = 1, 2
AS_OF = "2023-01-25 12:00"  # a Wednesday


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# Every store in UTC but "b" (America/Chicago, the default), as of Wednesday 25th 12:00.
POLLS = [
    # a: open Wed 09-12, inactive from 11:15 to the close at as_of: not offline at as_of.
    ("a", "2023-01-25 07:00", "active"),
    ("a", "2023-01-25 10:14", "active"),
    ("a", "2023-01-25 11:15", "inactive"),
    # b: open all the time, inactive from the lookback's start to 11:30.
    ("b", "2023-01-25 05:00", "inactive"),
    ("b", "2023-01-25 11:30", "active"),
    # c: the README's example C, open Tue and Wed 09-21, inactive since 10:30.
    ("c", "2023-01-24 20:50", "inactive"),
    ("c", "2023-01-25 09:30", "active"),
    ("c", "2023-01-25 10:30", "inactive"),
    # d: open all the time and always active.
    ("d", "2023-01-25 11:00", "active"),
    # e: open Wed 09-21, one poll outside hours: every Wednesday inactive (9 + 3 hours in the week).
    ("e", "2023-01-25 01:30", "inactive"),
    # f: open Wed 09-21, active last Wednesday, inactive since 09:00 today (3 hours, as e's day).
    ("f", "2023-01-18 13:00", "active"),
    ("f", "2023-01-25 09:00", "inactive"),
]
HOURS = [
    ("a", WED, "09:00", "12:00"),
    ("c", TUE, "09:00", "21:00"),
    ("c", WED, "09:00", "21:00"),
    ("e", WED, "09:00", "21:00"),
    ("f", WED, "09:00", "21:00"),
]
ZONES = dict.fromkeys("acdef", "UTC")


def summary_of(limit=10, polls=POLLS, method="last_known"):
    feeds = FeedArrays.from_rows(
        [(store, at(when), status == "active") for store, when, status in polls],
        [(store, day, dt.time.fromisoformat(s), dt.time.fromisoformat(e)) for store, day, s, e in HOURS],
        ZONES,
        default_zone="America/Chicago",
    )
    return attention_summary(compute_uptime(feeds, epoch_microseconds(at(AS_OF)), DAYS_14, method), feeds, limit)


def figures(entry):
    """(down day, down week, uptime % day, week, outages day, week, evidence day, week)."""
    return tuple(
        entry[f"{name}_last_{window}"]
        for name in ("downtime", "uptime_percent", "outages", "polls")
        for window in ("day", "week")
    )


def test_stores_needing_attention_are_ranked_by_downtime_in_the_day_then_the_week():
    summary = summary_of()
    assert [entry["store_id"] for entry in summary["attention"]] == ["b", "c", "e", "f", "a"]
    by_store = {entry["store_id"]: figures(entry) for entry in summary["attention"]}
    assert by_store == {
        # 30 of 24 × 60 minutes up in the day (2.08 %), of 168 hours in the week (0.30 %).
        "b": (23.5, 167.5, 2.08, 0.3, 1, 1, 2, 2),
        # Rules 11-13's worked example.
        "c": (10.5, 22.5, 12.5, 6.25, 2, 3, 3, 3),
        # Its one poll is outside hours, so it is the evidence; nothing up, so 0 %, in both.
        "e": (3.0, 12.0, 0.0, 0.0, 1, 2, 1, 1),
        # Equal to e in the day, less in the week: after it. Up all of last Wednesday's 9 hours.
        "f": (3.0, 3.0, 0.0, 75.0, 1, 1, 1, 2),
        "a": (0.75, 0.75, 75.0, 75.0, 1, 1, 2, 2),
    }
    assert summary["attention_count"] == 5  # d was never down
    assert (summary["as_of"], summary["method"], summary["stores"]) == ("2023-01-25T12:00:00+00:00", "last_known", 6)


def test_offline_now_lists_the_stores_inactive_inside_business_hours_at_as_of_longest_first():
    summary = summary_of()
    # a's session closes at as_of, b is active at as_of, d was never down.
    assert summary["offline_now"] == [
        {
            "store_id": "e",
            "zone": "UTC",
            "since": "2023-01-25T09:00:00+00:00",
            "since_local": "2023-01-25T09:00:00+00:00",
            "since_lookback_start": False,
            "hours_down": 3.0,
        },
        {
            "store_id": "f",
            "zone": "UTC",
            "since": "2023-01-25T09:00:00+00:00",
            "since_local": "2023-01-25T09:00:00+00:00",
            "since_lookback_start": False,
            "hours_down": 3.0,
        },
        {
            "store_id": "c",
            "zone": "UTC",
            "since": "2023-01-25T10:30:00+00:00",
            "since_local": "2023-01-25T10:30:00+00:00",
            "since_lookback_start": False,
            "hours_down": 1.5,
        },
    ]
    assert summary["offline_now_count"] == 3


def test_the_limit_bounds_both_lists_but_not_their_counts():
    summary = summary_of(limit=2)
    assert [entry["store_id"] for entry in summary["attention"]] == ["b", "c"]
    assert [entry["store_id"] for entry in summary["offline_now"]] == ["e", "f"]
    assert (summary["attention_count"], summary["offline_now_count"], summary["limit"]) == (5, 3, 2)


def test_offline_since_is_given_in_the_stores_zone_too():
    # b, open all the time in America/Chicago, stays inactive at as_of: offline since the
    # lookback's start (its first poll's status holds from the opening), which is 06:00 CST.
    polls = [("b", "2023-01-25 05:00", "inactive"), ("b", "2023-01-25 11:00", "inactive")]
    (entry,) = summary_of(polls=polls)["offline_now"]
    assert entry == {
        "store_id": "b",
        "zone": "America/Chicago",
        "since": "2023-01-11T12:00:00+00:00",
        "since_local": "2023-01-11T06:00:00-06:00",
        "since_lookback_start": True,
        "hours_down": 336.0,
    }


def test_a_window_without_business_time_has_no_uptime_percent():
    # Open Mondays 09-17 only, inactive on Monday 23rd.
    polls = [("m", "2023-01-23 10:00", "inactive")]
    feeds = FeedArrays.from_rows(
        [(store, at(when), status == "active") for store, when, status in polls],
        [("m", 0, dt.time(9), dt.time(17))],
        {"m": "UTC"},
        default_zone="America/Chicago",
    )
    summary = attention_summary(compute_uptime(feeds, epoch_microseconds(at(AS_OF)), DAYS_14), feeds)
    (entry,) = summary["attention"]
    # Nothing in the last day (Tue 12:00 - Wed 12:00): 0 down, no percent; 8 hours down on Monday.
    assert figures(entry) == (0.0, 8.0, None, 0.0, 0, 1, 0, 1)
    assert summary["offline_now"] == []


@pytest.mark.parametrize("method", ["last_known", "nearest"])
def test_the_summary_is_plain_json(method):
    summary = summary_of(method=method)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["method"] == method


def test_a_report_of_no_store_has_empty_lists():
    feeds = FeedArrays.from_rows([], [], {}, default_zone="America/Chicago")
    summary = attention_summary(compute_uptime(feeds, epoch_microseconds(at(AS_OF)), DAYS_14), feeds)
    assert (summary["attention"], summary["offline_now"], summary["stores"]) == ([], [], 0)
