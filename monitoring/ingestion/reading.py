"""Streaming feed files: .csv or .csv.gz, byte-order mark, header mapping and typed rows.

A :class:`FeedReader` never holds more than a row at a time. Every row it yields is checked
and normalised (store ids stripped, statuses lower case, timestamps aware UTC ``datetime``,
days ``int``, local times ``datetime.time``), so nothing malformed reaches the database.
Rows come out in the column order of the feed's spec:

- polls: ``(store_id, status, timestamp_utc)``
- hours: ``(store_id, day_of_week, start_time_local, end_time_local)``
- time zones: ``(store_id, timezone_str)``
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from monitoring.ingestion.errors import BadValue, IngestionError, InvalidRow
from monitoring.ingestion.feeds import SPECS, Feed, FeedSpec
from monitoring.ingestion.values import FEED_TIMESTAMP, STATUSES

GZIP_MAGIC = b"\x1f\x8b"
MAX_SKIP_REASONS = 5
# Rows between two progress reports: often enough for a smooth bar, rare enough to cost nothing.
PROGRESS_EVERY_ROWS = 1 << 14


def open_feed_text(path: Path) -> tuple[io.TextIOWrapper, io.BufferedReader]:
    """The file as text (gzip recognised by its magic bytes, not its name; a UTF-8 byte-order mark
    dropped; line ends kept for the csv module), and the raw file whose position tracks progress."""
    binary, raw = open_feed_bytes(path)
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""), raw


def open_feed_bytes(path: Path) -> tuple[gzip.GzipFile | io.BufferedReader, io.BufferedReader]:
    """The file's content as bytes, uncompressed if it is gzip, and the raw file under it."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except IsADirectoryError:
        raise IngestionError(Path(path).name, f"{path} is a directory, not a feed file") from None
    except OSError as error:
        raise IngestionError(Path(path).name, f"cannot open {path}: {error.strerror}") from None
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


def read_header(path: Path) -> list[str]:
    """The header row of a feed file (empty when the file is empty)."""
    text, raw = open_feed_text(path)
    with text, raw:
        try:
            return next(csv.reader(text), [])
        except (UnicodeDecodeError, OSError, EOFError, zlib.error, csv.Error) as error:
            raise IngestionError(Path(path).name, f"cannot read the header: {error}", line=1) from None


