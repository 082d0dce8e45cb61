"""Business sessions: weekly local opening hours expanded into merged UTC intervals per store.

Stores that share a time zone and a weekly pattern share their sessions, so each pattern is
expanded, converted to UTC and merged once, then copied to its stores.
"""

from dataclasses import dataclass

import numpy as np

from reports.uptime.inputs import MICROSECONDS_PER_DAY, FeedArrays
from reports.uptime.zones import local_to_utc

# 1970-01-01, day 0 of the epoch, was a Thursday (Monday = 0).
_EPOCH_WEEKDAY = 3


@dataclass(frozen=True)
class SessionArrays:
    """Disjoint business sessions ``[start, end)`` in UTC microseconds, sorted by (store, start)."""

    store: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.store)

    def take(self, chosen: np.ndarray | slice) -> "SessionArrays":
        return SessionArrays(self.store[chosen], self.start[chosen], self.end[chosen])


@dataclass(frozen=True)
class WeeklyHours:
    """Business hours rows sorted by (store, day, start, end): each store's weekly pattern is
    one contiguous block, written the same way whatever order the feed listed its rows in."""

    store: np.ndarray
    rows: np.ndarray  # shape (n, 3): day, local start µs, local end µs

    @classmethod
    def from_feeds(cls, feeds: FeedArrays) -> "WeeklyHours":
        order = np.lexsort((feeds.hours_end_us, feeds.hours_start_us, feeds.hours_day, feeds.hours_store))
        rows = np.column_stack((feeds.hours_day, feeds.hours_start_us, feeds.hours_end_us))
        return cls(store=np.asarray(feeds.hours_store, dtype=np.int64)[order], rows=rows.astype(np.int64)[order])

    def of_stores(self, stores: np.ndarray) -> "WeeklyHours":
        """The rows of the given stores (sorted store indices)."""
        if len(stores) == 0:
            return WeeklyHours(self.store[:0], self.rows[:0])
        first = np.searchsorted(self.store, stores[0], side="left")
        last = np.searchsorted(self.store, stores[-1], side="right")
        store, rows = self.store[first:last], self.rows[first:last]
        keep = np.isin(store, stores)
        return WeeklyHours(store[keep], rows[keep])


def business_sessions(
    hours: WeeklyHours, store_zones: list[str], stores: np.ndarray, range_start_us: int, range_end_us: int
) -> SessionArrays:
    """The merged business sessions of ``stores`` (sorted store indices), cut to the range.

    A store without hours rows gets one session covering the whole range (open all the time).
    """
    stores = np.asarray(stores, dtype=np.int64)
    hours = hours.of_stores(stores)
    hours_stores, store_group, group_zones, group_patterns = _group_by_zone_and_pattern(store_zones, hours)
    group_sessions = _expand_patterns(group_zones, group_patterns, range_start_us, range_end_us)
    with_hours = _copy_to_stores(group_sessions, hours_stores, store_group)

    always_open = stores[~np.isin(stores, hours_stores)]
    store = np.concatenate((with_hours.store, always_open))
    start = np.concatenate((with_hours.start, np.full(len(always_open), range_start_us, dtype=np.int64)))
    end = np.concatenate((with_hours.end, np.full(len(always_open), range_end_us, dtype=np.int64)))
    # Each store's sessions are already in time order; a stable sort by store keeps that.
    order = np.argsort(store, kind="stable")
    return SessionArrays(store=store[order], start=start[order], end=end[order])


def _group_by_zone_and_pattern(
    store_zones: list[str], hours: WeeklyHours
) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
    """Stores with hours, each one's group, and per group its zone and weekly rows."""
    row_store, pattern_rows = hours.store, hours.rows
    if len(row_store) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, [], []
    cuts = np.flatnonzero(np.diff(row_store)) + 1
    firsts = np.concatenate(([0], cuts))
    lasts = np.concatenate((cuts, [len(row_store)]))
    hours_stores = row_store[firsts]
    group_of_key: dict[tuple[str, bytes], int] = {}
    group_zones: list[str] = []
    group_patterns: list[np.ndarray] = []
    store_group = np.empty(len(hours_stores), dtype=np.int64)
    for i, (first, last) in enumerate(zip(firsts.tolist(), lasts.tolist(), strict=True)):
        zone = store_zones[hours_stores[i]]
        block = pattern_rows[first:last]
        key = (zone, block.tobytes())
        group = group_of_key.get(key)
        if group is None:
            group = group_of_key[key] = len(group_zones)
            group_zones.append(zone)
            group_patterns.append(block)
        store_group[i] = group
    return hours_stores, store_group, group_zones, group_patterns


