"""PostgreSQL: binary COPY into a temporary staging table, then set-based SQL into the real tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import OperationalError, transaction

from monitoring.ingestion.backends.base import IngestionBackend, PollRow, WriteCounts

SQL_TYPES = {"text": "text", "integer": "int4", "time": "time"}


class _TableNotEmpty(Exception):
    """Someone added polls between our first look and our lock: use the ordinary path."""


class PostgresqlBackend(IngestionBackend):
    # Loads at least this big into an empty polls table rebuild its indexes afterwards instead
    # of updating them row by row (see _bulk_insert_polls); tests lower it to reach that path.
    BULK_LOAD_MIN_ROWS = 100_000

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
                inserted = self._try_bulk_insert_polls(cursor, staging)
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

    def _try_bulk_insert_polls(self, cursor, staging: str) -> int | None:
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
                return self._bulk_insert_polls(cursor, staging)
        except (OperationalError, _TableNotEmpty):
            return None
        finally:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: back to that for the run.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _bulk_insert_polls(self, cursor, staging: str) -> int:
        constraints = self._secondary_constraints(cursor)
        indexes = self._secondary_indexes(cursor)
        for name, _definition in constraints:
            cursor.execute(f"ALTER TABLE {self.poll_table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        # Without the unique index there is no ON CONFLICT: DISTINCT ON keeps the first of
        # repeated (store, timestamp) rows, the same one the ordinary path keeps.
        cursor.execute(
            f"INSERT INTO {self.poll_table} (store_id, timestamp_utc, status)"
            f" SELECT DISTINCT ON (s.id, p.timestamp_utc) s.id, p.timestamp_utc, p.status"
            f" FROM {staging} p JOIN {self.store_table} s ON s.store_id = p.store_id"
            f" ORDER BY s.id, p.timestamp_utc, p.row_number"
        )
        inserted = cursor.rowcount
        # Unique constraints before foreign keys, as pg_dump does.
        for name, definition in sorted(constraints, key=lambda item: "FOREIGN KEY" in item[1]):
            cursor.execute(f"ALTER TABLE {self.poll_table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(definition)
        return inserted

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
