"""PostgreSQL's binary COPY format, for rows of fixed-width columns read straight into numpy.

``COPY (SELECT a, b, c ...) TO STDOUT (FORMAT BINARY)`` of columns that are never NULL and have
a fixed width (bigint, timestamptz, boolean) sends every row with the same layout, so the whole
body is one numpy structured array: no grouping on the server, no Python object per value.
This module understands exactly that and checks every part it relies on: anything else
(another signature, critical header flags, a NULL, a field of another width or count, a
truncated buffer, bytes after the end) raises ``CopyFormatError`` instead of being misread.

Layout (PostgreSQL documentation, "COPY", binary format): an 11-byte signature, int32 flags,
int32 header extension length and the extension; per row an int16 field count and per field an
int32 byte length (-1 for NULL) and the bytes; an int16 -1 ends the data. All big-endian.
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# Flag bits 16-31 mark changes a reader must understand (bit 16: OIDs included); 0-15 may be ignored.
_CRITICAL_FLAGS = 0xFFFF0000
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_END_OF_DATA = struct.pack(">h", -1)
_NULL = -1


class CopyFormatError(ValueError):
    """The server sent something other than the rows the reader was told to expect."""

    def __init__(self, problem: str):
        super().__init__(
            f"Unexpected data from PostgreSQL's binary COPY: {problem}. The poll snapshot cannot be "
            "read; report this with the PostgreSQL version."
        )


@dataclass(frozen=True)
class ColumnType:
    """A fixed-width column's PostgreSQL type name and its numpy wire dtype."""

    name: str
    wire: str  # big-endian numpy dtype of the value

    @property
    def width(self) -> int:
        return np.dtype(self.wire).itemsize


# PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC; add this for the Unix epoch's.
PG_EPOCH_SHIFT_US = 946_684_800 * 1_000_000

INT8 = ColumnType("bigint", ">i8")
TIMESTAMPTZ = ColumnType("timestamp with time zone", ">i8")  # µs since 2000-01-01 UTC
BOOL = ColumnType("boolean", "u1")
INT2 = ColumnType("smallint", ">i2")
TIME = ColumnType("time without time zone", ">i8")  # µs since midnight


def read_fixed_rows(buffer: bytes | bytearray | memoryview, columns: Sequence[ColumnType]) -> list[np.ndarray]:
    """Each column of every row, in row order (native byte order)."""
    view = memoryview(buffer)
    position = _skip_header(view)
    if len(view) - position < len(_END_OF_DATA):
        raise CopyFormatError("the data ends inside a row's field count")
    layout = [("fields", ">i2")]
    for number, kind in enumerate(columns):
        layout += [(f"length{number}", ">i4"), (f"value{number}", kind.wire)]
    row = np.dtype(layout)
    body = len(view) - position - len(_END_OF_DATA)
    rows, extra = divmod(body, row.itemsize)
    if extra or bytes(view[len(view) - len(_END_OF_DATA) :]) != _END_OF_DATA:
        raise CopyFormatError(_where_it_goes_wrong(view, position, columns))
    table = np.frombuffer(view, dtype=row, count=rows, offset=position)
    if rows and not (table["fields"] == len(columns)).all():
        raise CopyFormatError(_where_it_goes_wrong(view, position, columns))
    for number, kind in enumerate(columns):
        lengths = table[f"length{number}"]
        if rows and not (lengths == kind.width).all():
            raise CopyFormatError(_where_it_goes_wrong(view, position, columns))
    return [
        table[f"value{number}"].astype(np.dtype(kind.wire).newbyteorder("=")) for number, kind in enumerate(columns)
    ]


def _skip_header(view: memoryview) -> int:
    if bytes(view[: len(SIGNATURE)]) != SIGNATURE:
        raise CopyFormatError(f"it starts with {bytes(view[: len(SIGNATURE)])!r}, not the PGCOPY signature")
    position = len(SIGNATURE)
    (flags,) = _unpack(_INT32, view, position, "the header flags")
    if flags & _CRITICAL_FLAGS:
        raise CopyFormatError(f"the header sets flags {flags:#010x} (OIDs or a newer format)")
    (extension,) = _unpack(_INT32, view, position + 4, "the header extension length")
    if extension < 0:
        raise CopyFormatError(f"the header extension length is {extension}")
    return position + 8 + extension


def _where_it_goes_wrong(view: memoryview, position: int, columns: Sequence[ColumnType]) -> str:
    """Walk the rows one by one (only once the fast path found them irregular) to name the first
    thing that is not as expected."""
    row = 0
    while True:
        (fields,) = _unpack(_INT16, view, position, "a row's field count")
        position += _INT16.size
        if fields == -1:
            return f"{len(view) - position} bytes follow the end-of-data marker"
        row += 1
        if fields != len(columns):
            return f"row {row} has {fields} fields, expected {len(columns)}"
        for column, kind in enumerate(columns, start=1):
            (length,) = _unpack(_INT32, view, position, f"the length of row {row}, field {column}")
            position += _INT32.size
            if length == _NULL:
                return f"row {row}, field {column} is NULL, expected {kind.name}"
            if position + max(length, 0) > len(view):
                return f"row {row}, field {column} claims {length} bytes, past the end of the data"
            if length != kind.width:
                return f"row {row}, field {column} is {length} bytes long, expected {kind.width} ({kind.name})"
            position += length


def _unpack(layout: struct.Struct, view: memoryview, position: int, what: str) -> tuple[int, ...]:
    if position + layout.size > len(view):
        raise CopyFormatError(f"the data ends inside {what}")
    return layout.unpack_from(view, position)
