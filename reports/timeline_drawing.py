"""SVG coordinates for a ``WeekTimeline``: what the store page template draws, nothing more.

Pure. Coordinates are SVG user units in a ``viewBox`` of ``VIEW_WIDTH`` wide, so the drawing
scales to any screen; each drawn span keeps its exact UTC microseconds for readers and tests.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.timeline import HOUR_US, DayRow, OutageMark, Span, Tick, WeekTimeline
from reports.uptime.inputs import MICROSECONDS_PER_DAY
from reports.uptime.zones import utc_to_local

VIEW_WIDTH = 1000
LABEL_WIDTH = 104
RIGHT_MARGIN = 14
AXIS_HEIGHT = 28
ROW_HEIGHT = 42
TICK_HEIGHT = 9  # poll ticks sit above the band
BAND_HEIGHT = 24  # business sessions
STATUS_INSET = 5  # status bars sit inside the session band
OUTAGE_OUTSET = 2  # an outage's outline stands this far around its red bar


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    zone: str
    axis: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    as_of_x: float
    as_of_y: float


def draw_week(timeline: WeekTimeline) -> Drawing:
    """Everything the template needs, positioned: axis labels, then one dict per day row."""
    chart_width = VIEW_WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    axis_us = timeline.axis_us
    local = _local_clock(timeline)

    def x(offset_us: int) -> float:
        return round(LABEL_WIDTH + offset_us * chart_width / axis_us, 3)

    def width(duration_us: int) -> float:
        return round(duration_us * chart_width / axis_us, 3)

    axis_hours = -(-axis_us // HOUR_US)
    axis = [
        {"x": x(hour * HOUR_US), "label": f"{hour:02d}:00", "minor": hour % 6 != 0, "anchor": "middle"}
        for hour in range(0, axis_hours + 1, 3)
    ]
    axis[-1]["anchor"] = "end"  # the last label ends at the right edge instead of overflowing it
    rows: list[dict[str, Any]] = []
    for index, day in enumerate(timeline.days):
        top = AXIS_HEIGHT + index * ROW_HEIGHT
        band_top = top + TICK_HEIGHT + 2
        rows.append(
            {
                "date": day.date.isoformat(),
                "label": f"{day.date:%a} {day.date.day} {day.date:%b}",
                "short_label": f"{day.date:%a} {day.date.day}",
                "hours": _hours_text(day),
                "dst": day.length_us != 24 * HOUR_US,
                "top": top,
                "text_y": band_top + BAND_HEIGHT / 2 - 2,
                "note_y": band_top + BAND_HEIGHT / 2 + 11,
                "band_top": band_top,
                "band_height": BAND_HEIGHT,
                "status_top": band_top + STATUS_INSET,
                "status_height": BAND_HEIGHT - 2 * STATUS_INSET,
                "tick_top": top + 1,
                "tick_bottom": top + TICK_HEIGHT,
                "grid_bottom": band_top + BAND_HEIGHT,
                "day_x": x(0),
                "day_width": width(day.length_us),
                "hidden": _hidden_parts(day, x, width),
                "sessions": [_span(s, x, width, local) for s in day.sessions],
                "segments": [_span(s, x, width, local) for s in day.segments],
                "outages": [_outage(o, x, width, local) for o in day.outages],
                "outage_top": band_top + STATUS_INSET - OUTAGE_OUTSET,
                "outage_height": BAND_HEIGHT - 2 * STATUS_INSET + 2 * OUTAGE_OUTSET,
                "assumed": [
                    {
                        "x": x(s.offset_us),
                        "width": width(s.duration_us),
                        "start_us": s.start_us,
                        "end_us": s.end_us,
                        "title": f"assumed {_clock_text(local(s.start_us))}–{_clock_text(local(s.end_us))}: "
                        "no evidence poll near",
                    }
                    for s in day.assumed
                ],
                "polls": [
                    {
                        "x": x(p.offset_us),
                        "time_us": p.time_us,
                        "active": p.active,
                        "title": f"poll {_clock_text(local(p.time_us), seconds=True)} "
                        f"{'active' if p.active else 'inactive'}",
                    }
                    for p in day.polls
                ],
                "grid": [
                    {"x": x(m.offset_us), "hour": m.hour}
                    for m in day.hour_marks
                    if m.hour is not None and m.hour % 3 == 0 and m.offset_us > 0
                ],
                "clock_changes": [_clock_change(c, x, local) for c in day.clock_changes],
            }
        )
    height = AXIS_HEIGHT + len(timeline.days) * ROW_HEIGHT + 6
    last = timeline.days[-1] if timeline.days else None
    return Drawing(
        width=VIEW_WIDTH,
        height=height,
        zone=timeline.zone,
        axis=axis,
        rows=rows,
        as_of_x=x(timeline.as_of_us - last.start_us) if last else LABEL_WIDTH,
        as_of_y=rows[-1]["top"] if rows else AXIS_HEIGHT,
    )


def _local_clock(timeline: WeekTimeline) -> Callable[[int], int]:
    """Local wall time (µs since 1970-01-01 local) of an instant of the timeline, with integers:
    the last row of a week may end where ``datetime`` no longer reaches (year 10000)."""
    days = timeline.days
    span = (days[0].start_us, days[-1].end_us) if days else (timeline.start_us, timeline.as_of_us)

    def local(moment_us: int) -> int:
        return int(utc_to_local(np.array([moment_us], dtype=np.int64), timeline.zone, span)[0])

    return local


def _span(span: Span, x, width, local: Callable[[int], int]) -> dict:
    start, end = _clock_text(local(span.start_us)), _clock_text(local(span.end_us))
    what = "business hours" if span.active is None else ("active" if span.active else "inactive")
    return {
        "x": x(span.offset_us),
        "width": width(span.duration_us),
        "start_us": span.start_us,
        "end_us": span.end_us,
        "seconds": _seconds_text(span.duration_us),
        "active": span.active,
        "title": f"{what} {start}–{end} ({duration_text(span.duration_us)})",
    }


def _outage(mark: OutageMark, x, width, local: Callable[[int], int]) -> dict:
    start, end = _clock_text(local(mark.start_us)), _clock_text(local(mark.end_us))
    return {
        "x": x(mark.offset_us),
        "width": width(mark.duration_us),
        "number": mark.number,
        "first": mark.first,
        "ongoing": mark.ongoing and mark.last,
        "start_us": mark.start_us,
        "end_us": mark.end_us,
        "title": f"outage {mark.number}: {start}–{end}{', ongoing at as of' if mark.ongoing and mark.last else ''}",
    }


def _clock_change(change: Tick, x, local: Callable[[int], int]) -> dict:
    """Where the clock jumps, labelled with the wall times on either side, e.g. 02:00→03:00."""
    after = local(change.time_us)
    before = after - (change.shift_minutes or 0) * 60_000_000
    return {"x": x(change.offset_us), "label": f"{_clock_text(before)}→{_clock_text(after)}"}


def _hidden_parts(day: DayRow, x, width) -> list[dict]:
    """The parts of the day outside the week window (before its start, after as_of)."""
    parts = []
    if day.visible_start_us > day.start_us:
        parts.append({"x": x(0), "width": width(day.visible_start_us - day.start_us)})
    if day.visible_end_us < day.end_us:
        offset = day.visible_end_us - day.start_us
        parts.append({"x": x(offset), "width": width(day.end_us - day.visible_end_us)})
    return parts


def _hours_text(day: DayRow) -> str:
    hours = day.length_us / HOUR_US
    return f"{hours:g} h day" if day.length_us != 24 * HOUR_US else ""


def _clock_text(local_us: int, seconds: bool = False) -> str:
    """``HH:MM`` (or ``HH:MM:SS``) that a clock shows at a local wall time."""
    second_of_day = local_us % MICROSECONDS_PER_DAY // 1_000_000
    hours, minutes, second = second_of_day // 3600, second_of_day // 60 % 60, second_of_day % 60
    return f"{hours:02d}:{minutes:02d}:{second:02d}" if seconds else f"{hours:02d}:{minutes:02d}"


def _seconds_text(duration_us: int) -> str:
    seconds, micros = divmod(duration_us, 1_000_000)
    return f"{seconds}.{micros:06d}"


def duration_text(duration_us: int) -> str:
    minutes = round(duration_us / 60_000_000)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
