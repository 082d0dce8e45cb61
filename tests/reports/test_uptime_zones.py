"""Local wall time to UTC: the vectorised conversion agrees with zoneinfo (fold=0) everywhere."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from reports.uptime.zones import local_to_utc, utc_offset_changes

UTC = dt.UTC
NAIVE_EPOCH = dt.datetime(1970, 1, 1)


def naive_micros(moment: dt.datetime) -> int:
    return (moment - NAIVE_EPOCH) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    "zone",
    [
        "America/Chicago",
        "America/New_York",
        "America/Phoenix",
        "Pacific/Honolulu",
        "Asia/Beirut",
        "Europe/London",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "UTC",
    ],
)
def test_every_quarter_hour_of_a_year_converts_like_zoneinfo(zone):
    start = dt.datetime(2023, 1, 1)
    local = [start + dt.timedelta(minutes=15 * i) for i in range(365 * 96)]
    expected = [int(moment.replace(tzinfo=ZoneInfo(zone)).timestamp()) * 1_000_000 for moment in local]
    got = local_to_utc(np.array([naive_micros(moment) for moment in local], dtype=np.int64), zone)
    assert got.tolist() == expected


def test_a_time_in_the_spring_gap_uses_the_offset_before_the_change():
    # Chicago skips 02:00-03:00 on 2023-03-12; 02:30 is read as CST (-6): 08:30 UTC.
    got = local_to_utc(np.array([naive_micros(dt.datetime(2023, 3, 12, 2, 30))]), "America/Chicago")
    assert got[0] == naive_micros(dt.datetime(2023, 3, 12, 8, 30))


def test_an_ambiguous_autumn_time_is_its_first_occurrence():
    # Chicago repeats 01:00-02:00 on 2023-11-05; the first 01:30 is CDT (-5): 06:30 UTC.
    got = local_to_utc(np.array([naive_micros(dt.datetime(2023, 11, 5, 1, 30))]), "America/Chicago")
    assert got[0] == naive_micros(dt.datetime(2023, 11, 5, 6, 30))


def test_offset_changes_are_found_to_the_second():
    start = naive_micros(dt.datetime(2023, 3, 1))
    end = naive_micros(dt.datetime(2023, 3, 20))
    transitions, offsets = utc_offset_changes("America/Chicago", start, end)
    assert transitions == (int(dt.datetime(2023, 3, 12, 8, tzinfo=UTC).timestamp()),)
    assert offsets == (-6 * 3600, -5 * 3600)
    assert utc_offset_changes("Asia/Kolkata", start, end) == ((), (19800,))
