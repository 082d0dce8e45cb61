"""A simple, obviously-correct uptime calculator: one store at a time, plain Python.

It follows the README's uptime rules word for word with datetimes and ``zoneinfo`` and no
cleverness, so the fast engine in ``reports.uptime`` can be checked against it.
"""

import datetime as dt
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
WINDOWS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}


def micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def business_sessions(hours, zone_name, start, end):
    """Merged UTC sessions (microseconds) of a store, covering at least ``[start, end]``."""
    if not hours:
        return [(micros(start - dt.timedelta(days=2)), micros(end + dt.timedelta(days=2)))]
    zone = ZoneInfo(zone_name)
    intervals = []
    day = (start - dt.timedelta(days=3)).date()
    while day <= (end + dt.timedelta(days=3)).date():
        for weekday, opens, closes in hours:
            if day.weekday() != weekday:
                continue
            closing_day = day if closes > opens else day + dt.timedelta(days=1)
            # zoneinfo with fold=0: ambiguous = first occurrence, missing = offset before.
            opening = dt.datetime.combine(day, opens).replace(tzinfo=zone)
            closing = dt.datetime.combine(closing_day, closes).replace(tzinfo=zone)
            if micros(closing) > micros(opening):
                intervals.append((micros(opening), micros(closing)))
        day += dt.timedelta(days=1)
    merged = []
    for opening, closing in sorted(intervals):
        if merged and opening <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closing))
        else:
            merged.append((opening, closing))
    return merged


def status_pieces(sessions, polls, method):
    """(start, end, active) pieces covering the sessions; polls are (time µs, active)."""
    inside = [p for p in polls if any(s <= p[0] < e for s, e in sessions)]
    evidence = sorted(inside or polls)
    pieces = []
    for s, e in sessions:
        if method == "last_known":
            in_session = [p for p in evidence if s <= p[0] < e]
            if in_session:
                bounds = [s] + [t for t, _ in in_session[1:]] + [e]
                for i, (_, active) in enumerate(in_session):
                    pieces.append((bounds[i], bounds[i + 1], active))
            else:
                before = [a for t, a in evidence if t < s]
                after = [a for t, a in evidence if t >= s]
                pieces.append((s, e, before[-1] if before else after[0]))
        else:
            cuts = {Fraction(s), Fraction(e)}
            for (t1, _), (t2, _) in pairwise(evidence):
                middle = Fraction(t1 + t2, 2)
                if s < middle < e:
                    cuts.add(middle)
            cuts = sorted(cuts)
            for a, b in pairwise(cuts):
                probe = (a + b) / 2
                nearest = min(evidence, key=lambda p: (abs(p[0] - probe), p[0]))
                pieces.append((a, b, nearest[1]))
    return pieces


def store_figures(polls, hours, zone_name, as_of, lookback, method):
    """Hours of uptime, downtime and business time per window, or None when not reported.

    ``polls``: (aware datetime, active); ``hours``: (weekday, opens time, closes time).
    """
    lookback_start = as_of - lookback
    chosen = sorted({(micros(t), a) for t, a in polls if lookback_start <= t <= as_of})
    if not chosen:
        return None
    sessions = business_sessions(hours, zone_name, lookback_start, as_of)
    pieces = status_pieces(sessions, chosen, method)
    end = micros(as_of)
    figures = {}
    for window, length in WINDOWS.items():
        start = end - length // dt.timedelta(microseconds=1)
        up = down = business = Fraction(0)
        for a, b, active in pieces:
            overlap = max(Fraction(0), min(Fraction(b), end) - max(Fraction(a), start))
            if active:
                up += overlap
            else:
                down += overlap
        for s, e in sessions:
            business += max(0, min(e, end) - max(s, start))
        hour = 3_600_000_000
        figures[window] = {"uptime": up / hour, "downtime": down / hour, "business": business / hour}
    return figures
