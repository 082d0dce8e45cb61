"""One consistent read of the feeds, as the calculator's ``FeedArrays``, for one report.

Each table is read with one query inside one read transaction (``read_transaction``), so a
load running at the same time cannot tear the snapshot: a report sees the database either
before or after that load, never half of it, and the load does not wait for the report.
The report's rules are applied here: the report time (as_of) and the lookback (rule 1) and
the default time zone (rule 4).
"""

import datetime as dt
from collections import deque
from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from itertools import islice
from operator import itemgetter
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
# What libpq's get_copy_data gives once a COPY has sent everything.
_END_OF_COPY = (-1, b"")
# _positions uses a table from pk to position while the pks span at most this many times the
# stores (plus a million): 8 bytes an entry.
_DENSE_PKS = 8


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
        store_pks, store_ids = _columns(_raw_rows(stores.values_list("pk", "store_id")), 2)
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

        store_zones = read_zones(zones, store_pk_array)

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
    kinds = (pg_binary.INT8, pg_binary.TIMESTAMPTZ, pg_binary.BOOL)
    stores, times, actives = read_copy(sql, (StatusPoll.Status.ACTIVE.value, *params), kinds)
    times += pg_binary.PG_EPOCH_SHIFT_US  # in place: the arrays are the reader's own copies
    return stores, times, actives.view(bool)


def read_copy(sql: str, params: Sequence[object], kinds: Sequence[pg_binary.ColumnType]) -> list[np.ndarray]:
    """The columns of a binary ``COPY (...) TO STDOUT`` of fixed-width columns on Django's connection."""
    connection.ensure_connection()
    # Django's error wrapping still applies, so a broken connection is Django's
    # OperationalError here as everywhere (reports.actions). Closed on the way out, so that a
    # reader that stops early leaves the connection ready.
    with connection.wrap_database_errors, closing(copy_out_pieces(connection.connection, sql, params)) as pieces:
        return pg_binary.read_fixed_row_pieces(pieces, kinds)


def copy_out_pieces(
    raw_connection: "psycopg.Connection[Any]", sql: str, params: Sequence[object], rows_per_piece: int = 262_144
) -> Generator[bytearray, None, None]:
    """The output of ``COPY (...) TO STDOUT`` on a psycopg connection, in pieces of whole rows
    (``rows_per_piece`` each, the last one less), for a reader that keeps only what it parses.

    The server sends one message per row; psycopg's ``Copy`` iterator costs a few Python calls
    per message (about 2.5 s for 2.2 M rows here), so the messages are taken from libpq directly
    and added to the piece in C (iter, map, islice: no Python code per row). The query is bound
    on the client, as psycopg binds COPY statements anyway. benchmarks/bench_report.py prints the
    read beside the server's own ``COPY ... TO '/dev/null'`` of the same statements.
    """
    query = psycopg.ClientCursor(raw_connection).mogrify(sql, params).encode()
    pgconn = raw_connection.pgconn
    pgconn.send_query(query)
    while pgconn.flush():  # a non-blocking connection may take the query in parts
        pass
    first = pgconn.get_result()
    finished = False
    try:
        if first is None or first.status != psycopg.pq.ExecStatus.COPY_OUT:
            finished = True
            message = first.error_message.decode(errors="replace") if first is not None else "no result"
            raise psycopg.OperationalError(f"COPY did not start: {message.strip()}")
        # get_copy_data(0) blocks until a row arrives and gives (-1, b"") at the end (a failure
        # raises).
        messages = map(itemgetter(1), iter(partial(pgconn.get_copy_data, 0), _END_OF_COPY))
        while True:
            piece = bytearray()
            deque(map(piece.extend, islice(messages, rows_per_piece)), maxlen=0)
            if not piece:
                break
            yield piece
        finished = True
    finally:
        if not finished:
            # The reader stopped early (it found rows it cannot read): take the rest, so that
            # the connection is ready for the next statement.
            with suppress(psycopg.Error):
                deque(messages, maxlen=0)
        # Drain the results so the connection is ready for the next statement.
        failure = ""
        while (result := pgconn.get_result()) is not None:
            if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
                failure = result.error_message.decode(errors="replace").strip()
    if failure:
        raise psycopg.OperationalError(f"COPY failed: {failure}")


