"""A store's last week as drawing geometry: one row per local day, in exact microseconds.

Pure (numpy and the calculator's zone conversion, no Django), so it is tested on its own. The
spans drawn are the calculator's own sessions and status segments cut to the week window
``[as_of - 7 days, as_of)``, so their lengths add up to the report's week figures exactly.

Outages (the calculator's, rule 10) are marked where they lie, numbered as the page lists
them; business time farther than a radius from every evidence poll (rule 6) is *assumed*: its
status was carried there from a poll that far away or more.

The x axis of every row is real time elapsed since the row's local midnight, at the same scale
in every row: a daylight-saving day of 23 hours ends an hour short of 24:00, one of 25 hours
runs an hour past it (the axis then extends to 25:00), and each row carries its own local hour
marks, so the jump of the clock shows where it happens.

Rows are the local dates the calendar can name, years 1 to 9999: a week that reaches past
them (only with polls from the first or last days of the range the database holds) shows the
days inside, and times are converted with integers, never with ``datetime``.
"""

import datetime as dt
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from reports.uptime.inputs import MICROSECONDS_PER_DAY, MICROSECONDS_PER_SECOND
from reports.uptime.zones import local_to_utc, utc_offset_changes, utc_to_local

HOUR_US = 3600 * MICROSECONDS_PER_SECOND
WEEK_US = 7 * MICROSECONDS_PER_DAY
_EPOCH_DATE = dt.date(1970, 1, 1)
# The local dates a row can have (those of datetime.date), as days since 1970-01-01.
_FIRST_DAY = (dt.date.min - _EPOCH_DATE).days
_LAST_DAY = (dt.date.max - _EPOCH_DATE).days


@dataclass(frozen=True)
class Span:
    """``[start_us, end_us)`` in UTC microseconds; ``offset_us`` is its start from local midnight.

    ``active`` is the extrapolated status for a status segment, None for a business session.
    """

    start_us: int
    end_us: int
    offset_us: int
    active: bool | None = None

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


@dataclass(frozen=True)
class Tick:
    """A poll (``active`` is its status), a local hour mark (``hour`` is the wall-clock hour)
    or a clock change (``shift_minutes``: +60 when the clock jumps forward an hour)."""

    time_us: int
    offset_us: int
    active: bool | None = None
    hour: int | None = None
    shift_minutes: int | None = None


@dataclass(frozen=True)
class OutageMark:
    """The part of an outage inside one day row. ``number`` is the outage's place in the list
    given to ``week_timeline`` (1 = the first); ``first`` and ``last`` say the outage begins and
    ends in this row; ``ongoing`` says it goes on past as_of."""

    number: int
    start_us: int
    end_us: int
    offset_us: int
    first: bool
    last: bool
    ongoing: bool

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


@dataclass(frozen=True)
class DayRow:
    """One local date from local midnight to the next; only ``[visible_start_us, visible_end_us)``
    lies in the week window."""

    date: dt.date
    start_us: int
    end_us: int
    visible_start_us: int
    visible_end_us: int
    sessions: list[Span] = field(default_factory=list)
    segments: list[Span] = field(default_factory=list)
    polls: list[Tick] = field(default_factory=list)
    hour_marks: list[Tick] = field(default_factory=list)
    clock_changes: list[Tick] = field(default_factory=list)
    outages: list[OutageMark] = field(default_factory=list)
    assumed: list[Span] = field(default_factory=list)

    @property
    def length_us(self) -> int:
        return self.end_us - self.start_us

    @property
    def hours(self) -> float:
        """Length of the local day in hours: 24, or 23/25 on a daylight-saving change."""
        return self.length_us / HOUR_US


@dataclass(frozen=True)
class WeekTimeline:
    zone: str
    as_of_us: int
    start_us: int
    days: list[DayRow]

    @property
    def axis_us(self) -> int:
        """Length the x axis spans: a normal day, or the longest day of the week if longer."""
        return max([MICROSECONDS_PER_DAY] + [day.length_us for day in self.days])

    def status_us(self, active: bool) -> int:
        """Total length of the drawn segments with this status (equals the week figure)."""
        return sum(s.duration_us for day in self.days for s in day.segments if s.active is active)

    def business_us(self) -> int:
        return sum(s.duration_us for day in self.days for s in day.sessions)

    def outage_us(self) -> int:
        """Total length of the drawn outage parts (equals the week's downtime)."""
        return sum(mark.duration_us for day in self.days for mark in day.outages)

    def assumed_us(self) -> int:
        return sum(s.duration_us for day in self.days for s in day.assumed)


