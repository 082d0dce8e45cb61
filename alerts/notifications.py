"""Which channel is told what: deliveries planned from the incidents' state, each at most once.

Planning looks at the state after a reconciliation, never at what changed in it, so running it
twice (or on two workers) plans nothing new: a delivery is one row per (channel, event,
incident) or (channel, event, report), and the unique constraints refuse a second.

- ``incident.opened``: the incident is open at the report time and has been for at least the
  channel's grace period (on the polls' clock: report time - start), its store is not quiet on
  the channel, and the channel notifies incidents. Incidents that are already over when first
  seen (a backfill of history) are recorded, never announced.
- ``incident.closed``: the incident is over (or retracted) and the channel was planned its
  ``incident.opened``.
- ``report.ready``: a scheduled report completed (``alerts.schedules``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse

from alerts.models import Channel, Delivery, Incident
from monitoring.timezones import DEFAULT_TIMEZONE
from reports.generation import lookback
from reports.models import Report

EVENT_DESCRIPTIONS = {
    Delivery.Event.INCIDENT_OPENED: "store offline during business hours",
    Delivery.Event.INCIDENT_CLOSED: "store back online (or its business session closed)",
    Delivery.Event.REPORT_READY: "scheduled report ready",
    Delivery.Event.TEST: "test notification",
}


def new_secret() -> str:
    """A webhook signing secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def plan_incident_deliveries(as_of: dt.datetime) -> list[Delivery]:
    """Create the incident deliveries the state calls for and not yet created; returns them."""
    planned: list[Delivery] = []
    channels = list(
        Channel.objects.filter(enabled=True, notify_incidents=True)
        .prefetch_related("quiet_stores")
        .select_related("owner")
    )
    if not channels:
        return planned
    by_owner: dict[int, list[Channel]] = {}
    for channel in channels:
        by_owner.setdefault(channel.owner_id, []).append(channel)
    quiet = {channel.pk: {store.pk for store in channel.quiet_stores.all()} for channel in channels}

    open_incidents = (
        Incident.objects.open()
        .filter(store__owner_id__in=list(by_owner))
        .select_related("store", "store__owner", "store__timezone")
    )
    # The open incidents' channels already told: every reconciliation sees them again, and
    # building their payloads only for the insert to be refused would be wasted work.
    told = set(
        Delivery.objects.filter(event=Delivery.Event.INCIDENT_OPENED, incident__ended_at__isnull=True).values_list(
            "channel_id", "incident_id"
        )
    )
    for incident in open_incidents:
        owner_id = incident.store.owner_id
        for channel in [] if owner_id is None else by_owner.get(owner_id, []):
            if incident.store_id in quiet[channel.pk] or (channel.pk, incident.pk) in told:
                continue
            if as_of - incident.started_at < dt.timedelta(minutes=channel.grace_minutes):
                continue
            planned.append(_delivery(channel, Delivery.Event.INCIDENT_OPENED, incident, as_of))

    # Over (or retracted), told it opened, not yet told it closed.
    told_closed = Delivery.objects.filter(
        incident=OuterRef("incident"), channel=OuterRef("channel"), event=Delivery.Event.INCIDENT_CLOSED
    )
    to_close = (
        # Incidents that ended inside the lookback: the deliveries of older ones were planned
        # long since, and the query stays the size of the lookback, not of the whole history.
        Delivery.objects.filter(event=Delivery.Event.INCIDENT_OPENED, incident__ended_at__gt=as_of - lookback())
        .exclude(Exists(told_closed))
        .select_related(
            "channel",
            "channel__owner",
            "incident",
            "incident__store",
            "incident__store__owner",
            "incident__store__timezone",
        )
    )
    for opened in to_close:
        assert opened.incident is not None
        planned.append(_delivery(opened.channel, Delivery.Event.INCIDENT_CLOSED, opened.incident, as_of))
    return _create(planned)


