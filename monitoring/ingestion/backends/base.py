"""What a database backend does with checked feed rows, and the SQL both backends share.

Hours, time zones and owners are small (tens of thousands of rows): they go into a temporary
staging table and from there into the real tables with a few set-based statements that
PostgreSQL and SQLite both understand. Polls are large, and each backend writes them its own fastest way.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from monitoring.models import BusinessHours, Owner, StatusPoll, Store, Timezone

PollRow = tuple[str, str, dt.datetime]  # store_id, status, aware UTC timestamp
HoursRow = tuple[str, int, dt.time, dt.time]  # store_id, day_of_week, start, end (local)
TimezoneRow = tuple[str, str]  # store_id, timezone_str
OwnerRow = tuple[str, str | None, str | None]  # store_id, owner slug, owner name (None, None: no owner)

# Staging column types, named by kind; each backend maps a kind to its SQL type.
HOURS_STAGING_COLUMNS = {
    "store_id": "text",
    "day_of_week": "integer",
    "start_time_local": "time",
    "end_time_local": "time",
}
TIMEZONE_STAGING_COLUMNS = {"store_id": "text", "timezone_str": "text"}
OWNER_STAGING_COLUMNS = {"store_id": "text", "owner_slug": "text", "owner_name": "text"}


@dataclass
class WriteCounts:
    """What one feed did to the database."""

    inserted: int = 0  # rows written
    updated: int = 0  # time zones: stores whose zone changed
    replaced: int = 0  # hours: earlier rows of the stores whose hours changed, removed before inserting
    stores_created: int = 0
    # Hours and time zones, per store: the stores the file lists, those that had no hours (no
    # zone) before, and those whose hours (zone) differed; the rest are unchanged.
    stores_listed: int = 0
    stores_given: int = 0
    stores_changed: int = 0
    owners_created: int = 0  # owners: those the file named that did not exist yet


class IngestionBackend(ABC):
    """Writes checked rows into the monitoring tables on one database connection.

    Every method runs inside the caller's transaction and creates the stores it needs.
    """

    # Temporary tables get this prefix; they live only for one statement sequence.
    STAGING_PREFIX = "ingest_"
    # A load that changes at least this many rows plus this share of a table's rows analyses the
    # table before it commits: autovacuum's default thresholds, applied at once instead of some
    # time after the commit, so that the first report after a big load is planned on true counts.
    ANALYZE_MIN_ROWS = 50
    ANALYZE_SHARE = 0.1
    # Whether insert_poll_columns takes the vectorised reader's columns (fast_polls).
    supports_poll_columns = False

    def __init__(self, connection):
        self.connection = connection
        quote = connection.ops.quote_name
        self.store_table = quote(Store._meta.db_table)
        self.poll_table = quote(StatusPoll._meta.db_table)
        self.hours_table = quote(BusinessHours._meta.db_table)
        self.timezone_table = quote(Timezone._meta.db_table)
        self.owner_table = quote(Owner._meta.db_table)

    @abstractmethod
    def insert_polls(self, rows: Iterable[PollRow]) -> WriteCounts:
        """Add the polls not stored yet; a (store, timestamp) already stored, or repeated in
        ``rows``, keeps its first status. Each store's ``last_polled_at`` becomes the newest of
        its old value and its polls in ``rows`` (_advance_last_polled_at)."""

    def insert_poll_columns(self, polls) -> WriteCounts:
        """:meth:`insert_polls` for :class:`~monitoring.ingestion.fast_polls.PollColumns`, on the
        backends whose ``supports_poll_columns`` is true."""
        raise NotImplementedError

    def analyze_changed_tables(self, changed_rows: dict[str, int]) -> list[str]:
        """Refresh the planner statistics of the tables (quoted names) a load changed enough
        (``changed_rows``: rows written or removed); returns the tables analysed. Nothing by
        default: SQLite plans these queries well without statistics, and its ANALYZE reads
        every index whole."""
        return []

    @abstractmethod
    def _stage(self, cursor, table: str, columns: dict[str, str], rows: Iterator[tuple]) -> int:
        """Create the temporary table ``table`` with ``row_number`` plus ``columns`` (name: kind)
        and fill it with the numbered rows; return how many rows it holds."""

    def replace_hours(self, rows: Iterable[HoursRow]) -> WriteCounts:
        """Give every store in ``rows`` exactly the hours rows listed for it; other stores keep theirs.

        Only stores whose listed rows differ from their stored ones are rewritten, so re-loading an
        unchanged file writes nothing and says so."""
        staging = f"{self.STAGING_PREFIX}hours"
        listed = f"{self.STAGING_PREFIX}hours_listed"
        changed = f"{self.STAGING_PREFIX}hours_changed"
        with self.connection.cursor() as cursor:
            self._stage(cursor, staging, HOURS_STAGING_COLUMNS, iter(rows))
            created = self._insert_missing_stores(cursor, staging)
            # The listed rows with their store's key, so that they compare with the stored ones.
            self._create_temp_table(
                cursor,
                listed,
                f"SELECT s.id AS store_pk, h.row_number, h.day_of_week, h.start_time_local, h.end_time_local"
                f" FROM {staging} h JOIN {self.store_table} s ON s.store_id = h.store_id",
            )
            # A store's hours are a multiset of rows (repeats are kept): they are unchanged when
            # every distinct row is listed as many times as it is stored. Listed rows count +1,
            # stored ones -1; a row whose sum is not 0 is one that changed.
            self._create_temp_table(
                cursor,
                changed,
                f"SELECT DISTINCT store_pk FROM ("
                f"  SELECT store_pk FROM ("
                f"    SELECT store_pk, day_of_week, start_time_local, end_time_local, 1 AS side FROM {listed}"
                f"    UNION ALL"
                f"    SELECT store_id, day_of_week, start_time_local, end_time_local, -1 FROM {self.hours_table}"
                f"    WHERE store_id IN (SELECT store_pk FROM {listed})"
                f"  ) AS both_sides"
                f"  GROUP BY store_pk, day_of_week, start_time_local, end_time_local HAVING sum(side) <> 0"
                f") AS differing",
            )
            cursor.execute(
                f"SELECT (SELECT count(DISTINCT store_pk) FROM {listed}), (SELECT count(*) FROM {changed}),"
                f" (SELECT count(*) FROM {changed} c"
                f"  WHERE NOT EXISTS (SELECT 1 FROM {self.hours_table} b WHERE b.store_id = c.store_pk))"
            )
            stores_listed, stores_differing, stores_given = cursor.fetchone()
            cursor.execute(f"DELETE FROM {self.hours_table} WHERE store_id IN (SELECT store_pk FROM {changed})")
            replaced = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {self.hours_table} (store_id, day_of_week, start_time_local, end_time_local)"
                f" SELECT store_pk, day_of_week, start_time_local, end_time_local FROM {listed}"
                f" WHERE store_pk IN (SELECT store_pk FROM {changed}) ORDER BY row_number"
            )
            inserted = cursor.rowcount
            for table in (staging, listed, changed):
                cursor.execute(f"DROP TABLE {table}")
        return WriteCounts(
            inserted=inserted,
            replaced=replaced,
            stores_created=created,
            stores_listed=stores_listed,
            stores_given=stores_given,
            stores_changed=stores_differing - stores_given,
        )

    def replace_timezones(self, rows: Iterable[TimezoneRow]) -> WriteCounts:
        """Set the zone of every store in ``rows`` (one row per store); other stores keep theirs."""
        staging = f"{self.STAGING_PREFIX}timezones"
        with self.connection.cursor() as cursor:
            # One row per store: the reader drops a store's repeated rows and refuses two zones.
            stores_listed = self._stage(cursor, staging, TIMEZONE_STAGING_COLUMNS, iter(rows))
            created = self._insert_missing_stores(cursor, staging)
            # The UPDATE ... FROM form works on PostgreSQL and on SQLite 3.33 and later.
            cursor.execute(
                f"UPDATE {self.timezone_table} SET timezone_str = z.timezone_str"
                f" FROM {staging} z JOIN {self.store_table} s ON s.store_id = z.store_id"
                f" WHERE {self.timezone_table}.store_id = s.id"
                f" AND {self.timezone_table}.timezone_str <> z.timezone_str"
            )
            updated = cursor.rowcount
            # "WHERE true" lets SQLite tell the upsert's ON CONFLICT from a join's ON.
            cursor.execute(
                f"INSERT INTO {self.timezone_table} (store_id, timezone_str)"
                f" SELECT s.id, z.timezone_str"
                f" FROM {staging} z JOIN {self.store_table} s ON s.store_id = z.store_id"
                f" WHERE true ON CONFLICT (store_id) DO NOTHING"
            )
            inserted = cursor.rowcount
            cursor.execute(f"DROP TABLE {staging}")
        return WriteCounts(
            inserted=inserted,
            updated=updated,
            stores_created=created,
            stores_listed=stores_listed,
            stores_given=inserted,
            stores_changed=updated,
        )

    def assign_owners(self, rows: Iterable[OwnerRow]) -> WriteCounts:
        """Give every store in ``rows`` (one row per store) the owner of its row, or none; other
        stores keep theirs. Owners not found by their slug are created with the name and slug
        of the first row naming them. Only stores whose owner changes are written."""
        staging = f"{self.STAGING_PREFIX}owners"
        assigned = f"{self.STAGING_PREFIX}owners_assigned"
        with self.connection.cursor() as cursor:
            # One row per store: the reader drops a store's repeated rows and refuses two owners.
            stores_listed = self._stage(cursor, staging, OWNER_STAGING_COLUMNS, iter(rows))
            created = self._insert_missing_stores(cursor, staging)
            cursor.execute(
                f"INSERT INTO {self.owner_table} (name, slug) SELECT owner_name, owner_slug FROM {staging}"
                f" WHERE row_number IN (SELECT min(row_number) FROM {staging}"
                f"  WHERE owner_slug IS NOT NULL GROUP BY owner_slug)"
                f" ORDER BY row_number ON CONFLICT (slug) DO NOTHING"
            )
            owners_created = cursor.rowcount
            # Each listed store's key, its owner now and the one its row gives it (NULL: none).
            self._create_temp_table(
                cursor,
                assigned,
                f"SELECT s.id AS store_pk, s.owner_id AS old_owner_pk, o.id AS new_owner_pk"
                f" FROM {staging} z JOIN {self.store_table} s ON s.store_id = z.store_id"
                f" LEFT JOIN {self.owner_table} o ON o.slug = z.owner_slug",
            )
            cursor.execute(
                f"SELECT"
                f" coalesce(sum(CASE WHEN old_owner_pk IS NULL AND new_owner_pk IS NOT NULL THEN 1 ELSE 0 END), 0),"
                f" coalesce(sum(CASE WHEN old_owner_pk IS NOT NULL AND (new_owner_pk IS NULL"
                f"  OR new_owner_pk <> old_owner_pk) THEN 1 ELSE 0 END), 0)"
                f" FROM {assigned}"
            )
            stores_given, stores_changed = cursor.fetchone()
            # "IS DISTINCT FROM", spelled so that both databases read it: NULL is an owner too.
            cursor.execute(
                f"UPDATE {self.store_table} SET owner_id = a.new_owner_pk FROM {assigned} a"
                f" WHERE {self.store_table}.id = a.store_pk AND ({self.store_table}.owner_id <> a.new_owner_pk"
                f" OR ({self.store_table}.owner_id IS NULL) <> (a.new_owner_pk IS NULL))"
            )
            updated = cursor.rowcount
            for table in (staging, assigned):
                cursor.execute(f"DROP TABLE {table}")
        return WriteCounts(
            updated=updated,
            stores_created=created,
            stores_listed=stores_listed,
            stores_given=stores_given,
            stores_changed=stores_changed,
            owners_created=owners_created,
        )

    def _advance_last_polled_at(self, cursor, newest: str) -> int:
        """Move each store's ``last_polled_at`` forward to the time ``newest`` gives it (a table
        or parenthesised query with columns ``store_pk`` and ``newest``: the newest poll of the
        batch per store), never back: one statement for the whole batch, writing only the stores
        it moves (re-loading polls already stored writes nothing). Returns how many it moved."""
        cursor.execute(
            f"UPDATE {self.store_table} SET last_polled_at = n.newest FROM {newest} n"
            f" WHERE {self.store_table}.id = n.store_pk"
            f" AND ({self.store_table}.last_polled_at IS NULL OR {self.store_table}.last_polled_at < n.newest)"
        )
        return cursor.rowcount

    def _create_temp_table(self, cursor, table: str, query: str) -> None:
        """A temporary table holding what ``query`` selects, dropped by the caller when done."""
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {table} AS {query}")

    def _insert_missing_stores(self, cursor, staging: str) -> int:
        cursor.execute(
            f"INSERT INTO {self.store_table} (store_id) SELECT DISTINCT store_id FROM {staging}"
            f" WHERE true ON CONFLICT (store_id) DO NOTHING"
        )
        return cursor.rowcount
