"""Incidents on the pages: the store page's "Incidents", the dashboard's "Offline now: open
incidents" (both through alerts' inclusion tags), and the admin's read-only list."""

import datetime as dt
import re
from html import unescape

import pytest
from django.test import Client

from alerts.models import ReconcileState
from alerts.templatetags import alerts as alert_tags
from tests.alerts.factories import IncidentFactory
from tests.assertions import absent_from, page_text
from tests.factories import StoreFactory, TimezoneFactory, UserFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def world(two_owners, settings):
    """store-a in New York (EST, UTC-5 in January): an incident 15:00-16:05 UTC ended by an active
    poll, and one open since 17:00 UTC; store-b (Chicago, the default zone) open since 16:00 UTC;
    reconciled as of 17:30 UTC."""
    settings.ALLOW_ANONYMOUS = False
    w = two_owners
    TimezoneFactory(store=w.store_a, timezone_str="America/New_York")
    w.a_ended = IncidentFactory(
        store=w.store_a, started_at=at("2023-01-25 15:00"), ended_at=at("2023-01-25 16:05"), ended_by="active_poll"
    )
    w.a_open = IncidentFactory(store=w.store_a, started_at=at("2023-01-25 17:00"))
    w.b_open = IncidentFactory(store=w.store_b, started_at=at("2023-01-25 16:00"))
    ReconcileState.objects.create(last_as_of=at("2023-01-25 17:30"))
    return w


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def incident_rows(page: str) -> list[tuple[str, ...]]:
    """(row class, cells as text) of each row of the store page's incidents table."""
    table = page[page.index('id="incidents-table"') : page.index("</table>", page.index('id="incidents-table"'))]
    rows = []
    for attributes, body in re.findall(r"<tr data-incident-id=\"\d+\"([^>]*)>(.*?)</tr>", table, re.S):
        cells = [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
        rows.append(("open" if "incident-open" in attributes else "", *cells))
    return rows


def test_the_store_page_lists_the_stores_incidents_in_its_zone_and_utc(world):
    page = page_text(signed_in(world.user_a).get("/stores/store-a/"))
    assert incident_rows(page) == [
        ("open", "Wed 25 Jan 12:00 EST", "offline now", "30 min so far", "–", "2023-01-25 17:00 UTC", "–"),
        (
            "",
            "Wed 25 Jan 10:00 EST",
            "Wed 25 Jan 11:05 EST",
            "1 h 05 min",
            "an active poll",
            "2023-01-25 15:00 UTC",
            "2023-01-25 16:05 UTC",
        ),
    ]
    assert "Started (America/New_York)" in page
    assert 'href="/api/incidents/?store=store-a"' in page


def test_the_store_page_shows_the_ten_newest_and_never_retracted_ones(world):
    store = StoreFactory(store_id="store-many", owner=world.owner_a)
    for hour in range(11):
        IncidentFactory(
            store=store,
            started_at=at("2023-01-24 00:00") + dt.timedelta(hours=hour),
            ended_at=at("2023-01-24 00:30") + dt.timedelta(hours=hour),
            ended_by="session_closed",
        )
    IncidentFactory(
        store=store, started_at=at("2023-01-25 00:00"), ended_at=at("2023-01-25 00:10"), ended_by="retracted"
    )
    rows = incident_rows(page_text(signed_in(world.user_a).get("/stores/store-many/")))
    # The newest ten of 00:00 .. 10:00 UTC, newest first; the retracted one of the 25th is left out.
    assert [row[5] for row in rows] == [f"2023-01-24 {hour:02d}:00 UTC" for hour in range(10, 0, -1)]
    # Chicago (the default zone, CST = UTC-6): 10:00 UTC is 04:00 there, 01:00 UTC the evening before.
    assert (rows[0][1], rows[-1][1]) == ("Tue 24 Jan 04:00 CST", "Mon 23 Jan 19:00 CST")
    assert all(row[4] == "closing time" for row in rows)


def test_a_store_without_incidents_says_so(world):
    StoreFactory(store_id="store-calm", owner=world.owner_a)
    page = page_text(signed_in(world.user_a).get("/stores/store-calm/"))
    assert "No incident recorded: this store has not been seen offline during business hours." in page


def test_the_tag_takes_a_store_id_too(world):
    context = alert_tags.store_incidents("store-a")
    assert [line.incident for line in context["lines"]] == [world.a_open, world.a_ended]
    assert alert_tags.store_incidents("no-such-store")["lines"] == []


def offline_rows(page: str) -> list[tuple[str, str]]:
    """(store_id, since text) of each store of the dashboard's open incidents."""
    found = re.findall(
        r'<li data-store-id="([^"]+)" data-incident-id="\d+">.*?<span class="incident-since">(.*?)</span>', page, re.S
    )
    return [(store_id, unescape(re.sub(r"<[^>]+>", "", since)).strip()) for store_id, since in found]


def test_the_dashboard_lists_the_users_stores_offline_now(world):
    page = page_text(signed_in(world.user_a).get("/"))
    assert offline_rows(page) == [("store-a", "since Wed 25 Jan 12:00 EST (2023-01-25 17:00 UTC), for 30 min")]
    assert "1 store offline during business hours at 2023-01-25 17:30 UTC" in page
    assert 'href="/api/incidents/?open=1"' in page
    assert "store-b" not in page[page.index('id="open-incidents"') : page.index('id="freshness"')]


def test_staff_see_every_store_offline_longest_first(world):
    page = page_text(signed_in(world.staff).get("/"))
    assert offline_rows(page) == [
        ("store-b", "since Wed 25 Jan 10:00 CST (2023-01-25 16:00 UTC), for 1 h 30 min"),
        ("store-a", "since Wed 25 Jan 12:00 EST (2023-01-25 17:00 UTC), for 30 min"),
    ]
    assert "2 stores offline during business hours" in page


def test_the_dashboard_lists_the_first_ones_and_counts_them_all(world, monkeypatch):
    monkeypatch.setattr(alert_tags, "OFFLINE_NOW_LISTED", 1)
    page = page_text(signed_in(world.staff).get("/"))
    assert [store_id for store_id, _ in offline_rows(page)] == ["store-b"]
    summary = "2 stores offline during business hours at 2023-01-25 17:30 UTC (the newest poll reconciled)"
    assert f"{summary}, the 1 offline longest below." in page


def test_nobody_offline_is_said_plainly(world):
    world.a_open.delete()
    page = page_text(signed_in(world.user_a).get("/"))
    assert "No store is offline during business hours (no open incident)." in page


def test_the_admin_lists_incidents_read_only(world):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = signed_in(admin)
    page = page_text(client.get("/admin/alerts/incident/"))
    assert not absent_from(page, "store-a", "store-b", "an active poll", "store owner", "Alpha Pizza")
    assert 'href="/admin/alerts/incident/add/"' not in page
    open_only = page_text(client.get("/admin/alerts/incident/?ended=no"))
    assert open_only.count('class="field-store_id_text"') == 2
    owner_b = page_text(client.get("/admin/alerts/incident/?owner=beta"))
    assert owner_b.count('class="field-store_id_text"') == 1
    searched = page_text(client.get("/admin/alerts/incident/?q=store-a"))
    assert searched.count('class="field-store_id_text"') == 2
    assert client.get("/admin/alerts/incident/add/").status_code == 403
    detail = page_text(client.get(f"/admin/alerts/incident/{world.a_ended.pk}/change/"))
    assert 'name="_save"' not in detail
