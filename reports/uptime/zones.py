"""Local wall-clock time to UTC, vectorised, with each date's own daylight-saving offset.

A local time is read the way ``zoneinfo`` reads it with ``fold=0``: an ambiguous time (the
repeated hour in autumn) is its first occurrence, and a time that does not exist (the skipped
hour in spring) is read with the offset in force before the change.

Times are plain integers here and may lie beyond what ``datetime`` can hold (years 1 to 9999):
the database holds polls up to 9999-12-31 23:59:59.999999 and sessions reach a few days past
the newest one. Out there a zone keeps the offset it has at the edge of that range.
"""

import datetime as dt
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from reports.uptime.inputs import MICROSECONDS_PER_SECOND

_PROBE_STEP_SECONDS = 3600  # offsets never change twice within an hour
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The UTC seconds whose local time ``datetime`` can hold in every zone (offsets are below a
# day): the range of datetime less a day at each end.
_FIRST_SAFE_SECOND = (dt.datetime.min.replace(tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(seconds=1) + 86_400
_LAST_SAFE_SECOND = (dt.datetime.max.replace(tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(seconds=1) - 86_400


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset_seconds(zone: ZoneInfo, utc_seconds: int) -> int:
    """The zone's UTC offset at an instant; beyond the range datetime holds, the offset at its edge."""
    clamped = min(max(utc_seconds, _FIRST_SAFE_SECOND), _LAST_SAFE_SECOND)
    offset = dt.datetime.fromtimestamp(clamped, zone).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return int(offset.total_seconds())


@lru_cache(maxsize=1024)
def utc_offset_changes(zone_name: str, start_us: int, end_us: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The zone's UTC offsets (seconds) between two instants and the instants they change.

    Returns ``(transitions, offsets)`` with ``len(offsets) == len(transitions) + 1``: offset
    ``offsets[k]`` holds from ``transitions[k-1]`` (UTC seconds) until ``transitions[k]``.
    """
    zone = _zone(zone_name)
    first = start_us // MICROSECONDS_PER_SECOND - _PROBE_STEP_SECONDS
    last = end_us // MICROSECONDS_PER_SECOND + _PROBE_STEP_SECONDS
    probes = range(first, last + _PROBE_STEP_SECONDS, _PROBE_STEP_SECONDS)
    transitions, offsets = [], [_offset_seconds(zone, first)]
    previous_probe = first
    for probe in probes:
        offset = _offset_seconds(zone, probe)
        if offset != offsets[-1]:
            # Bisect to the first second with the new offset.
            low, high = previous_probe, probe
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_seconds(zone, middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            transitions.append(high)
            offsets.append(offset)
        previous_probe = probe
    return tuple(transitions), tuple(offsets)


def local_to_utc(local_us: np.ndarray, zone_name: str, span: tuple[int, int] | None = None) -> np.ndarray:
    """UTC microseconds of local wall times (given as microseconds since 1970-01-01 00:00 local).

    ``span`` (local µs) bounds the times when known: callers converting many batches over the
    same dates pass it, so the zone's offset changes are looked up once.
    """
    if local_us.size == 0:
        return local_us.copy()
    low, high = span if span is not None else (int(local_us.min()), int(local_us.max()))
    # Widen by a day: UTC and local differ by at most ~26 hours.
    margin = 86_400 * MICROSECONDS_PER_SECOND
    transitions, offsets = utc_offset_changes(zone_name, low - margin, high + margin)
    offsets_us = np.array(offsets, dtype=np.int64) * MICROSECONDS_PER_SECOND
    # Offset k applies to local times from (transition + the larger of the two offsets) on:
    # that threshold sends gap times and ambiguous times to the offset before the change.
    thresholds = np.array(
        [(transitions[k] + max(offsets[k], offsets[k + 1])) * MICROSECONDS_PER_SECOND for k in range(len(transitions))],
        dtype=np.int64,
    )
    which = np.searchsorted(thresholds, local_us, side="right")
    return local_us - offsets_us[which]


def utc_to_local(utc_us: np.ndarray, zone_name: str, span: tuple[int, int] | None = None) -> np.ndarray:
    """Local wall times (microseconds since 1970-01-01 00:00 local) of UTC instants, exact.

    ``span`` (UTC µs) bounds the instants when known, as for :func:`local_to_utc`.
    """
    if utc_us.size == 0:
        return utc_us.copy()
    low, high = span if span is not None else (int(utc_us.min()), int(utc_us.max()))
    transitions, offsets = utc_offset_changes(zone_name, low, high)
    offsets_us = np.array(offsets, dtype=np.int64) * MICROSECONDS_PER_SECOND
    # Offset k holds from transition k-1 on (its first second), so an instant takes the offset
    # after every transition at or before it.
    changes = np.array(transitions, dtype=np.int64) * MICROSECONDS_PER_SECOND
    local: np.ndarray = utc_us + offsets_us[np.searchsorted(changes, utc_us, side="right")]
    return local
