"""The dashboard's "stores needing attention" and "offline now, during business hours".

``attention_summary`` reads one report's figures (no database): a report can keep it
(``Report.summary``) and the dashboard shows the newest one (``dashboard_summary``), or
computes it when there is none. It is plain JSON (strings, numbers, None, lists and dicts of
them), so it is stored as it is returned. A sharded report (``reports.shards``) keeps each
shard's ``attention_summary_part`` and joins them with ``merge_attention_summaries``: the
same summary as its stores' figures computed in one piece.

- **Stores needing attention**: the stores with downtime in the last week, most downtime in
  the last day first, then in the last week, then by store_id; each with its downtime, uptime
  percent (rule 12), outages (rule 11) and evidence polls (rule 13) of the last day and week.
- **Offline now**: the stores inside a business session at as_of whose status is inactive
  there, i.e. with an ongoing outage (rule 10), the longest offline first, each with the time
  the outage began (in UTC and in the store's zone).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from monitoring.access import AnyUser, owners_of, sees_all_stores
from reports.generation import NoPollsError, compute_report
from reports.models import Report
from reports.store_week import local_moment_text
from reports.uptime import (
    DEFAULT_METHOD,
    FeedArrays,
    UptimeFigures,
    datetime_from_epoch_microseconds,
    outage_rows,
)
from reports.uptime.engine import HOUR_US

SUMMARY_VERSION = 1
ATTENTION_LIMIT = 10
ATTENTION_WINDOWS = ("day", "week")


def attention_summary(figures: UptimeFigures, feeds: FeedArrays, limit: int = ATTENTION_LIMIT) -> dict[str, Any]:
    """The two lists of at most ``limit`` stores each, with how many stores each has in all.

    ``feeds`` is the input the figures were computed from (for the stores' zones).
    """
    # The summary of one part is the summary: both paths choose and build entries alike.
    return merge_attention_summaries([attention_summary_part(figures, feeds, limit)])


def attention_summary_part(figures: UptimeFigures, feeds: FeedArrays, limit: int = ATTENTION_LIMIT) -> dict[str, Any]:
    """What ``merge_attention_summaries`` needs of one shard's figures (plain JSON): the shard's
    own top ``limit`` of each list, each entry with the raw key it is ranked by, and the counts.

    A store in the merged top ``limit`` is in its own shard's top ``limit``, so that is enough.
    """
    attention, attention_count = _needing_attention(figures, limit)
    offline_now, offline_now_count = _offline_now(figures, feeds, limit)
    return {
        "version": SUMMARY_VERSION,
        "as_of": _iso(figures.as_of_us),
        "method": figures.method,
        "stores": len(figures),
        "limit": limit,
        "attention": attention,
        "attention_count": attention_count,
        "offline_now": offline_now,
        "offline_now_count": offline_now_count,
    }


def merge_attention_summaries(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary of all the stores of ``parts`` (``attention_summary_part`` of shards holding
    whole stores, given in the order of their store primary-key ranges): equal to
    ``attention_summary`` of the figures computed in one piece. ValueError for no parts, or
    parts of different report times, methods, limits or summary versions."""
    if not parts:
        raise ValueError("There are no summary parts to merge: a report has at least one shard.")
    first = parts[0]
    for name in ("version", "as_of", "method", "limit"):
        values = sorted({str(part[name]) for part in parts})
        if len(values) > 1:
            raise ValueError(f"The summary parts disagree on their {name} ({', '.join(values)}): merge one report's.")
    limit = first["limit"]
    # Most downtime in the day first, then in the week, then by store_id (as in one piece).
    attention = sorted(
        (candidate for part in parts for candidate in part["attention"]),
        key=lambda candidate: (-candidate["key"][0], -candidate["key"][1], candidate["entry"]["store_id"]),
    )
    # Longest offline first, then by store position: a shard's positions follow the primary key
    # as the whole report's do (reports.snapshot), and the parts come in primary-key order.
    offline_now = sorted(
        (
            (candidate["key"][0], number, candidate["key"][1], candidate["entry"])
            for number, part in enumerate(parts)
            for candidate in part["offline_now"]
        ),
        key=lambda ranked: ranked[:3],
    )
    return {
        "version": first["version"],
        "as_of": first["as_of"],
        "method": first["method"],
        "stores": sum(part["stores"] for part in parts),
        "limit": limit,
        "attention": [candidate["entry"] for candidate in attention[:limit]],
        "attention_count": sum(part["attention_count"] for part in parts),
        "offline_now": [entry for *_, entry in offline_now[:limit]],
        "offline_now_count": sum(part["offline_now_count"] for part in parts),
    }


def _needing_attention(figures: UptimeFigures, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The top ``limit`` candidates as ``{"key": [downtime µs day, week], "entry": …}``, and how
    many stores had downtime in the week."""
    down_day, down_week = figures.downtime_us["day"], figures.downtime_us["week"]
    candidates = np.flatnonzero(down_week > 0)
    # Positions follow store_id, so the position breaks ties by store_id; lexsort's last key leads.
    order = np.lexsort((candidates, -down_week[candidates], -down_day[candidates]))
    chosen = candidates[order][:limit]
    percent = {window: figures.uptime_percent(window) for window in ATTENTION_WINDOWS}
    stores = []
    for position in chosen.tolist():
        entry: dict[str, Any] = {"store_id": figures.store_ids[position]}
        for window in ATTENTION_WINDOWS:
            entry[f"downtime_last_{window}"] = _two_decimals(figures.downtime_us[window][position] / HOUR_US)
        for window in ATTENTION_WINDOWS:
            value = float(percent[window][position])
            entry[f"uptime_percent_last_{window}"] = None if np.isnan(value) else _two_decimals(value)
        for window in ATTENTION_WINDOWS:
            entry[f"outages_last_{window}"] = int(figures.outage_counts[window][position])
        for window in ATTENTION_WINDOWS:
            entry[f"polls_last_{window}"] = int(figures.evidence_polls[window][position])
        stores.append({"key": [int(down_day[position]), int(down_week[position])], "entry": entry})
    return stores, len(candidates)


def _offline_now(figures: UptimeFigures, feeds: FeedArrays, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The top ``limit`` stores offline at as_of as ``{"key": [start µs, position], "entry": …}``,
    and how many there are."""
    outages = figures.outages
    ongoing = outages.take(np.flatnonzero(outages.ongoing))
    # Longest offline first; store positions break ties (and a store has one ongoing outage at most).
    order = np.lexsort((ongoing.store, ongoing.start))
    chosen = ongoing.take(order[:limit])
    local_start = {
        row[0]: row[3] for row in outage_rows(chosen, feeds.store_ids, feeds.store_zones)
    }  # store_id -> start_local
    stores = []
    for position, start in zip(chosen.store.tolist(), chosen.start.tolist(), strict=True):
        store_id = feeds.store_ids[position]
        entry = {
            "store_id": store_id,
            "zone": feeds.store_zones[position],
            "since": _iso(start),
            "since_local": local_start[store_id],
            # Cut to the lookback: the store was offline at least since then.
            "since_lookback_start": start <= outages.lookback_start_us,
            "hours_down": _two_decimals((figures.as_of_us - start) / HOUR_US),
        }
        stores.append({"key": [start, position], "entry": entry})
    return stores, len(ongoing)


# --- For the dashboard: where the summary comes from ----------------------------------------

# Computing a summary while the dashboard waits reads every store's polls: fine for a small
# database, seconds for millions of polls (then a report has to be generated first).
ON_THE_FLY_MAX_POLLS = 200_000

NO_OWNER = (
    "Your account belongs to no owner, so it has no stores to show; ask an administrator to add it to one "
    "(manage.py add_owner_user OWNER_SLUG USERNAME)."
)


@dataclass(frozen=True)
class DashboardSummary:
    """The summary the dashboard shows: the newest Complete report's (``report``), or one
    computed now (``report`` is None); ``summary`` is empty when there is none and
    ``unavailable`` says why."""

    summary: dict[str, Any]
    report: Report | None = None
    unavailable: str = ""

    @property
    def computed_now(self) -> bool:
        return bool(self.summary) and self.report is None


def dashboard_summary(
    poll_count: int, newest_poll: dt.datetime | None, user: AnyUser | None = None
) -> DashboardSummary:
    """The summary of the stores ``user`` sees (monitoring.access; None: every store), from the
    newest Complete report covering exactly them: of every store for staff and anonymous callers,
    the owner's for a user of one owner; never a report covering more. Without one (or for a
    report from before summaries were kept, or of another version of them) a summary computed
    now over those stores, as of their newest poll, when they have at most
    ``ON_THE_FLY_MAX_POLLS`` polls. ``poll_count`` and ``newest_poll`` are those of the same
    stores (``monitoring.stats.feed_stats``)."""
    owner_ids: list[int] | None = None
    if user is None or sees_all_stores(user):
        reports = Report.objects.filter(owner__isnull=True)
    else:
        owner_ids = list(owners_of(user).order_by("pk").values_list("pk", flat=True))
        if not owner_ids:
            return DashboardSummary({}, unavailable=NO_OWNER)
        # A user of several owners has no report of exactly their stores: reports cover one owner.
        reports = Report.objects.filter(owner_id=owner_ids[0]) if len(owner_ids) == 1 else Report.objects.none()
    report = reports.filter(status=Report.Status.COMPLETE).order_by("-created_at", "-id").first()
    if report is not None and report.summary.get("version") == SUMMARY_VERSION:
        return DashboardSummary(report.summary, report)
    if newest_poll is None:
        if owner_ids is None:
            return DashboardSummary({}, unavailable="No polls yet: load the feeds with manage.py load_csvs.")
        return DashboardSummary({}, unavailable="Your stores have no polls yet.")
    if poll_count > ON_THE_FLY_MAX_POLLS:
        return DashboardSummary(
            {},
            unavailable=f"Generate a report to see them: with {poll_count:,} polls they take too long to work out "
            "while this page waits.",
        )
    try:
        data = compute_report(as_of=newest_poll, method=DEFAULT_METHOD, owner_ids=owner_ids)
    except NoPollsError as error:  # the polls were deleted meanwhile
        return DashboardSummary({}, unavailable=str(error))
    return DashboardSummary(attention_summary(data.figures, data.feeds))


def local_time_text(iso_time: str, zone: str) -> str:
    """A summary's UTC time in a store's zone, e.g. ``Wed 25 Jan 10:30 CST``; as given when it
    cannot be read (beyond the calendar's years)."""
    try:
        moment = dt.datetime.fromisoformat(iso_time).astimezone(ZoneInfo(zone))
    except (ValueError, OverflowError, ZoneInfoNotFoundError):
        return iso_time
    return f"{local_moment_text(moment)} {moment.tzname()}"


def _two_decimals(value: float) -> float:
    """Rounded as the report's CSV rounds (``f"{value:.2f}"``)."""
    return float(f"{value:.2f}")


def _iso(utc_us: int) -> str:
    try:
        return datetime_from_epoch_microseconds(utc_us).isoformat()
    except OverflowError:  # beyond year 9999 or before year 1: polls of old databases only
        return f"{np.datetime_as_string(np.datetime64(utc_us, 'us'))}+00:00"
