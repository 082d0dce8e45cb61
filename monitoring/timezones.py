"""Time zone names: validation against the tz database shipped with Python/tzdata."""

from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

# The feeds' rule: a store without a time zone row is in this zone.
DEFAULT_TIMEZONE = "America/Chicago"


@cache
def is_valid_timezone(name: str) -> bool:
    """True when ``name`` is a zone of the tz database (e.g. ``America/Chicago``)."""
    if not name or name != name.strip():
        return False
    if name in _known_zones():
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        return False
    return True


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone_name(value: str) -> None:
    if not is_valid_timezone(value):
        raise ValidationError("%(value)r is not a time zone of the tz database.", params={"value": value})
