"""The CSVs of a sharded report, from its shards' parts (``reports.shards``).

A shard holds the whole stores of one range of primary keys, so its rows are a part of the
report's CSV as they are: merging puts them back in store_id order (rule 3) without parsing
the figures again. A row is kept as the text the shard wrote; only its store_id is read to
place it, so the merged CSV is, byte for byte, the CSV of the same report in one piece.

Plain Python, no database: the parts are strings however they were stored.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from reports.generation import column_set, write_outages_csv, write_report_csv
from reports.models import DEFAULT_COLUMNS
from reports.uptime import OUTAGE_CSV_COLUMNS, FeedArrays, UptimeFigures

# (store_id, number of the part, the row's text with its line end)
_Row = tuple[str, int, str]


def report_csv_part(figures: UptimeFigures, columns: str = DEFAULT_COLUMNS) -> str:
    """A shard's rows of the report CSV with the column set ``columns``, exactly as
    ``write_report_csv`` writes them, without the header."""
    sink = _Collected()
    write_report_csv(figures, sink, columns)
    return sink.text_after_header()


def outages_csv_part(figures: UptimeFigures, feeds: FeedArrays) -> str:
    """A shard's rows of the outages CSV, exactly as ``write_outages_csv`` writes them, without
    the header; ``feeds`` is the input the figures were computed from."""
    sink = _Collected()
    write_outages_csv(figures, feeds, sink)
    return sink.text_after_header()


def merge_report_csv(parts: Sequence[str], columns: str = DEFAULT_COLUMNS) -> str:
    """The report CSV of all the parts' stores (``report_csv_part`` of shards holding whole
    stores): the header, then every row in store_id order. ValueError for a part out of order
    or a store in two parts."""
    return "".join(merged_report_csv_lines(parts, columns))


def merge_outages_csv(parts: Sequence[str]) -> str:
    """The outages CSV of all the parts' stores (``outages_csv_part``): the header, then the
    rows by store_id, each store's in the order of its part (by start)."""
    return "".join(merged_outages_csv_lines(parts))


def merged_report_csv_lines(parts: Sequence[str], columns: str = DEFAULT_COLUMNS) -> Iterator[str]:
    """``merge_report_csv`` as a stream of rows' texts, for writing to a file as they come."""
    yield _header_line(column_set(columns))
    previous: str | None = None
    for store_id, _, text in _merged(parts):
        if previous is not None and store_id == previous:
            raise ValueError(f"Store {store_id!r} has two rows: each store belongs in one shard only.")
        previous = store_id
        yield text


def merged_outages_csv_lines(parts: Sequence[str]) -> Iterator[str]:
    """``merge_outages_csv`` as a stream of rows' texts."""
    yield _header_line(OUTAGE_CSV_COLUMNS)
    previous: tuple[str, int] | None = None
    for store_id, number, text in _merged(parts):
        if previous is not None and store_id == previous[0] and number != previous[1]:
            raise ValueError(
                f"Store {store_id!r} has outages in parts {previous[1]} and {number}: "
                "each store belongs in one shard only."
            )
        previous = (store_id, number)
        yield text


def _merged(parts: Sequence[str]) -> Iterator[_Row]:
    """Every row of every part, by store_id; equal store_ids keep their part's order (a
    store's outages by start), and parts their order."""
    keys: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    for number, part in enumerate(parts):
        part_keys, part_texts = _keyed_rows(part)
        _check_in_order(number, part_keys)
        keys += part_keys
        texts += part_texts
        numbers += [number] * len(part_keys)
    # A stable sort, not a k-way merge: each part is one sorted run, which Python's sort
    # (timsort) finds and merges in C, several times faster than heapq.merge row by row.
    for index in sorted(range(len(keys)), key=keys.__getitem__):
        yield keys[index], numbers[index], texts[index]


def _keyed_rows(part: str) -> tuple[list[str], list[str]]:
    """(store_ids, texts) of the rows of ``part``, each text with its line end."""
    if not part:
        return [], []
    if '"' in part:
        records = list(_records(part))
        return [store_id for store_id, _ in records], [text for _, text in records]
    if not part.endswith("\n"):
        raise ValueError("A CSV part ends in the middle of a row: it was cut short.")
    # Nothing is quoted (the usual case): each line is a row, its store_id before the first
    # comma (a field with a comma or a line break would have been quoted). Split in C.
    texts = [line + "\n" for line in part[:-1].split("\n")]
    return [text[: text.find(",")] for text in texts], texts


def _check_in_order(number: int, store_ids: list[str]) -> None:
    for previous, store_id in zip(store_ids, store_ids[1:], strict=False):
        if store_id < previous:
            raise ValueError(
                f"Part {number} is not in store_id order ({store_id!r} after {previous!r}): "
                "merge the parts as report_csv_part and outages_csv_part write them."
            )


def _records(part: str) -> Iterator[tuple[str, str]]:
    """(store_id, text) of each CSV record of ``part``; store_id is its first field."""
    if not part:
        return
    if not part.endswith("\n"):
        raise ValueError("A CSV part ends in the middle of a row: it was cut short.")
    if '"' not in part:
        # Nothing is quoted (the usual case): each line is a row, its store_id before the
        # first comma (a field with a comma or a line break would have been quoted).
        for line in _lines(part):
            yield line[: line.find(",")], line
        return
    lines = _lines(part)
    for line in lines:
        if not line.startswith('"'):
            yield line[: line.find(",")], line
            continue
        # A quoted store_id (only it can be: the figures are numbers) may hold line breaks:
        # the record goes on until its quotes pair up.
        text = line
        while text.count('"') % 2:
            more = next(lines, "")
            if not more:
                raise ValueError("A CSV part ends inside a quoted store_id: it was cut short.")
            text += more
        yield next(csv.reader(io.StringIO(text, newline="")))[0], text


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` (which ends with one), each with its "\\n"; only "\\n" ends a line
    (a "\\r" in a quoted store_id does not). Sliced one at a time: io.StringIO would first copy
    the whole part at four bytes a character."""
    start, size = 0, len(text)
    while start < size:
        end = text.index("\n", start) + 1
        yield text[start:end]
        start = end


def _header_line(columns: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue()


class _Collected:
    """A text sink keeping the rows written to it, joined once at the end: io.StringIO would
    hold them at four bytes a character."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def write(self, text: str, /) -> None:
        self.texts.append(text)

    def text_after_header(self) -> str:
        # csv.writer writes each row with one call (writerow returns that call's result), and
        # the header is the first row.
        return "".join(self.texts[1:])
