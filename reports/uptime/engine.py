"""The calculator's entry point: ``compute_uptime`` turns one snapshot into the report figures."""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from reports.uptime.extrapolation import EXTRAPOLATIONS, PollArrays, SegmentArrays, _Keys
from reports.uptime.inputs import MICROSECONDS_PER_DAY, MICROSECONDS_PER_SECOND, FeedArrays
from reports.uptime.sessions import SessionArrays, business_sessions

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

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class UptimeFigures:
    """Per reported store (sorted by store_id): uptime, downtime and business time per window,
    in exact integer microseconds, plus the sessions and status segments they came from."""

    as_of_us: int
    method: str
    store_ids: list[str]
    store_index: np.ndarray  # position of each reported store in the input FeedArrays
    uptime_us: dict[str, np.ndarray]
    downtime_us: dict[str, np.ndarray]
    business_us: dict[str, np.ndarray]
    sessions: SessionArrays
    segments: SegmentArrays

    def __len__(self) -> int:
        return len(self.store_ids)

    def in_report_units(self, window: str, which: str) -> np.ndarray:
        """``which`` is "uptime" or "downtime": minutes for the hour, hours for day and week."""
        values = self.uptime_us[window] if which == "uptime" else self.downtime_us[window]
        return values / UNITS_US[window]

    def rows(self):
        """CSV rows (rule 9): store_id then the six figures rounded to 2 decimals."""
        columns = [
            self.in_report_units(window, which)
            for which in ("uptime", "downtime")
            for window in ("hour", "day", "week")
        ]
        formatted = [[f"{value:.2f}" for value in column.tolist()] for column in columns]
        for i, store_id in enumerate(self.store_ids):
            yield [store_id] + [column[i] for column in formatted]


def compute_uptime(
    feeds: FeedArrays,
    as_of_us: int,
    lookback_us: int,
    method: str = "last_known",
    progress: Optional[ProgressCallback] = None,
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
    keys = _Keys(lookback_start, range_end, len(feeds.store_ids))

    report(0.0, "selecting polls")
    polls = _polls_in_lookback(feeds, lookback_start, as_of_us, keys)
    reported = np.unique(polls.store)

    report(0.2, "expanding business hours")
    sessions = business_sessions(feeds, reported, lookback_start, range_end)

    report(0.5, f"extrapolating ({method})")
    segments = EXTRAPOLATIONS[method](polls, sessions, keys)

    report(0.8, "summing windows")
    n_stores = len(feeds.store_ids)
    uptime, downtime, business = {}, {}, {}
    for window, length in WINDOWS.items():
        window_start = as_of_us - length
        overlap = _overlap(segments.start, segments.end, window_start, as_of_us)
        uptime[window] = _sum_by_store(segments.store[segments.active], overlap[segments.active], n_stores)
        downtime[window] = _sum_by_store(segments.store[~segments.active], overlap[~segments.active], n_stores)
        session_overlap = _overlap(sessions.start, sessions.end, window_start, as_of_us)
        business[window] = _sum_by_store(sessions.store, session_overlap, n_stores)

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
        sessions=sessions,
        segments=segments,
    )


def _polls_in_lookback(feeds: FeedArrays, start_us: int, end_us: int, keys: _Keys) -> PollArrays:
    """Polls in ``[start, end]`` sorted by (store, time); a repeated (store, time) counts once."""
    times = np.asarray(feeds.poll_time_us, dtype=np.int64)
    chosen = np.flatnonzero((times >= start_us) & (times <= end_us))
    store = np.asarray(feeds.poll_store, dtype=np.int64)[chosen]
    time = times[chosen]
    poll_keys = keys(store, time)
    order = np.argsort(poll_keys, kind="stable")
    poll_keys = poll_keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = poll_keys[1:] != poll_keys[:-1]
    order = order[first]
    return PollArrays(store[order], time[order], np.asarray(feeds.poll_active, dtype=bool)[chosen][order])


def _overlap(start, end, window_start, window_end):
    return np.maximum(np.minimum(end, window_end) - np.maximum(start, window_start), 0)


def _sum_by_store(store, microseconds, n_stores) -> np.ndarray:
    # Float sums of integer microseconds are exact below 2**53 µs (285 years).
    return np.rint(np.bincount(store, weights=microseconds, minlength=n_stores)).astype(np.int64)
