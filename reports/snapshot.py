"""One consistent read of the feeds, as the calculator's ``FeedArrays``, for one report.

Each table is read with one query inside one read transaction (``read_transaction``), so a
load running at the same time cannot tear the snapshot: a report sees the database either
before or after that load, never half of it, and the load does not wait for the report.
The report's rules are applied here: the report time (as_of) and the lookback (rule 1) and
the default time zone (rule 4).
"""

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from monitoring.stats import newest_poll_of
from monitoring.timezones import DEFAULT_TIMEZONE
from reports import pg_binary
from reports.uptime import FeedArrays, microseconds_of_day

PollColumns = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Snapshot:
    """The feeds as the calculator reads them, and the report time they were read for.

    ``as_of`` is the resolved report time: the one asked for, or the newest poll; None when
    the database holds no polls at all. ``store_pks`` is each store position's primary key, from
    the same read (for callers that write rows about the stores).
    """

    as_of: dt.datetime | None
    feeds: FeedArrays
    store_pks: np.ndarray


def read_snapshot(
    as_of: dt.datetime | None,
    lookback: dt.timedelta,
    store_id: str | None = None,
    owner_ids: Collection[int] | None = None,
    store_pk_range: tuple[int, int] | None = None,
) -> Snapshot:
    """The feeds as of ``as_of`` (default: the newest poll of the stores read), polls limited to
    the lookback.

    With ``store_id`` only that store is read (for a store's own page); with ``owner_ids`` only
    those owners' stores (an owner's report: one; a user of several owners: theirs); with
    neither, every store. ``store_pk_range`` ``(first, last)`` further keeps the stores whose
    primary key is in that closed range (a shard of a sharded report, ``reports.shards``).
    Stores, polls, hours and zones are all read in that scope.
    """
    scope = None if owner_ids is None else list(owner_ids)
    with read_transaction():
        stores = Store.objects.order_by("pk")
        polls = StatusPoll.objects.all()
        hours = BusinessHours.objects.all()
        zones = Timezone.objects.all()
        if store_id is not None:
            stores = stores.filter(store_id=store_id)
            polls = polls.filter(store__store_id=store_id)
            hours = hours.filter(store__store_id=store_id)
            zones = zones.filter(store__store_id=store_id)
        if scope is not None:
            stores = stores.filter(owner_id__in=scope)
            # A join on the store's owner, the time range staying on the polls: PostgreSQL keeps
            # the unscoped read's path (time index, or a sequential scan when the lookback holds
            # most polls) and hashes the owner's stores beside it; for a few stores it probes
            # the (store, time) index instead. Checked with EXPLAIN on 3.4 M polls.
            polls = polls.filter(store__owner_id__in=scope)
            hours = hours.filter(store__owner_id__in=scope)
            zones = zones.filter(store__owner_id__in=scope)
        if store_pk_range is not None:
            first, last = store_pk_range
            # On the polls a range of the (store, time) index's leading column: each shard walks
            # its own part of the index instead of every shard scanning the whole table.
            stores = stores.filter(pk__gte=first, pk__lte=last)
            polls = polls.filter(store_id__gte=first, store_id__lte=last)
            hours = hours.filter(store_id__gte=first, store_id__lte=last)
            zones = zones.filter(store_id__gte=first, store_id__lte=last)
        store_pks, store_ids = _columns(stores.values_list("pk", "store_id"), 2)
        store_pk_array = np.array(store_pks, dtype=np.int64)

        if as_of is not None:
            resolved: dt.datetime | None = as_of
        elif scope is not None:
            resolved = newest_poll_of(stores)
        else:
            resolved = polls.newest_time()
        if resolved is None:
            poll_store_pk, poll_time_us, poll_active = _no_polls()
        else:
            window = polls.filter(timestamp_utc__gte=lookback_start(resolved, lookback), timestamp_utc__lte=resolved)
            poll_store_pk, poll_time_us, poll_active = read_polls(window)

        zone_pk, zone_names = _columns(zones.values_list("store_id", "timezone_str"), 2)
        store_zones = [DEFAULT_TIMEZONE] * len(store_ids)
        for position, zone in zip(_positions(store_pk_array, zone_pk).tolist(), zone_names, strict=True):
            store_zones[position] = zone

        hours_pk, days, opens_us, closes_us = read_hours(hours)

    feeds = FeedArrays(
        store_ids=list(store_ids),
        store_zones=store_zones,
        poll_store=_positions(store_pk_array, poll_store_pk),
        poll_time_us=poll_time_us,
        poll_active=poll_active,
        hours_store=_positions(store_pk_array, hours_pk),
        hours_day=days,
        hours_start_us=opens_us,
        hours_end_us=closes_us,
    )
    return Snapshot(as_of=resolved, feeds=feeds, store_pks=store_pk_array)


def lookback_start(as_of: dt.datetime, lookback: dt.timedelta) -> dt.datetime:
    """``as_of - lookback``, or the earliest time a datetime holds when that is earlier (an
    as_of in the first days of year 1, which the database can hold)."""
    try:
        return as_of - lookback
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


@contextmanager
def read_transaction() -> Iterator[None]:
    """One read-only transaction whose reads all see the same committed state.

    PostgreSQL: REPEATABLE READ. SQLite: a deferred transaction, which in WAL mode keeps the
    snapshot of its first read without blocking writers (Django's atomic() would BEGIN
    IMMEDIATE here, taking the write lock and making loads wait for the report).
    Inside an existing transaction (tests) it just runs in that one.
    """
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                cursor.execute("COMMIT")
    else:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield


