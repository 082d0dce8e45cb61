"""Store.last_polled_at: every load moves each store's newest poll forward, never back, in one statement."""

import datetime as dt
from importlib import import_module

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.ingestion import load_feeds
from monitoring.ingestion.backends.postgresql import PostgresqlBackend
from monitoring.models import StatusPoll, Store
from tests.factories import StatusPollFactory, StoreFactory
from tests.monitoring.csv_files import hours_file, polls_file

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(hour, minute=0, second=0, microsecond=0, day=25):
    return dt.datetime(2023, 1, day, hour, minute, second, microsecond, tzinfo=UTC)


def last_polled():
    return dict(Store.objects.values_list("store_id", "last_polled_at"))


def load(tmp_path, rows, name="store_status.csv"):
    return load_feeds(polls=polls_file(tmp_path, rows, name=name))


def store_updates(queries):
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "monitoring_store"')]


def test_a_load_gives_each_store_its_newest_poll_whatever_the_order_of_the_file(tmp_path):
    load(
        tmp_path,
        [
            "1,active,2023-01-25 12:00:00.5 UTC",
            "2,inactive,2023-01-25 09:00:00 UTC",
            "1,inactive,2023-01-25 10:00:00 UTC",  # older than the row above: not the newest
            "2,active,2023-01-25 11:13:22.47922 UTC",
        ],
    )

    assert last_polled() == {"1": at(12, 0, 0, 500000), "2": at(11, 13, 22, 479220)}


def test_newer_polls_move_it_forward_and_older_ones_leave_it(tmp_path):
    load(tmp_path, ["1,active,2023-01-25 12:00:00 UTC", "2,active,2023-01-25 12:00:00 UTC"], name="first.csv")

    load(
        tmp_path,
        [
            "1,active,2023-01-25 13:00:00 UTC",  # newer: moves store 1 on
            "2,active,2023-01-25 08:00:00 UTC",  # older (a late file): store 2 keeps 12:00
            "3,active,2023-01-24 23:00:00 UTC",  # a new store
        ],
        name="second.csv",
    )

    assert last_polled() == {"1": at(13), "2": at(12), "3": at(23, day=24)}


def test_re_loading_the_same_polls_writes_no_store(tmp_path):
    rows = [f"{store},active,2023-01-25 {hour:02}:00:00 UTC" for store in "12" for hour in (9, 10)]
    path = polls_file(tmp_path, rows)
    load_feeds(polls=path)
    before = last_polled()

    with CaptureQueriesContext(connection) as queries:
        load_feeds(polls=path)

    assert last_polled() == before == {"1": at(10), "2": at(10)}
    # One statement for the batch, and it matched no store (its WHERE keeps values that are not older).
    assert len(store_updates(queries)) == 1
    assert Store.objects.filter(last_polled_at__gt=at(10)).count() == 0


def test_one_statement_updates_the_stores_of_a_load_not_one_per_row(tmp_path):
    rows = [f"{store},active,2023-01-25 {hour:02}:00:00 UTC" for store in range(200) for hour in range(5)]

    with CaptureQueriesContext(connection) as queries:
        load(tmp_path, rows)

    assert len(store_updates(queries)) == 1
    assert set(last_polled().values()) == {at(4)}


def test_a_load_of_other_feeds_leaves_it_alone(tmp_path):
    load(tmp_path, ["1,active,2023-01-25 12:00:00 UTC"])

    load_feeds(hours=hours_file(tmp_path, ["1,0,09:00:00,17:00:00", "2,0,09:00:00,17:00:00"]))

    assert last_polled() == {"1": at(12), "2": None}


def test_deleting_old_polls_keeps_it(tmp_path):
    load(tmp_path, ["1,active,2023-01-25 12:00:00 UTC"])

    StatusPoll.objects.all().delete()  # what pruning does to old polls

    assert last_polled() == {"1": at(12)}


@pytest.mark.postgres
def test_the_bulk_path_into_an_empty_table_sets_it_too(tmp_path, monkeypatch):
    monkeypatch.setattr(PostgresqlBackend, "BULK_LOAD_MIN_ROWS", 1)
    with CaptureQueriesContext(connection) as queries:
        load(tmp_path, ["1,active,2023-01-25 12:00:00 UTC", "1,active,2023-01-25 13:00:00 UTC"])

    assert any("DROP INDEX" in q["sql"] for q in queries.captured_queries)  # it did take that path
    assert last_polled() == {"1": at(13)}


@pytest.mark.postgres
def test_on_postgresql_a_re_load_leaves_the_store_rows_untouched(tmp_path):
    path = polls_file(tmp_path, ["1,active,2023-01-25 12:00:00 UTC", "2,active,2023-01-25 12:00:00 UTC"])
    load_feeds(polls=path)

    def row_versions():
        with connection.cursor() as cursor:
            cursor.execute("SELECT store_id, xmin::text FROM monitoring_store ORDER BY store_id")
            return cursor.fetchall()

    before = row_versions()
    load_feeds(polls=path)

    assert row_versions() == before  # no new row version: nothing was written


def test_the_migration_fills_it_from_the_stored_polls():
    quiet = StoreFactory(store_id="quiet")
    busy = StoreFactory(store_id="busy")
    StatusPollFactory(store=busy, timestamp_utc=at(9))
    StatusPollFactory(store=busy, timestamp_utc=at(11, 30, 0, 250000))
    StatusPollFactory(store=busy, timestamp_utc=at(10))
    Store.objects.update(last_polled_at=None)  # polls made by the ORM, as before the migration
    backfill = import_module("monitoring.migrations.0005_store_last_polled_at").BACKFILL

    with connection.cursor() as cursor:
        cursor.execute(backfill)

    assert last_polled() == {quiet.store_id: None, busy.store_id: at(11, 30, 0, 250000)}
