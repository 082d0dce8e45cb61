"""The reader of PostgreSQL's binary COPY format: exact values, and a sentence for anything else.

The buffers are built here byte by byte, the way the PostgreSQL documentation lays them out;
tests/reports/test_snapshot.py reads the real server's output.
"""

import struct

import numpy as np
import pytest

from reports.pg_binary import (
    BOOL,
    INT2,
    INT8,
    TIME,
    TIMESTAMPTZ,
    CopyFormatError,
    read_fixed_row_pieces,
    read_fixed_rows,
)

COLUMNS = (INT8, TIMESTAMPTZ, BOOL)
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)


def field(fmt: str, value) -> bytes:
    return struct.pack(">i", struct.calcsize(">" + fmt)) + struct.pack(">" + fmt, value)


def row(*fields: bytes | None) -> bytes:
    return struct.pack(">h", len(fields)) + b"".join(struct.pack(">i", -1) if f is None else f for f in fields)


def poll_row(store: int, time: int, active: int) -> bytes:
    return row(field("q", store), field("q", time), field("B", active))


def test_rows_become_native_columns():
    buffer = HEADER + poll_row(1, 10, 1) + poll_row(1, -5, 0) + poll_row(2**40, 2**62, 1) + TRAILER
    stores, times, actives = read_fixed_rows(buffer, COLUMNS)
    assert stores.tolist() == [1, 1, 2**40]
    assert times.tolist() == [10, -5, 2**62]
    assert actives.tolist() == [1, 0, 1]
    assert stores.dtype == np.dtype("int64")  # native byte order, not the wire's big-endian
    assert times.dtype == np.dtype("int64")


def test_hours_rows_with_a_smallint_and_times_of_day():
    buffer = HEADER + row(field("q", 7), field("h", 6), field("q", 37_800_000_000), field("q", 0)) + TRAILER
    stores, days, opens, closes = read_fixed_rows(buffer, (INT8, INT2, TIME, TIME))
    assert (stores.tolist(), days.tolist(), opens.tolist(), closes.tolist()) == ([7], [6], [37_800_000_000], [0])


def test_no_rows_give_empty_columns():
    stores, times, actives = read_fixed_rows(HEADER + TRAILER, COLUMNS)
    assert (len(stores), len(times), len(actives)) == (0, 0, 0)


def test_a_header_extension_and_ignorable_flags_are_skipped():
    extended = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0x0000FFFF, 3) + b"abc"
    stores, times, actives = read_fixed_rows(extended + poll_row(7, 8, 0) + TRAILER, COLUMNS)
    assert (stores.tolist(), times.tolist(), actives.tolist()) == ([7], [8], [0])


@pytest.mark.parametrize(
    ("buffer", "words"),
    [
        (b"PGCOPX\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + TRAILER, "not the PGCOPY signature"),
        (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 1 << 16, 0) + TRAILER, "flags 0x00010000"),
        (HEADER[:13], "ends inside the header flags"),
        (HEADER, "ends inside a row's field count"),
        (HEADER + poll_row(1, 2, 1), "ends inside a row's field count"),
        (HEADER + poll_row(1, 2, 1)[:-3] + TRAILER, "past the end of the data"),
        (HEADER + row(field("q", 1), field("q", 2)) + TRAILER, "row 1 has 2 fields, expected 3"),
        (HEADER + poll_row(1, 2, 1) + row(field("q", 1), None, field("B", 1)) + TRAILER, "row 2, field 2 is NULL"),
        (
            HEADER + row(field("i", 1), field("q", 2), field("B", 1)) + TRAILER,
            r"row 1, field 1 is 4 bytes long, expected 8 \(bigint\)",
        ),
        (HEADER + poll_row(1, 2, 1) + TRAILER + b"\x00", "1 bytes follow the end-of-data marker"),
    ],
)
def test_anything_else_is_refused_with_what_was_wrong(buffer, words):
    with pytest.raises(CopyFormatError, match=words) as refused:
        read_fixed_rows(buffer, COLUMNS)
    assert str(refused.value).startswith("Unexpected data from PostgreSQL's binary COPY: ")


def test_rows_of_the_right_total_size_but_another_layout_are_refused():
    # Two rows whose widths add up to two poll rows: 4 + 12 bytes instead of 8 + 8.
    odd = row(field("i", 1), struct.pack(">i", 12) + b"\x00" * 12, field("B", 1))
    assert len(odd) == len(poll_row(1, 2, 1))
    with pytest.raises(CopyFormatError, match="row 1, field 1 is 4 bytes long"):
        read_fixed_rows(HEADER + odd + TRAILER, COLUMNS)


def test_pieces_that_end_at_rows_read_as_one_buffer():
    rows = [poll_row(i, 10 * i, i % 2) for i in range(5)]
    pieces = [HEADER + rows[0] + rows[1], rows[2], b"", rows[3] + rows[4] + TRAILER]
    stores, times, actives = read_fixed_row_pieces(pieces, COLUMNS)
    assert (stores.tolist(), times.tolist(), actives.tolist()) == (
        [0, 1, 2, 3, 4],
        [0, 10, 20, 30, 40],
        [0, 1, 0, 1, 0],
    )


def test_a_later_piece_names_its_row_counting_the_earlier_ones():
    pieces = [HEADER + poll_row(1, 2, 1), row(field("q", 1), None, field("B", 1)) + TRAILER]
    with pytest.raises(CopyFormatError, match="row 2, field 2 is NULL"):
        read_fixed_row_pieces(pieces, COLUMNS)


def test_pieces_after_the_end_or_without_one_are_refused():
    with pytest.raises(CopyFormatError, match="3 bytes follow the end-of-data marker"):
        read_fixed_row_pieces([HEADER + TRAILER, b"abc"], COLUMNS)
    with pytest.raises(CopyFormatError, match="ends inside a row's field count"):
        read_fixed_row_pieces([HEADER + poll_row(1, 2, 1), poll_row(3, 4, 0)], COLUMNS)
    with pytest.raises(CopyFormatError, match="not the PGCOPY signature"):
        read_fixed_row_pieces([], COLUMNS)


def test_columns_grown_piece_by_piece_keep_every_row_and_no_more():
    # 23 rows in pieces of 3: the columns grow at almost every piece.
    rows = [poll_row(i, -i, i % 2) for i in range(23)]
    pieces = [HEADER + b"".join(rows[:3])] + [b"".join(rows[start : start + 3]) for start in range(3, 23, 3)]
    pieces[-1] += TRAILER
    stores, times, actives = read_fixed_row_pieces(pieces, COLUMNS)
    assert stores.tolist() == list(range(23))
    assert times.tolist() == [-i for i in range(23)]
    assert actives.tolist() == [i % 2 for i in range(23)]
    assert (len(stores), len(times), len(actives)) == (23, 23, 23)  # the unused capacity given back