def week_timeline(
    zone: str,
    as_of_us: int,
    sessions: tuple[np.ndarray, np.ndarray],
    segments: tuple[np.ndarray, np.ndarray, np.ndarray],
    polls: tuple[np.ndarray, np.ndarray],
    length_us: int = WEEK_US,
    outages: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    assumed: tuple[np.ndarray, np.ndarray] | None = None,
) -> WeekTimeline:
    """The window ``[as_of - length, as_of)`` of one store, split into its local days.

    ``sessions`` is (start, end), ``segments`` (start, end, active) and ``polls`` (time, active),
    all of that one store in UTC microseconds. Polls at ``as_of`` itself are kept (the report
    reads polls up to and including it). ``outages`` (start, end, ongoing) are numbered from 1
    in the order given; ``assumed`` (start, end) is business time to hatch (``assumed_spans``).
    """
    start_us = as_of_us - length_us
    session_start, session_end = (np.asarray(a, dtype=np.int64) for a in sessions)
    segment_start, segment_end = (np.asarray(a, dtype=np.int64) for a in segments[:2])
    segment_active = np.asarray(segments[2], dtype=bool)
    poll_time = np.asarray(polls[0], dtype=np.int64)
    poll_active = np.asarray(polls[1], dtype=bool)
    no_spans = np.zeros(0, dtype=np.int64)
    outage_start, outage_end = (np.asarray(a, dtype=np.int64) for a in (outages or (no_spans, no_spans))[:2])
    outage_ongoing = np.asarray(outages[2] if outages else no_spans, dtype=bool)
    assumed_start, assumed_end = (np.asarray(a, dtype=np.int64) for a in (assumed or (no_spans, no_spans)))

    days = []
    for date, day_start, day_end in local_days(zone, start_us, as_of_us):
        low, high = max(day_start, start_us), min(day_end, as_of_us)
        last_row = day_end >= as_of_us
        in_row = (poll_time >= low) & ((poll_time < high) | (last_row & (poll_time == as_of_us)))
        days.append(
            DayRow(
                date=date,
                start_us=day_start,
                end_us=day_end,
                visible_start_us=low,
                visible_end_us=high,
                sessions=_cut(session_start, session_end, None, low, high, day_start),
                segments=_cut(segment_start, segment_end, segment_active, low, high, day_start),
                polls=[
                    Tick(time_us=t, offset_us=t - day_start, active=a)
                    for t, a in zip(poll_time[in_row].tolist(), poll_active[in_row].tolist(), strict=True)
                ],
                hour_marks=_hour_marks(zone, day_start, day_end),
                clock_changes=_clock_changes(zone, day_start, day_end),
                outages=_outage_marks(outage_start, outage_end, outage_ongoing, low, high, day_start),
                assumed=_cut(assumed_start, assumed_end, None, low, high, day_start),
            )
        )
    return WeekTimeline(zone=zone, as_of_us=as_of_us, start_us=start_us, days=days)