class FeedReader:
    """Reads one feed file as checked rows, counting rows read, skipped and (time zones only)
    repeated; use as a context manager, then iterate :meth:`rows` once.

    A malformed row raises :class:`InvalidRow`, or with ``skip_invalid`` is counted and its reason
    kept (the first few). Problems with the file as a whole (empty, not UTF-8, missing column) always
    raise :class:`IngestionError`.
    """

    def __init__(
        self,
        path: Path | str,
        feed: Feed,
        *,
        skip_invalid: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ):
        self.path = Path(path)
        self.name = self.path.name
        self.spec: FeedSpec = SPECS[feed]
        self.skip_invalid = skip_invalid
        self.on_progress = on_progress
        self.read = 0
        self.skipped = 0
        self.duplicates = 0
        self.skip_reasons: list[str] = []

    @property
    def total_bytes(self) -> int:
        return os.path.getsize(self.path)

    def __enter__(self) -> FeedReader:
        self._text, self._raw = open_feed_text(self.path)
        try:
            self._reader = csv.reader(self._text)
            self._map_header()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._text.close()
        self._raw.close()

    def rows(self) -> Iterator[tuple]:
        """The file's data rows, checked and normalised; blank lines are ignored."""
        if self.spec.feed is Feed.POLLS:
            rows = self._poll_rows()
        elif self.spec.feed is Feed.TIMEZONES:
            rows = self._timezone_rows()
        else:
            rows = self._checked_rows()
        try:
            yield from rows
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as error:
            raise self._unreadable(error) from None
        if self.on_progress:
            self.on_progress(self._raw.tell())

    # --- header ---

    def _map_header(self) -> None:
        try:
            header = next(self._reader)
        except StopIteration:
            raise IngestionError(
                self.name,
                f"the file is empty; it needs a header line such as {self.spec.example_header}",
                line=1,
            ) from None
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as error:
            raise self._unreadable(error) from None
        except csv.Error as error:
            raise IngestionError(self.name, f"cannot read the header ({error})", line=1) from None
        self.header = [name.strip() for name in header]
        self.indexes = []
        for column in self.spec.columns:
            found = [index for index, name in enumerate(self.header) if column.matches(name)]
            if not found:
                raise IngestionError(
                    self.name,
                    f"the header has no {column.name} column (it has {','.join(self.header) or 'nothing'}; "
                    f"expected {self.spec.example_header})",
                    line=1,
                    field=column.name,
                )
            if len(found) > 1:
                raise IngestionError(
                    self.name, f"the header names this column {len(found)} times", line=1, field=column.name
                )
            self.indexes.append(found[0])
        self.width = len(self.header)

    # --- rows ---

    def _parse_row(self, row: list[str], line: int) -> tuple:
        """The careful path: the typed row, or :class:`InvalidRow` naming line and field."""
        if len(row) != self.width:
            raise InvalidRow(
                self.name,
                f"{len(row)} fields where the header has {self.width} ({','.join(self.header)})",
                line=line,
            )
        parsed = []
        for column, index in zip(self.spec.columns, self.indexes, strict=True):
            try:
                parsed.append(column.parse(row[index]))
            except BadValue as error:
                raise InvalidRow(self.name, str(error), line=line, field=self.header[index]) from None
        return tuple(parsed)

    def _reject(self, error: InvalidRow) -> None:
        if not self.skip_invalid:
            raise error
        self.skipped += 1
        if len(self.skip_reasons) < MAX_SKIP_REASONS:
            self.skip_reasons.append(str(error))

    def _report_progress(self) -> None:
        if self.on_progress:
            self.on_progress(self._raw.tell())

    def _checked_rows(self) -> Iterator[tuple]:
        reader = self._reader
        while True:
            try:
                for row in reader:
                    if not row:
                        continue
                    self.read += 1
                    try:
                        parsed = self._parse_row(row, reader.line_num)
                    except InvalidRow as error:
                        self._reject(error)
                        continue
                    yield parsed
                    if not self.read % PROGRESS_EVERY_ROWS:
                        self._report_progress()
                return
            except csv.Error as error:
                self.read += 1
                self._reject(InvalidRow(self.name, f"not a CSV line ({error})", line=reader.line_num))

    def _timezone_rows(self) -> Iterator[tuple]:
        # A store listed twice with the same zone is harmless (counted as a duplicate); with two
        # different zones the file contradicts itself, and the later row is the invalid one.
        zone_and_line: dict[str, tuple[str, int]] = {}
        for store_id, zone in self._checked_rows():
            line = self._reader.line_num
            earlier = zone_and_line.setdefault(store_id, (zone, line))
            if earlier[1] == line:
                yield store_id, zone
            elif earlier[0] == zone:
                self.duplicates += 1
            else:
                self._reject(
                    InvalidRow(
                        self.name,
                        f"store {store_id} already has {earlier[0]!r} on line {earlier[1]}, here {zone!r}; "
                        "a store has one time zone, so keep one of the two rows",
                        line=line,
                        field=self.header[self.indexes[1]],
                    )
                )

    def _poll_rows(self) -> Iterator[tuple]:
        # The hot loop of a 1.85 M row load: the common spelling of a row is checked with a few
        # dictionary lookups and one regular expression; anything else (a new store id, spaces,
        # ISO timestamps, errors) takes the careful path, which also explains errors.
        reader = self._reader
        width = self.width
        store_index, status_index, time_index = self.indexes
        known_store_ids: dict[str, str] = {}  # raw text -> checked id
        statuses = {status: status for status in STATUSES}
        feed_timestamp = FEED_TIMESTAMP.fullmatch
        from_iso = dt.datetime.fromisoformat
        read = self.read
        while True:
            try:
                for row in reader:
                    read += 1
                    try:
                        if len(row) != width:
                            raise LookupError
                        store_id = known_store_ids[row[store_index]]
                        status = statuses[row[status_index]]
                        text = row[time_index]
                        if not feed_timestamp(text):
                            raise LookupError
                        timestamp = from_iso(text[:-4] + "+00:00")
                    except (LookupError, ValueError):
                        if not row:
                            read -= 1
                            continue
                        try:
                            store_id, status, timestamp = self._parse_row(row, reader.line_num)
                        except InvalidRow as error:
                            self.read = read
                            self._reject(error)
                            continue
                        known_store_ids[row[store_index]] = store_id
                    yield store_id, status, timestamp
                    if not read % PROGRESS_EVERY_ROWS:
                        self._report_progress()
                self.read = read
                return
            except csv.Error as error:
                read += 1
                self.read = read
                self._reject(InvalidRow(self.name, f"not a CSV line ({error})", line=reader.line_num))

    def _unreadable(self, error: Exception) -> IngestionError:
        if isinstance(error, UnicodeDecodeError):
            # Text is decoded in blocks, so the reader's line is not where the bad byte is.
            return IngestionError(self.name, "is not UTF-8 text; save it as UTF-8", line=self._first_undecodable_line())
        return IngestionError(self.name, f"cannot be read to the end ({error}); is it truncated?")

    def _first_undecodable_line(self) -> int | None:
        """Where the file stops being UTF-8: read again line by line, only after a decode error."""
        binary, raw = open_feed_bytes(self.path)
        with binary, raw:
            for number, line in enumerate(binary, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None
