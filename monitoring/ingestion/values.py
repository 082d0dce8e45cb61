"""Typed parsing of single feed values, with messages that say what a good value looks like.

These are the careful, general parsers: every accepted spelling of a value goes through them.
``reading`` has a faster path for the common spelling of a poll row and falls back on these.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.text import slugify

from monitoring.ingestion.errors import BadValue
from monitoring.models import PollStatus
from monitoring.timezones import is_valid_timezone

UTC = dt.UTC

STORE_ID_MAX_LENGTH = 64  # Store.store_id's max_length
OWNER_NAME_MAX_LENGTH = 200  # Owner.name's max_length
OWNER_SLUG_MAX_LENGTH = 100  # Owner.slug's max_length
TIMEZONE_MAX_LENGTH = 64  # Timezone.timezone_str's max_length; real names have at most 32
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


def is_store_id(text: str) -> bool:
    """Whether ``text`` is a store id exactly as the feeds give them (1 to 64 printable characters,
    no surrounding spaces): what a URL or a search may name without asking the database."""
    try:
        return parse_store_id(text) == text
    except BadValue:
        return False


def parse_status(text: str) -> str:
    """``active`` or ``inactive`` (any case, surrounding spaces ignored)."""
    status = text.strip().lower()
    if status not in STATUSES:
        raise BadValue(f"{_shown(text)} is not a status (expected {' or '.join(STATUSES)})")
    return status


@dataclass(frozen=True)
class PollTimeRange:
    """The poll times a load accepts, both ends included: from ``earliest`` to ``latest``, which
    is ``future_minutes`` after the time of the load (the message says so)."""

    earliest: dt.datetime
    latest: dt.datetime
    future_minutes: int

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.earliest <= moment <= self.latest

    def refusal(self, text: str) -> BadValue:
        """The error for a poll time ``text`` outside the range."""
        return BadValue(
            f"{_shown(text)} is outside the poll times this load accepts, {_utc_text(self.earliest)} to "
            f"{_utc_text(self.latest)} ({self.future_minutes} minutes after the load started, setting "
            "MAX_FUTURE_MINUTES); correct the time, or the clock that wrote it"
        )


def parse_timestamp(text: str, allowed: PollTimeRange | None = None) -> dt.datetime:
    """An aware UTC datetime from ``2023-01-25 18:13:22.47922 UTC`` or ISO 8601 with ``Z`` or an
    offset (converted to UTC), within ``allowed`` when given. A time without a zone is UTC, as
    everywhere in the service (the column is ``timestamp_utc``; ``parse_as_of`` reads report
    times the same way)."""
    value = text.strip()
    if FEED_TIMESTAMP.fullmatch(value):
        value = value[: -len(" UTC")] + "+00:00"
    elif _ZONELESS_TIMESTAMP.fullmatch(value):
        value += "+00:00"
    elif not _ISO_TIMESTAMP.fullmatch(value):
        raise BadValue(f"{_shown(text)} is not a timestamp (expected e.g. {TIMESTAMP_EXAMPLE})")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        # Right shape, impossible date or time such as month 13 or 25 o'clock.
        raise BadValue(f"{_shown(text)} is not a timestamp (expected e.g. {TIMESTAMP_EXAMPLE})") from None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-05:00, which is in the year 10000 in UTC.
        if allowed is not None:
            raise allowed.refusal(text) from None
        raise BadValue(f"{_shown(text)} is outside the years 1 to 9999 in UTC") from None
    if allowed is not None and moment not in allowed:
        raise allowed.refusal(text)
    return moment


def parse_day(text: str) -> int:
    """A weekday number 0 (Monday) to 6 (Sunday)."""
    value = text.strip()
    day = _DAYS.get(value)
    if day is not None:
        return day
    try:
        number = int(value)
    except ValueError:
        raise BadValue(f"{_shown(text)} is not a day of the week (expected 0 = Monday to 6 = Sunday)") from None
    if not 0 <= number <= 6:
        raise BadValue(f"{_shown(text)} is outside 0..6 (0 = Monday, 6 = Sunday)")
    return number


def parse_local_time(text: str) -> dt.time:
    """A wall-clock time ``HH:MM:SS`` or ``HH:MM``."""
    value = text.strip()
    if _LOCAL_TIME.fullmatch(value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise BadValue(f"{_shown(text)} is not a time of day (expected HH:MM:SS or HH:MM, e.g. 09:30:00)")


def parse_timezone(text: str) -> str:
    """A tz database zone name such as ``America/Chicago``."""
    name = text.strip()
    # Checked first: a name of a megabyte is neither looked up as a file nor kept in the cache.
    if len(name) > TIMEZONE_MAX_LENGTH or not is_valid_timezone(name):
        raise BadValue(f"{_shown(text)} is not a time zone of the tz database (e.g. America/Chicago)")
    return name


@dataclass(frozen=True)
class OwnerName:
    """An owner as a feed row names it: the ``slug`` it is found by, and the ``name`` it gets if it
    has to be created (the text as written, without surrounding spaces)."""

    slug: str
    name: str


def parse_owner(text: str) -> OwnerName | None:
    """The owner a ``store_owners.csv`` row names, by its slug or its name: either way it is the
    owner whose slug is ``slugify(text)`` (``Bella Napoli`` and ``bella-napoli`` are one owner).
    An empty field is ``None``: the store has no owner. A text without letters or digits (whose
    slug would be empty), or too long for the owner's name or slug, is refused."""
    name = text.strip()
    if not name:
        return None
    if not name.isprintable():
        raise BadValue(f"{_shown(text)} contains control characters (tab, line break, ...)")
    if len(name) > OWNER_NAME_MAX_LENGTH:
        raise BadValue(
            f"{_shown(name)} is longer than an owner's name may be ({OWNER_NAME_MAX_LENGTH} characters); "
            "name the owner by its slug or a shorter name"
        )
    slug = slugify(name)
    if not slug:
        raise BadValue(
            f"{_shown(name)} has no letters or digits to find the owner by; write the owner's slug or name, "
            "e.g. bella-napoli or Bella Napoli, or leave the field empty for a store without owner"
        )
    if len(slug) > OWNER_SLUG_MAX_LENGTH:
        raise BadValue(
            f"{_shown(name)} makes a slug of {len(slug)} characters, and an owner's slug has at most "
            f"{OWNER_SLUG_MAX_LENGTH}; name the owner by a shorter name"
        )
    return OwnerName(slug=slug, name=name)


def _utc_text(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _shown(text: str) -> str:
    """A value as messages quote it: whole when short, else its start and its length (a field
    may be a megabyte long)."""
    if len(text) <= 60:
        return repr(text)
    return f"{text[:40]!r}... ({len(text):,} characters)"
