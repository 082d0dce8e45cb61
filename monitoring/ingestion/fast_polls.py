"""A vectorised reader of the polls feed in its common spelling, for loads of millions of rows.

The exact reader (:class:`~monitoring.ingestion.reading.FeedReader`) costs a few microseconds of
Python per row: about a minute for 18 M polls. Almost every real row is spelled one way, e.g.
``4720721261117928063,active,2023-01-19 18:23:22.129701 UTC``: printable ASCII, no quotes, two
commas, a store id without surrounding spaces, ``active`` or ``inactive`` in lower case and the
feed's own timestamp. :func:`read_poll_columns` checks and parses whole blocks of such lines with
numpy and returns columns (store numbers, microseconds, statuses), never a Python object per row.

It accepts only rows the exact reader would accept as they are and parse to the same values; as
soon as one line of the file is anything else (a quote, a space, another spelling, a bad value,
a time out of range, a line over the limit, not ASCII, unreadable) it returns ``None`` and the
caller reads the whole file with the exact reader, whose messages name file, line and field.
Nothing is written before the whole file has been read, so that switch is invisible.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from monitoring.ingestion.backends.base import PollRow
from monitoring.ingestion.values import STORE_ID_MAX_LENGTH, PollTimeRange

# Read at most this much of the file at a time: large enough that numpy's per-call costs
# vanish, small enough that a block's arrays (a few times its size) stay around 50 MB. Under a
# small line limit (MAX_FEED_LINE_CHARS) blocks are a few lines long, so memory stays within a
# few times the limit as it does for the exact reader.
MAX_BLOCK_BYTES = 1 << 23
MIN_BLOCK_BYTES = 1 << 16
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)

NEWLINE, CARRIAGE_RETURN, SPACE, QUOTE, COMMA = 10, 13, 32, 34, 44
ACTIVE_WORD = int.from_bytes(b"active\0\0", "little")
ACTIVE_MASK = int.from_bytes(b"\xff" * 6 + b"\0\0", "little")
INACTIVE_WORD = int.from_bytes(b"inactive", "little")
SECONDS_ONLY_LENGTH = len("2023-01-19 18:23:22 UTC")
MAX_TIMESTAMP_LENGTH = len("2023-01-19 18:23:22.129701 UTC")


def _byte_ranges(pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest byte each position of ``pattern`` allows: ``9`` a digit, ``?`` any
    byte, anything else itself."""
    low = [0 if char == "?" else ord("0") if char == "9" else ord(char) for char in pattern]
    high = [255 if char == "?" else ord("9") if char == "9" else ord(char) for char in pattern]
    return np.array(low, np.uint8), np.array(high, np.uint8)


# The date and time of a feed timestamp.
HEAD_LOW, HEAD_HIGH = _byte_ranges("9999-99-99 99:99:99")
# The last eleven characters of a timestamp with 0 to 6 fraction digits (row = digits): the
# fraction, its point and " UTC"; what lies before them belongs to the time, checked above.
TAIL_WIDTH = len(".123456 UTC")
_TAIL_RANGES = [
    _byte_ranges("?" * (6 - digits) + ("." if digits else "?") + "9" * digits + " UTC") for digits in range(7)
]
TAIL_LOW = np.array([low for low, _ in _TAIL_RANGES])
TAIL_HIGH = np.array([high for _, high in _TAIL_RANGES])
TAIL_WEIGHTS = np.zeros((7, TAIL_WIDTH), np.float32)
for _digits in range(1, 7):
    # The fraction's first digit is worth 100,000 microseconds, its sixth 1.
    TAIL_WEIGHTS[_digits, 7 - _digits : 7] = 10.0 ** np.arange(5, 5 - _digits, -1)
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
# Multipliers of the 64-bit hash that groups rows by store id (checked byte for byte afterwards).
HASH_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93] * 2, dtype=np.uint64
)


class NotCommonSpelling(Exception):
    """A line of the file is not in the spelling the vectorised reader handles."""


@dataclass
class PollColumns:
    """The polls of a file as columns, in file order: row ``i`` is store ``store_ids[store_numbers[i]]``,
    at ``micros[i]`` microseconds after 1970-01-01 UTC, ``inactive[i]`` or active."""

    store_ids: list[str]  # the distinct store ids, in the order they first appear
    store_numbers: np.ndarray  # int32, one per row
    micros: np.ndarray  # int64, one per row
    inactive: np.ndarray  # bool, one per row

    def __len__(self) -> int:
        return len(self.micros)

    def rows(self) -> Iterator[PollRow]:
        """The rows as the exact reader yields them (for comparisons; slow on millions of rows)."""
        for number, micros, inactive in zip(
            self.store_numbers.tolist(), self.micros.tolist(), self.inactive.tolist(), strict=True
        ):
            yield self.store_ids[number], "inactive" if inactive else "active", EPOCH + micros * MICROSECOND


