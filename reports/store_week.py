"""One store's report figures and its last week as a timeline, for the store page and the admin.

Both come from one ``compute_report(store_id=…)`` run, so the timeline shows exactly the
sessions and status segments the figures were summed from, the outages listed are the ones
the figures count, and the figures are the store's row of a full (extended) report with the
same as_of and method.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

from monitoring.hours import summarize_hours
from monitoring.models import StatusPoll, Store
from monitoring.stats import newest_poll_of
from reports.generation import (
    LATEST_AS_OF_AHEAD,
    NO_POLLS_IN_SCOPE,
    NoPollsError,
    ReportData,
    ReportTimeError,
    check_report_time,
    compute_report,
)
from reports.timeline import WEEK_US, WeekTimeline, assumed_spans, evidence_times, week_timeline
from reports.timeline_drawing import duration_text
from reports.uptime import (
    CSV_COLUMNS,
    DEFAULT_METHOD,
    EXTENDED_CSV_COLUMNS,
    OutageArrays,
    datetime_from_epoch_microseconds,
    epoch_microseconds,
)
from reports.uptime.engine import UNITS_US, WINDOWS

UNIT_NAMES = {"hour": "minutes", "day": "hours", "week": "hours"}
UNIT_SYMBOLS = {"hour": "min", "day": "h", "week": "h"}
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Figure:
    column: str  # the report's CSV column, e.g. "uptime_last_day"
    window: str  # hour, day or week
    which: str  # uptime or downtime
    value: str  # exactly as in the CSV
    unit: str
    business: str  # business time of the window, same unit


@dataclass(frozen=True)
class WindowFigures:
    """One window's line of the store's extended report row: every value exactly as in the CSV
    (``uptime_percent`` is empty when the window holds no business time)."""

    window: str
    unit: str  # "min" or "h", of uptime, downtime and business
    uptime: str
    downtime: str
    business: str
    outages: str
    uptime_percent: str
    evidence_polls: str


@dataclass(frozen=True)
class StoreFigures:
    """The store's report row as of ``as_of``; ``figures`` is empty when it has no polls in the
    lookback (then it is not in the report either). ``extended`` maps every column of the
    extended report (``EXTENDED_CSV_COLUMNS``) to its value."""

    store_id: str
    as_of: dt.datetime
    method: str
    figures: list[Figure]
    data: ReportData
    extended: dict[str, str]

    @property
    def row(self) -> list[str] | None:
        if not self.figures:
            return None
        return [self.extended[column] for column in CSV_COLUMNS]

    @property
    def extended_row(self) -> list[str] | None:
        if not self.figures:
            return None
        return [self.extended[column] for column in EXTENDED_CSV_COLUMNS]

    @property
    def windows(self) -> list[WindowFigures]:
        if not self.figures:
            return []
        business = {f.window: f.business for f in self.figures}
        return [
            WindowFigures(
                window=window,
                unit=UNIT_SYMBOLS[window],
                uptime=self.extended[f"uptime_last_{window}"],
                downtime=self.extended[f"downtime_last_{window}"],
                business=business[window],
                outages=self.extended[f"outages_last_{window}"],
                uptime_percent=self.extended[f"uptime_percent_last_{window}"],
                evidence_polls=self.extended[f"polls_last_{window}"],
            )
            for window in WINDOWS
        ]

    @property
    def longest_outage(self) -> str:
        """Hours, 2 decimals, of the longest outage cut to the last week (rule 11)."""
        return self.extended.get("longest_outage_last_week", "")


@dataclass(frozen=True)
class Outage:
    """One outage of the store's week, as the page lists it: local times in the store's zone
    (with the zone's abbreviation), its length, and the session it lies in."""

    number: int
    start_us: int
    end_us: int
    ongoing: bool
    began_before_week: bool
    when: str  # e.g. "Tue 24 Jan 09:00–21:00 UTC"
    duration: str  # e.g. "12 h 00 min"
    in_week: str  # its length inside the week, when it began before it
    session: str  # e.g. "Tue 24 Jan 09:00–21:00"

    @property
    def anchor(self) -> str:
        """The id of its mark on the timeline (the list links there)."""
        return f"outage-{self.number}"


@dataclass(frozen=True)
class StoreWeek:
    store: Store
    zone: str
    zone_is_default: bool
    hours: str
    report: StoreFigures
    timeline: WeekTimeline
    outages: list[Outage]  # the outages of the week, newest first
    evidence_radius_minutes: int


@dataclass(frozen=True)
class WeekLinks:
    """The as_of of the week before and after the shown one, None where no page can be shown;
    ``newest`` says the newest poll lies after as_of but the next whole week would pass it."""

    previous: dt.datetime | None
    next: dt.datetime | None
    newest: bool


class StoreOutOfScope(LookupError):
    """The store is not among the caller's stores: the views answer 404 before asking (this is
    the second lock, not the message)."""


def store_figures(
    store_id: str,
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    stores: QuerySet[Store] | None = None,
) -> StoreFigures:
    """The store's figures; ``as_of`` defaults to the newest poll of ``stores`` (the caller's
    visible stores, monitoring.access; None: every store), as a report of them would. Raises
    StoreOutOfScope for a store outside ``stores``, NoPollsError when they hold no polls."""
    if stores is not None and not stores.filter(store_id=store_id).exists():
        raise StoreOutOfScope(store_id)
    if as_of is None:
        as_of = StatusPoll.objects.newest_time() if stores is None else newest_poll_of(stores)
        if as_of is None:
            raise NoPollsError() if stores is None else NoPollsError(NO_POLLS_IN_SCOPE)
    data = compute_report(as_of=as_of, method=method, store_id=store_id)
    extended = dict(zip(EXTENDED_CSV_COLUMNS, next(data.figures.rows(extended=True), []), strict=False))
    return StoreFigures(
        store_id=store_id, as_of=data.as_of, method=method, figures=_figures(data), data=data, extended=extended
    )


def store_week(
    store: Store,
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    evidence_radius_minutes: int | None = None,
    stores: QuerySet[Store] | None = None,
) -> StoreWeek:
    """Figures, outages and week timeline of ``store`` (fetched with its time zone and business
    hours), which must be among ``stores`` (the caller's; None: every store, see store_figures).
    Business time farther than ``evidence_radius_minutes`` (default: the setting
    EVIDENCE_RADIUS_MINUTES) from every evidence poll is drawn as assumed."""
    radius = settings.EVIDENCE_RADIUS_MINUTES if evidence_radius_minutes is None else evidence_radius_minutes
    report = store_figures(store.store_id, as_of, method, stores=stores)
    feeds, figures = report.data.feeds, report.data.figures
    zone = feeds.store_zones[0]
    position = 0  # the snapshot holds this one store
    as_of_us = epoch_microseconds(report.as_of)
    sessions, segments = figures.sessions, figures.segments
    in_sessions = sessions.store == position
    in_segments = segments.store == position
    in_polls = feeds.poll_store == position
    session_start, session_end = sessions.start[in_sessions], sessions.end[in_sessions]
    poll_time = feeds.poll_time_us[in_polls]
    outages = figures.store_outages(position) if len(figures) else OutageArrays.concatenate([], as_of_us, as_of_us)
    week_outages = outages.take(outages.overlapping(as_of_us - WEEK_US))
    evidence = evidence_times(poll_time, session_start, session_end)
    timeline = week_timeline(
        zone,
        as_of_us,
        sessions=(session_start, session_end),
        segments=(segments.start[in_segments], segments.end[in_segments], segments.active[in_segments]),
        polls=(poll_time, feeds.poll_active[in_polls]),
        outages=(week_outages.start, week_outages.end, week_outages.ongoing),
        assumed=assumed_spans(session_start, session_end, evidence, radius * 60_000_000),
    )
    hours = [(h.day_of_week, h.start_time_local, h.end_time_local) for h in store.business_hours.all()]
    return StoreWeek(
        store=store,
        zone=zone,
        zone_is_default=not hasattr(store, "timezone"),
        hours=summarize_hours(hours),
        report=report,
        timeline=timeline,
        outages=_listed_outages(week_outages, zone, as_of_us - WEEK_US)[::-1],
        evidence_radius_minutes=radius,
    )


def week_links(as_of: dt.datetime, stores: QuerySet[Store] | None = None) -> WeekLinks:
    """The weeks either side of the one ending at ``as_of``: the previous one when a report could
    be asked for it (a poll of ``stores`` in its lookback, check_report_time; None: every store),
    the next one unless it passes their newest poll by more than a day."""
    newest_poll = StatusPoll.objects.newest_time() if stores is None else newest_poll_of(stores)
    previous = _shifted(as_of, -WEEK)
    if previous is not None and not _reportable(previous, stores):
        previous = None
    following = _shifted(as_of, WEEK)
    latest = _shifted(newest_poll, LATEST_AS_OF_AHEAD) if newest_poll else None
    if following is not None and (latest is None or following > latest or not _reportable(following, stores)):
        following = None
    return WeekLinks(
        previous=previous, next=following, newest=following is None and newest_poll is not None and as_of < newest_poll
    )


def _shifted(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime | None:
    """``moment + delta``; None past the calendar's years 1 to 9999 (polls of old databases)."""
    try:
        return moment + delta
    except OverflowError:
        return None


def _reportable(as_of: dt.datetime, stores: QuerySet[Store] | None) -> bool:
    try:
        check_report_time(as_of, stores=stores)
    except (ReportTimeError, NoPollsError):
        return False
    return True


def _listed_outages(outages: OutageArrays, zone: str, week_start_us: int) -> list[Outage]:
    """The outages as the page lists them, oldest first (numbered from 1)."""
    listed = []
    for number, (start, end, ongoing, session_start, session_end) in enumerate(
        zip(
            outages.start.tolist(),
            outages.end.tolist(),
            outages.ongoing.tolist(),
            outages.session_start.tolist(),
            outages.session_end.tolist(),
            strict=True,
        ),
        start=1,
    ):
        began_before = start < week_start_us
        listed.append(
            Outage(
                number=number,
                start_us=start,
                end_us=end,
                ongoing=ongoing,
                began_before_week=began_before,
                when=local_interval_text(start, end, zone, with_zone=True),
                duration=duration_text(end - start),
                in_week=duration_text(end - week_start_us) if began_before else "",
                session=local_interval_text(session_start, session_end, zone),
            )
        )
    return listed


def local_interval_text(start_us: int, end_us: int, zone: str, with_zone: bool = False) -> str:
    """E.g. ``Tue 24 Jan 09:00–21:00 UTC``; the end's date is written when it differs, and
    both abbreviations when the zone's changes in between (daylight saving)."""
    start, end = _local_datetime(start_us, zone), _local_datetime(end_us, zone)
    if start is None or end is None:  # beyond the calendar's years 1 to 9999
        return f"{_utc_text(start_us)}–{_utc_text(end_us)} UTC"
    start_text = local_moment_text(start)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else local_moment_text(end)
    if not with_zone:
        return f"{start_text}–{end_text}"
    if start.tzname() == end.tzname():
        return f"{start_text}–{end_text} {start.tzname()}"
    return f"{start_text} {start.tzname()}–{end_text} {end.tzname()}"


def local_moment_text(moment: dt.datetime) -> str:
    """How the pages write a local time, e.g. ``Tue 24 Jan 09:00`` (the zone's abbreviation is the
    caller's to add)."""
    return f"{moment:%a} {moment.day} {moment:%b} {moment:%H:%M}"


def _local_datetime(utc_us: int, zone: str) -> dt.datetime | None:
    try:
        return datetime_from_epoch_microseconds(utc_us).astimezone(ZoneInfo(zone))
    except (OverflowError, ValueError):
        return None


def _utc_text(utc_us: int) -> str:
    return np.datetime_as_string(np.datetime64(utc_us, "us"), unit="m").replace("T", " ")


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
