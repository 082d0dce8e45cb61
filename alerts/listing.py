"""How the API, the pages and the admin show incidents: the time an open one runs to, its times
in the store's zone, its duration in words.

An open incident lasts until the newest evidence, not until the wall clock: the report time of
the last reconciliation (``ReconcileState.last_as_of``, the newest poll then), or now before any
reconciliation finished.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from alerts.models import Incident, ReconcileState
from reports.store_week import local_moment_text
from reports.timeline_drawing import duration_text


def open_until() -> dt.datetime:
    """The time open incidents last until: the last reconciled report time, else now."""
    reconciled = (
        ReconcileState.objects.filter(last_as_of__isnull=False)
        .order_by("-last_as_of")
        .values_list("last_as_of", flat=True)
        .first()
    )
    return reconciled or timezone.now()


def duration_minutes(incident: Incident, as_of: dt.datetime) -> float:
    """How long it lasted (while open: until ``as_of``, never negative), in minutes, 2 decimals."""
    duration = incident.duration(as_of) or dt.timedelta(0)
    return round(max(duration.total_seconds(), 0.0) / 60, 2)


def store_page_path(store_id: str) -> str:
    """The store's page, "" for an id no URL can hold (one with a slash)."""
    try:
        return reverse("store-week", args=[store_id])
    except NoReverseMatch:
        return ""


def local_text(moment: dt.datetime, zone: str) -> str:
    """E.g. ``Wed 25 Jan 10:30 CST``."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local_moment_text(local)} {local.tzname()}"


def utc_text(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class IncidentLine:
    """One incident as a page lists it."""

    incident: Incident
    store_id: str
    store_url: str  # "" when the id has no page
    zone: str
    started_local: str
    started_utc: str
    ended_local: str  # "" while open
    ended_utc: str
    duration: str  # e.g. "1 h 05 min"
    ended_by: str  # "" while open

    @property
    def is_open(self) -> bool:
        return self.incident.ended_at is None


def incident_line(incident: Incident, as_of: dt.datetime | None) -> IncidentLine:
    """``incident`` (its store and the store's zone loaded with it) as a page shows it; an open one
    lasts until ``as_of`` (open_until)."""
    zone = incident.store.timezone_name
    ended = incident.ended_at
    duration = incident.duration(as_of) or dt.timedelta(0)
    return IncidentLine(
        incident=incident,
        store_id=incident.store.store_id,
        store_url=store_page_path(incident.store.store_id),
        zone=zone,
        started_local=local_text(incident.started_at, zone),
        started_utc=utc_text(incident.started_at),
        ended_local="" if ended is None else local_text(ended, zone),
        ended_utc="" if ended is None else utc_text(ended),
        duration=duration_text(max(int(duration.total_seconds() * 1_000_000), 0)),
        ended_by="" if ended is None else incident.get_ended_by_display(),
    )