def epoch_micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def read_poll_columns(
    binary,
    *,
    indexes: list[int],
    max_line_chars: int,
    poll_times: PollTimeRange | None,
    on_progress: Callable[[], None] | None = None,
) -> PollColumns | None:
    """The polls of ``binary`` (the file's uncompressed bytes, at the start of the file) whose
    header the exact reader has already checked and mapped: ``indexes`` are the positions of
    store_id, status and timestamp_utc among the header's three columns. ``None`` when any line
    is not in the common spelling; ``on_progress`` is called after every block."""
    header = binary.readline(max_line_chars + 1)
    # One physical line, ended by LF or CRLF (a lone CR also ends a line for the csv module).
    if not header.endswith(b"\n") or b"\r" in header[:-2]:
        return None
    bounds = (epoch_micros(poll_times.earliest), epoch_micros(poll_times.latest)) if poll_times is not None else None
    parser = _BlockParser(indexes, max_line_chars, bounds)
    block_bytes = min(MAX_BLOCK_BYTES, max(MIN_BLOCK_BYTES, 4 * max_line_chars))
    rest = b""
    try:
        while True:
            chunk = binary.read(block_bytes)
            if not chunk:
                if rest:  # a last line without a line end
                    parser.parse(rest + b"\n")
                break
            data = rest + chunk
            end = data.rfind(b"\n") + 1
            if end == 0:
                if len(data) > max_line_chars:
                    return None
                rest = data
                continue
            rest = data[end:]
            parser.parse(data[:end])
            if on_progress is not None:
                on_progress()
    except NotCommonSpelling:
        return None
    except (OSError, EOFError, zlib.error):
        # The exact reader says what is wrong with the file, and where.
        return None
    return parser.columns()


