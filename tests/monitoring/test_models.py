import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from monitoring.timezones import is_valid_timezone
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_store_ids_are_text_so_uuids_and_64_bit_integers_both_fit():
    uuid_store = Store.objects.create(store_id="d84a4552-3668-4075-ad1d-16840294f818")
    int_store = Store.objects.create(store_id="8139926242460185114")
    assert Store.objects.get(store_id="d84a4552-3668-4075-ad1d-16840294f818") == uuid_store
    assert Store.objects.get(store_id="8139926242460185114") == int_store


def test_store_id_is_unique():
    StoreFactory(store_id="42")
    with pytest.raises(IntegrityError), transaction.atomic():
        Store.objects.create(store_id="42")


def test_a_store_without_a_timezone_row_is_in_america_chicago():
    store = StoreFactory()
    assert store.timezone_name == "America/Chicago"
    assert Store.DEFAULT_TIMEZONE == "America/Chicago"


def test_a_store_with_a_timezone_row_uses_it():
    tz = TimezoneFactory(timezone_str="Asia/Beirut")
    assert Store.objects.get(pk=tz.store_id).timezone_name == "Asia/Beirut"


def test_a_store_without_hours_is_always_open_and_one_with_hours_is_not():
    assert StoreFactory().is_always_open
    assert not BusinessHoursFactory().store.is_always_open


def test_a_store_may_have_several_hours_rows_on_one_day():
    store = StoreFactory()
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(0), end_time_local=dt.time(0, 10))
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(11), end_time_local=dt.time(23, 59))
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(11), end_time_local=dt.time(23, 59))
    assert store.business_hours.filter(day_of_week=2).count() == 3


@pytest.mark.parametrize("day", [-1, 7, 100])
def test_the_database_rejects_a_day_outside_0_to_6(day):
    store = StoreFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        BusinessHours.objects.create(
            store=store, day_of_week=day, start_time_local=dt.time(9), end_time_local=dt.time(17)
        )


def test_the_database_rejects_an_unknown_status():
    store = StoreFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusPoll.objects.create(store=store, timestamp_utc=dt.datetime(2023, 1, 1, tzinfo=UTC), status="asleep")


def test_one_poll_per_store_and_timestamp():
    poll = StatusPollFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusPoll.objects.create(store=poll.store, timestamp_utc=poll.timestamp_utc, status="inactive")
    # Another store may be polled at the same instant.
    StatusPoll.objects.create(store=StoreFactory(), timestamp_utc=poll.timestamp_utc, status="inactive")


def test_poll_timestamps_keep_microseconds_and_utc():
    when = dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC)
    poll = StatusPollFactory(timestamp_utc=when)
    poll.refresh_from_db()
    assert poll.timestamp_utc == when


def test_one_timezone_per_store():
    tz = TimezoneFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Timezone.objects.create(store=tz.store, timezone_str="UTC")


@pytest.mark.parametrize("name", ["America/Chicago", "Asia/Beirut", "Pacific/Honolulu", "UTC"])
def test_timezone_validation_accepts_tz_database_names(name):
    Timezone(store=StoreFactory(), timezone_str=name).full_clean()


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "America/chicago ", "../etc/passwd", "CST6"])
def test_timezone_validation_rejects_unknown_names(name):
    with pytest.raises(ValidationError):
        Timezone(store=StoreFactory(), timezone_str=name).full_clean()


def test_a_zone_name_too_long_for_a_file_name_is_simply_not_a_zone():
    # zoneinfo looks names up as files: a 300-character name is an OSError there, not a zone.
    assert not is_valid_timezone("Europe/" + "x" * 300)
