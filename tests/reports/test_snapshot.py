"""The snapshot read that feeds the calculator: one read transaction, the calculator's FeedArrays."""

import datetime as dt

import numpy as np
import pytest
from django.db import connection

from monitoring.models import StatusPoll, Store
from reports import pg_binary
from reports.snapshot import copy_out, read_polls, read_snapshot
from reports.uptime import FeedArrays, epoch_microseconds
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db


def test_the_snapshot_keeps_microseconds_zones_and_hours():
    store = StoreFactory(store_id="s")
    StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 18:13:22.479220"), status="inactive")
    StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 18:13:00"), status="active")
    BusinessHoursFactory(
        store=store, day_of_week=6, start_time_local=dt.time(23, 59, 59), end_time_local=dt.time(0, 10)
    )
    other = StoreFactory(store_id="t")
    TimezoneFactory(store=other, timezone_str="Asia/Beirut")
    snapshot = read_snapshot(None, dt.timedelta(days=14))
    assert snapshot.as_of == at("2023-01-25 18:13:22.479220")
    feeds = snapshot.feeds
    assert feeds.store_ids == ["s", "t"]
    assert feeds.store_zones == ["America/Chicago", "Asia/Beirut"]
    polls = sorted(zip(feeds.poll_store.tolist(), feeds.poll_time_us.tolist(), feeds.poll_active.tolist(), strict=True))
    assert polls == [(0, 1674670380000000, True), (0, 1674670402479220, False)]
    assert feeds.hours_store.tolist() == [0]
    assert feeds.hours_day.tolist() == [6]
    assert feeds.hours_start_us.tolist() == [(23 * 3600 + 59 * 60 + 59) * 1_000_000]
    assert feeds.hours_end_us.tolist() == [600 * 1_000_000]


def test_the_snapshot_reads_only_the_lookback_and_one_store_when_asked():
    store = StoreFactory(store_id="s")
    for day in (1, 10, 20):
        StatusPollFactory(store=store, timestamp_utc=at(f"2023-01-{day:02d} 00:00"))
    StatusPollFactory(store=StoreFactory(store_id="other"), timestamp_utc=at("2023-01-20 00:00"))
    snapshot = read_snapshot(at("2023-01-20 00:00"), dt.timedelta(days=14))
    assert len(snapshot.feeds.poll_store) == 3  # Jan 10 and Jan 20 for "s", Jan 20 for "other"
    only = read_snapshot(at("2023-01-20 00:00"), dt.timedelta(days=14), store_id="s")
    assert only.feeds.store_ids == ["s"]
    assert len(only.feeds.poll_store) == 2


def test_the_snapshot_is_the_calculators_own_input():
    StatusPollFactory(store=StoreFactory(store_id="s"), timestamp_utc=at("2023-01-25 18:00"))
    snapshot = read_snapshot(None, dt.timedelta(days=14))
    assert isinstance(snapshot.feeds, FeedArrays)


def test_without_polls_the_snapshot_has_no_report_time():
    StoreFactory(store_id="s")
    snapshot = read_snapshot(None, dt.timedelta(days=14))
    assert snapshot.as_of is None
    assert snapshot.feeds.store_ids == ["s"]
    assert len(snapshot.feeds.poll_store) == 0


def test_polls_of_thousands_of_stores_arrive_whole_and_in_place():
    """Every poll of 2,600 stores comes back exactly, with its own store and status."""
    stores = Store.objects.bulk_create(Store(store_id=f"store-{i:05d}") for i in range(2600))
    start = at("2023-01-25 00:00")
    polls = [
        StatusPoll(
            store=store,
            timestamp_utc=start + dt.timedelta(minutes=7 * i + poll, microseconds=i),
            status="active" if (i + poll) % 3 else "inactive",
        )
        for i, store in enumerate(stores)
        for poll in range(1 + i % 3)
    ]
    StatusPoll.objects.bulk_create(polls)

    store_pk, time_us, active = read_polls(StatusPoll.objects.all())

    read = sorted(zip(store_pk.tolist(), time_us.tolist(), active.tolist(), strict=True))
    expected = sorted((p.store.pk, epoch_microseconds(p.timestamp_utc), p.status == "active") for p in polls)
    assert read == expected
    assert store_pk.dtype == np.int64
    assert time_us.dtype == np.int64
    assert active.dtype == bool


@pytest.mark.postgres
def test_the_binary_reader_refuses_what_the_snapshot_query_does_not_send():
    """Real COPY output of other widths, a NULL or another number of columns is refused with a sentence."""
    queries = {
        "SELECT x FROM generate_series(1, 3) AS x": "row 1, field 1 is 4 bytes long, expected 8",
        "SELECT 'ab'::text": "row 1, field 1 is 2 bytes long",
        "SELECT NULL::bigint": "row 1, field 1 is NULL",
        "SELECT 1::bigint, 2::bigint": "row 1 has 2 fields, expected 1",
    }
    connection.ensure_connection()
    for query, words in queries.items():
        buffer = copy_out(connection.connection, f"COPY ({query}) TO STDOUT (FORMAT BINARY)", ())
        with pytest.raises(pg_binary.CopyFormatError, match=words):
            pg_binary.read_fixed_rows(buffer, (pg_binary.INT8,))


@pytest.mark.postgres
def test_copy_out_names_the_servers_error_and_leaves_the_connection_usable():
    connection.ensure_connection()
    with pytest.raises(Exception, match="division by zero"):
        copy_out(connection.connection, "COPY (SELECT 1 / 0) TO STDOUT (FORMAT BINARY)", ())
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
