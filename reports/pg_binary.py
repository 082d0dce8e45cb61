"""PostgreSQL's binary COPY format, for rows of arrays read straight into numpy.

``COPY (SELECT array_agg(...), ...) TO STDOUT (FORMAT BINARY)`` sends a few large arrays instead
of millions of rows; this module turns them into numpy arrays without a Python object per
value. It understands exactly what that query sends (one-dimensional arrays without NULLs of
fixed-width elements) and checks every part it relies on: anything else (another signature,
critical header flags, a NULL, another element type or width, a truncated buffer) raises
``CopyFormatError`` instead of being misread as numbers.

Layout (PostgreSQL documentation, "COPY", binary format; and ``array_send``): an 11-byte
signature, int32 flags, int32 header extension length and the extension; per row an int16
field count and per field an int32 byte length and the bytes; an int16 -1 ends the data. An
array is int32 dimensions, int32 has-NULLs flag, int32 element type, per dimension int32 size
and int32 lower bound, then per element an int32 length and the value. All big-endian.
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
_ARRAY_HEADER = struct.Struct(">iiI")  # dimensions, has-NULLs flag, element type oid
_DIMENSION = struct.Struct(">ii")  # size, lower bound
_END_OF_DATA = -1
_NULL = -1


class CopyFormatError(ValueError):
    """The server sent something other than the rows of arrays the reader was told to expect."""

    def __init__(self, problem: str):
        super().__init__(
            f"Unexpected data from PostgreSQL's binary COPY: {problem}. The poll snapshot cannot be "
            "read; report this with the PostgreSQL version."
        )


@dataclass(frozen=True)
class ArrayType:
    """An array column's element type: its PostgreSQL name and oid, and its numpy wire dtype."""

    name: str
    oid: int
    wire: str  # big-endian numpy dtype of one element's value

    @property
    def width(self) -> int:
        return np.dtype(self.wire).itemsize


INT8 = ArrayType("bigint", 20, ">i8")
TIMESTAMPTZ = ArrayType("timestamp with time zone", 1184, ">i8")  # µs since 2000-01-01 UTC
BOOL = ArrayType("boolean", 16, "u1")


def read_array_rows(buffer: bytes | bytearray | memoryview, columns: Sequence[ArrayType]) -> list[np.ndarray]:
    """Each column's arrays of every row, concatenated in row order (native byte order)."""
    view = memoryview(buffer)
    position = _skip_header(view)
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    row = 0
    while True:
        (fields,) = _unpack(_INT16, view, position, "a row's field count")
        position += _INT16.size
        if fields == _END_OF_DATA:
            break
        row += 1
        if fields != len(columns):
            raise CopyFormatError(f"row {row} has {fields} fields, expected {len(columns)}")
        for column, (kind, part) in enumerate(zip(columns, parts, strict=True), start=1):
            (length,) = _unpack(_INT32, view, position, f"the length of row {row}, field {column}")
            position += _INT32.size
            if length == _NULL:
                raise CopyFormatError(f"row {row}, field {column} is NULL, expected an array of {kind.name}")
            if length < 0 or position + length > len(view):
                raise CopyFormatError(f"row {row}, field {column} claims {length} bytes, past the end of the data")
            part.append(_read_array(view[position : position + length], kind, f"row {row}, field {column}"))
            position += length
    if position != len(view):
        raise CopyFormatError(f"{len(view) - position} bytes follow the end-of-data marker")
    return [
        np.concatenate(part) if part else np.zeros(0, dtype=np.dtype(kind.wire).newbyteorder("="))
        for kind, part in zip(columns, parts, strict=True)
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


def _read_array(field: memoryview, kind: ArrayType, where: str) -> np.ndarray:
    dimensions, has_nulls, oid = _unpack(_ARRAY_HEADER, field, 0, f"the array header of {where}")
    if oid != kind.oid:
        raise CopyFormatError(f"{where} holds elements of type oid {oid}, expected {kind.name} (oid {kind.oid})")
    if has_nulls:
        raise CopyFormatError(f"{where} contains NULL elements")
    if dimensions == 0:  # an empty array
        if len(field) != _ARRAY_HEADER.size:
            raise CopyFormatError(f"{where} is an empty array followed by {len(field) - _ARRAY_HEADER.size} bytes")
        return np.zeros(0, dtype=np.dtype(kind.wire).newbyteorder("="))
    if dimensions != 1:
        raise CopyFormatError(f"{where} has {dimensions} dimensions, expected 1")
    count, _lower_bound = _unpack(_DIMENSION, field, _ARRAY_HEADER.size, f"the array size of {where}")
    start = _ARRAY_HEADER.size + _DIMENSION.size
    expected = start + count * (_INT32.size + kind.width)
    if count < 0 or len(field) != expected:
        raise CopyFormatError(f"{where} has {len(field)} bytes for {count} {kind.name} elements, expected {expected}")
    elements = np.frombuffer(
        field, dtype=np.dtype([("length", ">i4"), ("value", kind.wire)]), count=count, offset=start
    )
    if count and not (elements["length"] == kind.width).all():
        raise CopyFormatError(f"{where} has {kind.name} elements that are not {kind.width} bytes long")
    return elements["value"].astype(np.dtype(kind.wire).newbyteorder("="))


def _unpack(layout: struct.Struct, view: memoryview, position: int, what: str) -> tuple[int, ...]:
    if position + layout.size > len(view):
        raise CopyFormatError(f"the data ends inside {what}")
    return layout.unpack_from(view, position)
