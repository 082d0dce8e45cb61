"""Counts that never scan a huge table, and the admin's date lists by index probes."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from monitoring import stats
from monitoring.big_tables import EstimatedCountPaginator, ProbedDatetimesQuerySet
from monitoring.models import StatusPoll
from monitoring.stats import count_rows, feed_stats
from tests.factories import StatusPollFactory, StoreFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def polls():
    """Polls of two stores spread over three months and two years."""
    first, second = StoreFactory(store_id="1"), StoreFactory(store_id="2")
    moments = [
        dt.datetime(2022, 12, 31, 23, 30, tzinfo=UTC),
        dt.datetime(2023, 1, 1, 5, 0, tzinfo=UTC),
        dt.datetime(2023, 1, 3, 5, 0, tzinfo=UTC),
        dt.datetime(2023, 1, 3, 7, 0, tzinfo=UTC),
        dt.datetime(2023, 3, 12, 7, 30, tzinfo=UTC),
    ]
    for i, moment in enumerate(moments):
        StatusPollFactory(
            store=first if i % 2 else second, timestamp_utc=moment, status="inactive" if i == 3 else "active"
        )
    return moments


def probed(queryset):
    return ProbedDatetimesQuerySet(model=queryset.model, query=queryset.query, using=queryset.db)


def test_small_tables_are_counted_exactly(polls):
    assert count_rows(StatusPoll.objects.all()) == stats.RowCount(5, exact=True)
    assert str(count_rows(StatusPoll.objects.filter(status="inactive"))) == "1"


@pytest.mark.postgres
def test_on_postgresql_a_big_table_is_estimated_without_counting(polls, monkeypatch):
    monkeypatch.setattr(stats, "EXACT_COUNT_BELOW", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_statuspoll")
    with CaptureQueriesContext(connection) as queries:
        result = count_rows(StatusPoll.objects.all())
    assert result == stats.RowCount(5, exact=False)
    assert str(result) == "≈ 5"
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_the_paginator_totals_with_count_rows(polls):
    paginator = EstimatedCountPaginator(StatusPoll.objects.order_by("pk"), 2)
    assert paginator.count == 5
    assert paginator.num_pages == 3


def test_feed_stats_give_the_newest_poll_the_default_as_of(polls):
    figures = feed_stats()
    assert (figures.stores.value, figures.polls.value, figures.newest_poll) == (2, 5, polls[-1])


def test_feed_stats_of_an_empty_database():
    figures = feed_stats()
    assert (figures.stores.value, figures.polls.value, figures.newest_poll) == (0, 0, None)


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("zone", [None, ZoneInfo("America/Chicago"), ZoneInfo("Asia/Kolkata")])
@pytest.mark.parametrize(
    "narrow",
    [
        lambda qs: qs,
        lambda qs: qs.filter(status="inactive"),
        lambda qs: qs.filter(store__store_id="1"),
        lambda qs: qs.filter(timestamp_utc__year=2023, timestamp_utc__month=1),
        lambda qs: qs.none(),
        lambda qs: qs.filter(store__store_id="unknown"),
    ],
    ids=["all", "status", "store", "month", "none", "empty"],
)
def test_probed_date_lists_equal_djangos(polls, kind, zone, narrow):
    queryset = narrow(StatusPoll.objects.all())
    expected = list(QuerySet.datetimes(queryset, "timestamp_utc", kind, tzinfo=zone))
    assert list(probed(queryset).datetimes("timestamp_utc", kind, tzinfo=zone)) == expected
    descending = list(QuerySet.datetimes(queryset, "timestamp_utc", kind, order="DESC", tzinfo=zone))
    assert list(probed(queryset).datetimes("timestamp_utc", kind, order="DESC", tzinfo=zone)) == descending


@pytest.mark.postgres
def test_probed_date_lists_take_one_query_on_postgresql(polls):
    with CaptureQueriesContext(connection) as queries:
        days = probed(StatusPoll.objects.all()).datetimes("timestamp_utc", "day")
    assert len(days) == 4
    assert len(queries) == 1
    assert "DISTINCT" not in queries.captured_queries[0]["sql"].upper()
