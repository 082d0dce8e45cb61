"""GET /api/incidents/ and /api/incidents/<id>/: the caller's stores' incidents only, newest first,
filtered and paginated, with a 400 sentence for every filter value that cannot be used."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from alerts.models import Incident, ReconcileState
from tests.alerts.factories import IncidentFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def world(two_owners, settings):
    """two_owners with incidents on 2023-01-25 (UTC), reconciled as of 12:00:

    - store-a: 10:00-10:45 (an active poll), 11:00 open, and 09:30-09:40 retracted (never listed);
    - store-b: 10:30 open;
    - store-none: 09:00-09:15 (closing time), staff only.
    """
    settings.ALLOW_ANONYMOUS = False
    w = two_owners
    w.a_ended = IncidentFactory(
        store=w.store_a, started_at=at("2023-01-25 10:00"), ended_at=at("2023-01-25 10:45"), ended_by="active_poll"
    )
    w.a_open = IncidentFactory(
        store=w.store_a, started_at=at("2023-01-25 11:00"), opened_by_poll_at=at("2023-01-25 11:00")
    )
    IncidentFactory(
        store=w.store_a, started_at=at("2023-01-25 09:30"), ended_at=at("2023-01-25 09:40"), ended_by="retracted"
    )
    w.b_open = IncidentFactory(store=w.store_b, started_at=at("2023-01-25 10:30"))
    w.none_ended = IncidentFactory(
        store=w.store_none,
        started_at=at("2023-01-25 09:00"),
        ended_at=at("2023-01-25 09:15"),
        ended_by="session_closed",
    )
    ReconcileState.objects.create(last_as_of=at("2023-01-25 12:00"))
    return w


def client_of(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_an_owners_user_sees_its_stores_incidents_newest_first(world):
    assert ids(client_of(world.user_a).get("/api/incidents/")) == [world.a_open.pk, world.a_ended.pk]
    assert ids(client_of(world.user_b).get("/api/incidents/")) == [world.b_open.pk]


def test_staff_see_every_stores_incidents_but_never_retracted_ones(world):
    expected = [world.a_open.pk, world.b_open.pk, world.a_ended.pk, world.none_ended.pk]
    assert ids(client_of(world.staff).get("/api/incidents/")) == expected


def test_an_incident_says_when_how_and_how_long(world):
    (opened, ended) = client_of(world.user_a).get("/api/incidents/").json()["results"]
    assert ended == {
        "id": world.a_ended.pk,
        "url": f"http://testserver/api/incidents/{world.a_ended.pk}/",
        "store_id": "store-a",
        "owner": "alpha",
        "started_at": "2023-01-25T10:00:00Z",
        "ended_at": "2023-01-25T10:45:00Z",
        "ended_by": "active_poll",
        "open": False,
        "duration_minutes": 45.0,
        "session_start": "2023-01-25T09:00:00Z",
        "session_end": "2023-01-25T21:00:00Z",
        "opened_by_poll_at": None,
        "opened_notified_at": None,
        "closed_notified_at": None,
        "store_url": "http://testserver/stores/store-a/",
    }
    # Open: until the reconciled as_of, 12:00, not the wall clock.
    assert (opened["open"], opened["ended_at"], opened["ended_by"]) == (True, None, None)
    assert (opened["duration_minutes"], opened["opened_by_poll_at"]) == (60.0, "2023-01-25T11:00:00Z")


def test_before_any_reconciliation_an_open_incident_lasts_until_now(world, monkeypatch):
    ReconcileState.objects.all().delete()
    monkeypatch.setattr("alerts.listing.timezone.now", lambda: at("2023-01-25 11:20:30"))
    body = client_of(world.user_a).get(f"/api/incidents/{world.a_open.pk}/").json()
    assert body["duration_minutes"] == 20.5


def test_filters_open_store_and_since(world):
    staff = client_of(world.staff)
    assert ids(staff.get("/api/incidents/?open=1")) == [world.a_open.pk, world.b_open.pk]
    assert ids(staff.get("/api/incidents/?open=true")) == [world.a_open.pk, world.b_open.pk]
    assert ids(staff.get("/api/incidents/?open=0")) == [world.a_ended.pk, world.none_ended.pk]
    assert ids(staff.get("/api/incidents/?store=store-a")) == [world.a_open.pk, world.a_ended.pk]
    assert ids(staff.get("/api/incidents/?store=store-a&open=1")) == [world.a_open.pk]
    # Offline at some time since 10:40: a_ended (to 10:45) and the open ones; not none_ended (to 09:15).
    since = ids(staff.get("/api/incidents/?since=2023-01-25T10:40:00Z"))
    assert since == [world.a_open.pk, world.b_open.pk, world.a_ended.pk]
    # No offset: UTC. An offset is honoured: 05:46-05:00 is 10:46 UTC, after a_ended ended.
    assert ids(staff.get("/api/incidents/?since=2023-01-25T10:45:00")) == since
    assert ids(staff.get("/api/incidents/?since=2023-01-25T05:46:00-05:00")) == [world.a_open.pk, world.b_open.pk]


def test_another_owners_store_lists_nothing_exactly_as_an_unknown_one(world):
    alice = client_of(world.user_a)
    assert ids(alice.get("/api/incidents/?store=store-b")) == []
    assert ids(alice.get("/api/incidents/?store=nobody")) == []
    assert ids(alice.get("/api/incidents/?store=a%00b")) == []  # no store can have it


def test_another_owners_incident_is_answered_as_an_unknown_one(world):
    alice = client_of(world.user_a)
    theirs = alice.get(f"/api/incidents/{world.b_open.pk}/")
    unknown = alice.get("/api/incidents/999999/")
    assert (theirs.status_code, theirs.json()) == (404, {"error": f"No incident has the id {world.b_open.pk}."})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "No incident has the id 999999."})
    assert client_of(world.user_b).get(f"/api/incidents/{world.b_open.pk}/").json()["store_id"] == "store-b"


def test_a_retracted_incident_is_not_found(world):
    retracted = Incident.objects.get(ended_by="retracted")
    assert client_of(world.staff).get(f"/api/incidents/{retracted.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("open=maybe", "Invalid request: open: 'maybe' is not 1, 0, true or false."),
        ("open=", "Invalid request: open: '' is not 1, 0, true or false."),
        (
            "since=",
            "Invalid request: since: '' is not a time: write it like 2023-01-25T18:13:22Z "
            "(UTC when no offset is given).",
        ),
        ("store=", "Invalid request: store: Give a store_id, or leave the parameter out for every store."),
        ("store=" + "9" * 65, "Invalid request: store: A store_id has at most 64 characters."),
        (
            "since=yesterday",
            "Invalid request: since: 'yesterday' is not a time: write it like 2023-01-25T18:13:22Z "
            "(UTC when no offset is given).",
        ),
        ("page=0", "Invalid request: page: '0' is not a page number: use 1, 2, 3, …."),
        ("page_size=101", "Invalid request: page_size: '101' is not a page size: use a whole number from 1 to 100."),
        ("page_size=x", "Invalid request: page_size: 'x' is not a page size: use a whole number from 1 to 100."),
    ],
)
def test_a_filter_value_that_cannot_be_used_is_a_400_naming_it(world, query, sentence):
    response = client_of(world.staff).get(f"/api/incidents/?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == sentence


def test_pages_of_page_size(world):
    staff = client_of(world.staff)
    first = staff.get("/api/incidents/?page_size=3").json()
    assert (first["count"], len(first["results"])) == (4, 3)
    assert first["next"] == "http://testserver/api/incidents/?page=2&page_size=3"
    second = staff.get(first["next"]).json()
    assert [item["id"] for item in second["results"]] == [world.none_ended.pk]
    beyond = staff.get("/api/incidents/?page=3&page_size=3")
    assert beyond.status_code == 404
    assert beyond.json()["error"].startswith("Page 3 does not exist")


def test_anonymous_callers_read_incidents_as_the_reports_when_allowed(world, settings):
    refused = client_of().get("/api/incidents/")
    assert refused.status_code == 401
    assert refused.json()["error"].startswith("This API needs a token")
    settings.ALLOW_ANONYMOUS = True
    assert len(ids(client_of().get("/api/incidents/"))) == 4  # every store's, as for /api/reports/


def test_a_store_id_no_url_can_hold_has_no_store_url(world):
    odd = IncidentFactory(store__store_id="a/b", store__owner=world.owner_a, started_at=at("2023-01-25 11:30"))
    body = client_of(world.user_a).get(f"/api/incidents/{odd.pk}/").json()
    assert (body["store_id"], body["store_url"]) == ("a/b", None)