class _BlockParser:
    def __init__(self, indexes: list[int], max_line_chars: int, bounds: tuple[int, int] | None):
        self.store_field, self.status_field, self.time_field = indexes
        self.max_line_chars = max_line_chars
        self.bounds = bounds
        self.number_of_store: dict[bytes, int] = {}
        self.store_numbers: list[np.ndarray] = []
        self.micros: list[np.ndarray] = []
        self.inactive: list[np.ndarray] = []

    def columns(self) -> PollColumns:
        def joined(parts: list[np.ndarray], dtype) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype)

        return PollColumns(
            store_ids=[store_id.decode("ascii") for store_id in self.number_of_store],
            store_numbers=joined(self.store_numbers, np.int32),
            micros=joined(self.micros, np.int64),
            inactive=joined(self.inactive, np.bool_),
        )

    def parse(self, data: bytes) -> None:
        """Parse whole lines (``data`` ends with a line end) or raise NotCommonSpelling."""
        # Padding, so that fixed-width gathers past the last line stay inside the buffer.
        buf = np.frombuffer(data + bytes(2 * MAX_TIMESTAMP_LENGTH + STORE_ID_MAX_LENGTH), np.uint8)
        size = len(data)
        text = buf[:size]
        line_ends = np.flatnonzero(text == NEWLINE)
        carriage_returns = np.flatnonzero(text == CARRIAGE_RETURN)
        # Printable ASCII without quotes, plus the line ends (CR only as part of CRLF).
        unusual = np.count_nonzero((text < SPACE) | (text > 126) | (text == QUOTE))
        if unusual != len(line_ends) + len(carriage_returns):
            raise NotCommonSpelling
        if len(carriage_returns) and np.any(buf[carriage_returns + 1] != NEWLINE):
            raise NotCommonSpelling
        starts = np.empty_like(line_ends)
        starts[0] = 0
        starts[1:] = line_ends[:-1] + 1
        if np.any(line_ends - starts + 1 > self.max_line_chars):
            raise NotCommonSpelling
        # (Before the first line, index -1 is the zero padding, never a CR.)
        content_ends = line_ends - (buf[line_ends - 1] == CARRIAGE_RETURN)
        commas = np.flatnonzero(text == COMMA)
        commas_per_line = np.diff(np.searchsorted(commas, line_ends), prepend=0)
        blank = content_ends == starts  # the csv module reads an empty row, which is ignored
        if np.any(commas_per_line[~blank] != 2) or np.any(commas_per_line[blank] != 0):
            raise NotCommonSpelling
        if blank.any():
            starts, content_ends = starts[~blank], content_ends[~blank]
        if not len(starts):
            return
        pairs = commas.reshape(-1, 2)
        field_starts = (starts, pairs[:, 0] + 1, pairs[:, 1] + 1)
        field_ends = (pairs[:, 0], pairs[:, 1], content_ends)
        store = (field_starts[self.store_field], field_ends[self.store_field])
        status = (field_starts[self.status_field], field_ends[self.status_field])
        time = (field_starts[self.time_field], field_ends[self.time_field])
        inactive = self._statuses(buf, *status)
        micros = self._timestamps(buf, *time)
        self.store_numbers.append(self._store_numbers(buf, *store))
        self.micros.append(micros)
        self.inactive.append(inactive)

    @staticmethod
    def _gather(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
        # Rows of a sliding-window view: numpy copies ``width`` contiguous bytes per row instead
        # of reading an index per byte, several times faster than ``buf[starts[:, None] + range]``.
        return np.lib.stride_tricks.sliding_window_view(buf, width)[starts]

    def _statuses(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        lengths = ends - starts
        # The eight bytes from the field's start as one integer: two comparisons per row.
        words = self._gather(buf, starts, 8).view(np.uint64).ravel()
        active = (lengths == len(b"active")) & ((words & ACTIVE_MASK) == ACTIVE_WORD)
        inactive = (lengths == len(b"inactive")) & (words == INACTIVE_WORD)
        if not np.all(active | inactive):
            raise NotCommonSpelling
        return inactive

    def _timestamps(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        lengths = ends - starts
        # 2023-01-19 18:23:22 UTC, or with a fraction of 1 to 6 digits after the seconds.
        fraction_digits = np.maximum(lengths - (SECONDS_ONLY_LENGTH + 1), 0)
        if not np.all(
            (lengths == SECONDS_ONLY_LENGTH) | ((lengths > SECONDS_ONLY_LENGTH + 1) & (fraction_digits <= 6))
        ):
            raise NotCommonSpelling
        # The date and time, from the field's start; the fraction and " UTC", from its end.
        head = self._gather(buf, starts, len(HEAD_LOW))
        tail = self._gather(buf, ends - TAIL_WIDTH, TAIL_WIDTH)
        ok = ((head >= HEAD_LOW) & (head <= HEAD_HIGH)).all(axis=1)
        ok &= ((tail >= TAIL_LOW[fraction_digits]) & (tail <= TAIL_HIGH[fraction_digits])).all(axis=1)
        if not ok.all():
            raise NotCommonSpelling
        # Digit values, a row per character position (contiguous, so each sum runs at memory speed).
        digit = (np.ascontiguousarray(head.T) - np.uint8(ord("0"))).astype(np.int64)
        year = digit[0] * 1000 + digit[1] * 100 + digit[2] * 10 + digit[3]
        month, day = digit[5] * 10 + digit[6], digit[8] * 10 + digit[9]
        hour, minute, second = digit[11] * 10 + digit[12], digit[14] * 10 + digit[15], digit[17] * 10 + digit[18]
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        valid_month = (month >= 1) & (month <= 12)
        month_days = DAYS_IN_MONTH[np.where(valid_month, month, 0)] + (leap & (month == 2))
        # datetime's own range and rules: year 1 to 9999, no hour 24, no leap second.
        ok = (year >= 1) & valid_month & (day >= 1) & (day <= month_days) & (hour <= 23) & (minute <= 59)
        ok &= second <= 59
        if not ok.all():
            raise NotCommonSpelling
        # Microseconds (float32 holds these small integers exactly); non-digits weigh 0.
        fraction = np.einsum("ij,ij->i", tail.astype(np.float32) - ord("0"), TAIL_WEIGHTS[fraction_digits])
        micros = (((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000
        micros += fraction.astype(np.int64)
        if self.bounds is not None and not np.all((micros >= self.bounds[0]) & (micros <= self.bounds[1])):
            raise NotCommonSpelling
        return micros

    def _store_numbers(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        lengths = ends - starts
        if not np.all((lengths >= 1) & (lengths <= STORE_ID_MAX_LENGTH)):
            raise NotCommonSpelling
        # The exact reader strips surrounding spaces; such ids are left to it.
        if np.any(buf[starts] == SPACE) or np.any(buf[ends - 1] == SPACE):
            raise NotCommonSpelling
        width = -(-int(lengths.max()) // 8) * 8
        ids = self._gather(buf, starts, width)
        # Printable ids hold no NUL, so zero padding after the id is unambiguous.
        np.multiply(ids, np.arange(width) < lengths[:, None], out=ids)
        words = np.ascontiguousarray(ids.view(np.uint64).T)
        hashes = np.zeros(len(ids), np.uint64)
        for column, word in enumerate(words):
            hashes = (hashes ^ word) * HASH_MULTIPLIERS[column]
            hashes ^= hashes >> np.uint64(29)
        _, first_rows, local_numbers = np.unique(hashes, return_index=True, return_inverse=True)
        # Two ids with one hash would merge two stores: compare every row with its group's first.
        if not np.array_equal(ids, ids[first_rows][local_numbers]):
            raise NotCommonSpelling
        number_of_store = self.number_of_store
        in_file_order = np.argsort(first_rows, kind="stable")
        global_numbers = np.empty(len(first_rows), np.int32)
        keys = ids[first_rows[in_file_order]].view(f"S{width}").ravel().tolist()
        global_numbers[in_file_order] = [number_of_store.setdefault(key, len(number_of_store)) for key in keys]
        return global_numbers[local_numbers.ravel()]


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm; years >= 1)."""
    shifted_year = year - (month <= 2)
    era = shifted_year // 400
    year_of_era = shifted_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
