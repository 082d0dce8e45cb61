"""Fixtures of the report tests."""

import datetime as dt

import pytest

from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory

UTC = dt.UTC


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Report CSVs go to a temporary MEDIA_ROOT, not var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def worked_examples():
    """The README's two worked examples, stored in the database."""
    a = StoreFactory(store_id="a")
    TimezoneFactory(store=a, timezone_str="UTC")
    BusinessHoursFactory(store=a, day_of_week=2, start_time_local=dt.time(9), end_time_local=dt.time(12))
    for when, status in [("07:00", "active"), ("10:14", "active"), ("11:15", "inactive")]:
        StatusPollFactory(store=a, timestamp_utc=at(f"2023-01-25 {when}"), status=status)
    b = StoreFactory(store_id="b")
    StatusPollFactory(store=b, timestamp_utc=at("2023-01-25 05:00"), status="inactive")
    StatusPollFactory(store=b, timestamp_utc=at("2023-01-25 11:30"), status="active")
