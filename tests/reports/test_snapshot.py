"""The snapshot read that feeds the calculator: one read transaction, the calculator's FeedArrays."""

import datetime as dt

import numpy as np
import pytest
from django.db import connection

from monitoring.models import StatusPoll, Store
from reports import pg_binary
from reports.snapshot import STORES_PER_ARRAY, read_polls, read_snapshot
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


def test_polls_of_more_stores_than_one_array_holds_arrive_whole_and_in_place():
    """On PostgreSQL the polls travel as one array per STORES_PER_ARRAY store pks: 2,600 stores
    cross that boundary twice. Every poll must come back exactly, with its own store and status."""
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
    assert len({store.pk // STORES_PER_ARRAY for store in stores}) >= 3

    store_pk, time_us, active = read_polls(StatusPoll.objects.all())

    read = sorted(zip(store_pk.tolist(), time_us.tolist(), active.tolist(), strict=True))
    expected = sorted((p.store.pk, epoch_microseconds(p.timestamp_utc), p.status == "active") for p in polls)
    assert read == expected
    assert store_pk.dtype == np.int64
    assert time_us.dtype == np.int64
    assert active.dtype == bool


@pytest.mark.postgres
def test_the_binary_reader_refuses_what_the_snapshot_query_does_not_send():
    """Real COPY output of other types (int4 and text arrays, a NULL) is refused with a sentence."""
    queries = {
        "SELECT array_agg(x) FROM generate_series(1, 3) AS x": "type oid 23, expected bigint",
        "SELECT ARRAY['a', 'b']": "type oid 25, expected bigint",
        "SELECT NULL::bigint[]": "is NULL",
        "SELECT ARRAY[1::bigint, NULL]": "contains NULL elements",
        "SELECT ARRAY[[1::bigint], [2::bigint]]": "has 2 dimensions",
    }
    for query, words in queries.items():
        buffer = bytearray()
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as copy:
            for block in copy:
                buffer += block
        with pytest.raises(pg_binary.CopyFormatError, match=words):
            pg_binary.read_array_rows(buffer, (pg_binary.INT8,))