def plan_report_deliveries(report: Report) -> list[Delivery]:
    """report.ready to every channel of the report's owner that notifies reports."""
    if report.owner_id is None:
        return []
    channels = Channel.objects.filter(owner_id=report.owner_id, enabled=True, notify_reports=True)
    payload = report_payload(report)
    return _create(
        [
            Delivery(channel=channel, event=Delivery.Event.REPORT_READY, report=report, payload=payload)
            for channel in channels
        ]
    )


def plan_test_delivery(channel: Channel) -> Delivery:
    """A test event for one channel (any number of them: tests are never deduplicated)."""
    payload = {
        "event": Delivery.Event.TEST.value,
        "owner": channel.owner.slug,
        "channel": channel.pk,
        "message": f"A test notification from storemonitor to {channel}.",
        "links": {"notifications": absolute_url(reverse("notifications"))},
    }
    return Delivery.objects.create(channel=channel, event=Delivery.Event.TEST, payload=payload)


def _create(planned: Iterable[Delivery]) -> list[Delivery]:
    """Insert the deliveries that do not exist yet; returns those inserted. ``get_or_create``
    inserts in a savepoint and, when a concurrent planner inserted the same row first, the
    unique constraint refuses this one and the existing row is fetched instead."""
    created = []
    for delivery in planned:
        row, inserted = Delivery.objects.get_or_create(
            channel=delivery.channel,
            event=delivery.event,
            incident=delivery.incident,
            report=delivery.report,
            defaults={"payload": delivery.payload},
        )
        if inserted:
            created.append(row)
    return created


def _delivery(channel: Channel, event: str, incident: Incident, as_of: dt.datetime) -> Delivery:
    return Delivery(channel=channel, event=event, incident=incident, payload=incident_payload(event, incident, as_of))


def incident_payload(event: str, incident: Incident, as_of: dt.datetime) -> dict[str, object]:
    """The JSON every channel is sent for an incident event (webhooks get it as the body)."""
    store = incident.store
    zone_name = _zone_of(store)
    duration = incident.duration(as_of)
    minutes = None if duration is None else round(duration.total_seconds() / 60, 2)
    return {
        "event": event,
        "owner": store.owner.slug if store.owner is not None else None,
        "store": {"store_id": store.store_id, "time_zone": zone_name},
        "incident": {
            "id": incident.pk,
            "started_at": _utc(incident.started_at),
            "started_at_local": _local(incident.started_at, zone_name),
            "ended_at": None if incident.ended_at is None else _utc(incident.ended_at),
            "ended_at_local": None if incident.ended_at is None else _local(incident.ended_at, zone_name),
            "ended_by": incident.ended_by or None,
            "open": incident.ended_at is None,
            "duration_minutes": minutes,
            "session_start": _utc(incident.session_start),
            "session_end": _utc(incident.session_end),
            "opened_by_poll_at": None if incident.opened_by_poll_at is None else _utc(incident.opened_by_poll_at),
        },
        "as_of": _utc(as_of),
        "links": {
            "store": absolute_url(reverse("store-week", args=[store.store_id])),
            "incident": absolute_url(reverse("incident-detail", args=[incident.pk])),
        },
    }


def report_payload(report: Report) -> dict[str, object]:
    return {
        "event": Delivery.Event.REPORT_READY.value,
        "owner": report.owner.slug if report.owner else None,
        "report": {
            "report_id": report.report_id,
            "as_of": None if report.as_of is None else _utc(report.as_of),
            "columns": report.columns,
            "store_count": report.store_count,
        },
        "links": {
            "csv": absolute_url(reverse("report-csv", args=[report.report_id])),
            "report": absolute_url(reverse("report-detail", args=[report.report_id])),
        },
    }


def _zone_of(store) -> str:
    try:
        return store.timezone.timezone_str
    except Exception:
        return DEFAULT_TIMEZONE


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _local(moment: dt.datetime, zone_name: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone_name)).isoformat()