def local_days(zone: str, start_us: int, end_us: int) -> list[tuple[dt.date, int, int]]:
    """(local date, UTC µs of its midnight, UTC µs of the next midnight) for every local date
    meeting ``[start, end)`` that the calendar names (years 1 to 9999). Midnights are read like
    the calculator reads business hours (zoneinfo, fold=0), so the rows tile time without gaps
    or overlaps."""
    first_local, last_local = utc_to_local(np.array([start_us, end_us - 1], dtype=np.int64), zone).tolist()
    first = max(first_local // MICROSECONDS_PER_DAY, _FIRST_DAY)
    last = min(last_local // MICROSECONDS_PER_DAY, _LAST_DAY)
    if last < first:
        return []
    days = np.arange(first, last + 2, dtype=np.int64)
    midnights = local_to_utc(days * MICROSECONDS_PER_DAY, zone).tolist()
    return [
        (_EPOCH_DATE + dt.timedelta(days=day), day_start, day_end)
        for day, (day_start, day_end) in zip(days[:-1].tolist(), pairwise(midnights), strict=True)
    ]


def _cut(start, end, active, low, high, day_start) -> list[Span]:
    """The spans overlapping ``[low, high)``, cut to it, in time order."""
    chosen = np.flatnonzero((end > low) & (start < high))
    cut_start = np.maximum(start[chosen], low).tolist()
    cut_end = np.minimum(end[chosen], high).tolist()
    statuses = active[chosen].tolist() if active is not None else [None] * len(chosen)
    spans = [
        Span(start_us=s, end_us=e, offset_us=s - day_start, active=a)
        for s, e, a in zip(cut_start, cut_end, statuses, strict=True)
    ]
    return sorted(spans, key=lambda span: span.start_us)


def _outage_marks(start, end, ongoing, low, high, day_start) -> list[OutageMark]:
    """The outages overlapping ``[low, high)``, cut to it, numbered by their place in the input."""
    chosen = np.flatnonzero((end > low) & (start < high))
    return [
        OutageMark(
            number=index + 1,
            start_us=max(whole_start, low),
            end_us=min(whole_end, high),
            offset_us=max(whole_start, low) - day_start,
            first=whole_start >= low,
            last=whole_end <= high,
            ongoing=goes_on,
        )
        for index, whole_start, whole_end, goes_on in zip(
            chosen.tolist(), start[chosen].tolist(), end[chosen].tolist(), ongoing[chosen].tolist(), strict=True
        )
    ]


def evidence_times(poll_us: np.ndarray, session_start: np.ndarray, session_end: np.ndarray) -> np.ndarray:
    """One store's evidence polls (rule 6), sorted: those inside its sessions (sorted, disjoint
    ``[start, end)``), or all its polls when none is inside."""
    times = np.sort(np.asarray(poll_us, dtype=np.int64))
    session = np.searchsorted(session_start, times, side="right") - 1
    inside = (session >= 0) & (times < np.asarray(session_end)[np.maximum(session, 0)])
    chosen: np.ndarray = times[inside] if inside.any() else times
    return chosen


def assumed_spans(
    session_start: np.ndarray, session_end: np.ndarray, evidence_us: np.ndarray, radius_us: int
) -> tuple[np.ndarray, np.ndarray]:
    """The parts of sessions (sorted, disjoint) farther than ``radius_us`` from every evidence
    poll, as (start, end): there the status was carried from a poll that far away or more."""
    evidence = np.sort(np.asarray(evidence_us, dtype=np.int64))
    near_start, near_end = evidence - radius_us, evidence + radius_us
    # Equal lengths, sorted starts: the ends are sorted too, so neighbours merge in one pass.
    opens = np.r_[True, near_start[1:] > near_end[:-1]] if len(evidence) else np.zeros(0, dtype=bool)
    closes = np.r_[opens[1:], True] if len(evidence) else opens
    lowest, highest = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    gap_start = np.r_[lowest, near_end[closes]]
    gap_end = np.r_[near_start[opens], highest]
    session_start, session_end = (np.asarray(a, dtype=np.int64) for a in (session_start, session_end))
    # Each session meets the gaps first..last-1 (both lists are sorted and disjoint).
    first = np.searchsorted(gap_end, session_start, side="right")
    last = np.searchsorted(gap_start, session_end, side="left")
    counts = np.maximum(last - first, 0)
    session = np.repeat(np.arange(len(session_start)), counts)
    gap = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts - first, counts)
    start = np.maximum(gap_start[gap], session_start[session])
    end = np.minimum(gap_end[gap], session_end[session])
    kept = end > start
    return start[kept], end[kept]


def _hour_marks(zone: str, day_start: int, day_end: int) -> list[Tick]:
    """Every instant in ``[day_start, day_end)`` where the local clock shows a full hour."""
    marks = []
    for low, high, offset_us in _offset_pieces(zone, day_start, day_end):
        local = low + offset_us
        moment = -(-local // HOUR_US) * HOUR_US - offset_us  # first full local hour >= low
        while moment < high:
            hour = ((moment + offset_us) // HOUR_US) % 24
            marks.append(Tick(time_us=moment, offset_us=moment - day_start, hour=hour))
            moment += HOUR_US
    return marks


def _clock_changes(zone: str, day_start: int, day_end: int) -> list[Tick]:
    """Instants inside the day where the UTC offset changes (daylight saving)."""
    pieces = _offset_pieces(zone, day_start, day_end)
    return [
        Tick(time_us=low, offset_us=low - day_start, shift_minutes=(offset - before) // 60_000_000)
        for (_, _, before), (low, _, offset) in pairwise(pieces)
    ]


def _offset_pieces(zone: str, start_us: int, end_us: int) -> list[tuple[int, int, int]]:
    """``[low, high)`` pieces of ``[start, end)`` with one UTC offset each (µs)."""
    transitions, offsets = utc_offset_changes(zone, start_us, end_us)
    # Offset k holds from transition k-1 to transition k; the first and the last are unbounded.
    edges = [start_us, *(t * MICROSECONDS_PER_SECOND for t in transitions), end_us]
    pieces = []
    for k, offset in enumerate(offsets):
        low, high = max(start_us, edges[k]), min(end_us, edges[k + 1])
        if high > low:
            pieces.append((low, high, offset * MICROSECONDS_PER_SECOND))
    return pieces
