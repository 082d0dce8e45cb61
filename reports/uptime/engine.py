"""The calculator's entry point: ``compute_uptime`` turns one snapshot into the report figures."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

from reports.uptime.extrapolation import (
    DEFAULT_METHOD,
    EXTRAPOLATIONS,
    PollArrays,
    PollKeys,
    SegmentArrays,
    evidence_polls,
)
from reports.uptime.inputs import MICROSECONDS_PER_DAY, MICROSECONDS_PER_SECOND, FeedArrays
from reports.uptime.outages import OutageArrays, find_outages
from reports.uptime.sessions import SessionArrays, WeeklyHours, business_sessions

METHODS = tuple(EXTRAPOLATIONS)
HOUR_US = 3600 * MICROSECONDS_PER_SECOND
# Rolling windows ending at as_of (rule 2), and the unit each is reported in (rule 9).
WINDOWS = {"hour": HOUR_US, "day": MICROSECONDS_PER_DAY, "week": 7 * MICROSECONDS_PER_DAY}
UNITS_US = {"hour": 60 * MICROSECONDS_PER_SECOND, "day": HOUR_US, "week": HOUR_US}
CSV_COLUMNS = (
    "store_id",
    "uptime_last_hour",
    "uptime_last_day",
    "uptime_last_week",
    "downtime_last_hour",
    "downtime_last_day",
    "downtime_last_week",
)
# Rules 11-13, after the seven columns above in the extended report.
EXTENDED_CSV_COLUMNS = CSV_COLUMNS + (
    "outages_last_hour",
    "outages_last_day",
    "outages_last_week",
    "uptime_percent_last_hour",
    "uptime_percent_last_day",
    "uptime_percent_last_week",
    "longest_outage_last_week",
    "polls_last_hour",
    "polls_last_day",
    "polls_last_week",
)

ProgressCallback = Callable[[float, str], None]
# Polls per block of stores computed together (see compute_uptime).
BLOCK_POLLS = 500_000


@dataclass(frozen=True)
class UptimeFigures:
    """Per reported store (sorted by store_id): uptime, downtime and business time per window,
    in exact integer microseconds, and the evidence polls taken in each window, plus the
    sessions and status segments they came from (``sessions`` sorted by store and start;
    ``segments`` in no particular order). Outages and the figures drawn from them (rules
    10-12) are worked out from the segments on first use only, so a basic report pays nothing."""

    as_of_us: int
    method: str
    store_ids: list[str]
    store_index: np.ndarray  # position of each reported store in the input FeedArrays
    uptime_us: dict[str, np.ndarray]
    downtime_us: dict[str, np.ndarray]
    business_us: dict[str, np.ndarray]
    session_parts: list[SessionArrays]
    segment_parts: list[SegmentArrays]
    lookback_us: int
    evidence_polls: dict[str, np.ndarray]  # per window: evidence polls in [window start, as_of)

    def __len__(self) -> int:
        return len(self.store_ids)

    # Joined on first use only: a full report never needs them, a store's page does.
    @cached_property
    def sessions(self) -> SessionArrays:
        return SessionArrays(*_concatenate(self.session_parts, ("store", "start", "end")))

    @cached_property
    def segments(self) -> SegmentArrays:
        return SegmentArrays(*_concatenate(self.segment_parts, ("store", "start", "end", "active")))

    @cached_property
    def outages(self) -> OutageArrays:
        """Every reported store's outages, sorted by store position and start."""
        lookback_start = self.as_of_us - self.lookback_us
        parts = [
            find_outages(segments, sessions, self.as_of_us, lookback_start)
            for sessions, segments in zip(self.session_parts, self.segment_parts, strict=True)
        ]
        return OutageArrays.concatenate(parts, self.as_of_us, lookback_start)

    def store_outages(self, store: int) -> OutageArrays:
        """One store's outages (its position in the input FeedArrays), without working out the
        other stores' when they have not been already."""
        if "outages" in self.__dict__:
            return self.outages.of_store(store)
        lookback_start = self.as_of_us - self.lookback_us
        for sessions, segments in zip(self.session_parts, self.segment_parts, strict=True):
            if len(sessions) and sessions.store[0] <= store <= sessions.store[-1]:
                first, last = np.searchsorted(sessions.store, [store, store + 1])
                own_sessions = sessions.take(slice(int(first), int(last)))
                own_segments = segments.take(segments.store == store)
                return find_outages(own_segments, own_sessions, self.as_of_us, lookback_start)
        return OutageArrays.concatenate([], self.as_of_us, lookback_start)

    @cached_property
    def outage_counts(self) -> dict[str, np.ndarray]:
        """Per window, the outages overlapping it by a positive length (rule 11)."""
        n_positions = int(self.store_index.max(initial=-1)) + 1
        return {
            window: self.outages.counts(self.as_of_us - length, n_positions)[self.store_index]
            for window, length in WINDOWS.items()
        }

    @cached_property
    def longest_outage_us(self) -> np.ndarray:
        """The longest outage cut to the last week, 0 when none (rule 11)."""
        n_positions = int(self.store_index.max(initial=-1)) + 1
        longest: np.ndarray = self.outages.longest_us(self.as_of_us - WINDOWS["week"], n_positions)[self.store_index]
        return longest

    def uptime_percent(self, window: str) -> np.ndarray:
        """100 × uptime / (uptime + downtime) in the window; NaN where it holds no business time (rule 12)."""
        up = self.uptime_us[window].astype(np.float64)
        business = up + self.downtime_us[window]
        percent = np.full(len(up), np.nan)
        np.divide(100 * up, business, out=percent, where=business > 0)
        return percent

    def in_report_units(self, window: str, which: str) -> np.ndarray:
        """``which`` is "uptime" or "downtime": minutes for the hour, hours for day and week."""
        values = self.uptime_us[window] if which == "uptime" else self.downtime_us[window]
        return values / UNITS_US[window]

    def rows(self, extended: bool = False) -> Iterator[list[str]]:
        """CSV rows (rule 9): store_id then the six figures rounded to 2 decimals; ``extended``
        adds the columns of rules 11-13 (``EXTENDED_CSV_COLUMNS``)."""
        columns = [
            self.in_report_units(window, which)
            for which in ("uptime", "downtime")
            for window in ("hour", "day", "week")
        ]
        formatted = [[f"{value:.2f}" for value in column.tolist()] for column in columns]
        if extended:
            formatted += [[str(count) for count in self.outage_counts[window].tolist()] for window in WINDOWS]
            formatted += [
                ["" if np.isnan(value) else f"{value:.2f}" for value in self.uptime_percent(window).tolist()]
                for window in WINDOWS
            ]
            formatted.append([f"{hours:.2f}" for hours in (self.longest_outage_us / HOUR_US).tolist()])
            formatted += [[str(count) for count in self.evidence_polls[window].tolist()] for window in WINDOWS]
        for i, store_id in enumerate(self.store_ids):
            yield [store_id] + [column[i] for column in formatted]


