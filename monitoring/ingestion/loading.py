"""Loading feed files into the database: one transaction for a whole run, a summary per file."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from monitoring.ingestion.backends import IngestionBackend, WriteCounts, backend_for
from monitoring.ingestion.errors import plural
from monitoring.ingestion.feeds import Feed
from monitoring.ingestion.progress import ProgressFactory
from monitoring.ingestion.reading import FeedReader
from monitoring.ingestion.values import PollTimeRange
from monitoring.models import EARLIEST_POLL_TIME, StatusPoll


@dataclass
class FeedSummary:
    """What loading one file did. ``duplicates`` are polls already stored or repeated in the file,
    and time zone rows repeating a store's row; ``replaced`` are the earlier hours rows of the
    stores whose hours changed; ``updated`` are stores whose time zone changed. For hours and
    time zones, ``stores_listed`` are the stores the file names, of which ``stores_given`` had
    none before and ``stores_changed`` had other hours (another zone); the rest are unchanged.
    For owners the same: ``stores_given`` had no owner and get one, ``stores_changed`` had an
    owner and get another or none; ``owners_created`` are the owners the file named first."""

    feed: Feed
    file_name: str
    read: int
    inserted: int
    duplicates: int
    skipped: int
    seconds: float
    updated: int = 0
    replaced: int = 0
    stores_listed: int = 0
    stores_given: int = 0
    stores_changed: int = 0
    owners_created: int = 0
    skip_reasons: list[str] = field(default_factory=list)

    @property
    def stores_unchanged(self) -> int:
        return self.stores_listed - self.stores_given - self.stores_changed

    def describe(self) -> str:
        """One line, e.g. ``polls store_status.csv: 1,850,000 read, 1,849,990 inserted, ...``."""
        if not self.read:
            return f"{self.feed.value} {self.file_name}: held no rows (only its header), so nothing changed"
        counts = [f"{self.read:,} read"]
        if self.feed is Feed.POLLS:
            counts.append(f"{self.inserted:,} inserted")
        else:
            # Per store, not per row: a store's rows are replaced as a whole, and a re-load of an
            # unchanged file should read as such.
            given, changed = ("given hours", "changed (their hours replaced)")
            if self.feed is Feed.TIMEZONES:
                given, changed = ("given a zone", "changed (their zone replaced)")
            if self.feed is Feed.OWNERS:
                given, changed = ("given an owner", "changed (their owner replaced or taken away)")
            counts += [
                f"{plural(self.stores_listed, 'store')} listed",
                f"{self.stores_given:,} {given}",
                f"{self.stores_changed:,} {changed}",
                f"{self.stores_unchanged:,} unchanged",
            ]
            if self.feed is Feed.OWNERS:
                counts.append(f"{plural(self.owners_created, 'new owner')}")
        if self.feed is not Feed.HOURS:
            counts.append(f"{self.duplicates:,} duplicates")
        counts.append(f"{self.skipped:,} skipped")
        return f"{self.feed.value} {self.file_name}: {', '.join(counts)} in {self.seconds:.1f} s"


@dataclass
class LoadSummary:
    feeds: list[FeedSummary]
    stores_created: int
    seconds: float

    def describe(self) -> list[str]:
        """The report of a run: a line per file, the reasons for skipped rows, and a total."""
        lines = []
        for summary in self.feeds:
            lines.append(summary.describe())
            if summary.skipped:
                rows = f"{summary.skipped:,} invalid row{'s' if summary.skipped != 1 else ''} skipped"
                shown = len(summary.skip_reasons)
                lines.append(f"  {rows}:" if shown == summary.skipped else f"  {rows}; the first {shown}:")
                lines.extend(f"  - {reason}" for reason in summary.skip_reasons)
        read = sum(summary.read for summary in self.feeds)
        skipped = sum(summary.skipped for summary in self.feeds)
        files = f"{len(self.feeds)} file{'s' if len(self.feeds) != 1 else ''}"
        lines.append(
            f"total: {files}, {plural(read, 'row')} read, {skipped:,} skipped, "
            f"{plural(self.stores_created, 'new store')} in {self.seconds:.1f} s"
        )
        return lines


def load_feeds(
    *,
    polls: Path | str | None = None,
    hours: Path | str | None = None,
    timezones: Path | str | None = None,
    owners: Path | str | None = None,
    skip_invalid: bool = False,
    progress: ProgressFactory | None = None,
    using: str = DEFAULT_DB_ALIAS,
    loaded_at: dt.datetime | None = None,
    max_problems: int = 1,
    names: dict[Feed, str] | None = None,
) -> LoadSummary:
    """Load the given feed files in one transaction: polls are added (known ones are kept), hours,
    time zones and owners replace those of the stores they mention, stores are created as needed.

    ``owners`` is a ``store_owners.csv`` (``store_id,owner``): each store listed gets the owner
    its row names by slug or name (looked up by ``slugify(text)``, created with that name and
    slug if missing), or none when the field is empty; stores not listed keep theirs.

    Raises :class:`~monitoring.ingestion.errors.IngestionError` for the first malformed row
    (unless ``skip_invalid``) or unusable file; then nothing of the run is kept. Rows longer
    than ``MAX_FEED_LINE_CHARS`` are malformed, as are polls outside :func:`allowed_poll_times`
    of ``loaded_at`` (default: now, as the run starts).

    ``max_problems`` above 1 lists up to that many malformed rows of a file in one
    :class:`~monitoring.ingestion.errors.InvalidRows` instead of stopping at the first;
    ``names`` gives a file the name messages use (default: its file name).
    """
    files = {Feed.POLLS: polls, Feed.HOURS: hours, Feed.TIMEZONES: timezones, Feed.OWNERS: owners}
    if all(path is None for path in files.values()):
        raise ValueError("load_feeds needs at least one of polls, hours, timezones or owners.")
    started = time.perf_counter()
    # One time of the load for the whole run, so every file of it accepts the same polls.
    poll_times = allowed_poll_times(loaded_at or dt.datetime.now(dt.UTC))
    backend = backend_for(connections[using])
    summaries = []
    with transaction.atomic(using=using):
        for feed in Feed:  # in the order the run loads them
            path = files[feed]
            if path is not None:
                name = (names or {}).get(feed)
                summaries.append(
                    _load_file(backend, feed, Path(path), poll_times, skip_invalid, progress, max_problems, name)
                )
        backend.analyze_changed_tables(_changed_rows(backend, summaries))
    return LoadSummary(
        feeds=[summary for summary, _ in summaries],
        stores_created=sum(counts.stores_created for _, counts in summaries),
        seconds=time.perf_counter() - started,
    )


def _changed_rows(backend: IngestionBackend, summaries: list[tuple[FeedSummary, WriteCounts]]) -> dict[str, int]:
    """Rows each table gained, lost or had rewritten in the run, for the statistics."""
    changed = dict.fromkeys([backend.poll_table, backend.store_table, backend.hours_table, backend.timezone_table], 0)
    for summary, counts in summaries:
        changed[backend.store_table] += counts.stores_created
        if summary.feed is Feed.POLLS:
            changed[backend.poll_table] += counts.inserted
        elif summary.feed is Feed.HOURS:
            changed[backend.hours_table] += counts.inserted + counts.replaced
        elif summary.feed is Feed.TIMEZONES:
            changed[backend.timezone_table] += counts.inserted + counts.updated
        else:  # owners: stores given another owner or none
            changed[backend.store_table] += counts.stores_given + counts.stores_changed
    return changed


def database_has_polls(using: str = DEFAULT_DB_ALIAS) -> bool:
    return StatusPoll.objects.using(using).exists()


def allowed_poll_times(loaded_at: dt.datetime) -> PollTimeRange:
    """The poll times a load at ``loaded_at`` accepts: from 2000-01-01 to ``MAX_FUTURE_MINUTES``
    after it (clocks differ a little; a poll from further ahead is a wrong clock)."""
    minutes = settings.MAX_FUTURE_MINUTES
    try:
        latest = loaded_at.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
    except OverflowError:  # a setting of millions of years: no upper bound, in effect
        latest = dt.datetime.max.replace(tzinfo=dt.UTC)
    return PollTimeRange(earliest=EARLIEST_POLL_TIME, latest=latest, future_minutes=minutes)


def _load_file(
    backend: IngestionBackend,
    feed: Feed,
    path: Path,
    poll_times: PollTimeRange,
    skip_invalid: bool,
    progress: ProgressFactory | None,
    max_problems: int = 1,
    name: str | None = None,
) -> tuple[FeedSummary, WriteCounts]:
    started = time.perf_counter()
    bar = None
    with FeedReader(
        path,
        feed,
        max_line_chars=settings.MAX_FEED_LINE_CHARS,
        poll_times=poll_times,
        skip_invalid=skip_invalid,
        max_problems=max_problems,
        name=name,
    ) as reader:
        if progress is not None:
            bar = progress(f"{feed.value} {reader.name}", reader.total_bytes)
            reader.on_progress = bar.update_to
        try:
            write: dict[Feed, Callable[[Iterator[tuple[Any, ...]]], WriteCounts]] = {
                Feed.POLLS: backend.insert_polls,
                Feed.HOURS: backend.replace_hours,
                Feed.TIMEZONES: backend.replace_timezones,
                Feed.OWNERS: backend.assign_owners,
            }
            # Polls in the feeds' common spelling go as columns, not rows (fast_polls); a file with
            # any other row is read row by row, with the exact checks and messages.
            columns = reader.poll_columns() if feed is Feed.POLLS and backend.supports_poll_columns else None
            counts = write[feed](reader.rows()) if columns is None else backend.insert_poll_columns(columns)
        finally:
            if bar is not None:
                bar.close()
    written = reader.read - reader.skipped
    summary = FeedSummary(
        feed=feed,
        file_name=reader.name,
        read=reader.read,
        inserted=counts.inserted,
        # Hours rows are all kept, repeats included: a file's rows are the store's hours. A time
        # zone (owner) row repeating the store's row of the file changes nothing.
        duplicates={
            Feed.POLLS: written - counts.inserted,
            Feed.HOURS: 0,
            Feed.TIMEZONES: reader.duplicates,
            Feed.OWNERS: reader.duplicates,
        }[feed],
        skipped=reader.skipped,
        seconds=time.perf_counter() - started,
        updated=counts.updated,
        replaced=counts.replaced,
        stores_listed=counts.stores_listed,
        stores_given=counts.stores_given,
        stores_changed=counts.stores_changed,
        owners_created=counts.owners_created,
        skip_reasons=reader.skip_reasons,
    )
    return summary, counts
