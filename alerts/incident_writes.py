"""Writing many incidents at once, at the speed a reconciliation needs.

A backfill creates tens of thousands of incidents and an hourly import changes a few thousand;
Django's ``bulk_create`` and ``bulk_update`` (one ``CASE WHEN`` per field and row) cost seconds
there, more than computing the outages. So on PostgreSQL new rows are streamed with ``COPY``,
and changed rows are written with one ``UPDATE … FROM (VALUES …)`` per thousand rows on both
databases (SQLite has it since 3.33).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from alerts.models import Incident

UPDATE_BATCH = 1000
# The fields a reconciliation writes, in the order of IncidentRow.
WRITTEN = ("started_at", "ended_at", "ended_by", "session_start", "session_end", "opened_by_poll_at")


@dataclass(frozen=True)
class IncidentRow:
    """An incident's fields as a reconciliation sets them (``pk`` None for a new one)."""

    pk: int | None
    store_pk: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    ended_by: str
    session_start: dt.datetime
    session_end: dt.datetime
    opened_by_poll_at: dt.datetime | None

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in WRITTEN)


def insert_incidents(rows: Sequence[IncidentRow], now: dt.datetime) -> list[tuple[int, bool]]:
    """Create the incidents; returns (pk, open) of each, in no particular order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = Incident.objects.bulk_create(
            [Incident(store_id=row.store_pk, **dict(zip(WRITTEN, row.values(), strict=True))) for row in rows],
            batch_size=UPDATE_BATCH,
        )
        return [(incident.pk, incident.ended_at is None) for incident in created]
    table = Incident._meta.db_table
    columns = ("store_id", *WRITTEN, "created_at", "updated_at")
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row.store_pk, *row.values(), now, now))
        # This run's rows are those stamped with its own creation time (runs are serialised).
        cursor.execute(f"SELECT id, ended_at IS NULL FROM {table} WHERE created_at = %s", [now])
        return [(pk, bool(is_open)) for pk, is_open in cursor.fetchall()]


def update_incidents(rows: Sequence[IncidentRow], now: dt.datetime) -> None:
    """Write the reconciled fields of existing incidents (``pk`` set)."""
    table = Incident._meta.db_table
    # PostgreSQL types a VALUES column from its first row; NULL there would make it text.
    cast = "::timestamptz" if connection.vendor == "postgresql" else ""
    kinds = {"ended_by": ""}
    assignments = ", ".join(
        f"{name} = v.column{number}{kinds.get(name, cast)}" for number, name in enumerate(WRITTEN, start=2)
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for first in range(0, len(rows), UPDATE_BATCH):
            batch = rows[first : first + UPDATE_BATCH]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * (1 + len(WRITTEN))) + ")"] * len(batch))
            params: list[Any] = []
            for row in batch:
                params.append(row.pk)
                params.extend(value if isinstance(value, str) else adapt(value) for value in row.values())  # type: ignore[arg-type]
            cursor.execute(
                f"UPDATE {table} SET {assignments}, updated_at = %s "
                f"FROM (VALUES {placeholders}) AS v WHERE {table}.id = v.column1",
                [adapt(now), *params],
            )
