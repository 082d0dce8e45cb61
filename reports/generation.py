"""Generating a report: read one snapshot, run the calculator, write the CSV (and the outages CSV).

The management command, the background job and the store pages all call these functions.
"""

import csv
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from monitoring.models import EARLIEST_POLL_TIME, StatusPoll, Store
from reports.models import COLUMN_SETS, DEFAULT_COLUMNS
from reports.snapshot import read_snapshot
from reports.uptime import (
    DEFAULT_METHOD,
    EXTENDED_CSV_COLUMNS,
    OUTAGE_CSV_COLUMNS,
    FeedArrays,
    ProgressCallback,
    UptimeFigures,
    compute_uptime,
    epoch_microseconds,
    outage_rows,
)

# How far ahead of now a report time may be, before looking at the data: a day leaves room for
# clocks and time zones without reaching the calendar's end. (The earliest is the earliest poll
# time any load accepts, EARLIEST_POLL_TIME.)
LATEST_AS_OF_AHEAD = dt.timedelta(days=1)

# Share of the whole run each stage takes (measured on 14,000 stores), for progress figures.
_READ_SHARE, _COMPUTE_SHARE = 0.45, 0.45


class TextSink(Protocol):
    """Where a CSV can be written: a text file, ``sys.stdout``, a command's ``self.stdout``."""

    def write(self, text: str, /) -> object: ...


class NoPollsError(Exception):
    """There is nothing to report on: the database holds no polls at all."""

    def __init__(self, message: str = "The database holds no polls yet: load the feeds with manage.py load_csvs."):
        super().__init__(message)


# NoPollsError's sentence for a report of some owners' stores, which have none.
NO_POLLS_IN_SCOPE = "The stores this report covers have no polls yet: load their feeds with manage.py load_csvs."


class ReportTimeError(ValueError):
    """A report time the report cannot use; the message says which times it can."""


@dataclass(frozen=True)
class ReportData:
    """A computed report: its resolved time, the feeds it read and the figures of every store;
    ``store_pks``: each store position's primary key in the feeds."""

    as_of: dt.datetime
    feeds: FeedArrays
    figures: UptimeFigures
    store_pks: np.ndarray

    @property
    def store_count(self) -> int:
        return len(self.figures)


def parse_as_of(text: str) -> dt.datetime:
    """A report time as people type it: ISO 8601 (``Z`` or an offset; UTC when it has none) or
    the feeds' ``2023-01-25 18:13:22.47922 UTC``. Raises ValueError saying what to write."""
    cleaned = text.strip().removesuffix(" UTC").replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"“{text.strip()}” is not a time: write it like 2023-01-25T18:13:22Z (UTC when no offset is given)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def lookback() -> dt.timedelta:
    return dt.timedelta(days=settings.REPORT_LOOKBACK_DAYS)


def check_report_time(
    as_of: dt.datetime | None, *, now: dt.datetime | None = None, stores: QuerySet[Store] | None = None
) -> None:
    """Refuse, before a report is started, a time it could not report on.

    Raises ReportTimeError for an aware ``as_of`` outside 2000-01-01 … now + 1 day or with no poll
    in its lookback, and NoPollsError when the database holds no polls at all (also for no as_of).
    With ``stores`` (a caller's visible stores, or an owner's), only their polls count, and the
    sentences name only their poll times.
    """
    polls = StatusPoll.objects.all() if stores is None else StatusPoll.objects.filter(store__in=stores.values("pk"))
    if as_of is None:
        if polls.newest_time() is None:
            raise NoPollsError() if stores is None else NoPollsError(NO_POLLS_IN_SCOPE)
        return
    latest = (now or timezone.now()) + LATEST_AS_OF_AHEAD
    # Compared as given, never converted: a time near year 1 or 9999 overflows in UTC.
    if as_of < EARLIEST_POLL_TIME:
        raise ReportTimeError(f"{as_of.isoformat()} is before 2000-01-01: no feed holds polls that old.")
    if as_of > latest:
        raise ReportTimeError(
            f"{as_of.isoformat()} is more than a day ahead of now ({_utc_text(latest - LATEST_AS_OF_AHEAD)})."
        )
    # A range probe on the timestamp index, both ends of the lookback included as in the report.
    if polls.filter(timestamp_utc__gte=as_of - lookback(), timestamp_utc__lte=as_of).exists():
        return
    oldest, newest = polls.oldest_time(), polls.newest_time()
    if oldest is None or newest is None:
        raise NoPollsError() if stores is None else NoPollsError(NO_POLLS_IN_SCOPE)
    days = settings.REPORT_LOOKBACK_DAYS
    raise ReportTimeError(
        f"{_utc_text(as_of)} has no poll in the {days} days before it (the lookback): the polls run from "
        f"{_utc_text(oldest)} to {_utc_text(newest)}, so choose an as_of from the first poll to {days} days "
        "after the last."
    )


