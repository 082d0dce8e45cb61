"""GET /api/status and /healthz: for load balancers and monitors, without credentials too."""

import datetime as dt
import os
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from accounts.tokens import create_api_token
from monitoring.models import Import, Store
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SERVICE_FIELDS = {
    "status",
    "checked_at",
    "stale_after_minutes",
    "newest_poll",
    "last_complete_import",
    "database",
    "queue",
}


@pytest.fixture(autouse=True)
def signed_in_only(settings):
    """Production's access rule (ALLOW_ANONYMOUS off), and the default bound of 90 minutes."""
    settings.ALLOW_ANONYMOUS = False
    settings.STALE_AFTER_MINUTES = 90
    settings.REDIS_URL = ""  # the ORM broker, unless a test says otherwise


def import_finished(minutes_ago, **fields):
    finished = timezone.now() - dt.timedelta(minutes=minutes_ago)
    values = {
        "source": Import.Source.COMMAND,
        "name": "store_status.csv",
        "feed": "polls",
        "started_at": finished - dt.timedelta(seconds=3),
        "finished_at": finished,
        "status": Import.Status.COMPLETE,
        "rows_read": 5,
        "rows_inserted": 4,
        **fields,
    }
    return Import.objects.create(**values)


def silent_stores(two_owners):
    """store-b polled at 18:00 (the newest poll); store-a and store-none are silent, open 24/7."""
    newest = dt.datetime(2023, 1, 25, 18, tzinfo=UTC)
    Store.objects.filter(pk=two_owners.store_b.pk).update(last_polled_at=newest)
    Store.objects.filter(pk=two_owners.store_a.pk).update(last_polled_at=newest - dt.timedelta(hours=3))
    Store.objects.filter(pk=two_owners.store_none.pk).update(last_polled_at=newest - dt.timedelta(hours=5))
    return newest


def status_of(client, expected_status, **headers):
    response = client.get("/api/status", headers=headers)
    assert response.status_code == expected_status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.json()


# --- 200 or 503 ----------------------------------------------------------------------------


def test_without_any_import_it_answers_503_stale(client):
    body = status_of(client, 503)

    assert (body["status"], body["database"], body["queue"]) == ("stale", "ok", "ok")
    assert body["error"] == "No import of data has completed yet: load the feeds (manage.py load_csvs)."
    assert body["last_complete_import"] == {"time": None, "age_seconds": None}
    assert body["newest_poll"] == {"time": None, "age_seconds": None}


def test_an_import_older_than_the_bound_answers_503(client):
    old = import_finished(91)

    body = status_of(client, 503)

    assert body["status"] == "stale"
    assert body["error"].startswith("No import of data completed in the last 90 minutes: the last one finished at ")
    assert body["last_complete_import"]["time"] == old.finished_at.isoformat().replace("+00:00", "Z")
    assert 91 * 60 <= body["last_complete_import"]["age_seconds"] <= 91 * 60 + 5


def test_a_fresh_import_answers_200_ok(client, two_owners):
    newest = silent_stores(two_owners)
    import_finished(10)
    # A failed load and a prune run afterwards are not data arriving: the fresh one still counts.
    import_finished(1, status=Import.Status.FAILED)

    body = status_of(client, 200)

    assert body["status"] == "ok"
    assert "error" not in body
    assert body["stale_after_minutes"] == 90
    assert body["newest_poll"]["time"] == "2023-01-25T18:00:00Z"
    assert body["newest_poll"]["age_seconds"] == int((timezone.now() - newest).total_seconds())
    assert 600 <= body["last_complete_import"]["age_seconds"] <= 605


def test_a_longer_bound_keeps_an_older_import_fresh(client, settings):
    settings.STALE_AFTER_MINUTES = 180
    import_finished(120)

    assert status_of(client, 200)["stale_after_minutes"] == 180


# --- Who sees what -------------------------------------------------------------------------


def test_an_anonymous_caller_gets_the_service_fields_only(client, two_owners):
    silent_stores(two_owners)
    import_finished(5)

    body = status_of(client, 200)

    assert set(body) == SERVICE_FIELDS
    assert set(body["last_complete_import"]) == {"time", "age_seconds"}


def test_an_owner_sees_only_its_own_stores_not_reporting(client, two_owners):
    silent_stores(two_owners)
    import_finished(5)
    client.force_login(two_owners.user_a)

    body = status_of(client, 200)

    assert body["stores_not_reporting"] == {
        "as_of": "2023-01-25T18:00:00Z",
        "count": 1,
        "limit": 50,
        "stores": [{"store_id": "store-a", "last_poll": "2023-01-25T15:00:00Z", "url": "/stores/store-a/"}],
    }
    assert set(body["last_complete_import"]) == {"time", "age_seconds"}  # not an ingest user


