"""The stores not reporting: stores inside a business session at the data's "now" whose own
newest poll is older than ``STALE_AFTER_MINUTES`` before it.

That "now" is the newest poll of every store, not the wall clock, so a historical data set (the
2023 sample) still makes sense, and an owner whose stores all went quiet sees them listed.
Business sessions follow the uptime rules (README) through the calculator's own
``business_sessions``. A store that never polled is not listed: it never started reporting.

Only the stores silent since the bound are read (monitoring.freshness), and the answer for every
store is cached for a minute per newest poll, so a page view does not expand business hours again.
"""

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import QuerySet

from monitoring.freshness import HoursRow, SilentRow, newest_poll_time, silent_since, stale_after, still_silent
from monitoring.models import Store
from monitoring.timezones import DEFAULT_TIMEZONE
from reports.uptime import FeedArrays, epoch_microseconds
from reports.uptime.sessions import WeeklyHours, business_sessions

# The stores-not-reporting list is cut to this many (by store_id); the count is of them all.
NOT_REPORTING_LIMIT = 50
# Computed again at least this often, even for the same newest poll: new business hours or
# zones show within this many seconds (a store that polls since shows at once).
NOT_REPORTING_CACHE_SECONDS = 60

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SilentStore:
    store_id: str
    last_poll: dt.datetime
    zone: str


@dataclass(frozen=True)
class NotReporting:
    """The stores not reporting at ``as_of``: ``count`` in all, the first ``limit`` in ``stores``."""

    as_of: dt.datetime  # the newest poll of every store
    bound: dt.datetime  # as_of - STALE_AFTER_MINUTES: a newest poll before it is too old
    count: int
    stores: list[SilentStore]
    limit: int


def stores_not_reporting(
    stores: QuerySet[Store] | None = None, as_of: dt.datetime | None = None, limit: int = NOT_REPORTING_LIMIT
) -> NotReporting | None:
    """The stores of ``stores`` (None: every store) not reporting at ``as_of`` (default: the
    newest poll of every store); None when no store has polled yet."""
    if as_of is None:
        as_of = newest_poll_time()
        if as_of is None:
            return None
    bound = as_of - stale_after()
    silent = _every_silent_open_store(as_of, bound)
    if silent:
        # Also for every store: a store that polled since the cached answer is no longer silent.
        in_scope = still_silent(stores, bound)
        silent = [row for row in silent if row[0] in in_scope]
    listed = [SilentStore(store_id=store_id, last_poll=last, zone=zone) for _, store_id, last, zone in silent[:limit]]
    return NotReporting(as_of=as_of, bound=bound, count=len(silent), stores=listed, limit=limit)


def _every_silent_open_store(as_of: dt.datetime, bound: dt.datetime) -> list[SilentRow]:
    """Every store silent since ``bound`` and in a business session at ``as_of``, by store_id;
    cached (the shared cache) for every caller."""
    key = f"reports:not-reporting:{as_of.isoformat()}:{bound.isoformat()}"
    cached = _cached(key)
    if cached is not None:
        return cached
    silent, hours = silent_since(bound)
    open_now = stores_open_at(as_of, {store_id: zone for _, store_id, _, zone in silent}, hours) if silent else set()
    rows = [row for row in silent if row[1] in open_now]
    try:
        cache.set(key, rows, NOT_REPORTING_CACHE_SECONDS)
    except Exception:  # a cache that is down (Redis) only costs the recomputation
        log.warning("The cache cannot be written: the stores not reporting are computed at every request")
    return rows


def _cached(key: str) -> list[SilentRow] | None:
    try:
        return cache.get(key)
    except Exception:  # as above: /api/status must answer while Redis is down
        log.warning("The cache cannot be read: computing the stores not reporting again")
        return None


def stores_open_at(moment: dt.datetime, zones: dict[str, str], hours: Iterable[HoursRow]) -> set[str]:
    """The stores of ``zones`` (store_id: its zone) inside a business session at ``moment``.

    ``hours`` are their business hours rows (store_id, day, local start, local end); a store
    with none is always open. Sessions are the calculator's (reports.uptime.sessions), expanded
    over the one microsecond ``[moment, moment + 1 µs)``: a session holds its start, not its end.
    """
    feeds = FeedArrays.from_rows([], list(hours), zones, default_zone=DEFAULT_TIMEZONE)
    at = epoch_microseconds(moment)
    everyone = np.arange(len(feeds.store_ids), dtype=np.int64)
    sessions = business_sessions(WeeklyHours.from_feeds(feeds), feeds.store_zones, everyone, at, at + 1)
    return {feeds.store_ids[position] for position in set(sessions.store.tolist())}
