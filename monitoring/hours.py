"""Business hours as one short line of text, for lists and page headers."""

import datetime as dt
from collections.abc import Iterable

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALWAYS_OPEN = "24/7"


def summarize_hours(rows: Iterable[tuple[int, dt.time, dt.time]]) -> str:
    """``(day_of_week, start, end)`` rows as e.g. ``Mon–Fri 09:00–17:00; Sat 10:00–14:00; closed Sun``.

    No rows means open all the time: ``24/7``. Days with the same intervals are grouped.
    """
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for day, start, end in rows:
        by_day.setdefault(day, []).append((start, end))
    if not by_day:
        return ALWAYS_OPEN
    text_of_day = {day: ", ".join(_interval(s, e) for s, e in sorted(set(spans))) for day, spans in by_day.items()}
    groups: dict[str, list[int]] = {}
    for day in sorted(text_of_day):
        groups.setdefault(text_of_day[day], []).append(day)
    parts = [f"{_days(days)} {text}" for text, days in sorted(groups.items(), key=lambda item: item[1][0])]
    closed = [day for day in range(7) if day not in by_day]
    if closed:
        parts.append(f"closed {_days(closed)}")
    return "; ".join(parts)


def _interval(start: dt.time, end: dt.time) -> str:
    if start == end:
        return f"24 h from {_time(start)}"
    return f"{_time(start)}–{_time(end)}"


def _time(moment: dt.time) -> str:
    return f"{moment:%H:%M:%S}" if moment.second or moment.microsecond else f"{moment:%H:%M}"


def _days(days: list[int]) -> str:
    """Weekday numbers as ranges: [0, 1, 2, 4] -> 'Mon–Wed, Fri'."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}" for run in runs
    )
