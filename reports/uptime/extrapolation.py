"""From sparse polls to a status at every instant of every business session.

Both methods return *status segments*: disjoint intervals that exactly tile the sessions of
every store, each active or inactive. Window figures are sums over these segments, so the
status over time never depends on the window.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reports.uptime.sessions import SessionArrays


@dataclass(frozen=True)
class PollArrays:
    """Polls sorted by (store, time), without duplicate (store, time) pairs; ``key`` is their
    store-major sort key (see ``PollKeys``), computed once and carried along."""

    store: np.ndarray
    time: np.ndarray
    active: np.ndarray
    key: np.ndarray

    def take(self, chosen: np.ndarray | slice) -> "PollArrays":
        return PollArrays(self.store[chosen], self.time[chosen], self.active[chosen], self.key[chosen])


@dataclass(frozen=True)
class SegmentArrays:
    """Status segments ``[start, end)`` in UTC microseconds, each inside one session; they come
    in no particular order (sums don't need one; sort by store and start to draw them)."""

    store: np.ndarray
    start: np.ndarray
    end: np.ndarray
    active: np.ndarray

    def __len__(self) -> int:
        return len(self.store)

    def take(self, chosen: np.ndarray | slice) -> "SegmentArrays":
        return SegmentArrays(self.store[chosen], self.start[chosen], self.end[chosen], self.active[chosen])


class PollKeys:
    """Store-major integer keys: ``store * span + 1 + (time - base)`` sort by (store, time).

    Key ``store * span`` is below every time of that store: it stands for minus infinity.
    """

    def __init__(self, base_us: int, limit_us: int, n_stores: int):
        self.base = base_us
        self.span = limit_us - base_us + 2
        if n_stores * self.span >= 2**62:
            raise ValueError("time range too long for the number of stores")

    def __call__(self, store: np.ndarray, time: np.ndarray) -> np.ndarray:
        keys: np.ndarray = store * self.span + 1 + (time - self.base)
        return keys

    def minus_infinity(self, store: np.ndarray) -> np.ndarray:
        return store * self.span

    def decode(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(store, time) back from keys."""
        store, offset = np.divmod(key, self.span)
        return store, offset - 1 + self.base


@dataclass(frozen=True)
class Evidence:
    """The evidence polls (rule 6), sorted by (store, time), with the session each lies in (-1
    outside sessions), and the sort keys of the sessions' openings they were located with."""

    polls: PollArrays
    session: np.ndarray
    session_keys: np.ndarray


def evidence_polls(polls: PollArrays, sessions: SessionArrays, keys: PollKeys) -> Evidence:
    """The evidence polls and the session each lies in.

    Evidence is the polls inside business sessions; a store with none uses all its polls.
    """
    session_keys = keys(sessions.store, sessions.start)
    session = _session_containing(polls.store, polls.key, polls.time, sessions, session_keys)
    inside = session >= 0
    n_stores = int(max(polls.store.max(initial=-1), sessions.store.max(initial=-1))) + 1
    store_has_inside = np.bincount(polls.store[inside], minlength=n_stores) > 0
    evidence = np.flatnonzero(inside | ~store_has_inside[polls.store])
    return Evidence(polls.take(evidence), session[evidence], session_keys)


def _session_containing(
    store: np.ndarray, key: np.ndarray, time: np.ndarray, sessions: SessionArrays, session_keys: np.ndarray
) -> np.ndarray:
    """Index of the session holding each (store, instant) with the given keys, or -1."""
    candidate = np.searchsorted(session_keys, key, side="right") - 1
    safe = np.maximum(candidate, 0)
    inside = (candidate >= 0) & (sessions.store[safe] == store) & (time < sessions.end[safe])
    return np.where(inside, candidate, -1)


def last_known_segments(found: Evidence, sessions: SessionArrays, keys: PollKeys) -> SegmentArrays:
    """Method ``last_known``: a poll's status holds until the next poll or the session's close;
    a session's opening takes its first poll's status; a session without polls takes the latest
    evidence before it (or the earliest after it when there is none before)."""
    evidence, evidence_session, session_keys = found.polls, found.session, found.session_keys

    # Segments that start at an evidence poll inside a session.
    inside = np.flatnonzero(evidence_session >= 0)
    session = evidence_session[inside]
    first_in_session = np.ones(len(inside), dtype=bool)
    first_in_session[1:] = session[1:] != session[:-1]
    last_in_session = np.ones(len(inside), dtype=bool)
    last_in_session[:-1] = session[:-1] != session[1:]
    following_time = np.roll(evidence.time[inside], -1)
    polled_start = np.where(first_in_session, sessions.start[session], evidence.time[inside])
    polled_end = np.where(last_in_session, sessions.end[session], following_time)

    # Sessions without evidence: one segment, status carried in from outside.
    unpolled = np.ones(len(sessions), dtype=bool)
    unpolled[session] = False
    unpolled = np.flatnonzero(unpolled)
    after = np.searchsorted(evidence.key, session_keys[unpolled])
    before = np.maximum(after - 1, 0)
    has_before = (after > 0) & (evidence.store[before] == sessions.store[unpolled])
    # Every reported store has evidence, so without one before there is one after.
    carried = np.where(has_before, before, np.minimum(after, len(evidence.store) - 1))

    return SegmentArrays(
        store=np.concatenate((evidence.store[inside], sessions.store[unpolled])),
        start=np.concatenate((polled_start, sessions.start[unpolled])),
        end=np.concatenate((polled_end, sessions.end[unpolled])),
        active=np.concatenate((evidence.active[inside], evidence.active[carried])),
    )


def nearest_segments(found: Evidence, sessions: SessionArrays, keys: PollKeys) -> SegmentArrays:
    """Method ``nearest``: every instant takes the status of the nearest evidence poll in time
    (a tie goes to the earlier poll); sessions are cut at the midpoints between polls."""
    evidence, session_keys = found.polls, found.session_keys
    n = len(evidence.store)
    # Poll p governs from the midpoint between p-1 and p on; a store's first poll from -inf.
    continues_store = np.zeros(n, dtype=bool)
    continues_store[1:] = evidence.store[1:] == evidence.store[:-1]
    midpoint = np.empty(n, dtype=np.int64)
    midpoint[1:] = (evidence.time[:-1] + evidence.time[1:]) // 2
    boundary_keys = np.where(continues_store, keys(evidence.store, midpoint), keys.minus_infinity(evidence.store))

    # Pieces start at each session's opening and at each midpoint strictly inside a session.
    cut = np.flatnonzero(continues_store)
    cut_session = _session_containing(evidence.store[cut], boundary_keys[cut], midpoint[cut], sessions, session_keys)
    cut_safe = np.maximum(cut_session, 0)
    strictly_inside = (cut_session >= 0) & (midpoint[cut] > sessions.start[cut_safe])
    cut, cut_session = cut[strictly_inside], cut_session[strictly_inside]

    opening_owner = np.searchsorted(boundary_keys, session_keys, side="right") - 1
    piece_session = np.concatenate((np.arange(len(sessions)), cut_session))
    piece_start = np.concatenate((sessions.start, midpoint[cut]))
    piece_owner = np.concatenate((opening_owner, cut))
    order = np.lexsort((piece_start, piece_session))
    piece_session, piece_start, piece_owner = piece_session[order], piece_start[order], piece_owner[order]
    last_in_session = np.ones(len(order), dtype=bool)
    last_in_session[:-1] = piece_session[:-1] != piece_session[1:]
    piece_end = np.where(last_in_session, sessions.end[piece_session], np.roll(piece_start, -1))
    return SegmentArrays(
        store=sessions.store[piece_session],
        start=piece_start,
        end=piece_end,
        active=evidence.active[piece_owner],
    )


# The methods by name (rule 7), and what pages and the admin call each.
Extrapolation = Callable[[Evidence, SessionArrays, PollKeys], SegmentArrays]
EXTRAPOLATIONS: dict[str, Extrapolation] = {"last_known": last_known_segments, "nearest": nearest_segments}
METHOD_LABELS = {"last_known": "last known status", "nearest": "nearest poll"}
DEFAULT_METHOD = "last_known"