def test_the_other_owner_sees_none_of_them(client, two_owners):
    silent_stores(two_owners)
    import_finished(5)
    client.force_login(two_owners.user_b)

    body = status_of(client, 200)

    assert (body["stores_not_reporting"]["count"], body["stores_not_reporting"]["stores"]) == (0, [])


def test_staff_see_every_store_and_the_import_s_details(client, two_owners):
    silent_stores(two_owners)
    entry = import_finished(5)
    client.force_login(two_owners.staff)

    body = status_of(client, 200)

    assert [s["store_id"] for s in body["stores_not_reporting"]["stores"]] == ["store-a", "store-none"]
    assert body["stores_not_reporting"]["count"] == 2
    details = body["last_complete_import"]
    assert {key: details[key] for key in ("id", "source", "feed", "name", "rows_read", "rows_inserted")} == {
        "id": entry.pk,
        "source": "command",
        "feed": "polls",
        "name": "store_status.csv",
        "rows_read": 5,
        "rows_inserted": 4,
    }
    assert details["admin_url"] == f"/admin/monitoring/import/{entry.pk}/change/"


def test_an_integration_s_token_with_the_ingest_permission_gets_the_details_and_its_stores(two_owners):
    silent_stores(two_owners)
    import_finished(5)
    two_owners.user_a.user_permissions.add(Permission.objects.get(codename="ingest_feeds"))
    _, token = create_api_token(two_owners.user_a, "monitor")

    body = status_of(Client(), 200, authorization=f"Token {token}")

    assert body["last_complete_import"]["name"] == "store_status.csv"
    assert [s["store_id"] for s in body["stores_not_reporting"]["stores"]] == ["store-a"]


def test_with_anonymous_access_on_an_anonymous_caller_sees_every_store(client, settings, two_owners):
    settings.ALLOW_ANONYMOUS = True
    silent_stores(two_owners)
    import_finished(5)

    body = status_of(client, 200)

    assert body["stores_not_reporting"]["count"] == 2
    assert set(body["last_complete_import"]) == {"time", "age_seconds"}  # data details: never anonymous


# --- Database and queue --------------------------------------------------------------------


def database_down():
    return mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError('connection to server at "db.internal" failed: Connection refused'),
    )


def test_with_the_database_down_it_answers_503_down_never_500(client):
    with database_down():
        body = status_of(client, 503)

    sentence = "The database cannot be reached (OperationalError); the details are in the service's log."
    assert (body["status"], body["database"], body["error"]) == ("down", sentence, sentence)
    assert body["queue"] == "The job queue's table in the database cannot be read (OperationalError)."
    assert "db.internal" not in str(body)  # where the database is stays in the log


def test_a_signed_in_caller_whose_session_cannot_be_read_gets_the_same_503(client, two_owners):
    client.force_login(two_owners.staff)

    with database_down():
        body = status_of(client, 503)

    assert body["status"] == "down"
    assert "stores_not_reporting" not in body


def test_an_unreachable_redis_is_a_sentence_and_the_status_still_answers(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    import_finished(5)

    body = status_of(client, 200)

    assert body["queue"].startswith("The job queue (Redis) cannot be reached: ")
    assert body["status"] == "ok"


def test_a_reachable_redis_is_ok(client, settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis: set REDIS_URL=redis://...")
    settings.REDIS_URL = os.environ["REDIS_URL"]

    assert status_of(client, 503)["queue"] == "ok"


def test_only_get_is_answered(client):
    response = client.post("/api/status")

    assert response.status_code == 405
    assert response.json()["error"].startswith('Method "POST" not allowed.')


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_answers_ok_without_a_query_or_a_sign_in(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert (response.status_code, response.content, response["Content-Type"]) == (
        200,
        b"ok\n",
        "text/plain; charset=utf-8",
    )


def test_healthz_answers_over_plain_http_while_every_other_page_is_sent_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # as with DEBUG=0

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301  # the rest still goes to https
    assert client.get("/api/status").status_code == 301


def test_the_status_passes_the_sign_in_redirect_of_the_pages(client):
    assert client.get("/").status_code == 302  # the pages send anonymous visitors to sign in
    assert client.get("/api/status").status_code == 503  # the status answers them


def test_healthz_reads_no_session_either(client, django_assert_num_queries):
    client.force_login(UserFactory(username="browser-user"))

    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
