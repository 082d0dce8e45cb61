"""PostgreSQL only: the bulk path into an empty polls table, and when it steps aside."""

import datetime as dt

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.ingestion import load_feeds
from monitoring.ingestion.backends.postgresql import PostgresqlBackend
from monitoring.models import StatusPoll
from tests.factories import StatusPollFactory
from tests.monitoring.csv_files import polls_file

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

UTC = dt.UTC
ROWS = [
    "1,inactive,2023-01-25 10:00:00 UTC",
    "2,active,2023-01-25 10:00:00 UTC",
    "1,active,2023-01-25 10:00:00 UTC",
    "1,active,2023-01-25 11:00:00.5 UTC",
]


@pytest.fixture(autouse=True)
def bulk_path_for_small_files(monkeypatch):
    monkeypatch.setattr(PostgresqlBackend, "BULK_LOAD_MIN_ROWS", 1)


def polls_table_definition():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'monitoring_statuspoll'::regclass ORDER BY conname"
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'monitoring_statuspoll' ORDER BY indexname")
        return constraints, cursor.fetchall()


def load(tmp_path, rows=ROWS):
    with CaptureQueriesContext(connection) as queries:
        summary = load_feeds(polls=polls_file(tmp_path, rows))
    took_bulk_path = any("DROP INDEX" in query["sql"] for query in queries.captured_queries)
    return summary, took_bulk_path


def stored_polls():
    return sorted(StatusPoll.objects.values_list("store__store_id", "timestamp_utc", "status"))


EXPECTED = [
    ("1", dt.datetime(2023, 1, 25, 10, tzinfo=UTC), "inactive"),
    ("1", dt.datetime(2023, 1, 25, 11, 0, 0, 500000, tzinfo=UTC), "active"),
    ("2", dt.datetime(2023, 1, 25, 10, tzinfo=UTC), "active"),
]


def test_a_load_into_an_empty_table_rebuilds_exactly_the_same_indexes_and_constraints(tmp_path):
    before = polls_table_definition()

    summary, took_bulk_path = load(tmp_path)

    assert took_bulk_path
    assert polls_table_definition() == before
    assert (summary.feeds[0].inserted, summary.feeds[0].duplicates) == (3, 1)
    # The first of repeated rows wins, as on the ordinary path.
    assert stored_polls() == EXPECTED


def test_the_rebuilt_table_still_refuses_duplicates_and_unknown_stores(tmp_path):
    load(tmp_path)
    summary, took_bulk_path = load(tmp_path)

    assert not took_bulk_path
    assert summary.feeds[0].inserted == 0
    assert stored_polls() == EXPECTED


def test_a_table_with_polls_takes_the_ordinary_path(tmp_path):
    StatusPollFactory(store__store_id="9")

    _, took_bulk_path = load(tmp_path)

    assert not took_bulk_path
    assert len(stored_polls()) == 4


def test_pending_deferred_checks_on_the_table_make_the_bulk_path_step_aside(tmp_path):
    # Inserting and deleting a poll leaves a deferred foreign-key check queued until commit,
    # and PostgreSQL refuses to alter a table with queued checks.
    StatusPollFactory().delete()
    before = polls_table_definition()

    summary, _ = load(tmp_path)

    assert summary.feeds[0].inserted == 3
    assert stored_polls() == EXPECTED
    assert polls_table_definition() == before


def test_a_reader_holding_the_table_makes_the_bulk_path_step_aside_instead_of_waiting(tmp_path):
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    ) as reader:
        reader.execute("SELECT count(*) FROM monitoring_statuspoll")  # holds its lock until rollback

        summary, took_bulk_path = load(tmp_path)

        reader.rollback()
    assert not took_bulk_path
    assert summary.feeds[0].inserted == 3


def test_no_staging_table_is_left_behind(tmp_path):
    load(tmp_path)

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.ingest_polls')")
        assert cursor.fetchone() == (None,)
