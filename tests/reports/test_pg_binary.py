"""The reader of PostgreSQL's binary COPY format: exact values, and a sentence for anything else.

The buffers are built here byte by byte, the way the PostgreSQL documentation lays them out;
tests/reports/test_snapshot.py reads the real server's output.
"""

import struct

import numpy as np
import pytest

from reports.pg_binary import BOOL, INT8, TIMESTAMPTZ, CopyFormatError, read_array_rows

COLUMNS = (INT8, TIMESTAMPTZ, BOOL)
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)


def array(oid: int, fmt: str, values, *, has_nulls: int = 0, lengths=None) -> bytes:
    """An array in array_send's layout: ndim, has-NULLs flag, element oid, size, lower bound, elements."""
    if not values:
        return struct.pack(">iiI", 0, has_nulls, oid)
    width = struct.calcsize(">" + fmt)
    lengths = lengths or [width] * len(values)
    elements = b"".join(struct.pack(">i", n) + struct.pack(">" + fmt, v) for n, v in zip(lengths, values, strict=True))
    return struct.pack(">iiIii", 1, has_nulls, oid, len(values), 1) + elements


def row(*fields: bytes | None) -> bytes:
    encoded = [struct.pack(">i", -1) if f is None else struct.pack(">i", len(f)) + f for f in fields]
    return struct.pack(">h", len(fields)) + b"".join(encoded)


def poll_row(stores, times, actives) -> bytes:
    return row(array(20, "q", stores), array(1184, "q", times), array(16, "B", actives))


def test_rows_of_arrays_become_concatenated_native_arrays():
    buffer = HEADER + poll_row([1, 1], [10, -5], [1, 0]) + poll_row([2**40], [2**62], [1]) + TRAILER
    stores, times, actives = read_array_rows(buffer, COLUMNS)
    assert stores.tolist() == [1, 1, 2**40]
    assert times.tolist() == [10, -5, 2**62]
    assert actives.tolist() == [1, 0, 1]
    assert stores.dtype == np.dtype("int64")  # native byte order, not the wire's big-endian
    assert times.dtype == np.dtype("int64")


def test_no_rows_give_empty_arrays():
    stores, times, actives = read_array_rows(HEADER + TRAILER, COLUMNS)
    assert (len(stores), len(times), len(actives)) == (0, 0, 0)


def test_empty_arrays_and_a_header_extension_are_read():
    extended = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0x0000FFFF, 3) + b"abc"  # ignorable flags
    buffer = extended + poll_row([], [], []) + poll_row([7], [8], [0]) + TRAILER
    stores, times, actives = read_array_rows(buffer, COLUMNS)
    assert (stores.tolist(), times.tolist(), actives.tolist()) == ([7], [8], [0])


@pytest.mark.parametrize(
    ("buffer", "words"),
    [
        (b"PGCOPX\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + TRAILER, "not the PGCOPY signature"),
        (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 1 << 16, 0) + TRAILER, "flags 0x00010000"),
        (HEADER[:13], "ends inside the header flags"),
        (HEADER + poll_row([1], [2], [1]), "ends inside a row's field count"),
        (HEADER + poll_row([1], [2], [1])[:-3] + TRAILER, "past the end of the data"),
        (HEADER + row(array(20, "q", [1]), array(1184, "q", [2])) + TRAILER, "row 1 has 2 fields, expected 3"),
        (HEADER + row(array(20, "q", [1]), None, array(16, "B", [1])) + TRAILER, "row 1, field 2 is NULL"),
        (
            HEADER + row(array(23, "i", [1]), array(1184, "q", [2]), array(16, "B", [1])) + TRAILER,
            r"row 1, field 1 holds elements of type oid 23, expected bigint \(oid 20\)",
        ),
        (
            HEADER + row(array(20, "q", [1], has_nulls=1), array(1184, "q", [2]), array(16, "B", [1])) + TRAILER,
            "contains NULL elements",
        ),
        (
            # The array says 3 elements and holds 2.
            HEADER
            + row(
                struct.pack(">iiIii", 1, 0, 20, 3, 1) + struct.pack(">iqiq", 8, 1, 8, 2),
                array(1184, "q", [2]),
                array(16, "B", [1]),
            )
            + TRAILER,
            "row 1, field 1 has 44 bytes for 3 bigint elements, expected 56",
        ),
        (HEADER + poll_row([1], [2], [1]) + TRAILER + b"\x00", "1 bytes follow the end-of-data marker"),
    ],
)
def test_anything_else_is_refused_with_what_was_wrong(buffer, words):
    with pytest.raises(CopyFormatError, match=words) as refused:
        read_array_rows(buffer, COLUMNS)
    assert str(refused.value).startswith("Unexpected data from PostgreSQL's binary COPY: ")


def test_an_element_of_the_wrong_width_is_refused():
    # Right total size, but one element claims 4 bytes and the next 12.
    stores = array(20, "q", [1, 2])
    bad = bytearray(stores)
    struct.pack_into(">i", bad, 20, 4)
    struct.pack_into(">i", bad, 32, 12)
    buffer = HEADER + row(bytes(bad), array(1184, "q", [1, 2]), array(16, "B", [1, 1])) + TRAILER
    with pytest.raises(CopyFormatError, match="elements that are not 8 bytes long"):
        read_array_rows(buffer, COLUMNS)


def test_a_two_dimensional_array_is_refused():
    matrix = struct.pack(">iiIiiii", 2, 0, 20, 1, 1, 1, 1) + struct.pack(">iq", 8, 5)
    buffer = HEADER + row(matrix, array(1184, "q", [1]), array(16, "B", [1])) + TRAILER
    with pytest.raises(CopyFormatError, match="has 2 dimensions, expected 1"):
        read_array_rows(buffer, COLUMNS)
