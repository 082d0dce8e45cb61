"""Feed lines for the csv module, bounded so that no line is ever held in memory whole.

Over a plain file object the csv module reads a whole physical line before it parses any of
it, so one line of 300 MB would take 300 MB (and more) before anything could refuse it.
:class:`BoundedLines` hands the csv module one line at a time but reads at most the limit
plus one character per call, and refuses a row (its line, or its lines when a quoted field
spans several) as soon as it grows past the limit: memory stays within a few times the limit
whatever the file holds.
"""

from __future__ import annotations

import csv
import functools
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

# What the csv module gets in place of a refused line: an empty row, on the refused line's
# number (the csv module counts the lines it gets, and this keeps one for one).
REFUSED_LINE = "\n"


class RowTooLong(Exception):
    """A row spanning lines from ``first_line`` that passed ``limit`` characters on ``line``:
    a quoted field that stays open, so where the next row starts is unknown."""

    def __init__(self, first_line: int, line: int, limit: int):
        self.first_line = first_line
        self.line = line
        self.limit = limit
        super().__init__(f"lines {first_line}-{line}: row longer than {limit} characters")


class BoundedLines:
    """The physical lines of ``text`` (opened with ``newline=""``, line ends kept) for
    ``csv.reader``, each row at most ``max_chars`` characters long, line ends included.

    The reader of the rows sets ``row_chars`` to 0 after every row the csv module returns
    (empty ones included) and after every ``csv.Error``: the characters counted since then are
    the row being read. A single line over the limit is replaced by an empty line while
    ``refused`` is true (so the reader sees an empty row and can refuse that line), and its rest
    is skipped if iteration goes on; a row of several lines over the limit raises
    :class:`RowTooLong`, which ends the iteration.

    ``first_line`` is the line the row being read started on (a row spans lines when a quoted
    field holds line breaks), and ``exhausted`` becomes true when the text has no more lines: a
    row the csv module returns after that was cut off by the end of the file, inside a quote.
    """

    def __init__(self, text: TextIO, max_chars: int):
        self.max_chars = max_chars
        self.row_chars = 0
        self.refused = False
        self.first_line = 0
        self.exhausted = False
        self._text = text

    def __iter__(self) -> Iterator[str]:
        # The hot loop of every load (a generator: cheaper per line than a __next__ method).
        limit = self.max_chars
        # One more than fits: a chunk that long is always too long, and a line never longer.
        next_chunk = functools.partial(self._text.readline, limit + 1)
        number = first = 0
        source: Iterator[str] = iter(next_chunk, "")
        while True:
            for line in source:
                number += 1
                chars = self.row_chars
                if not chars:
                    self.first_line = first = number
                chars += len(line)
                if chars <= limit:
                    self.row_chars = chars
                    yield line
                elif first != number:
                    raise RowTooLong(first, number, limit)
                else:
                    self.refused = True
                    yield REFUSED_LINE
                    # Reached only if the reader goes on: a run that stops at this line does
                    # not read the rest of a 300 MB line first.
                    self.refused = False
                    held = _skip_rest_of_line(line, next_chunk, limit + 1)
                    if held:
                        source = itertools.chain((held,), source)
                        break
            else:
                self.exhausted = True
                return


def _skip_rest_of_line(chunk: str, next_chunk: Callable[[], str], chunk_size: int) -> str:
    """Read past the end of the line whose first chunk was ``chunk``; returns what was read of
    the next line (nothing, unless a lone CR ended this one exactly at a chunk's end)."""
    # A chunk shorter than the chunk size ended at a line end or at the end of the file.
    while len(chunk) == chunk_size:
        if chunk.endswith("\n"):
            return ""
        following = next_chunk()
        if chunk.endswith("\r"):
            # The chunk may have cut a CRLF in two; otherwise a lone CR ended the line and
            # what follows begins the next one.
            return "" if following == "\n" else following
        chunk = following
    return ""


@contextmanager
def csv_field_limit(max_chars: int) -> Iterator[None]:
    """Let the csv module accept fields up to ``max_chars`` while the block runs.

    Rows are bounded by :class:`BoundedLines` at the same size, so no field can reach the limit
    and the csv module's own "field larger than field limit (131072)" shows only if other code
    lowers the limit meanwhile (the reader then words it as a sentence). The limit is
    process-wide, hence set for the reading only and restored after it.
    """
    previous = csv.field_size_limit(max_chars)
    try:
        yield
    finally:
        csv.field_size_limit(previous)
