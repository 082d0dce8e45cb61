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


def evidence_of(sessions, polls):
    """Rule 6: the polls inside sessions, or all of them when none is."""
    inside = [p for p in polls if any(s <= p[0] < e for s, e in sessions)]
    return sorted(inside or polls)


def pieces_by_session(sessions, polls, method):
    """Status pieces covering the sessions, session by session; polls are (time µs, active):
    [((session start, end), [(start, end, active), ...] in time order), ...]."""
    evidence = evidence_of(sessions, polls)
    result = []
    for s, e in sessions:
        pieces = []
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
        result.append(((s, e), pieces))
    return result


def outages(session_pieces, lookback_start, end):
    """Rule 10: (start, end, session start, session end, ongoing) of each maximal run of
    inactive pieces inside one session (``session_pieces`` as ``pieces_by_session`` gives
    them), cut to ``[lookback_start, end)`` in µs (Fractions may appear with ``nearest``).
    ``ongoing``: the run goes on past ``end``."""
    runs = []
    for session, pieces in session_pieces:
        run = None
        for a, b, active in pieces:
            if active:
                if run:
                    runs.append((*run, session))
                run = None
            else:
                run = (run[0], b) if run else (a, b)
        if run:
            runs.append((*run, session))
    found = []
    for a, b, (s, e) in runs:
        start, stop = max(a, lookback_start), min(b, end)
        if start < stop:
            found.append((start, stop, s, e, b > end))
    return found


def store_figures(polls, hours, zone_name, as_of, lookback, method):
    """Hours of uptime, downtime and business time per window, or None when not reported.

    ``polls``: (aware datetime, active); ``hours``: (weekday, opens time, closes time).
    """
    lookback_start = as_of - lookback
    chosen = sorted({(micros(t), a) for t, a in polls if lookback_start <= t <= as_of})
    if not chosen:
        return None
    sessions = business_sessions(hours, zone_name, lookback_start, as_of)
    session_pieces = pieces_by_session(sessions, chosen, method)
    pieces = [piece for _, in_session in session_pieces for piece in in_session]
    evidence = evidence_of(sessions, chosen)
    end = micros(as_of)
    store_outages = outages(session_pieces, micros(lookback_start), end)
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
        # Rules 11-13.
        in_window = [min(b, end) - max(a, start) for a, b, *_ in store_outages if b > start and a < end]
        figures[window]["outages"] = len(in_window)
        figures[window]["longest_outage"] = max(in_window, default=0) / hour
        figures[window]["uptime_percent"] = 100 * up / (up + down) if up + down else None
        figures[window]["polls"] = sum(1 for t, _ in evidence if start <= t < end)
    return figures


def store_outage_list(polls, hours, zone_name, as_of, lookback, method):
    """The store's outages (see ``outages``), or None when it is not reported."""
    lookback_start = as_of - lookback
    chosen = sorted({(micros(t), a) for t, a in polls if lookback_start <= t <= as_of})
    if not chosen:
        return None
    sessions = business_sessions(hours, zone_name, lookback_start, as_of)
    return outages(pieces_by_session(sessions, chosen, method), micros(lookback_start), micros(as_of))


def outage_csv_rows(store_id, outage_list, zone_name):
    """Rows of the outages CSV for one store, with datetimes and zoneinfo; instants are
    written to the microsecond, rounded down (as ``nearest`` cuts are)."""
    zone = ZoneInfo(zone_name)
    rows = []
    for exact_start, exact_stop, *_ in outage_list:
        start, stop = int(exact_start), int(exact_stop)
        start_utc = EPOCH + dt.timedelta(microseconds=start)
        stop_utc = EPOCH + dt.timedelta(microseconds=stop)
        rows.append(
            [
                store_id,
                start_utc.isoformat(),
                stop_utc.isoformat(),
                start_utc.astimezone(zone).isoformat(),
                stop_utc.astimezone(zone).isoformat(),
                f"{(stop - start) / 60_000_000:.2f}",
            ]
        )
    return rows
