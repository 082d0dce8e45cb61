"""Typed parsing of single feed values, with messages that say what a good value looks like.

These are the careful, general parsers: every accepted spelling of a value goes through them.
``reading`` has a faster path for the common spelling of a poll row and falls back on these.
"""

from __future__ import annotations

import datetime as dt
import re

from monitoring.ingestion.errors import BadValue
from monitoring.models import PollStatus
from monitoring.timezones import is_valid_timezone

UTC = dt.UTC

STORE_ID_MAX_LENGTH = 64  # Store.store_id's max_length
STATUSES = tuple(PollStatus.values)
TIMESTAMP_EXAMPLE = "2023-01-25 18:13:22.47922 UTC"

# The feeds' own spelling: a space, up to 6 fraction digits and " UTC" (the real files have 2 to 6).
FEED_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})? UTC", re.ASCII)
# ISO 8601 with a zone: 'T' or a space, seconds optional, 'Z' or an offset like +05:30 or -0600.
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d(?::?\d\d)?)", re.ASCII)
_ZONELESS_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?", re.ASCII)
_LOCAL_TIME = re.compile(r"\d\d:\d\d(?::\d\d)?", re.ASCII)
_DAYS = {str(day): day for day in range(7)}


def parse_store_id(text: str) -> str:
    """The store id without surrounding spaces; any text of 1 to 64 printable characters."""
    store_id = text.strip()
    if not store_id:
        raise BadValue("the store id is empty")
    if len(store_id) > STORE_ID_MAX_LENGTH:
        raise BadValue(f"{store_id[:20]!r}... is {len(store_id)} characters; a store id has at most 64")
    if not store_id.isprintable():
        raise BadValue(f"{store_id!r} contains control characters (tab, line break, ...)")
    return store_id


def parse_status(text: str) -> str:
    """``active`` or ``inactive`` (any case, surrounding spaces ignored)."""
    status = text.strip().lower()
    if status not in STATUSES:
        raise BadValue(f"{text!r} is not a status (expected {' or '.join(STATUSES)})")
    return status


def parse_timestamp(text: str) -> dt.datetime:
    """An aware UTC datetime from ``2023-01-25 18:13:22.47922 UTC`` or ISO 8601 with ``Z`` or an
    offset (converted to UTC). A time without a zone is refused: it would have to be guessed."""
    value = text.strip()
    if FEED_TIMESTAMP.fullmatch(value):
        value = value[: -len(" UTC")] + "+00:00"
    elif not _ISO_TIMESTAMP.fullmatch(value):
        if _ZONELESS_TIMESTAMP.fullmatch(value):
            raise BadValue(f"{text!r} has no time zone (write e.g. {TIMESTAMP_EXAMPLE} or 2023-01-25T18:13:22Z)")
        raise BadValue(f"{text!r} is not a timestamp (expected e.g. {TIMESTAMP_EXAMPLE})")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        # Right shape, impossible date or time such as month 13 or 25 o'clock.
        raise BadValue(f"{text!r} is not a timestamp (expected e.g. {TIMESTAMP_EXAMPLE})") from None
    return moment.astimezone(UTC)


def parse_day(text: str) -> int:
    """A weekday number 0 (Monday) to 6 (Sunday)."""
    value = text.strip()
    day = _DAYS.get(value)
    if day is not None:
        return day
    try:
        number = int(value)
    except ValueError:
        raise BadValue(f"{text!r} is not a day of the week (expected 0 = Monday to 6 = Sunday)") from None
    if not 0 <= number <= 6:
        raise BadValue(f"{text!r} is outside 0..6 (0 = Monday, 6 = Sunday)")
    return number


def parse_local_time(text: str) -> dt.time:
    """A wall-clock time ``HH:MM:SS`` or ``HH:MM``."""
    value = text.strip()
    if _LOCAL_TIME.fullmatch(value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise BadValue(f"{text!r} is not a time of day (expected HH:MM:SS or HH:MM, e.g. 09:30:00)")


def parse_timezone(text: str) -> str:
    """A tz database zone name such as ``America/Chicago``."""
    name = text.strip()
    if not is_valid_timezone(name):
        raise BadValue(f"{text!r} is not a time zone of the tz database (e.g. America/Chicago)")
    return name
