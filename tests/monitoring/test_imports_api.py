"""The import ledger's API (GET /api/imports/, /api/imports/<id>/): newest first, paginated, filtered
by feed, status and source, for ingesting accounts only."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.models import Import
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = timezone.make_aware(dt.datetime(2024, 10, 1, 12, 0), dt.UTC)


def ledger_row(minutes: int, **fields) -> Import:
    values = {
        "source": Import.Source.COMMAND,
        "name": "store_status.csv",
        "feed": "polls",
        "sha256": "ab" * 32,
        "status": Import.Status.COMPLETE,
        "started_at": START + dt.timedelta(minutes=minutes),
        "finished_at": START + dt.timedelta(minutes=minutes, seconds=3),
        **fields,
    }
    return Import.objects.create(**values)


@pytest.fixture
def feeder():
    user = UserFactory(username="feeder")
    user.user_permissions.add(Permission.objects.get(codename="ingest_feeds"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_ledger_lists_imports_newest_first_with_their_fields(feeder):
    old = ledger_row(0, rows_read=10, rows_inserted=9, rows_duplicate=1, summary="polls: 10 read")
    new = ledger_row(5, source=Import.Source.API, requested_by=UserFactory(username="cron"), feed="hours")

    response = feeder.get("/api/imports/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    first, second = body["results"]
    assert (first["source"], first["feed"], first["requested_by"]) == ("api", "hours", "cron")
    assert (second["rows_read"], second["rows_inserted"], second["rows_duplicate"]) == (10, 9, 1)
    assert second["seconds"] == 3.0
    assert second["url"] == f"http://testserver/api/imports/{old.pk}/"
    assert "password" not in str(first)


def test_the_ledger_is_paginated_like_the_reports(feeder):
    for minutes in range(25):
        ledger_row(minutes)

    first = feeder.get("/api/imports/").json()
    second = feeder.get("/api/imports/", {"page": 2}).json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (25, 20, 5)
    assert feeder.get("/api/imports/", {"page": 3}).status_code == 404
    assert "Page 3 does not exist" in feeder.get("/api/imports/", {"page": 3}).json()["error"]


def test_the_ledger_filters_by_feed_status_and_source(feeder):
    polls = ledger_row(0)
    hours = ledger_row(1, feed="hours", status=Import.Status.FAILED, error="menu_hours.csv line 2: bad day")
    pushed = ledger_row(2, source=Import.Source.API, status=Import.Status.SKIPPED)

    def ids(**query):
        return [row["id"] for row in feeder.get("/api/imports/", query).json()["results"]]

    assert ids(feed="hours") == [hours.pk]
    assert ids(status="failed") == [hours.pk]
    assert ids(source="api") == [pushed.pk]
    assert ids(feed="polls", source="command") == [polls.pk]


def test_an_unknown_filter_value_is_a_400_naming_the_choices(feeder):
    response = feeder.get("/api/imports/", {"status": "done"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]
    assert "complete" in response.json()["error"]


def test_one_import_by_id_and_an_unknown_id_is_a_404(feeder):
    entry = ledger_row(0, status=Import.Status.FAILED, error="store_status.csv line 3, field status: bad")

    response = feeder.get(f"/api/imports/{entry.pk}/")

    assert response.status_code == 200
    assert response.json()["error"] == entry.error
    assert feeder.get(f"/api/imports/{entry.pk + 100}/").status_code == 404


def test_the_ledger_is_for_ingesting_accounts_only(settings):
    settings.ALLOW_ANONYMOUS = True
    entry = ledger_row(0)
    reader = APIClient()
    reader.force_authenticate(UserFactory(username="reader"))
    staff = APIClient()
    staff.force_authenticate(UserFactory(username="boss", is_staff=True))

    anonymous = APIClient().get("/api/imports/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert reader.get("/api/imports/").status_code == 403
    assert reader.get(f"/api/imports/{entry.pk}/").status_code == 403
    assert "Can push feeds" in reader.get("/api/imports/").json()["error"]
    assert staff.get("/api/imports/").status_code == 200
