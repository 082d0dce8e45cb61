"""Errors a user can cause with a feed file: each names the file, line and field to fix."""

from __future__ import annotations


class IngestionError(Exception):
    """A feed file that cannot be loaded; ``str()`` is a sentence naming what to fix.

    ``line`` is the 1-based physical line of the file (the header is line 1), ``field`` the
    column's name in the feed; either is ``None`` when the problem is not tied to one.
    """

    def __init__(self, file_name: str, problem: str, *, line: int | None = None, field: str | None = None):
        self.file_name = file_name
        self.problem = problem
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = self.file_name
        if self.line is not None:
            where += f" line {self.line}"
        if self.field is not None:
            where += f", field {self.field}"
        return f"{where}: {self.problem}"


class InvalidRow(IngestionError):
    """One data row is malformed; ``--skip-invalid`` skips these instead of stopping."""


class BadValue(ValueError):
    """A single CSV value is malformed; the message explains it without file or line, which the
    row reader adds when it turns this into an :class:`InvalidRow`."""
