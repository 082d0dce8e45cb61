"""SQLite: batched ``executemany`` upserts with a store-id to primary-key cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from monitoring.ingestion.backends.base import IngestionBackend, PollRow, WriteCounts

SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "time": "TEXT"}


def _as_django_text(value):
    # Django keeps times in SQLite as str(value), e.g. "09:30:00".
    return str(value) if isinstance(value, dt.time) else value


class SqliteBackend(IngestionBackend):
    BATCH_ROWS = 10_000

    def insert_polls(self, rows: Iterable[PollRow]) -> WriteCounts:
        insert = (
            f"INSERT INTO {self.poll_table} (store_id, timestamp_utc, status) VALUES (%s, %s, %s)"
            f" ON CONFLICT (store_id, timestamp_utc) DO NOTHING"
        )
        counts = WriteCounts()
        store_pks: dict[str, int] = {}
        # Each store's newest poll in ``rows``, for its last_polled_at once every batch is in.
        newest: dict[int, dt.datetime] = {}
        batch: list[tuple[int, str, str]] = []
        with self.connection.cursor() as cursor:
            for store_id, status, timestamp in rows:
                store_pk = store_pks.get(store_id)
                if store_pk is None:
                    store_pk = store_pks[store_id] = self._store_pk(cursor, store_id, counts)
                known = newest.get(store_pk)
                if known is None or timestamp > known:
                    newest[store_pk] = timestamp
                # Django keeps datetimes in SQLite as the text of the naive UTC value; the same
                # text is what lets the unique (store, timestamp) constraint see a re-loaded
                # poll as a duplicate. Timestamps here are aware UTC, so dropping the zone is it.
                batch.append((store_pk, str(timestamp.replace(tzinfo=None)), status))
                if len(batch) == self.BATCH_ROWS:
                    cursor.executemany(insert, batch)
                    counts.inserted += cursor.rowcount
                    batch.clear()
            if batch:
                cursor.executemany(insert, batch)
                counts.inserted += cursor.rowcount
            self._record_newest_polls(cursor, newest)
        return counts

    def _record_newest_polls(self, cursor, newest: dict[int, dt.datetime]) -> None:
        """Stage one row per store (its newest poll, as Django writes datetimes) and advance the
        stores' last_polled_at from there in one statement."""
        if not newest:
            return
        staging = f"{self.STAGING_PREFIX}polls_newest"
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMP TABLE {staging} (store_pk INTEGER PRIMARY KEY, newest TEXT NOT NULL)")
        cursor.executemany(
            f"INSERT INTO {staging} (store_pk, newest) VALUES (%s, %s)",
            [(store_pk, str(moment.replace(tzinfo=None))) for store_pk, moment in newest.items()],
        )
        self._advance_last_polled_at(cursor, staging)
        cursor.execute(f"DROP TABLE {staging}")

    def _store_pk(self, cursor, store_id: str, counts: WriteCounts) -> int:
        cursor.execute(
            f"INSERT INTO {self.store_table} (store_id) VALUES (%s) ON CONFLICT (store_id) DO NOTHING",
            [store_id],
        )
        if cursor.rowcount:
            counts.stores_created += 1
            return cursor.lastrowid
        cursor.execute(f"SELECT id FROM {self.store_table} WHERE store_id = %s", [store_id])
        return cursor.fetchone()[0]

    def _stage(self, cursor, table: str, columns: dict[str, str], rows: Iterator[tuple]) -> int:
        names = ", ".join(columns)
        definitions = ", ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in columns.items())
        placeholders = ", ".join(["%s"] * (len(columns) + 1))
        insert = f"INSERT INTO {table} (row_number, {names}) VALUES ({placeholders})"
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {table} (row_number INTEGER, {definitions})")
        count = 0
        batch = []
        for count, row in enumerate(rows, start=1):
            batch.append((count, *map(_as_django_text, row)))
            if len(batch) == self.BATCH_ROWS:
                cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            cursor.executemany(insert, batch)
        return count