def read_hours(hours: "QuerySet[BusinessHours]") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(store pk, weekday, opening µs of the day, closing µs of the day) arrays of the rows."""
    columns = ("store_id", "day_of_week", "start_time_local", "end_time_local")
    if connection.vendor == "postgresql":
        # Binary COPY as for the polls: a time of day travels as int8 microseconds since midnight.
        select_sql, params = hours.order_by().values_list(*columns).query.sql_with_params()
        sql = f"COPY ({select_sql}) TO STDOUT (FORMAT BINARY)"
        kinds = (pg_binary.INT8, pg_binary.INT2, pg_binary.TIME, pg_binary.TIME)
        arrays = read_copy(sql, params, kinds)
        return tuple(array.astype(np.int64, copy=False) for array in arrays)  # type: ignore[return-value]
    store_pk, days, opens, closes = _columns(hours.values_list(*columns), 4)
    return (
        np.array(store_pk, dtype=np.int64),
        np.array(days, dtype=np.int64),
        np.array([microseconds_of_day(t) for t in opens], dtype=np.int64),
        np.array([microseconds_of_day(t) for t in closes], dtype=np.int64),
    )


def read_zones(zones: "QuerySet[Timezone]", store_pks: np.ndarray) -> list[str]:
    """Each store's time zone (``DEFAULT_TIMEZONE`` for a store without a zone row), one per
    position of ``store_pks``; the zone names are shared strings, not one object per store."""
    if connection.vendor == "postgresql":
        # The distinct names (a dozen), then each row as (store pk, position of its name) by
        # binary COPY, as for the polls: the names are matched on the server.
        names = list(zones.order_by("timezone_str").values_list("timezone_str", flat=True).distinct())
        select_sql, params = zones.order_by().values_list("store_id", "timezone_str").query.sql_with_params()
        sql = (
            "COPY (SELECT z.store_id, n.number FROM "
            f"({select_sql}) AS z(store_id, timezone_str) "
            "JOIN unnest(%s::text[]) WITH ORDINALITY AS n(name, number) ON n.name = z.timezone_str"
            ") TO STDOUT (FORMAT BINARY)"
        )
        zone_pks, numbers = read_copy(sql, (*params, names), (pg_binary.INT8, pg_binary.INT8))
    else:
        zone_pk, zone_texts = _columns(zones.values_list("store_id", "timezone_str"), 2)
        names = sorted(set(zone_texts))
        number_of = {name: number for number, name in enumerate(names, start=1)}
        zone_pks = np.array(zone_pk, dtype=np.int64)
        numbers = np.array([number_of[name] for name in zone_texts], dtype=np.int64)
    # Number 0 is the default zone; WITH ORDINALITY counts from 1.
    zone_of_store = np.zeros(len(store_pks), dtype=np.int64)
    zone_of_store[_positions(store_pks, zone_pks)] = numbers
    shared_names = np.array([DEFAULT_TIMEZONE, *names], dtype=object)
    store_zones: list[str] = shared_names[zone_of_store].tolist()
    return store_zones


def _no_polls() -> PollColumns:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)


def _raw_rows(rows: "QuerySet[Any]") -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset of columns without converters (keys, text),
    fetched at once on a cursor: the ORM's iteration took twice as long for 14,000 stores."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched: list[tuple[Any, ...]] = cursor.fetchall()
    return fetched


def _columns(rows: Iterable[Sequence[Any]], width: int) -> tuple[tuple[Any, ...], ...]:
    listed = list(rows)
    return tuple(zip(*listed, strict=True)) if listed else ((),) * width


def _positions(store_pks: np.ndarray, pks: Sequence[int] | np.ndarray) -> np.ndarray:
    """The position in ``store_pks`` (sorted, and holding every one of ``pks``) of each pk."""
    pks = np.asarray(pks, dtype=np.int64)
    if len(store_pks) == 0 or len(pks) == 0:
        return np.zeros(len(pks), dtype=np.int64)
    first, span = int(store_pks[0]), int(store_pks[-1] - store_pks[0]) + 1
    if span == len(store_pks):
        # Consecutive keys (every store of a table that never lost one): the position is the
        # distance from the first key, one pass instead of building and reading a table.
        consecutive: np.ndarray = pks - first
        return consecutive
    if span > _DENSE_PKS * len(store_pks) + 1_000_000:
        # Scattered keys (a few stores of a large table): binary searches.
        return np.searchsorted(store_pks, pks).astype(np.int64)
    # Primary keys are mostly dense: a table from pk to position is one lookup per row, where
    # binary searches of 18.7 M polls in 140,000 stores took a second.
    position_of = np.zeros(span, dtype=np.int64)
    position_of[store_pks - first] = np.arange(len(store_pks))
    # The distances are overwritten by the positions (one temporary of 150 MB fewer for 18.7 M
    # polls, whose page faults cost more than the lookups). "clip" lets take() write in place;
    # every pk is one of store_pks (a foreign key read in the same transaction and scope).
    positions: np.ndarray = pks - first
    position_of.take(positions, out=positions, mode="clip")
    return positions