def read_polls(polls: "QuerySet[StatusPoll]") -> PollColumns:
    """(store pk, UTC µs since the epoch, active) arrays of the polls selected by ``polls``."""
    if connection.vendor == "postgresql":
        return _read_polls_postgresql(polls)
    return _read_polls_generic(polls)


def _read_polls_generic(polls: "QuerySet[StatusPoll]") -> PollColumns:
    # Text timestamps parse in numpy ~10x faster than building datetimes row by row.
    rows = polls.annotate(time_text=Cast("timestamp_utc", CharField())).values_list("store_id", "time_text", "status")
    store_pk, time_text, status = _columns(rows, 3)
    times = np.array([text[:26] for text in time_text], dtype="datetime64[us]")
    return (
        np.array(store_pk, dtype=np.int64),
        times.astype(np.int64),
        np.array(status, dtype=object) == StatusPoll.Status.ACTIVE,
    )


def _read_polls_postgresql(polls: "QuerySet[StatusPoll]") -> PollColumns:
    # COPY the polls as binary rows of three fixed-width columns (none is ever NULL, so every
    # row has the same layout) and read the whole body as one numpy structured array: no
    # grouping on the server, no Python object per row.
    select_sql, params = polls.order_by().values_list("store_id", "timestamp_utc", "status").query.sql_with_params()
    sql = (
        "COPY (SELECT p.store_id, p.timestamp_utc, p.status = %s "
        f"FROM ({select_sql}) AS p(store_id, timestamp_utc, status)) TO STDOUT (FORMAT BINARY)"
    )
    connection.ensure_connection()
    # Django's error wrapping still applies, so a broken connection is Django's
    # OperationalError here as everywhere (reports.actions).
    with connection.wrap_database_errors:
        buffer = copy_out(connection.connection, sql, (StatusPoll.Status.ACTIVE.value, *params))
    stores, times, actives = pg_binary.read_fixed_rows(buffer, (pg_binary.INT8, pg_binary.TIMESTAMPTZ, pg_binary.BOOL))
    times += pg_binary.PG_EPOCH_SHIFT_US  # in place: the arrays are the reader's own copies
    return stores, times, actives.view(bool)


def copy_out(raw_connection: "psycopg.Connection[Any]", sql: str, params: Sequence[object]) -> bytearray:
    """The whole output of ``COPY (...) TO STDOUT`` on a psycopg connection, as one buffer.

    The server sends one message per row; psycopg's ``Copy`` iterator costs a few Python calls
    per message (about 2.5 s for 2.2 M rows here), so the messages are taken from libpq
    directly, one call each (0.9 s, against 0.7 s for the server's own ``COPY ... TO
    '/dev/null'``; benchmarks/bench_report.py prints both). The query is bound on the client,
    as psycopg binds COPY statements anyway.
    """
    query = psycopg.ClientCursor(raw_connection).mogrify(sql, params).encode()
    pgconn = raw_connection.pgconn
    pgconn.send_query(query)
    while pgconn.flush():  # a non-blocking connection may take the query in parts
        pass
    buffer = bytearray()
    first = pgconn.get_result()
    try:
        if first is None or first.status != psycopg.pq.ExecStatus.COPY_OUT:
            message = first.error_message.decode(errors="replace") if first is not None else "no result"
            raise psycopg.OperationalError(f"COPY did not start: {message.strip()}")
        while True:
            size, data = pgconn.get_copy_data(0)  # blocks until a row (or the end) arrives
            if size < 0:
                break
            buffer += data
    finally:
        # Drain the results so the connection is ready for the next statement.
        failure = ""
        while (result := pgconn.get_result()) is not None:
            if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
                failure = result.error_message.decode(errors="replace").strip()
    if failure:
        raise psycopg.OperationalError(f"COPY failed: {failure}")
    return buffer


def read_hours(hours: "QuerySet[BusinessHours]") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(store pk, weekday, opening µs of the day, closing µs of the day) arrays of the rows."""
    columns = ("store_id", "day_of_week", "start_time_local", "end_time_local")
    if connection.vendor == "postgresql":
        # Binary COPY as for the polls: a time of day travels as int8 microseconds since midnight.
        select_sql, params = hours.order_by().values_list(*columns).query.sql_with_params()
        sql = f"COPY ({select_sql}) TO STDOUT (FORMAT BINARY)"
        connection.ensure_connection()
        with connection.wrap_database_errors:
            buffer = copy_out(connection.connection, sql, params)
        kinds = (pg_binary.INT8, pg_binary.INT2, pg_binary.TIME, pg_binary.TIME)
        return tuple(column.astype(np.int64, copy=False) for column in pg_binary.read_fixed_rows(buffer, kinds))  # type: ignore[return-value]
    store_pk, days, opens, closes = _columns(hours.values_list(*columns), 4)
    return (
        np.array(store_pk, dtype=np.int64),
        np.array(days, dtype=np.int64),
        np.array([microseconds_of_day(t) for t in opens], dtype=np.int64),
        np.array([microseconds_of_day(t) for t in closes], dtype=np.int64),
    )


def _no_polls() -> PollColumns:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)


def _columns(rows: Iterable[Sequence[Any]], width: int) -> tuple[tuple[Any, ...], ...]:
    listed = list(rows)
    return tuple(zip(*listed, strict=True)) if listed else ((),) * width


def _positions(store_pks: np.ndarray, pks: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.searchsorted(store_pks, np.asarray(pks, dtype=np.int64)).astype(np.int64)
