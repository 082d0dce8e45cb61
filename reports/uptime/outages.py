"""Outages (rules 10-11): maximal inactive intervals inside one business session.

They are cut from the very status segments that uptime and downtime are summed from, so an
outage list can never disagree with the figures: per store, the outages' lengths inside a
window add up to its downtime there, to the microsecond.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from reports.uptime.extrapolation import SegmentArrays
from reports.uptime.inputs import MICROSECONDS_PER_SECOND
from reports.uptime.sessions import SessionArrays
from reports.uptime.zones import utc_to_local

OUTAGE_CSV_COLUMNS = ("store_id", "start_utc", "end_utc", "start_local", "end_local", "minutes")
MINUTE_US = 60 * MICROSECONDS_PER_SECOND


@dataclass(frozen=True)
class OutageArrays:
    """Outages sorted by (store, start), cut to ``[lookback start, as_of)``: nothing after as_of counts.

    ``store`` is the store's position in the input FeedArrays; ``session_start`` and
    ``session_end`` bound the business session holding the outage (as the engine holds it: cut
    to the lookback's start and to a day past as_of); ``ongoing`` says the inactive status goes
    on at as_of (the outage is cut there, not ended).
    """

    as_of_us: int
    lookback_start_us: int
    store: np.ndarray
    start: np.ndarray
    end: np.ndarray
    session_start: np.ndarray
    session_end: np.ndarray
    ongoing: np.ndarray

    def __len__(self) -> int:
        return len(self.store)

    @property
    def length_us(self) -> np.ndarray:
        length: np.ndarray = self.end - self.start
        return length

    def started_before(self, instant_us: int) -> np.ndarray:
        """Which outages began before an instant, e.g. ``as_of - 7 days``: before the week."""
        before: np.ndarray = self.start < instant_us
        return before

    def overlap_us(self, window_start_us: int) -> np.ndarray:
        """Each outage's length inside the window ``[window_start, as_of)``."""
        overlap: np.ndarray = np.maximum(self.end - np.maximum(self.start, window_start_us), 0)
        return overlap

    def take(self, chosen: np.ndarray | slice) -> "OutageArrays":
        return OutageArrays(
            self.as_of_us,
            self.lookback_start_us,
            self.store[chosen],
            self.start[chosen],
            self.end[chosen],
            self.session_start[chosen],
            self.session_end[chosen],
            self.ongoing[chosen],
        )

    def of_store(self, store: int) -> "OutageArrays":
        """The outages of one store (its position in the input FeedArrays), by a binary search."""
        first, last = np.searchsorted(self.store, [store, store + 1])
        return self.take(slice(int(first), int(last)))

    def overlapping(self, window_start_us: int) -> np.ndarray:
        """Which outages overlap the window ``[window_start, as_of)`` by a positive length (rule 11):
        every outage ends by as_of, so those ending after the window's start."""
        overlapping: np.ndarray = self.end > window_start_us
        return overlapping

    def counts(self, window_start_us: int, n_stores: int) -> np.ndarray:
        """Per store position: the outages overlapping ``[window_start, as_of)`` by a positive length."""
        counts: np.ndarray = np.bincount(self.store[self.overlapping(window_start_us)], minlength=n_stores)
        return counts

    def longest_us(self, window_start_us: int, n_stores: int) -> np.ndarray:
        """Per store position: the longest outage cut to ``[window_start, as_of)`` (0 when none)."""
        longest = np.zeros(n_stores, dtype=np.int64)
        inside = self.overlapping(window_start_us)
        store, overlap = self.store[inside], self.overlap_us(window_start_us)[inside]
        if len(store):
            # Outages come sorted by store: one maximum per run of the same store.
            firsts = np.flatnonzero(np.r_[True, store[1:] != store[:-1]])
            longest[store[firsts]] = np.maximum.reduceat(overlap, firsts)
        return longest

    @classmethod
    def concatenate(cls, parts: Sequence["OutageArrays"], as_of_us: int, lookback_start_us: int) -> "OutageArrays":
        """Parts that cover increasing ranges of store positions, joined into one."""

        def joined(field: str, dtype: type) -> np.ndarray:
            return np.concatenate([getattr(p, field) for p in parts] or [np.zeros(0, dtype)])

        return cls(
            as_of_us=as_of_us,
            lookback_start_us=lookback_start_us,
            store=joined("store", np.int64),
            start=joined("start", np.int64),
            end=joined("end", np.int64),
            session_start=joined("session_start", np.int64),
            session_end=joined("session_end", np.int64),
            ongoing=joined("ongoing", bool),
        )


def find_outages(
    segments: SegmentArrays, sessions: SessionArrays, as_of_us: int, lookback_start_us: int
) -> OutageArrays:
    """The outages of the stores whose status segments and sessions are given (rule 10).

    Consecutive inactive segments merge: segments tile the sessions exactly and a store's
    sessions never touch, so two inactive segments of a store that meet are in one session.
    """
    down = ~np.asarray(segments.active, dtype=bool)
    store, start, end = segments.store[down], segments.start[down], segments.end[down]
    if len(store) == 0 or len(sessions) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return OutageArrays(as_of_us, lookback_start_us, empty, empty, empty, empty, empty, np.zeros(0, bool))
    # Store-major keys of instants: a store's instants sort together, and keys of different
    # stores never meet (every offset is below the span).
    base = int(min(sessions.start.min(), start.min()))
    span = int(max(sessions.end.max(), end.max())) - base + 1
    start_key = store * span + (start - base)
    order = np.argsort(start_key)
    start_key, store, start, end = start_key[order], store[order], start[order], end[order]
    end_key = store * span + (end - base)
    opens = np.ones(len(store), dtype=bool)
    opens[1:] = start_key[1:] != end_key[:-1]
    firsts = np.flatnonzero(opens)
    lasts = np.r_[firsts[1:] - 1, len(store) - 1]
    store, start, start_key, whole_end = store[firsts], start[firsts], start_key[firsts], end[lasts]

    # Nothing after as_of counts; an outage running past it is cut there and ongoing.
    kept = start < as_of_us
    store, start, start_key, whole_end = store[kept], start[kept], start_key[kept], whole_end[kept]
    session_keys = sessions.store * span + (sessions.start - base)
    session = np.searchsorted(session_keys, start_key, side="right") - 1
    return OutageArrays(
        as_of_us=as_of_us,
        lookback_start_us=lookback_start_us,
        store=store,
        start=np.maximum(start, lookback_start_us),
        end=np.minimum(whole_end, as_of_us),
        session_start=sessions.start[session],
        session_end=sessions.end[session],
        ongoing=whole_end > as_of_us,
    )


def outage_rows(outages: OutageArrays, store_ids: Sequence[str], store_zones: Sequence[str]) -> Iterator[list[str]]:
    """Rows of the outages CSV (``OUTAGE_CSV_COLUMNS``), sorted by store_id then start.

    ``store_ids`` and ``store_zones`` are the input FeedArrays' lists (indexed by store
    position). Times are ISO 8601 with their offset, as ``datetime.isoformat`` writes them;
    local times are in the store's zone; minutes have 2 decimals.
    """
    if len(outages) == 0:
        return
    stores = np.unique(outages.store)
    stores_list = stores.tolist()
    by_id = sorted(range(len(stores_list)), key=lambda k: store_ids[stores_list[k]])
    rank = np.empty(len(stores), dtype=np.int64)
    rank[by_id] = np.arange(len(stores))
    # A stable sort keeps each store's outages in time order.
    order = np.argsort(rank[np.searchsorted(stores, outages.store)], kind="stable")
    outages = outages.take(order)

    offsets = [np.zeros(len(outages), dtype=np.int64) for _ in range(2)]
    zone_of_store = np.array([store_zones[s] for s in stores_list], dtype=object)
    outage_zone = zone_of_store[np.searchsorted(stores, outages.store)]
    span = (int(outages.start.min()), int(outages.end.max()))
    for zone in set(zone_of_store.tolist()):
        in_zone = outage_zone == zone
        for offset, utc in zip(offsets, (outages.start, outages.end), strict=True):
            offset[in_zone] = utc_to_local(utc[in_zone], zone, span) - utc[in_zone]

    no_offset = np.zeros(len(outages), dtype=np.int64)
    columns = [
        [store_ids[s] for s in outages.store.tolist()],
        _isoformat(outages.start, no_offset).tolist(),
        _isoformat(outages.end, no_offset).tolist(),
        _isoformat(outages.start, offsets[0]).tolist(),
        _isoformat(outages.end, offsets[1]).tolist(),
        [f"{minutes:.2f}" for minutes in (outages.length_us / MINUTE_US).tolist()],
    ]
    yield from map(list, zip(*columns, strict=True))


def _isoformat(utc_us: np.ndarray, offset_us: np.ndarray) -> np.ndarray:
    """``datetime.isoformat()`` of each instant at its offset, vectorised: the local wall time
    (microseconds only when there are any) followed by the offset, e.g. ``-05:00``."""
    local_us = utc_us + offset_us
    text = np.datetime_as_string(local_us.astype("datetime64[us]"), unit="us")
    whole_seconds = local_us % MICROSECONDS_PER_SECOND == 0
    if whole_seconds.any():
        # Drop ".000000" from the end (the year's width varies at the ends of the calendar).
        text = np.where(whole_seconds, np.strings.slice(text, 0, -7), text)
    distinct, which = np.unique(offset_us, return_inverse=True)
    suffixes = np.array([_offset_text(int(offset)) for offset in distinct.tolist()])
    joined: np.ndarray = np.strings.add(text, suffixes[which])
    return joined


def _offset_text(offset_us: int) -> str:
    zone = dt.timezone(dt.timedelta(microseconds=offset_us))
    return dt.datetime(2000, 1, 1, tzinfo=zone).isoformat()[len("2000-01-01T00:00:00") :]