def _utc_text(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def compute_report(
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    progress: ProgressCallback | None = None,
    store_id: str | None = None,
    owner_ids: Collection[int] | None = None,
    store_pk_range: tuple[int, int] | None = None,
) -> ReportData:
    """Figures for every store (or one, or those of the owners ``owner_ids``; of those, only the
    stores whose primary key is in ``store_pk_range`` when given) as of ``as_of`` (default: the
    newest poll of the stores it covers)."""
    report = progress or _no_progress
    report(0.0, "reading the feeds")
    snapshot = read_snapshot(as_of, lookback(), store_id=store_id, owner_ids=owner_ids, store_pk_range=store_pk_range)
    if snapshot.as_of is None:
        raise NoPollsError() if owner_ids is None else NoPollsError(NO_POLLS_IN_SCOPE)
    report(_READ_SHARE, "computing uptime")

    def engine_progress(fraction: float, stage: str) -> None:
        report(_READ_SHARE + _COMPUTE_SHARE * fraction, stage)

    figures = compute_uptime(
        snapshot.feeds,
        epoch_microseconds(snapshot.as_of),
        lookback() // dt.timedelta(microseconds=1),
        method=method,
        progress=engine_progress,
    )
    return ReportData(as_of=snapshot.as_of, feeds=snapshot.feeds, figures=figures, store_pks=snapshot.store_pks)


def _no_progress(fraction: float, stage: str) -> None:
    pass


def write_report_csv(figures: UptimeFigures, stream: "TextSink", columns: str = DEFAULT_COLUMNS) -> int:
    """Write the report CSV (header and one row per store) with the column set ``columns``
    (``COLUMN_SETS``: basic or extended); returns the number of rows."""
    header = column_set(columns)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    rows = 0
    for row in figures.rows(extended=header == EXTENDED_CSV_COLUMNS):
        writer.writerow(row)
        rows += 1
    return rows


def write_outages_csv(figures: UptimeFigures, feeds: FeedArrays, stream: "TextSink") -> int:
    """Write every reported store's outages in the lookback (``OUTAGE_CSV_COLUMNS``, sorted by
    store_id then start) from the figures ``feeds`` gave; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(OUTAGE_CSV_COLUMNS)
    rows = 0
    for row in outage_rows(figures.outages, feeds.store_ids, feeds.store_zones):
        writer.writerow(row)
        rows += 1
    return rows


def column_set(name: str) -> tuple[str, ...]:
    """The columns of the set called ``name``; ValueError naming the sets for any other name."""
    try:
        return COLUMN_SETS[name]
    except (KeyError, TypeError):
        raise ValueError(columns_sentence(name)) from None


def columns_sentence(name: object) -> str:
    """What is wrong with a column set name that is not one, and what to choose instead."""
    return f"“{name}” is not a column set; choose {' or '.join(COLUMN_SETS)}."
