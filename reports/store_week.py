"""One store's report figures and its last week as a timeline, for the store page and the admin.

Both come from one ``compute_report(store_id=…)`` run, so the timeline shows exactly the
sessions and status segments the six figures were summed from, and the figures are the
store's row of a full report with the same as_of and method.
"""

import datetime as dt
from dataclasses import dataclass

from monitoring.hours import summarize_hours
from monitoring.models import StatusPoll, Store
from reports.generation import NoPollsError, ReportData, compute_report
from reports.timeline import WeekTimeline, week_timeline
from reports.uptime import CSV_COLUMNS, DEFAULT_METHOD, epoch_microseconds
from reports.uptime.engine import UNITS_US, WINDOWS

UNIT_NAMES = {"hour": "minutes", "day": "hours", "week": "hours"}


@dataclass(frozen=True)
class Figure:
    column: str  # the report's CSV column, e.g. "uptime_last_day"
    window: str  # hour, day or week
    which: str  # uptime or downtime
    value: str  # exactly as in the CSV
    unit: str
    business: str  # business time of the window, same unit


@dataclass(frozen=True)
class StoreFigures:
    """The store's report row as of ``as_of``; ``figures`` is empty when it has no polls in the
    lookback (then it is not in the report either)."""

    store_id: str
    as_of: dt.datetime
    method: str
    figures: list[Figure]
    data: ReportData

    @property
    def row(self) -> list[str] | None:
        if not self.figures:
            return None
        by_column = {f.column: f.value for f in self.figures}
        return [self.store_id] + [by_column[column] for column in CSV_COLUMNS[1:]]


@dataclass(frozen=True)
class StoreWeek:
    store: Store
    zone: str
    zone_is_default: bool
    hours: str
    report: StoreFigures
    timeline: WeekTimeline


def store_figures(store_id: str, as_of: dt.datetime | None = None, method: str = DEFAULT_METHOD) -> StoreFigures:
    """The store's six figures; ``as_of`` defaults to the newest poll of all stores (a report's
    default), not the store's own. Raises NoPollsError when the database holds no polls."""
    if as_of is None:
        as_of = StatusPoll.objects.newest_time()
        if as_of is None:
            raise NoPollsError()
    data = compute_report(as_of=as_of, method=method, store_id=store_id)
    return StoreFigures(store_id=store_id, as_of=data.as_of, method=method, figures=_figures(data), data=data)


def store_week(store: Store, as_of: dt.datetime | None = None, method: str = DEFAULT_METHOD) -> StoreWeek:
    """Figures and week timeline of ``store`` (fetched with its time zone and business hours)."""
    report = store_figures(store.store_id, as_of, method)
    feeds, figures = report.data.feeds, report.data.figures
    zone = feeds.store_zones[0]
    position = 0  # the snapshot holds this one store
    sessions, segments = figures.sessions, figures.segments
    in_sessions = sessions.store == position
    in_segments = segments.store == position
    in_polls = feeds.poll_store == position
    timeline = week_timeline(
        zone,
        epoch_microseconds(report.as_of),
        sessions=(sessions.start[in_sessions], sessions.end[in_sessions]),
        segments=(segments.start[in_segments], segments.end[in_segments], segments.active[in_segments]),
        polls=(feeds.poll_time_us[in_polls], feeds.poll_active[in_polls]),
    )
    hours = [(h.day_of_week, h.start_time_local, h.end_time_local) for h in store.business_hours.all()]
    return StoreWeek(
        store=store,
        zone=zone,
        zone_is_default=not hasattr(store, "timezone"),
        hours=summarize_hours(hours),
        report=report,
        timeline=timeline,
    )


def _figures(data: ReportData) -> list[Figure]:
    figures = data.figures
    if len(figures) == 0:
        return []
    (row,) = list(figures.rows())
    values = dict(zip(CSV_COLUMNS, row, strict=True))
    result = []
    for which in ("uptime", "downtime"):
        for window in WINDOWS:
            column = f"{which}_last_{window}"
            business = figures.business_us[window][0] / UNITS_US[window]
            result.append(
                Figure(
                    column=column,
                    window=window,
                    which=which,
                    value=values[column],
                    unit=UNIT_NAMES[window],
                    business=f"{business:.2f}",
                )
            )
    return result
