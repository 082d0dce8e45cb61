"""SVG coordinates for a ``WeekTimeline``: what the store page template draws, nothing more.

Pure. Coordinates are SVG user units in a ``viewBox`` of ``VIEW_WIDTH`` wide, so the drawing
scales to any screen; each drawn span keeps its exact UTC microseconds for readers and tests.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from reports.timeline import HOUR_US, DayRow, Span, WeekTimeline
from reports.uptime.inputs import datetime_from_epoch_microseconds

VIEW_WIDTH = 1000
LABEL_WIDTH = 104
RIGHT_MARGIN = 14
AXIS_HEIGHT = 28
ROW_HEIGHT = 42
TICK_HEIGHT = 9  # poll ticks sit above the band
BAND_HEIGHT = 24  # business sessions
STATUS_INSET = 5  # status bars sit inside the session band


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
    tz = ZoneInfo(timeline.zone)

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
                "sessions": [_span(s, x, width, tz) for s in day.sessions],
                "segments": [_span(s, x, width, tz) for s in day.segments],
                "polls": [
                    {
                        "x": x(p.offset_us),
                        "time_us": p.time_us,
                        "active": p.active,
                        "title": f"poll {_local(p.time_us, tz):%H:%M:%S} {'active' if p.active else 'inactive'}",
                    }
                    for p in day.polls
                ],
                "grid": [
                    {"x": x(m.offset_us), "hour": m.hour}
                    for m in day.hour_marks
                    if m.hour is not None and m.hour % 3 == 0 and m.offset_us > 0
                ],
                "clock_changes": [_clock_change(c, x, tz) for c in day.clock_changes],
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


def _span(span: Span, x, width, tz) -> dict:
    start, end = _local(span.start_us, tz), _local(span.end_us, tz)
    what = "business hours" if span.active is None else ("active" if span.active else "inactive")
    return {
        "x": x(span.offset_us),
        "width": width(span.duration_us),
        "start_us": span.start_us,
        "end_us": span.end_us,
        "seconds": _seconds_text(span.duration_us),
        "active": span.active,
        "title": f"{what} {start:%H:%M}–{end:%H:%M} ({_duration_text(span.duration_us)})",
    }


def _clock_change(change, x, tz) -> dict:
    """Where the clock jumps, labelled with the wall times on either side, e.g. 02:00→03:00."""
    after = _local(change.time_us, tz)
    before = after - dt.timedelta(minutes=change.shift_minutes)
    return {"x": x(change.offset_us), "label": f"{before:%H:%M}→{after:%H:%M}"}


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


def _local(moment_us: int, tz: ZoneInfo) -> dt.datetime:
    return datetime_from_epoch_microseconds(moment_us).astimezone(tz)


def _seconds_text(duration_us: int) -> str:
    seconds, micros = divmod(duration_us, 1_000_000)
    return f"{seconds}.{micros:06d}"


def _duration_text(duration_us: int) -> str:
    minutes = round(duration_us / 60_000_000)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