def compute_uptime(
    feeds: FeedArrays,
    as_of_us: int,
    lookback_us: int,
    method: str = DEFAULT_METHOD,
    progress: ProgressCallback | None = None,
    block_polls: int = BLOCK_POLLS,
) -> UptimeFigures:
    """Uptime and downtime of every store with a poll in ``[as_of - lookback, as_of]``."""
    if method not in EXTRAPOLATIONS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if lookback_us < WINDOWS["week"]:
        raise ValueError("the lookback must cover at least the last week")
    report = progress or (lambda fraction, stage: None)
    lookback_start = as_of_us - lookback_us
    # Sessions run a day past as_of so a poll at as_of itself can still fall inside one.
    range_end = as_of_us + MICROSECONDS_PER_DAY
    keys = PollKeys(lookback_start, range_end, len(feeds.store_ids))
    n_stores = len(feeds.store_ids)

    report(0.0, "selecting polls")
    polls = _polls_in_lookback(feeds, lookback_start, as_of_us, keys)
    store_starts = np.flatnonzero(np.r_[True, polls.store[1:] != polls.store[:-1]])[: len(polls.store)]
    reported = polls.store[store_starts]
    hours = WeeklyHours.from_feeds(feeds)

    # Stores are independent: working through blocks of them keeps every temporary array
    # small enough to stay in fast memory, so time grows linearly with the data.
    uptime, downtime, business, evidence_counts = (
        {window: np.zeros(n_stores, dtype=np.int64) for window in WINDOWS} for _ in range(4)
    )
    session_parts, segment_parts = [], []
    blocks = _store_blocks(store_starts, len(polls.store), block_polls)
    for number, (first_store, last_store) in enumerate(blocks):
        report(0.05 + 0.9 * number / len(blocks), f"computing stores ({method})")
        stores = reported[first_store:last_store]
        last_poll = store_starts[last_store] if last_store < len(store_starts) else len(polls.store)
        block = polls.take(slice(store_starts[first_store], last_poll))
        sessions = business_sessions(hours, feeds.store_zones, stores, lookback_start, range_end)
        evidence = evidence_polls(block, sessions, keys)
        segments = EXTRAPOLATIONS[method](evidence, sessions, keys)
        # Rule 13, by binary searches in the evidence sorted by (store, time).
        evidence_key = evidence.polls.key
        until = np.searchsorted(evidence_key, keys(stores, np.full(len(stores), as_of_us)))
        # Sums over the block's own range of store indices, added into the whole.
        low, high = int(stores[0]), int(stores[-1]) + 1
        for window, length in WINDOWS.items():
            window_start = as_of_us - length
            overlap = _overlap(segments.start, segments.end, window_start, as_of_us)
            up, down = segments.active, ~segments.active
            uptime[window][low:high] += _sum_by_store(segments.store[up] - low, overlap[up], high - low)
            downtime[window][low:high] += _sum_by_store(segments.store[down] - low, overlap[down], high - low)
            session_overlap = _overlap(sessions.start, sessions.end, window_start, as_of_us)
            business[window][low:high] += _sum_by_store(sessions.store - low, session_overlap, high - low)
            since = np.searchsorted(evidence_key, keys(stores, np.full(len(stores), window_start)))
            evidence_counts[window][stores] = until - since
        session_parts.append(sessions)
        segment_parts.append(segments)

    # Rule 3: one row per reported store, sorted by store_id.
    order = sorted(reported.tolist(), key=feeds.store_ids.__getitem__)
    store_index = np.array(order, dtype=np.int64)
    report(1.0, "done")
    return UptimeFigures(
        as_of_us=as_of_us,
        method=method,
        store_ids=[feeds.store_ids[i] for i in order],
        store_index=store_index,
        uptime_us={w: v[store_index] for w, v in uptime.items()},
        downtime_us={w: v[store_index] for w, v in downtime.items()},
        business_us={w: v[store_index] for w, v in business.items()},
        session_parts=session_parts,
        segment_parts=segment_parts,
        lookback_us=lookback_us,
        evidence_polls={w: v[store_index] for w, v in evidence_counts.items()},
    )


