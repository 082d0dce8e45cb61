"""PostgreSQL: binary COPY into a temporary staging table, then set-based SQL into the real tables."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from django.db import OperationalError, transaction

from monitoring.ingestion.backends.base import IngestionBackend, PollRow, WriteCounts

if TYPE_CHECKING:
    from monitoring.ingestion.fast_polls import PollColumns

SQL_TYPES = {"text": "text", "integer": "int4", "time": "time"}
# PostgreSQL's binary COPY: a signature, no flags, no header extension; -1 fields ends the data.
BINARY_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
BINARY_COPY_TRAILER = struct.pack(">h", -1)
# Timestamps travel as microseconds since 2000-01-01 UTC; the columns hold them since 1970.
POSTGRES_EPOCH_MICROS = 946_684_800_000_000
# Rows per binary COPY chunk built with numpy (about 40 MB).
COPY_CHUNK_ROWS = 1 << 20
# Index builds after a bulk load sort the whole table; with the default 64 MB that sort spills
# to disk many times over for millions of rows. Only for this transaction.
BULK_LOAD_MAINTENANCE_WORK_MEM = "1GB"


class _TableNotEmpty(Exception):
    """Someone added polls between our first look and our lock: use the ordinary path."""


class PostgresqlBackend(IngestionBackend):
    # Loads at least this big into an empty polls table rebuild its indexes afterwards instead
    # of updating them row by row (see _bulk_insert_polls); tests lower it to reach that path.
    BULK_LOAD_MIN_ROWS = 100_000
    supports_poll_columns = True

    def insert_polls(self, rows: Iterable[PollRow]) -> WriteCounts:
        staging = f"{self.STAGING_PREFIX}polls"
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
            cursor.execute(
                f"CREATE TEMP TABLE {staging} (row_number bigint NOT NULL, store_id text NOT NULL,"
                f" status text NOT NULL, timestamp_utc timestamptz NOT NULL) ON COMMIT DROP"
            )
            staged = self._copy_polls(cursor, staging, rows)
            # Temporary tables are never analysed automatically; the planner needs the row count.
            cursor.execute(f"ANALYZE {staging}")
            created = self._insert_missing_stores(cursor, staging)
            inserted = None
            if staged >= self.BULK_LOAD_MIN_ROWS and not self._has_polls(cursor):
                inserted = self._try_bulk_insert_polls(cursor, lambda: self._insert_distinct_polls(cursor, staging))
            if inserted is None:
                inserted = self._upsert_polls(cursor, staging)
            # Grouped by the text id first: 14,000 groups join the stores, not 1.85 M rows.
            self._advance_last_polled_at(
                cursor,
                f"(SELECT s.id AS store_pk, b.newest FROM (SELECT store_id, max(timestamp_utc) AS newest"
                f" FROM {staging} GROUP BY store_id) b JOIN {self.store_table} s ON s.store_id = b.store_id)",
            )
            cursor.execute(f"DROP TABLE {staging}")
        return WriteCounts(inserted=inserted, stores_created=created)

    def insert_poll_columns(self, polls: PollColumns) -> WriteCounts:
        """:meth:`insert_polls` for the columns of the vectorised reader: the same rows kept, the
        same counts, without a Python object per row. Store ids become primary keys here, so the
        polls travel as fixed-width integers; into an empty table they go sorted by (store, time)
        with repeats removed, straight into the polls table (see _bulk_insert_polls)."""
        with self.connection.cursor() as cursor:
            store_pks, created = self._store_pks(cursor, polls.store_ids)
            row_store_pks = store_pks[polls.store_numbers]
            inserted = None
            if len(polls) >= self.BULK_LOAD_MIN_ROWS and not self._has_polls(cursor):
                inserted = self._try_bulk_insert_polls(
                    cursor, lambda: self._copy_sorted_poll_columns(cursor, row_store_pks, polls)
                )
            if inserted is None:
                inserted = self._upsert_poll_columns(cursor, row_store_pks, polls)
            self._advance_last_polled_at_from_columns(cursor, store_pks, polls)
        return WriteCounts(inserted=inserted, stores_created=created)

    def _store_pks(self, cursor, store_ids: list[str]) -> tuple[np.ndarray, int]:
        """The primary keys of ``store_ids`` (an int64 array in their order), creating the
        missing stores in that order, and how many were created."""
        staging = f"{self.STAGING_PREFIX}poll_stores"
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMP TABLE {staging} (number int4 NOT NULL, store_id text NOT NULL) ON COMMIT DROP")
        with cursor.copy(f"COPY {staging} (number, store_id) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text"])
            for row in enumerate(store_ids):
                copy.write_row(row)
        cursor.execute(f"ANALYZE {staging}")
        cursor.execute(
            f"INSERT INTO {self.store_table} (store_id) SELECT store_id FROM {staging} WHERE true"
            f" ORDER BY number ON CONFLICT (store_id) DO NOTHING"
        )
        created = cursor.rowcount
        cursor.execute(f"SELECT t.number, s.id FROM {staging} t JOIN {self.store_table} s ON s.store_id = t.store_id")
        numbered = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        store_pks = np.empty(len(store_ids), np.int64)
        store_pks[numbered[:, 0]] = numbered[:, 1]
        cursor.execute(f"DROP TABLE {staging}")
        return store_pks, created

    def _copy_sorted_poll_columns(self, cursor, row_store_pks: np.ndarray, polls: PollColumns) -> int:
        """COPY the polls, sorted by (store, time) and without repeats, into the polls table;
        the first of repeated (store, timestamp) rows is kept, as ON CONFLICT DO NOTHING keeps it."""
        order = _stable_order(row_store_pks, polls.micros)
        store_pks, micros, inactive = row_store_pks[order], polls.micros[order], polls.inactive[order]
        del order
        first = np.ones(len(micros), np.bool_)
        first[1:] = (store_pks[1:] != store_pks[:-1]) | (micros[1:] != micros[:-1])
        if not first.all():
            store_pks, micros, inactive = store_pks[first], micros[first], inactive[first]
        columns = "store_id, timestamp_utc, status"
        with cursor.copy(f"COPY {self.poll_table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            for data in _binary_poll_rows([store_pks, micros - POSTGRES_EPOCH_MICROS], inactive):
                copy.write(data)
        return len(micros)

    def _upsert_poll_columns(self, cursor, row_store_pks: np.ndarray, polls: PollColumns) -> int:
        staging = f"{self.STAGING_PREFIX}polls"
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMP TABLE {staging} (row_number bigint NOT NULL, store_pk bigint NOT NULL,"
            f" timestamp_utc timestamptz NOT NULL, status text NOT NULL) ON COMMIT DROP"
        )
        row_numbers = np.arange(1, len(polls) + 1, dtype=np.int64)
        columns = "row_number, store_pk, timestamp_utc, status"
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            for data in _binary_poll_rows(
                [row_numbers, row_store_pks, polls.micros - POSTGRES_EPOCH_MICROS], polls.inactive
            ):
                copy.write(data)
        cursor.execute(f"ANALYZE {staging}")
        # As _upsert_polls: in the unique index's order; the row number keeps the first repeat.
        cursor.execute(
            f"INSERT INTO {self.poll_table} (store_id, timestamp_utc, status)"
            f" SELECT store_pk, timestamp_utc, status FROM {staging}"
            f" ORDER BY store_pk, timestamp_utc, row_number"
            f" ON CONFLICT (store_id, timestamp_utc) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
        return inserted

    def _advance_last_polled_at_from_columns(self, cursor, store_pks: np.ndarray, polls: PollColumns) -> None:
        if not len(polls):
            return
        newest = np.full(len(store_pks), np.iinfo(np.int64).min, np.int64)
        np.maximum.at(newest, polls.store_numbers, polls.micros)
        listed = newest != np.iinfo(np.int64).min
        staging = f"{self.STAGING_PREFIX}polls_newest"
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMP TABLE {staging} (store_pk bigint NOT NULL, newest timestamptz NOT NULL) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY {staging} (store_pk, newest) FROM STDIN (FORMAT BINARY)") as copy:
            for data in _binary_poll_rows([store_pks[listed], newest[listed] - POSTGRES_EPOCH_MICROS], None):
                copy.write(data)
        cursor.execute(f"ANALYZE {staging}")
        self._advance_last_polled_at(cursor, staging)
        cursor.execute(f"DROP TABLE {staging}")

    def analyze_changed_tables(self, changed_rows: dict[str, int]) -> list[str]:
        analysed = []
        with self.connection.cursor() as cursor:
            for table, rows in changed_rows.items():
                if not rows:
                    continue
                # reltuples: the planner's row count, -1 for a table never analysed or vacuumed.
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
                known_rows = max(float(cursor.fetchone()[0]), 0.0)
                if rows >= self.ANALYZE_MIN_ROWS + self.ANALYZE_SHARE * known_rows:
                    cursor.execute(f"ANALYZE {table}")
                    analysed.append(table)
        return analysed

    def _copy_polls(self, cursor, staging: str, rows: Iterable[PollRow]) -> int:
        # Binary COPY: psycopg writes ints, text and datetimes without formatting them as text,
        # about three times faster than formatting COPY text lines in Python, and nothing in a
        # value needs escaping. psycopg buffers the rows and sends them in large chunks.
        count = 0
        columns = "row_number, store_id, status, timestamp_utc"
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "text", "timestamptz"])
            for count, (store_id, status, timestamp) in enumerate(rows, start=1):
                copy.write_row((count, store_id, status, timestamp))
        return count

    def _has_polls(self, cursor) -> bool:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {self.poll_table})")
        return cursor.fetchone()[0]

    def _upsert_polls(self, cursor, staging: str) -> int:
        # Sorted by the unique index's key, the index is walked in order (about a third faster
        # than file order); the row number makes the first of repeated rows the one kept.
        cursor.execute(
            f"INSERT INTO {self.poll_table} (store_id, timestamp_utc, status)"
            f" SELECT s.id, p.timestamp_utc, p.status"
            f" FROM {staging} p JOIN {self.store_table} s ON s.store_id = p.store_id"
            f" ORDER BY s.id, p.timestamp_utc, p.row_number"
            f" ON CONFLICT (store_id, timestamp_utc) DO NOTHING"
        )
        return cursor.rowcount

    def _try_bulk_insert_polls(self, cursor, insert: Callable[[], int]) -> int | None:
        """Fill the empty polls table without maintaining its indexes row by row, or return
        ``None`` when that is not possible right now (table busy, or no longer empty).

        Updating the unique, time and store indexes plus the deferred foreign-key check row by
        row costs about 20 s for 1.85 M polls; dropping the secondary indexes and constraints,
        inserting, and recreating them from their own definitions takes about 5 s. It runs in a
        savepoint: any failure rolls back to the table as it was. The table is locked against
        readers until the load commits, which is harmless while it is empty.
        """
        # The stores just created queue a deferred check of their owner key each, and a table
        # with pending trigger events refuses the ALTERs: the stores' checks run now instead
        # (they would at commit; a violation fails the load either way).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        try:
            with transaction.atomic(using=self.connection.alias):
                # NOWAIT: a reader holding the table makes us take the ordinary path, not wait.
                # A table with other pending deferred trigger events refuses the ALTERs (also an
                # OperationalError), with the same outcome.
                cursor.execute(f"LOCK TABLE {self.poll_table} IN ACCESS EXCLUSIVE MODE NOWAIT")
                if self._has_polls(cursor):
                    raise _TableNotEmpty
                return self._bulk_insert_polls(cursor, insert)
        except (OperationalError, _TableNotEmpty):
            return None
        finally:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: back to that for the run.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _bulk_insert_polls(self, cursor, insert: Callable[[], int]) -> int:
        """Drop the secondary constraints and indexes, ``insert`` (which must add no repeated
        (store, timestamp) rows: there is no unique index to refuse them), and recreate them."""
        constraints = self._secondary_constraints(cursor)
        indexes = self._secondary_indexes(cursor)
        for name, _definition in constraints:
            cursor.execute(f"ALTER TABLE {self.poll_table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        inserted = insert()
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{BULK_LOAD_MAINTENANCE_WORK_MEM}'")
        # Unique constraints before foreign keys, as pg_dump does.
        for name, definition in sorted(constraints, key=lambda item: "FOREIGN KEY" in item[1]):
            cursor.execute(f"ALTER TABLE {self.poll_table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(definition)
        return inserted

    def _insert_distinct_polls(self, cursor, staging: str) -> int:
        # Without the unique index there is no ON CONFLICT: DISTINCT ON keeps the first of
        # repeated (store, timestamp) rows, the same one the ordinary path keeps.
        cursor.execute(
            f"INSERT INTO {self.poll_table} (store_id, timestamp_utc, status)"
            f" SELECT DISTINCT ON (s.id, p.timestamp_utc) s.id, p.timestamp_utc, p.status"
            f" FROM {staging} p JOIN {self.store_table} s ON s.store_id = p.store_id"
            f" ORDER BY s.id, p.timestamp_utc, p.row_number"
        )
        return cursor.rowcount

    def _secondary_constraints(self, cursor) -> list[tuple[str, str]]:
        """Unique and foreign-key constraints of the polls table (not its primary key or checks)."""
        cursor.execute(
            "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY conname",
            [self.poll_table],
        )
        return cursor.fetchall()

    def _secondary_indexes(self, cursor) -> list[tuple[str, str]]:
        """Indexes of the polls table that no constraint of the table owns."""
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS ("
            "   SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)"
            " ORDER BY 1",
            [self.poll_table],
        )
        return cursor.fetchall()

    def _create_temp_table(self, cursor, table: str, query: str) -> None:
        super()._create_temp_table(cursor, table, query)
        cursor.execute(f"ANALYZE {table}")  # temporary tables are never analysed automatically

    def _stage(self, cursor, table: str, columns: dict[str, str], rows: Iterator[tuple]) -> int:
        names = ", ".join(columns)
        definitions = ", ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in columns.items())
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {table} (row_number bigint, {definitions}) ON COMMIT DROP")
        count = 0
        with cursor.copy(f"COPY {table} (row_number, {names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", *(SQL_TYPES[kind] for kind in columns.values())])
            for count, row in enumerate(rows, start=1):
                copy.write_row((count, *row))
        cursor.execute(f"ANALYZE {table}")
        return count


def _stable_order(store_pks: np.ndarray, micros: np.ndarray) -> np.ndarray:
    """The row order by (store, time), equal rows in file order. One int64 key when both fit in
    it (they do for any real load: days of polls of millions of stores), else two keys."""
    if not len(micros):
        return np.empty(0, np.intp)
    earliest, span = int(micros.min()), int(micros.max()) - int(micros.min()) + 1
    lowest, stores = int(store_pks.min()), int(store_pks.max()) - int(store_pks.min()) + 1
    if stores * span < 2**62:
        return np.argsort((store_pks - lowest) * span + (micros - earliest), kind="stable")
    return np.lexsort((micros, store_pks))


def _binary_poll_rows(integers: list[np.ndarray], inactive: np.ndarray | None) -> Iterator[bytes]:
    """A binary COPY stream, in chunks: per row the int8 fields ``integers`` (bigint, or
    timestamptz given as microseconds since 2000), then the status text unless ``inactive`` is
    ``None``. Built with numpy: a row of fixed-width fields, with ``active`` two bytes shorter
    than ``inactive`` cut out by a mask."""
    fields = [("count", ">i2")]
    for number in range(len(integers)):
        fields += [(f"length{number}", ">i4"), (f"value{number}", ">i8")]
    if inactive is not None:
        fields += [("status_length", ">i4"), ("status", "S8")]
    layout = np.dtype(fields)
    rows = len(integers[0])
    yield BINARY_COPY_HEADER
    for start in range(0, rows, COPY_CHUNK_ROWS):
        part = slice(start, min(start + COPY_CHUNK_ROWS, rows))
        chunk = np.empty(part.stop - part.start, layout)
        chunk["count"] = len(integers) + (inactive is not None)
        for number, values in enumerate(integers):
            chunk[f"length{number}"] = 8
            chunk[f"value{number}"] = values[part]
        if inactive is None:
            yield chunk.tobytes()
            continue
        chunk_inactive = inactive[part]
        chunk["status_length"] = np.where(chunk_inactive, len(b"inactive"), len(b"active"))
        chunk["status"] = np.where(chunk_inactive, b"inactive", b"active")
        keep = np.ones((len(chunk), layout.itemsize), np.bool_)
        keep[~chunk_inactive, -2:] = False
        yield chunk.view(np.uint8).reshape(len(chunk), layout.itemsize)[keep].tobytes()
    yield BINARY_COPY_TRAILER