def _expand_patterns(
    group_zones: list[str], group_patterns: list[np.ndarray], range_start_us: int, range_end_us: int
) -> SessionArrays:
    """Merged UTC sessions of each (zone, weekly pattern) group; ``store`` holds the group."""
    if not group_patterns:
        empty = np.zeros(0, dtype=np.int64)
        return SessionArrays(empty, empty, empty)
    counts = np.array([len(p) for p in group_patterns])
    group = np.repeat(np.arange(len(group_patterns)), counts)
    rows = np.concatenate(group_patterns)
    day, start_of_day, end_of_day = rows[:, 0], rows[:, 1], rows[:, 2]

    # Every local date that can touch the range, whatever the zone's offset (< 1 day) and
    # overnight rows from the day before.
    first_date = range_start_us // MICROSECONDS_PER_DAY - 2
    last_date = range_end_us // MICROSECONDS_PER_DAY + 2
    first_weekday = (first_date + _EPOCH_WEEKDAY) % 7
    weeks = (last_date - first_date) // 7 + 1
    dates = (first_date + (day - first_weekday) % 7)[:, None] + 7 * np.arange(weeks)[None, :]
    in_range = dates <= last_date
    row_index = np.broadcast_to(np.arange(len(rows))[:, None], dates.shape)[in_range]
    dates = dates[in_range]

    local_start = dates * MICROSECONDS_PER_DAY + start_of_day[row_index]
    # end <= start: the interval ends on the next date (overnight, or 24 h when equal).
    local_end = (
        dates * MICROSECONDS_PER_DAY
        + end_of_day[row_index]
        + np.where(end_of_day[row_index] <= start_of_day[row_index], MICROSECONDS_PER_DAY, 0)
    )
    interval_group = group[row_index]

    utc_start = np.empty_like(local_start)
    utc_end = np.empty_like(local_end)
    zone_of_group = np.array(group_zones, dtype=object)
    interval_zone = zone_of_group[interval_group]
    for zone in set(group_zones):
        mask = interval_zone == zone
        converted = local_to_utc(
            np.concatenate((local_start[mask], local_end[mask])),
            zone,
            span=(first_date * MICROSECONDS_PER_DAY, (last_date + 2) * MICROSECONDS_PER_DAY),
        )
        utc_start[mask], utc_end[mask] = np.split(converted, 2)

    utc_start = np.maximum(utc_start, range_start_us)
    utc_end = np.minimum(utc_end, range_end_us)
    # Drops intervals outside the range and the rare interval that a daylight-saving gap
    # turns empty or backwards in UTC.
    keep = utc_end > utc_start
    return _merge(interval_group[keep], utc_start[keep], utc_end[keep], range_start_us, range_end_us)


def _merge(
    owner: np.ndarray, start: np.ndarray, end: np.ndarray, range_start_us: int, range_end_us: int
) -> SessionArrays:
    """Merge overlapping or touching intervals of the same owner."""
    if len(owner) == 0:
        return SessionArrays(owner, start, end)
    # Owner-major keys make a running maximum of ends restart at each owner.
    span = range_end_us - range_start_us + 1
    start_key = owner * span + (start - range_start_us)
    end_key = owner * span + (end - range_start_us)
    order = np.argsort(start_key, kind="stable")
    owner, start, end = owner[order], start[order], end[order]
    start_key, end_key = start_key[order], end_key[order]
    reach = np.maximum.accumulate(end_key)
    opens = np.ones(len(owner), dtype=bool)
    opens[1:] = start_key[1:] > reach[:-1]
    firsts = np.flatnonzero(opens)
    return SessionArrays(store=owner[firsts], start=start[firsts], end=np.maximum.reduceat(end, firsts))


def _copy_to_stores(group_sessions: SessionArrays, hours_stores: np.ndarray, store_group: np.ndarray) -> SessionArrays:
    """Give each store a copy of its group's sessions (``group_sessions.store`` is the group)."""
    n_groups = int(store_group.max()) + 1 if len(store_group) else 0
    per_group = np.bincount(group_sessions.store, minlength=n_groups)
    group_first = np.concatenate(([0], np.cumsum(per_group)[:-1])) if n_groups else per_group
    per_store = per_group[store_group]
    total = int(per_store.sum())
    store_first = np.cumsum(per_store) - per_store
    source = np.repeat(group_first[store_group] - store_first, per_store) + np.arange(total)
    return SessionArrays(
        store=np.repeat(hours_stores, per_store),
        start=group_sessions.start[source],
        end=group_sessions.end[source],
    )