def _store_blocks(store_starts: np.ndarray, n_polls: int, block_polls: int) -> list[tuple[int, int]]:
    """(first, last) positions in ``store_starts`` of consecutive blocks of whole stores holding
    about ``block_polls`` polls each."""
    targets = np.arange(block_polls, n_polls, block_polls)
    cuts = np.searchsorted(store_starts, targets, side="right") - 1
    bounds = np.unique(np.concatenate(([0], cuts, [len(store_starts)])))
    return list(pairwise(bounds.tolist()))


def _concatenate(parts: Sequence[SessionArrays | SegmentArrays], fields: tuple[str, ...]) -> list[np.ndarray]:
    return [
        np.concatenate([getattr(part, field) for part in parts]) if parts else np.zeros(0, np.int64) for field in fields
    ]


def _polls_in_lookback(feeds: FeedArrays, start_us: int, end_us: int, keys: PollKeys) -> PollArrays:
    """Polls in ``[start, end]`` sorted by (store, time); a repeated (store, time) counts once
    (inactive first)."""
    times = np.asarray(feeds.poll_time_us, dtype=np.int64)
    stores = np.asarray(feeds.poll_store, dtype=np.int64)
    active = np.asarray(feeds.poll_active, dtype=bool)
    chosen = (times >= start_us) & (times <= end_us)
    if not chosen.all():  # the snapshot reads only the lookback: usually every poll is in it
        times, stores, active = times[chosen], stores[chosen], active[chosen]
    # The keys are built in place, in one array: at 18.7 M polls every array is 150 MB, and
    # fresh memory costs more than the arithmetic.
    poll_keys = stores * keys.span
    poll_keys += 1 - keys.base
    poll_keys += times
    if len(poll_keys) > 1 and not (poll_keys[1:] >= poll_keys[:-1]).all():
        # The status rides in the lowest bit, so one value sort orders everything at once
        # (inactive first among equal keys).
        packed = poll_keys << 1
        packed |= active
        del poll_keys
        packed.sort(kind="stable")
        poll_keys = packed >> 1
        stores, times = keys.decode(poll_keys)
        active = (packed & 1).astype(bool)
    # else: the database sent the polls in (store, time) order, as it usually does (a load writes
    # them store by store), and the arrays are used as they are. A stable sort (timsort) would
    # notice that in one pass too, where numpy's default quicksort takes as long as on shuffled
    # polls (1.3 s for 18.7 M); the check costs less than either.
    firsts = np.flatnonzero(np.r_[True, poll_keys[1:] != poll_keys[:-1]][: len(poll_keys)])
    if len(firsts) < len(poll_keys):
        # A repeated (store, time) is inactive when any of its polls is.
        active = np.logical_and.reduceat(active, firsts)
        stores, times, poll_keys = stores[firsts], times[firsts], poll_keys[firsts]
    return PollArrays(stores, times, active, poll_keys)


def _overlap(start: np.ndarray, end: np.ndarray, window_start: int, window_end: int) -> np.ndarray:
    overlap: np.ndarray = np.maximum(np.minimum(end, window_end) - np.maximum(start, window_start), 0)
    return overlap


def _sum_by_store(store: np.ndarray, microseconds: np.ndarray, n_stores: int) -> np.ndarray:
    # Float sums of integer microseconds are exact below 2**53 µs (285 years).
    return np.rint(np.bincount(store, weights=microseconds, minlength=n_stores)).astype(np.int64)
