"""Errors a user can cause with a feed file: each names the file, line and field to fix."""

from __future__ import annotations

import csv
import re

# The csv module's words for a field over its limit, e.g. "field larger than field limit (131072)".
_FIELD_LIMIT_ERROR = re.compile(r"field larger than field limit \((\d+)\)")


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


class InvalidRows(IngestionError):
    """Several problems found in one file (a caller asked for up to ``max_problems`` of them,
    as the push API does): ``problems`` in file order, each an :class:`IngestionError` with its
    own line and field. ``str()`` is the first problem and how many more there are."""

    def __init__(self, file_name: str, problems: list[IngestionError]):
        self.problems = problems
        first = problems[0]
        super().__init__(file_name, first.problem, line=first.line, field=first.field)

    def describe(self) -> str:
        first = self.problems[0].describe()
        more = len(self.problems) - 1
        if not more:
            return first
        return f"{first} (and {plural(more, 'more problem')} after it)"

    def describe_all(self) -> list[str]:
        return [problem.describe() for problem in self.problems]


class BadValue(ValueError):
    """A single CSV value is malformed; the message explains it without file or line, which the
    row reader adds when it turns this into an :class:`InvalidRow`."""


def csv_problem(error: csv.Error) -> str:
    """The csv module's complaint about a line as a sentence."""
    too_long = _FIELD_LIMIT_ERROR.fullmatch(str(error))
    if too_long:
        # Reached only when other code lowered the process-wide limit while the file was read.
        return (
            f"a field is longer than {int(too_long[1]):,} characters, the most the CSV reader was allowed to read; "
            "a feed field is a few dozen characters"
        )
    return f"not a CSV line ({error})"


def shown_header(header: list[str]) -> str:
    """The header as messages quote it: whole when short, else its start and its length."""
    text = ",".join(header)
    if not text:
        return "nothing"
    if len(text) <= 200:
        return text
    return f"{text[:100]}... ({len(text):,} characters)"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
