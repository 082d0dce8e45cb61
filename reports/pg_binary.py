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
from collections.abc import Iterable, Sequence
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
    return read_fixed_row_pieces([buffer], columns)


def read_fixed_row_pieces(
    pieces: Iterable[bytes | bytearray | memoryview], columns: Sequence[ColumnType]
) -> list[np.ndarray]:
    """As ``read_fixed_rows``, for the output given in pieces that each end where a row ends (as
    ``reports.snapshot.copy_out_pieces`` gives them): the whole output never has to be in memory,
    only the columns."""
    layout = [("fields", ">i2")]
    for number, kind in enumerate(columns):
        layout += [(f"length{number}", ">i4"), (f"value{number}", kind.wire)]
    row = np.dtype(layout)
    outputs = [np.zeros(0, dtype=np.dtype(kind.wire).newbyteorder("=")) for kind in columns]
    count = 0  # rows read so far
    started = ended = False
    view = memoryview(b"")
    position = piece_first_row = 0
    for piece in pieces:
        view = memoryview(piece)
        position, piece_first_row = 0, count
        if not started:
            position, started = _skip_header(view), True
        if ended:
            if len(view):
                raise CopyFormatError(f"{len(view)} bytes follow the end-of-data marker")
            continue
        rows, extra = divmod(len(view) - position, row.itemsize)
        if extra == len(_END_OF_DATA) and bytes(view[len(view) - len(_END_OF_DATA) :]) == _END_OF_DATA:
            ended = True
        elif extra:
            raise CopyFormatError(_where_it_goes_wrong(view, position, columns, count))
        table = np.frombuffer(view, dtype=row, count=rows, offset=position)
        regular = (table["fields"] == len(columns)).all() and all(
            (table[f"length{number}"] == kind.width).all() for number, kind in enumerate(columns)
        )
        if rows and not regular:
            raise CopyFormatError(_where_it_goes_wrong(view, position, columns, count))
        if count + rows > len(outputs[0]):
            # Grown in place (realloc), by a quarter at a time: little memory is touched twice
            # or left unused at the end.
            capacity = max(count + rows, len(outputs[0]) * 5 // 4)
            for output in outputs:
                output.resize(capacity, refcheck=False)
        for number, output in enumerate(outputs):
            output[count : count + rows] = table[f"value{number}"]  # converted to native byte order
        count += rows
    if not started:
        _skip_header(view)  # no bytes at all: says so
    if not ended:
        raise CopyFormatError(_where_it_goes_wrong(view, position, columns, piece_first_row))
    for output in outputs:
        output.resize(count, refcheck=False)
    return outputs


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


def _where_it_goes_wrong(view: memoryview, position: int, columns: Sequence[ColumnType], rows_before: int = 0) -> str:
    """Walk the rows one by one (only once the fast path found them irregular) to name the first
    thing that is not as expected; ``rows_before``: rows read from earlier pieces."""
    row = rows_before
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
