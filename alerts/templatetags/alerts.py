"""Incidents on the reports app's pages, without the reports app importing alerts
(tests/test_boundaries.py): ``{% load alerts %}``, then ``{% store_incidents store %}`` on the store
page and ``{% offline_now %}`` on the dashboard."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from alerts.listing import incident_line, open_until
from alerts.models import Incident
from monitoring.models import Store

register = template.Library()

# The store page lists this many of the store's newest incidents; the dashboard this many of the
# stores offline now (the API has them all).
STORE_INCIDENTS = 10
OFFLINE_NOW_LISTED = 20


@register.inclusion_tag("alerts/store_incidents.html")
def store_incidents(store: Store | str) -> dict:
    """The store's newest incidents (not retracted), open ones first among equals of start. The
    page has already checked that the user sees the store; ``store`` may be its store_id."""
    found = (
        store if isinstance(store, Store) else Store.objects.select_related("timezone").filter(store_id=store).first()
    )
    if found is None:
        return {"store": None, "lines": []}
    incidents = list(
        Incident.objects.current().filter(store=found).select_related("store", "store__timezone")[:STORE_INCIDENTS]
    )
    # Only an open incident needs the time it lasts until: one query fewer on most pages.
    as_of = open_until() if any(incident.ended_at is None for incident in incidents) else None
    return {
        "store": found,
        "as_of": as_of,
        "lines": [incident_line(incident, as_of) for incident in incidents],
        "limit": STORE_INCIDENTS,
        "api_url": f"{reverse('incident-list')}?{urlencode({'store': found.store_id})}",
    }


@register.inclusion_tag("alerts/offline_now.html", takes_context=True)
def offline_now(context: template.Context) -> dict:
    """The user's stores offline now (their open incidents), offline longest first."""
    user = context["request"].user
    incidents = (
        Incident.objects.open()
        .visible_to(user)
        .select_related("store", "store__timezone")
        .order_by("started_at", "store__store_id")
    )
    # One query when nobody is offline (the dashboard's usual state), three at most.
    listed = list(incidents[:OFFLINE_NOW_LISTED])
    count = len(listed) if len(listed) < OFFLINE_NOW_LISTED else incidents.count()
    as_of = open_until() if listed else None
    return {
        "as_of": as_of,
        "count": count,
        "lines": [incident_line(incident, as_of) for incident in listed],
        "api_url": f"{reverse('incident-list')}?open=1",
    }
