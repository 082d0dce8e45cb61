"""The snapshot read that feeds the calculator: one read transaction, the calculator's FeedArrays."""

import datetime as dt

import numpy as np
import pytest
from django.db import connection

from monitoring.models import StatusPoll, Store
from reports import pg_binary
from reports.snapshot import copy_out_pieces, read_copy, read_polls, read_snapshot
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
    for query, words in queries.items():
        with pytest.raises(pg_binary.CopyFormatError, match=words):
            read_copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)", (), (pg_binary.INT8,))


@pytest.mark.postgres
def test_a_copy_read_names_the_servers_error_and_leaves_the_connection_usable():
    with pytest.raises(Exception, match="division by zero"):
        read_copy("COPY (SELECT 1 / 0) TO STDOUT (FORMAT BINARY)", (), (pg_binary.INT8,))
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


def test_zones_are_shared_names_and_stores_without_one_get_the_default():
    stores = [StoreFactory(store_id=f"z{i}") for i in range(4)]
    for store, zone in zip(stores, ["Asia/Beirut", "Europe/Paris", "Asia/Beirut"], strict=False):
        TimezoneFactory(store=store, timezone_str=zone)
    zones = read_snapshot(None, dt.timedelta(days=14)).feeds.store_zones
    assert zones == ["Asia/Beirut", "Europe/Paris", "Asia/Beirut", "America/Chicago"]
    assert zones[0] is zones[2]  # one string per zone name, not one per store


def test_store_keys_far_apart_still_find_their_stores():
    """Primary keys spread over a range much wider than the stores take the binary-search path."""
    first = StoreFactory(store_id="a")
    far = Store.objects.create(pk=first.pk + 50_000_000, store_id="b")
    StatusPollFactory(store=far, timestamp_utc=at("2023-01-25 18:00"), status="inactive")
    StatusPollFactory(store=first, timestamp_utc=at("2023-01-25 17:00"), status="active")
    feeds = read_snapshot(None, dt.timedelta(days=14)).feeds
    assert sorted(zip(feeds.poll_store.tolist(), feeds.poll_active.tolist(), strict=True)) == [(0, True), (1, False)]


@pytest.mark.postgres
def test_a_reader_that_stops_early_leaves_the_connection_usable():
    connection.ensure_connection()
    sql = "COPY (SELECT x::bigint FROM generate_series(1, 100000) AS x) TO STDOUT (FORMAT BINARY)"
    pieces = copy_out_pieces(connection.connection, sql, (), rows_per_piece=1000)
    assert len(next(pieces)) > 0
    pieces.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


def test_a_store_deleted_between_others_leaves_each_poll_with_its_own_store():
    """Keys with a gap (not consecutive, still dense) take the table from key to position."""
    first, middle, last = (StoreFactory(store_id=name) for name in ("a", "b", "c"))
    StatusPollFactory(store=last, timestamp_utc=at("2023-01-25 18:00"), status="inactive")
    StatusPollFactory(store=first, timestamp_utc=at("2023-01-25 17:00"), status="active")
    middle.delete()
    feeds = read_snapshot(None, dt.timedelta(days=14)).feeds
    assert feeds.store_ids == ["a", "c"]
    assert sorted(zip(feeds.poll_store.tolist(), feeds.poll_active.tolist(), strict=True)) == [(0, True), (1, False)]


def test_consecutive_store_keys_give_each_poll_its_store_position():
    stores = [StoreFactory(store_id=f"s{i}") for i in range(3)]
    for minute, position in enumerate((2, 0, 1, 2)):
        StatusPollFactory(store=stores[position], timestamp_utc=at(f"2023-01-25 18:0{minute}"))
    snapshot = read_snapshot(None, dt.timedelta(days=14))
    assert snapshot.store_pks.tolist() == [store.pk for store in stores]
    assert sorted(snapshot.feeds.poll_store.tolist()) == [0, 1, 2, 2]
