"""One store's outages in the last week, for ``GET /api/stores/<store_id>/outages``.

They come from one ``compute_report(store_id=…)`` run, as the store page's figures do
(``reports.store_week``): the outages are cut from the very status segments the store's report
row is summed from, so inside the week they add up to its downtime_last_week.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

from monitoring.models import Store
from reports.store_week import store_figures
from reports.uptime import DEFAULT_METHOD, MICROSECONDS_PER_SECOND, epoch_microseconds
from reports.uptime.engine import WINDOWS
from reports.uptime.zones import utc_to_local

MINUTE_US = 60 * MICROSECONDS_PER_SECOND


@dataclass(frozen=True)
class Interval:
    """Two instants as ISO 8601 texts: in UTC (``Z``) and in the store's local time (its offset)."""

    start_utc: str
    end_utc: str
    start_local: str
    end_local: str


@dataclass(frozen=True)
class ListedOutage(Interval):
    """An outage (rule 10) cut to the lookback and to as_of, with the business session holding it."""

    minutes: float  # end - start, 2 decimals
    started_before_week: bool  # it began before as_of - 7 days (and is listed whole, not cut to the week)
    ongoing: bool  # the store is still inactive at as_of: the outage is cut there, not ended
    session: Interval


@dataclass(frozen=True)
class StoreOutages:
    """A store's outages overlapping the last week ``[as_of - 7 days, as_of)``, newest first."""

    store_id: str
    as_of: str
    method: str
    time_zone: str
    week_start: str
    outages: list[ListedOutage]
    note: str | None  # why the list is empty when the store is not in the report, else None


def store_outages(
    store_id: str,
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    stores: QuerySet[Store] | None = None,
) -> StoreOutages:
    """The outages of the store ``store_id`` (which must exist, among ``stores``: the caller's,
    None for every store) as of ``as_of`` (default: the newest poll of those stores, a report's
    default). Raises StoreOutOfScope outside them, NoPollsError when they hold no polls."""
    report = store_figures(store_id, as_of, method, stores=stores)
    feeds, figures = report.data.feeds, report.data.figures
    zone = feeds.store_zones[0]  # the snapshot holds this one store, with its zone or the default
    as_of_us = epoch_microseconds(report.as_of)
    week_start_us = as_of_us - WINDOWS["week"]
    outages = figures.store_outages(0)
    # The outages overlapping the week by a positive length, as the report counts them (rule 11);
    # a store's outages never overlap, so the latest start is the newest.
    outages = outages.take(np.flatnonzero(outages.overlapping(week_start_us))[::-1])
    start_utc, start_local = _texts(outages.start, zone)
    end_utc, end_local = _texts(outages.end, zone)
    session_start_utc, session_start_local = _texts(outages.session_start, zone)
    session_end_utc, session_end_local = _texts(outages.session_end, zone)
    minutes = np.round(outages.length_us / MINUTE_US, 2).tolist()
    started_before_week = outages.started_before(week_start_us).tolist()
    ongoing = outages.ongoing.tolist()
    listed = [
        ListedOutage(
            start_utc=start_utc[k],
            end_utc=end_utc[k],
            start_local=start_local[k],
            end_local=end_local[k],
            minutes=minutes[k],
            started_before_week=started_before_week[k],
            ongoing=ongoing[k],
            session=Interval(session_start_utc[k], session_end_utc[k], session_start_local[k], session_end_local[k]),
        )
        for k in range(len(outages))
    ]
    note = None
    if len(figures) == 0:
        note = (
            f"Store {store_id} has no poll in the {settings.REPORT_LOOKBACK_DAYS} days before "
            f"{_utc_text(as_of_us)} (the lookback), so it is not in the report and has no outages to list."
        )
    return StoreOutages(
        store_id=store_id,
        as_of=_utc_text(as_of_us),
        method=method,
        time_zone=zone,
        week_start=_utc_text(week_start_us),
        outages=listed,
        note=note,
    )


def _texts(utc_us: np.ndarray, zone: str) -> tuple[list[str], list[str]]:
    """ISO 8601 texts of instants in UTC and in the zone, with their offsets as ``zoneinfo`` gives
    them (``utc_to_local``). Written from integers, they hold also beyond years 1 to 9999 (the
    ends of the calendar, where sessions run past the last instant a datetime can hold)."""
    local_us = utc_to_local(utc_us, zone)
    utc = [_utc_text(moment) for moment in utc_us.tolist()]
    local = [_iso(moment, moment - instant) for moment, instant in zip(local_us.tolist(), utc_us.tolist(), strict=True)]
    return utc, local


def _utc_text(utc_us: int) -> str:
    """An instant in UTC as the API writes times: ``2023-01-25T12:00:00Z``."""
    return _iso(utc_us, None)


def _iso(wall_us: int, offset_us: int | None) -> str:
    """``datetime.isoformat()`` of a wall time (microseconds only when there are any) followed by
    its offset, or by ``Z`` for None (UTC)."""
    text = str(np.datetime64(wall_us, "us")).removesuffix(".000000")
    if offset_us is None:
        return f"{text}Z"
    zone = dt.timezone(dt.timedelta(microseconds=offset_us))
    return text + dt.datetime(2000, 1, 1, tzinfo=zone).isoformat()[len("2000-01-01T00:00:00") :]
