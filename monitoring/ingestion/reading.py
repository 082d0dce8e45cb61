"""Streaming feed files: .csv or .csv.gz, byte-order mark, header mapping and typed rows.

A :class:`FeedReader` never holds more than a row at a time, and a row longer than the line
limit is refused before it is held whole (see ``lines``); only :meth:`FeedReader.poll_columns`,
the vectorised path for large polls files, holds a file's polls, as columns of 13 bytes a row.
Every row it yields is checked and normalised (store ids stripped, statuses lower case,
timestamps aware UTC ``datetime``, days ``int``, local times ``datetime.time``), so nothing
malformed reaches the database.
Rows come out in the column order of the feed's spec:

- polls: ``(store_id, status, timestamp_utc)``
- hours: ``(store_id, day_of_week, start_time_local, end_time_local)``
- time zones: ``(store_id, timezone_str)``
- owners: ``(store_id, owner_slug, owner_name)``, both ``None`` for a store without owner
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

from monitoring.ingestion import values
from monitoring.ingestion.errors import (
    BadValue,
    IngestionError,
    InvalidRow,
    InvalidRows,
    csv_problem,
    plural,
    shown_header,
)
from monitoring.ingestion.fast_polls import PollColumns, read_poll_columns
from monitoring.ingestion.feeds import POLL_TIME, SPECS, Feed, FeedSpec, delimiter_splitting, wrong_delimiter
from monitoring.ingestion.lines import BoundedLines, RowTooLong, csv_field_limit
from monitoring.ingestion.values import FEED_TIMESTAMP, STATUSES, OwnerName, PollTimeRange

GZIP_MAGIC = b"\x1f\x8b"
MAX_SKIP_REASONS = 5
# Rows between two progress reports: often enough for a smooth bar, rare enough to cost nothing.
PROGRESS_EVERY_ROWS = 1 << 14
# The bounds of the poll time check when a reader is given no range: every time passes.
ANY_TIME = (dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC))


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


def read_header(path: Path, max_line_chars: int) -> list[str]:
    """The header row of a feed file (empty when the file is empty)."""
    text, raw = open_feed_text(path)
    lines = BoundedLines(text, max_line_chars)
    with text, raw, csv_field_limit(max_line_chars):
        try:
            header = next(csv.reader(lines), [])
        except RowTooLong as error:
            raise quote_too_long(Path(path).name, error) from None
        except csv.Error as error:
            raise IngestionError(Path(path).name, f"cannot read the header: {csv_problem(error)}", line=1) from None
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as error:
            raise IngestionError(Path(path).name, f"cannot read the header: {error}", line=1) from None
        if lines.refused:
            raise header_too_long(Path(path).name, max_line_chars)
        return header


def header_too_long(file_name: str, max_line_chars: int) -> IngestionError:
    return IngestionError(
        file_name,
        f"the header line is longer than {max_line_chars:,} characters (setting MAX_FEED_LINE_CHARS); "
        "is this a CSV feed file?",
        line=1,
    )


def quote_too_long(file_name: str, error: RowTooLong) -> IngestionError:
    # Never a skippable row: the lines after the refused one lie inside the open quote, and
    # read as rows they would load as garbage (a closing line such as 'x",active,...' is a
    # valid-looking poll), so the reader cannot tell where the next row starts.
    return IngestionError(
        file_name,
        f"a quoted field starting on this line runs to line {error.line} and past {error.limit:,} characters "
        "(setting MAX_FEED_LINE_CHARS); its closing quote is probably missing, so the rows after it cannot be "
        "told apart",
        line=error.first_line,
    )


def _same_owner(one: OwnerName | None, other: OwnerName | None) -> bool:
    """Whether two owner fields name one owner (two spellings of it, or both empty)."""
    return (None if one is None else one.slug) == (None if other is None else other.slug)


def _owner_text(owner: OwnerName | None) -> str:
    return "no owner (an empty field)" if owner is None else f"owner {owner.name!r}"


class FeedReader:
    """Reads one feed file as checked rows, counting rows read, skipped and (time zones and owners)
    repeated; use as a context manager, then iterate :meth:`rows` once.

    A malformed row raises :class:`InvalidRow`, or with ``skip_invalid`` is counted and its reason
    kept (the first few). A row longer than ``max_line_chars`` and a poll time outside
    ``poll_times`` are malformed rows too. Problems with the file as a whole (empty, not UTF-8,
    missing column) always raise :class:`IngestionError`.

    With ``max_problems`` above 1 (and no ``skip_invalid``) the reader goes on after a malformed
    row to find more, yielding no further rows, and raises :class:`InvalidRows` with up to that
    many problems at the end (or as soon as it has that many): one answer that lists what to fix.
    """

    def __init__(
        self,
        path: Path | str,
        feed: Feed,
        *,
        max_line_chars: int,
        poll_times: PollTimeRange | None = None,
        skip_invalid: bool = False,
        on_progress: Callable[[int], None] | None = None,
        max_problems: int = 1,
        name: str | None = None,
    ):
        self.path = Path(path)
        # How messages name the file: its own name, or what the caller calls it ("request body").
        self.name = name or self.path.name
        self.spec: FeedSpec = SPECS[feed]
        self.max_line_chars = max_line_chars
        self.poll_times = poll_times
        self.parsers: list[Callable[[str], object]] = [
            functools.partial(values.parse_timestamp, allowed=poll_times)
            if column is POLL_TIME and poll_times is not None
            else column.parse
            for column in self.spec.columns
        ]
        self.skip_invalid = skip_invalid
        self.on_progress = on_progress
        self.read = 0
        self.skipped = 0
        self.duplicates = 0
        self.skip_reasons: list[str] = []
        self.max_problems = max_problems
        self.problems: list[IngestionError] = []

    @property
    def total_bytes(self) -> int:
        return os.path.getsize(self.path)

    def __enter__(self) -> FeedReader:
        self._text, self._raw = open_feed_text(self.path)
        self._resources = ExitStack()
        self._resources.enter_context(self._raw)
        self._resources.enter_context(self._text)
        try:
            self._resources.enter_context(csv_field_limit(self.max_line_chars))
            self._lines = BoundedLines(self._text, self.max_line_chars)
            self._reader = csv.reader(self._lines)
            self._map_header()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._resources.close()

    def rows(self) -> Iterator[tuple]:
        """The file's data rows, checked and normalised; blank lines are ignored."""
        if self.spec.feed is Feed.POLLS:
            rows = self._poll_rows()
        elif self.spec.feed is Feed.TIMEZONES:
            rows = self._timezone_rows()
        elif self.spec.feed is Feed.OWNERS:
            rows = self._owner_rows()
        else:
            rows = self._checked_rows()
        try:
            if self.max_problems > 1 and not self.skip_invalid:
                # After the first problem the rows only go on being checked, never written.
                for row in rows:
                    if not self.problems:
                        yield row
            else:
                yield from rows
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as error:
            raise self._with_problems(self._unreadable(error)) from None
        except RowTooLong as error:
            raise self._with_problems(quote_too_long(self.name, error)) from None
        if self.problems:
            raise InvalidRows(self.name, self.problems)
        if self.on_progress:
            self.on_progress(self._raw.tell())

    def poll_columns(self) -> PollColumns | None:
        """A polls file's rows as columns, read by the vectorised reader (``fast_polls``) without
        a Python object per row, or ``None`` when any row is not in the feeds' common spelling:
        then :meth:`rows` reads the file, with its checks and messages. Call it instead of
        :meth:`rows`, before it; on success ``read`` counts the rows."""
        if self.spec.feed is not Feed.POLLS or self.width != len(self.indexes):
            return None
        binary, raw = open_feed_bytes(self.path)
        with binary, raw:
            on_progress = self.on_progress
            columns = read_poll_columns(
                binary,
                indexes=self.indexes,
                max_line_chars=self.max_line_chars,
                poll_times=self.poll_times,
                on_progress=(lambda: on_progress(raw.tell())) if on_progress is not None else None,
            )
        if columns is not None:
            self.read = len(columns)
            if on_progress is not None:
                on_progress(self.total_bytes)
        return columns

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
        except RowTooLong as error:
            raise quote_too_long(self.name, error) from None
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as error:
            raise self._unreadable(error) from None
        except csv.Error as error:
            raise IngestionError(self.name, f"cannot read the header: {csv_problem(error)}", line=1) from None
        if self._lines.refused:
            raise header_too_long(self.name, self.max_line_chars)
        if self._reader.line_num > 1:
            raise self._quote_across_lines("the header", 1, self._reader.line_num)
        if not header:
            raise IngestionError(
                self.name,
                f"the first line is blank; it must be the header, such as {self.spec.example_header}",
                line=1,
            )
        self._lines.row_chars = 0  # the header is a row of its own
        self.header = [name.strip() for name in header]
        self.indexes = []
        for column in self.spec.columns:
            found = [index for index, name in enumerate(self.header) if column.matches(name)]
            if not found:
                delimiter = self.spec.other_delimiter(self.header)
                if delimiter is not None:
                    raise IngestionError(self.name, wrong_delimiter(delimiter, "columns"), line=1)
                raise IngestionError(
                    self.name,
                    f"the header has no {column.name} column (it has {shown_header(self.header)}; "
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
        if self._lines.first_line != line:
            # A quoted field took in line breaks, so the row's problem is where its quote opened.
            try:
                return self._parse_fields(row, line)
            except InvalidRow as error:
                raise self._quote_across_lines(
                    "the row", self._lines.first_line, line, error.problem, error.field
                ) from None
        return self._parse_fields(row, line)

    def _parse_fields(self, row: list[str], line: int) -> tuple:
        if len(row) != self.width:
            if len(row) == 1 and (delimiter := delimiter_splitting(row[0], self.width)) is not None:
                raise InvalidRow(self.name, wrong_delimiter(delimiter, "fields of this line"), line=line)
            raise InvalidRow(
                self.name,
                f"{plural(len(row), 'field')} where the header has {self.width} ({','.join(self.header)})",
                line=line,
            )
        parsed = []
        for parse, index in zip(self.parsers, self.indexes, strict=True):
            try:
                parsed.append(parse(row[index]))
            except BadValue as error:
                raise InvalidRow(self.name, str(error), line=line, field=self.header[index]) from None
        return tuple(parsed)

    def _quote_across_lines(
        self, what: str, first: int, last: int, problem: str | None = None, field: str | None = None
    ) -> IngestionError:
        """The error for a row whose quoted field ran from line ``first`` over the line breaks to
        ``last``: a quote that is never closed stops the file (the rows after it were read into the
        field), one that closes on a later line is an invalid row of those lines."""
        if self._lines.exhausted:
            return IngestionError(
                self.name,
                f"a quote opened here is never closed, so {what} takes in every line to the end of the file "
                f"(line {last}); close the quote or remove it",
                line=first,
            )
        lines = f"lines {first} to {last}" if last > first + 1 else f"lines {first} and {last}"
        if problem is None:  # the header: a file whose header is wrong cannot be loaded
            return IngestionError(
                self.name, f"a quote opened here closes only on line {last}, so {lines} read as {what}", line=first
            )
        return InvalidRow(
            self.name,
            f"a quote opened here closes only on line {last}, so {lines} read as one row: {problem}",
            line=first,
            field=field,
        )

    def _line_too_long(self, line: int) -> InvalidRow:
        # One malformed row, not a broken file: the limit is there to bound memory, and the
        # next row starts on the next line, so --skip-invalid skips this one like any other bad
        # row and loads the rest (a row spanning lines is another matter: quote_too_long).
        return InvalidRow(
            self.name,
            f"the line is longer than {self.max_line_chars:,} characters (setting MAX_FEED_LINE_CHARS); "
            "a feed row is a few dozen characters",
            line=line,
        )

    def _reject(self, error: InvalidRow) -> None:
        if not self.skip_invalid:
            if self.max_problems <= 1:
                raise error
            self.problems.append(error)
            if len(self.problems) >= self.max_problems:
                raise InvalidRows(self.name, self.problems)
            return
        self.skipped += 1
        if len(self.skip_reasons) < MAX_SKIP_REASONS:
            self.skip_reasons.append(str(error))

    def _report_progress(self) -> None:
        if self.on_progress:
            self.on_progress(self._raw.tell())

    def _checked_rows(self) -> Iterator[tuple]:
        reader, lines = self._reader, self._lines
        while True:
            try:
                for row in reader:
                    lines.row_chars = 0
                    if not row:
                        if lines.refused:
                            self.read += 1
                            self._reject(self._line_too_long(reader.line_num))
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
                lines.row_chars = 0
                self.read += 1
                self._reject(self._not_csv(error, reader.line_num))

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

    def _owner_rows(self) -> Iterator[tuple]:
        # As with time zones: a store's row repeated (the same owner, however spelled) is a
        # duplicate; two different owners, or an owner and none, make the later row invalid.
        owner_and_line: dict[str, tuple[OwnerName | None, int]] = {}
        for store_id, owner in self._checked_rows():
            line = self._reader.line_num
            earlier, earlier_line = owner_and_line.setdefault(store_id, (owner, line))
            if earlier_line == line:
                yield (store_id, None, None) if owner is None else (store_id, owner.slug, owner.name)
            elif _same_owner(earlier, owner):
                self.duplicates += 1
            else:
                self._reject(
                    InvalidRow(
                        self.name,
                        f"store {store_id} already has {_owner_text(earlier)} on line {earlier_line}, "
                        f"here {_owner_text(owner)}; a store has at most one owner, so keep one of the two rows",
                        line=line,
                        field=self.header[self.indexes[1]],
                    )
                )

    def _poll_rows(self) -> Iterator[tuple]:
        # The hot loop of a 1.85 M row load: the common spelling of a row is checked with a few
        # dictionary lookups and one regular expression; anything else (a new store id, spaces,
        # ISO timestamps, errors, times out of range) takes the careful path, which also
        # explains errors.
        reader, lines = self._reader, self._lines
        width = self.width
        store_index, status_index, time_index = self.indexes
        known_store_ids: dict[str, str] = {}  # raw text -> checked id
        statuses = {status: status for status in STATUSES}
        feed_timestamp = FEED_TIMESTAMP.fullmatch
        from_iso = dt.datetime.fromisoformat
        earliest, latest = (self.poll_times.earliest, self.poll_times.latest) if self.poll_times else ANY_TIME
        read = self.read
        while True:
            try:
                for row in reader:
                    lines.row_chars = 0
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
                        if not earliest <= timestamp <= latest:
                            raise LookupError
                    except (LookupError, ValueError):
                        if not row:
                            if lines.refused:
                                self.read = read
                                self._reject(self._line_too_long(reader.line_num))
                            else:
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
                lines.row_chars = 0
                read += 1
                self.read = read
                self._reject(self._not_csv(error, reader.line_num))

    def _with_problems(self, error: IngestionError) -> IngestionError:
        """A problem that ends the reading, after those found before it (if any)."""
        if not self.problems:
            return error
        return InvalidRows(self.name, [*self.problems, error])

    def _not_csv(self, error: csv.Error, line: int) -> InvalidRow:
        return InvalidRow(self.name, csv_problem(error), line=line)

    def _unreadable(self, error: Exception) -> IngestionError:
        if isinstance(error, UnicodeDecodeError):
            # Text is decoded in blocks, so the reader's line is not where the bad byte is.
            return IngestionError(self.name, "is not UTF-8 text; save it as UTF-8", line=self._first_undecodable_line())
        return IngestionError(self.name, f"cannot be read to the end ({error}); is it truncated?")

    def _first_undecodable_line(self) -> int | None:
        """Where the file stops being UTF-8: read again, only after a decode error, in chunks of
        at most a line (so a long line is never held whole)."""
        binary, raw = open_feed_bytes(self.path)
        decoder = codecs.getincrementaldecoder("utf-8")()
        number = 1
        with binary, raw:
            try:
                while chunk := binary.readline(self.max_line_chars + 1):
                    decoder.decode(chunk)
                    number += chunk.endswith(b"\n")
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return number
        return None
