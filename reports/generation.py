"""Generating a report: read one snapshot, run the calculator, write the CSV.

The management command, the background job and the store pages all call these functions.
"""

import csv
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from reports.snapshot import read_snapshot
from reports.uptime import (
    CSV_COLUMNS,
    DEFAULT_METHOD,
    FeedArrays,
    ProgressCallback,
    UptimeFigures,
    compute_uptime,
    epoch_microseconds,
)

# Share of the whole run each stage takes (measured on 14,000 stores), for progress figures.
_READ_SHARE, _COMPUTE_SHARE = 0.45, 0.45


class TextSink(Protocol):
    """Where a CSV can be written: a text file, ``sys.stdout``, a command's ``self.stdout``."""

    def write(self, text: str, /) -> object: ...


class NoPollsError(Exception):
    """There is nothing to report on: the database holds no polls at all."""

    def __init__(self, message: str = "The database holds no polls yet: load the feeds with manage.py load_csvs."):
        super().__init__(message)


@dataclass(frozen=True)
class ReportData:
    """A computed report: its resolved time, the feeds it read and the figures of every store."""

    as_of: dt.datetime
    feeds: FeedArrays
    figures: UptimeFigures

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


def compute_report(
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    progress: ProgressCallback | None = None,
    store_id: str | None = None,
) -> ReportData:
    """Figures for every store (or one) as of ``as_of`` (default: the newest poll)."""
    report = progress or _no_progress
    report(0.0, "reading the feeds")
    snapshot = read_snapshot(as_of, lookback(), store_id=store_id)
    if snapshot.as_of is None:
        raise NoPollsError()
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
    return ReportData(as_of=snapshot.as_of, feeds=snapshot.feeds, figures=figures)


def _no_progress(fraction: float, stage: str) -> None:
    pass


def write_report_csv(figures: UptimeFigures, stream: "TextSink") -> int:
    """Write the report CSV (header and one row per store); returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = 0
    for row in figures.rows():
        writer.writerow(row)
        rows += 1
    return rows
