"""How fresh the data is, from the monitoring tables: the newest poll, the last complete import,
the latest imports, and the stores silent since a time (with their zones and business hours).

Plain functions over the ORM, read by ``GET /api/status`` and the dashboard (reports.status,
reports.views). None of them reads the polls table: each store's newest poll is
``Store.last_polled_at``, which the loaders keep (monitoring.ingestion.backends), so they stay
fast with millions of polls. Which silent stores are inside business hours is the calculator's
rule, applied by reports.freshness.
"""

import datetime as dt

from django.conf import settings
from django.db.models import Max, QuerySet

from monitoring.models import BusinessHours, Import, Store
from monitoring.timezones import DEFAULT_TIMEZONE

LATEST_IMPORTS = 10

SilentRow = tuple[int, str, dt.datetime, str]  # pk, store_id, newest poll, zone (defaulted)
HoursRow = tuple[str, int, dt.time, dt.time]  # store_id, day_of_week, local start, local end


def stale_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.STALE_AFTER_MINUTES)


def newest_poll_time(stores: QuerySet[Store] | None = None) -> dt.datetime | None:
    """The newest poll of ``stores`` (None: every store), None without any: the end of an index."""
    scope = Store.objects.all() if stores is None else stores
    return scope.order_by().aggregate(newest=Max("last_polled_at"))["newest"]


def last_complete_import() -> Import | None:
    return Import.objects.last_complete()


def latest_imports(limit: int = LATEST_IMPORTS) -> list[Import]:
    """The newest rows of the import ledger, whatever their status (for staff and ingest users)."""
    return list(Import.objects.order_by("-started_at", "-pk")[:limit])


def age_seconds(moment: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole seconds from ``moment`` to ``now`` (negative for a moment ahead of the clock)."""
    return None if moment is None else int((now - moment).total_seconds())


def import_is_stale(last_import: Import | None, now: dt.datetime) -> bool:
    """No data import completed within STALE_AFTER_MINUTES of ``now`` (the wall clock)."""
    if last_import is None or last_import.finished_at is None:
        return True
    return now - last_import.finished_at > stale_after()


def silent_since(bound: dt.datetime) -> tuple[list[SilentRow], list[HoursRow]]:
    """Every store whose newest poll is before ``bound`` (a range of the ``last_polled_at`` index),
    by store_id, with its zone (the default zone when it has none), and their business hours rows.
    Stores that never polled are not among them."""
    silent = Store.objects.filter(last_polled_at__lt=bound)
    rows = list(silent.order_by("store_id").values_list("pk", "store_id", "last_polled_at", "timezone__timezone_str"))
    if not rows:
        return [], []
    store_id_of = {pk: store_id for pk, store_id, _, _ in rows}
    hours = [
        (store_id_of[pk], day, start, end)
        for pk, day, start, end in BusinessHours.objects.filter(store__in=silent.values("pk")).values_list(
            "store_id", "day_of_week", "start_time_local", "end_time_local"
        )
    ]
    # Below the bound, the newest poll is never None.
    return [(pk, store_id, last, zone or DEFAULT_TIMEZONE) for pk, store_id, last, zone in rows if last], hours


def still_silent(stores: QuerySet[Store] | None, bound: dt.datetime) -> set[int]:
    """The keys of ``stores`` (None: every store) whose newest poll is still before ``bound``."""
    scope = Store.objects.all() if stores is None else stores
    return set(scope.filter(last_polled_at__lt=bound).values_list("pk", flat=True))
