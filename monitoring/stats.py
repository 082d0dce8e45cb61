"""Cheap figures about the feeds for pages and the admin: counts that never scan a huge table.

On PostgreSQL ``COUNT(*)`` reads every row (about a second for 2 million polls); the planner's
row estimate is free. Small results are still counted exactly, and SQLite (the embedded
default, for small data) always counts.
"""

import datetime as dt
import json
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Max, OuterRef, QuerySet, Subquery

from monitoring.models import StatusPoll, Store

# Below this many estimated rows, an exact COUNT is cheap enough.
EXACT_COUNT_BELOW = 100_000


@dataclass(frozen=True)
class RowCount:
    value: int
    exact: bool

    def __str__(self) -> str:
        """E.g. ``67,665``, or ``≈ 1,870,736`` for an estimate."""
        return f"{'' if self.exact else '≈ '}{self.value:,}"


def count_rows(queryset) -> RowCount:
    """Rows of ``queryset``: exact when small or not on PostgreSQL, else the planner's estimate."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return RowCount(queryset.count(), exact=True)
    try:
        estimate = _planner_rows(queryset, connection)
    except EmptyResultSet:  # e.g. .none()
        return RowCount(0, exact=True)
    if estimate < EXACT_COUNT_BELOW:
        return RowCount(queryset.count(), exact=True)
    return RowCount(estimate, exact=False)


def _planner_rows(queryset, connection) -> int:
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class FeedStats:
    stores: RowCount
    polls: RowCount
    newest_poll: dt.datetime | None


def feed_stats(stores: QuerySet[Store] | None = None) -> FeedStats:
    """Stores, polls (estimated on a big PostgreSQL table) and the newest poll (the default as_of),
    of every store, or of ``stores`` only (a caller's visible stores: monitoring.access)."""
    if stores is None:
        return FeedStats(
            stores=count_rows(Store.objects.all()),
            polls=count_rows(StatusPoll.objects.all()),
            newest_poll=StatusPoll.objects.newest_time(),
        )
    return FeedStats(
        stores=count_rows(stores),
        polls=count_rows(StatusPoll.objects.filter(store__in=stores.order_by().values("pk"))),
        newest_poll=newest_poll_of(stores),
    )


def newest_poll_of(stores: QuerySet[Store]) -> dt.datetime | None:
    """The newest poll of ``stores`` (None without any): one backward probe of the (store, time)
    index per store, never a scan of the time index for the first poll that happens to be theirs."""
    newest = StatusPoll.objects.filter(store=OuterRef("pk")).order_by("-timestamp_utc").values("timestamp_utc")[:1]
    return stores.order_by().annotate(store_newest=Subquery(newest)).aggregate(newest=Max("store_newest"))["newest"]
