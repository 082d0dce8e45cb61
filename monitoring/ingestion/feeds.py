"""The four feeds: their columns (with the names each published version uses) and file names.

The three published feeds (polls, hours, time zones) plus ``store_owners.csv``, which says which
owner each store belongs to (see :func:`~monitoring.ingestion.values.parse_owner`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.ingestion import values


class Feed(enum.Enum):
    """A kind of feed file; the order of members is the order a run loads them in (small files
    first, so their errors show before the long polls file is read)."""

    TIMEZONES = "timezones"
    HOURS = "hours"
    OWNERS = "owners"
    POLLS = "polls"


@dataclass(frozen=True)
class Column:
    """A required column: its name in messages, the header spellings it accepts, its parser."""

    name: str
    parse: Callable[[str], object]
    aliases: tuple[str, ...] = ()

    def matches(self, header_name: str) -> bool:
        key = normalise_header(header_name)
        return key == normalise_header(self.name) or key in {normalise_header(a) for a in self.aliases}


@dataclass(frozen=True)
class FeedSpec:
    feed: Feed
    columns: tuple[Column, ...]
    # Base names without ".csv"/".csv.gz", compared after normalise_file_stem.
    file_stems: tuple[str, ...]

    @property
    def example_header(self) -> str:
        return ",".join(column.name for column in self.columns)

    def other_delimiter(self, header: list[str]) -> str | None:
        """The separator other than a comma (``;``, tab, ``|``) that splits a header read with commas
        into this feed's columns, or ``None``: the file was saved with the wrong separator."""
        text = ",".join(header)
        for delimiter in OTHER_DELIMITERS:
            names = text.split(delimiter)
            if len(names) > 1 and all(any(column.matches(name) for name in names) for column in self.columns):
                return delimiter
        return None


# Separators spreadsheet programs use instead of commas, and how messages name them.
OTHER_DELIMITERS = (";", "\t", "|")
DELIMITER_NAMES = {";": "“;”", "\t": "tabs", "|": "“|”"}

STORE_ID = Column("store_id", values.parse_store_id)
# The reader gives this column the range of times the load accepts (values.PollTimeRange).
POLL_TIME = Column("timestamp_utc", values.parse_timestamp)

SPECS = {
    Feed.POLLS: FeedSpec(
        Feed.POLLS,
        (STORE_ID, Column("status", values.parse_status), POLL_TIME),
        file_stems=("store_status",),
    ),
    Feed.HOURS: FeedSpec(
        Feed.HOURS,
        (
            STORE_ID,
            # 2023 calls it "day", 2024 "dayOfWeek".
            Column("day", values.parse_day, aliases=("dayOfWeek", "day_of_week")),
            Column("start_time_local", values.parse_local_time),
            Column("end_time_local", values.parse_local_time),
        ),
        # "Menu hours.csv" is the name of the older published copy.
        file_stems=("menu_hours",),
    ),
    Feed.TIMEZONES: FeedSpec(
        Feed.TIMEZONES,
        (STORE_ID, Column("timezone_str", values.parse_timezone)),
        file_stems=("timezones",),
    ),
    # Not a published feed: who owns which store, written by whoever runs the service.
    Feed.OWNERS: FeedSpec(
        Feed.OWNERS,
        (STORE_ID, Column("owner", values.parse_owner)),
        file_stems=("store_owners",),
    ),
}

# BigQuery exports keep their generated name ("bq-results-20230125-202210-1674678181880.csv"):
# the header tells which feed such a file holds.
EXPORT_FILE_PREFIX = "bq_results"


def normalise_header(name: str) -> str:
    return name.strip().lower()


def normalise_file_stem(stem: str) -> str:
    """``Menu hours`` and ``menu-hours`` both become ``menu_hours``."""
    return stem.strip().lower().replace(" ", "_").replace("-", "_")


def feed_of_header(header: list[str]) -> Feed | None:
    """The feed whose columns a header holds, or ``None`` when it matches none of them."""
    for feed, spec in SPECS.items():
        if all(any(column.matches(name) for name in header) for column in spec.columns):
            return feed
    return None


def delimiter_splitting(field: str, width: int) -> str | None:
    """The separator of :data:`OTHER_DELIMITERS` that would split ``field``, a row read as one
    field, into ``width`` fields, or ``None``."""
    return next((delimiter for delimiter in OTHER_DELIMITERS if field.count(delimiter) == width - 1), None)


def wrong_delimiter(delimiter: str, what: str) -> str:
    return f"the {what} are separated by {DELIMITER_NAMES[delimiter]}; the feeds use commas"
