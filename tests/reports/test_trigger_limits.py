"""The limits on triggering reports, as the API, the dashboard and the admin answer them: the
rate limit, the pending cap, identical Pending reports handed back, whose stores a report covers,
and the same rules under simultaneous triggers.

Triggers made inside a test's transaction are never queued (their commit never comes), so the
reports they create stay Pending.
"""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from reports.admission import ReportRefused, ReportTriggerThrottle, admit_report
from reports.models import Report
from tests.factories import OwnerFactory, StatusPollFactory, StoreFactory, UserFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parents[2]
AS_OF = "2023-01-25T12:00:00Z"
GENERATE = "/reports/generate/"
ADMIN_GENERATE = "/admin/reports/report/generate/"
ADMIN_REPORTS = "/admin/reports/report/"


@pytest.fixture(autouse=True)
def fresh_throttle_history():
    """The throttle keeps its history in the default cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def owned_stores_have_polls(request):
    """The two_owners stores get a poll at AS_OF: a trigger's time is checked against the polls
    of the stores the report would cover."""
    if "two_owners" in request.fixturenames:
        world = request.getfixturevalue("two_owners")
        for store in (world.store_a, world.store_b, world.store_none):
            StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 11:00"))


@pytest.fixture
def api():
    """POST /trigger_report as ``user`` (anonymous when None) from ``ip``."""

    def post(user=None, body=None, ip="127.0.0.1", **extra):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client.post("/trigger_report", body or {"as_of": AS_OF}, format="json", REMOTE_ADDR=ip, **extra)

    return post


@pytest.fixture
def page(client):
    """The dashboard's Generate form posted as ``user`` (anonymous when None)."""

    def post(user=None, data=None, **extra):
        if user is not None:
            client.force_login(user)
        return client.post(GENERATE, data or {"as_of": AS_OF}, **extra)

    return post


def pending(owner, count):
    return [Report.objects.create(owner=owner, as_of=at(f"2023-01-2{n} 00:00")) for n in range(count)]


def generate_error(response) -> str:
    found = re.search(r'<p class="form-error" role="alert" id="generate-error">([^<]*)</p>', response.content.decode())
    assert found, response.content.decode()
    return found.group(1)


def admin_messages(response) -> list[str]:
    return re.findall(r'<li class="[a-z]+">([^<]*)</li>', response.content.decode())


# --- The API ------------------------------------------------------------------------------


def test_triggers_beyond_the_rate_answer_429_with_retry_after_and_a_json_sentence(
    api, settings, worked_examples, two_owners
):
    settings.REPORT_TRIGGER_RATE = "2/minute"
    assert api(two_owners.user_a, {"as_of": AS_OF}).status_code == 202
    assert api(two_owners.user_a, {"as_of": AS_OF, "method": "nearest"}).status_code == 202
    response = api(two_owners.user_a, {"as_of": AS_OF, "columns": "extended"})
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "error": "Too many reports triggered: at most 2 per minute per user (REPORT_TRIGGER_RATE=2/minute). "
        f"Try again in {wait} second{'s' if wait != 1 else ''}."
    }
    assert Report.objects.count() == 2


def test_two_users_are_throttled_apart(api, settings, worked_examples, two_owners):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    assert api(two_owners.user_a).status_code == 202
    assert api(two_owners.user_a, {"method": "nearest"}).status_code == 429
    assert api(two_owners.user_b).status_code == 202


def test_two_anonymous_addresses_are_throttled_apart(api, settings, worked_examples):
    settings.ALLOW_ANONYMOUS = True
    settings.REPORT_TRIGGER_RATE = "1/hour"
    assert api(ip="10.0.0.1").status_code == 202
    refused = api(ip="10.0.0.1", body={"method": "nearest"})
    assert refused.status_code == 429
    assert "per IP address for callers who are not signed in" in refused.json()["error"]
    assert api(ip="10.0.0.2", body={"method": "nearest"}).status_code == 202
    # A made-up X-Forwarded-For is no new address.
    assert api(ip="10.0.0.2", body={"columns": "extended"}, HTTP_X_FORWARDED_FOR="9.9.9.9").status_code == 429


def test_the_rate_is_read_when_a_trigger_comes(api, settings, worked_examples, two_owners):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    assert api(two_owners.user_a).status_code == 202
    assert api(two_owners.user_a, {"method": "nearest"}).status_code == 429
    settings.REPORT_TRIGGER_RATE = "3/hour"
    assert api(two_owners.user_a, {"method": "nearest"}).status_code == 202


def test_retry_after_is_when_the_oldest_blocking_trigger_leaves_the_window(
    api, settings, worked_examples, two_owners, monkeypatch
):
    clock = [1_000_000.0]
    monkeypatch.setattr(ReportTriggerThrottle, "timer", lambda self: clock[0])
    settings.REPORT_TRIGGER_RATE = "2/minute"
    assert api(two_owners.user_a, {"as_of": AS_OF}).status_code == 202  # at 0 s
    clock[0] += 20
    assert api(two_owners.user_a, {"as_of": AS_OF, "method": "nearest"}).status_code == 202  # at 20 s
    clock[0] += 10
    refused = api(
        two_owners.user_a, {"as_of": AS_OF, "columns": "extended"}
    )  # at 30 s: the one at 0 s frees a place at 60 s
    assert (refused.status_code, refused["Retry-After"]) == (429, "30")
    # With the rate lowered below the triggers already counted, the newest of them decides.
    settings.REPORT_TRIGGER_RATE = "1/minute"
    refused = api(two_owners.user_a, {"as_of": AS_OF, "columns": "extended"})
    assert (refused.status_code, refused["Retry-After"]) == (429, "50")
    assert refused.json()["error"].endswith("Try again in 50 seconds.")


def test_an_owner_at_the_pending_cap_gets_429_with_retry_after_and_the_sentence(
    api, settings, worked_examples, two_owners
):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 2
    pending(two_owners.owner_a, 2)
    response = api(two_owners.user_a)
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert wait >= 10
    assert response.json() == {
        "error": "2 reports of owner alpha are already Pending, the most allowed (MAX_PENDING_REPORTS_PER_OWNER=2): "
        f"trigger again once one of them has started, in about {wait} seconds."
    }
    # Another owner's queue is its own.
    assert api(two_owners.user_b).status_code == 202


def test_the_default_cap_is_five_pending_reports(api, worked_examples, two_owners):
    pending(two_owners.owner_a, 5)
    assert api(two_owners.user_a).status_code == 429
    assert Report.objects.filter(owner=two_owners.owner_a).count() == 5


def test_an_identical_pending_report_is_handed_back_with_the_same_answer(api, worked_examples, two_owners):
    first = api(two_owners.user_a, {"as_of": AS_OF, "method": "nearest"})
    again = api(two_owners.user_a, {"as_of": AS_OF, "method": "nearest"})
    report_id = first.json()["report_id"]
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == {"report_id": report_id, "status": "Pending"}
    assert again.json() == {"report_id": report_id, "status": "Pending", "existing": True}
    assert again["Location"] == first["Location"] == f"http://testserver/get_report?report_id={report_id}"
    assert Report.objects.count() == 1


def test_a_report_with_other_settings_is_a_new_one(api, worked_examples, two_owners):
    first = api(two_owners.user_a, {"as_of": AS_OF}).json()
    other = api(two_owners.user_a, {"as_of": AS_OF, "columns": "extended"}).json()
    assert "existing" not in other
    assert other["report_id"] != first["report_id"]
    assert Report.objects.count() == 2


def test_an_owners_user_gets_a_report_of_that_owners_stores(api, worked_examples, two_owners):
    report_id = api(two_owners.user_a).json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    assert (report.owner, report.requested_by) == (two_owners.owner_a, two_owners.user_a)


def test_a_user_of_several_owners_must_pass_owner(api, worked_examples, two_owners):
    gamma = OwnerFactory(name="Gamma Grill", slug="gamma", users=[two_owners.user_a])
    StatusPollFactory(store=StoreFactory(store_id="store-g", owner=gamma), timestamp_utc=at("2023-01-25 11:00"))
    response = api(two_owners.user_a)
    assert response.status_code == 400
    assert response.json() == {
        "error": "Your account belongs to several owners (alpha, gamma): pass owner with one of them."
    }
    chosen = api(two_owners.user_a, {"as_of": AS_OF, "owner": "gamma"})
    assert chosen.status_code == 202
    assert Report.objects.get(report_id=chosen.json()["report_id"]).owner.slug == "gamma"


def test_another_owners_slug_is_a_400_exactly_like_an_unknown_one(api, worked_examples, two_owners):
    other = api(two_owners.user_a, {"as_of": AS_OF, "owner": "beta"})
    unknown = api(two_owners.user_a, {"as_of": AS_OF, "owner": "zeta"})
    assert (other.status_code, unknown.status_code) == (400, 400)
    assert other.json() == {"error": "No owner has the slug 'beta'."}
    assert unknown.json() == {"error": "No owner has the slug 'zeta'."}
    assert other.headers.keys() == unknown.headers.keys()
    assert not Report.objects.exists()


@pytest.mark.parametrize("slug", ["a b", "beta\x00", "x" * 101, 12.5])
def test_an_owner_that_cannot_be_a_slug_is_a_400(api, worked_examples, two_owners, slug):
    response = api(two_owners.staff, {"as_of": AS_OF, "owner": slug})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid request: owner: ")
    assert not Report.objects.exists()


def test_a_user_of_no_owner_gets_403(api, worked_examples, two_owners):
    response = api(UserFactory(username="nobody"))
    assert response.status_code == 403
    assert response.json()["error"].startswith("Your account belongs to no owner, so it has no stores to report on")
    assert not Report.objects.exists()


def test_staff_reports_cover_every_store_or_the_owner_named(api, worked_examples, two_owners):
    every = api(two_owners.staff).json()["report_id"]
    beta = api(two_owners.staff, {"as_of": AS_OF, "owner": "beta"}).json()["report_id"]
    assert Report.objects.get(report_id=every).owner is None
    assert Report.objects.get(report_id=beta).owner == two_owners.owner_b


def test_the_schema_documents_the_owner_403_and_429_of_trigger_report(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    trigger = schema["paths"]["/trigger_report"]["post"]
    assert {"400", "403", "429"} <= trigger["responses"].keys()
    assert "Retry-After" in trigger["responses"]["429"]["headers"]
    assert "MAX_PENDING_REPORTS_PER_OWNER" in trigger["responses"]["429"]["description"]
    body = schema["components"]["schemas"]["TriggerReport"]["properties"]
    assert "owner" in body
    assert "existing" in schema["components"]["schemas"]["Triggered"]["properties"]


# --- The dashboard ------------------------------------------------------------------------


def test_the_dashboard_refuses_beyond_the_rate_with_429_and_the_sentence(page, settings, worked_examples, two_owners):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    assert page(two_owners.user_a).status_code == 302
    response = page(two_owners.user_a, {"as_of": AS_OF, "method": "nearest"})
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert generate_error(response) == (
        "No report started. Too many reports triggered: at most 1 per hour per user (REPORT_TRIGGER_RATE=1/hour). "
        f"Try again in {wait} seconds."
    )
    # The form keeps what was typed.
    assert f'value="{AS_OF}"' in response.content.decode()
    assert Report.objects.count() == 1


def test_the_dashboard_refuses_beyond_the_pending_cap_with_429_and_the_sentence(
    page, settings, worked_examples, two_owners
):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 1
    pending(two_owners.owner_a, 1)
    response = page(two_owners.user_a)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 10
    assert generate_error(response).startswith(
        "No report started. 1 report of owner alpha is already Pending, the most allowed "
        "(MAX_PENDING_REPORTS_PER_OWNER=1): trigger again once one of them has started, in about "
    )


def test_the_dashboard_shows_an_identical_pending_report_instead_of_queuing_another(
    client, page, worked_examples, two_owners
):
    first = page(two_owners.user_a)
    again = page(two_owners.user_a)
    report = Report.objects.get()
    assert first.url == again.url == f"/?new={report.report_id}#reports"
    shown = client.get(again.url).content.decode()
    assert f"Report {report.report_id} with the same settings is still pending: showing it." in shown
    row = f'<tr id="report-{report.report_id}" data-report-id="{report.report_id}" data-status="Pending"'
    assert f'{row} class="new-report">' in shown


def test_the_dashboard_answers_a_user_of_no_owner_with_403(page, worked_examples, two_owners):
    response = page(UserFactory(username="nobody"))
    assert response.status_code == 403
    assert generate_error(response).startswith("No report started. Your account belongs to no owner")
    assert not Report.objects.exists()


def owner_options(response) -> list[tuple[str, str]] | None:
    text = response.content.decode()
    select = re.search(r'<select name="owner"[^>]*>(.*?)</select>', text, re.S)
    return None if select is None else re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_staff_choose_all_stores_or_any_owner_on_the_dashboard(client, worked_examples, two_owners):
    client.force_login(two_owners.staff)
    assert owner_options(client.get("/")) == [("", "All stores"), ("alpha", "Alpha Pizza"), ("beta", "Beta Burgers")]


def test_without_owners_there_is_nothing_to_choose(admin_client, worked_examples):
    assert owner_options(admin_client.get("/")) is None
    assert owner_options(admin_client.get(ADMIN_REPORTS)) is None


def test_allowed_anonymous_callers_choose_like_staff(client, settings, worked_examples, two_owners):
    settings.ALLOW_ANONYMOUS = True
    assert owner_options(client.get("/")) == [("", "All stores"), ("alpha", "Alpha Pizza"), ("beta", "Beta Burgers")]


def test_a_user_of_several_owners_chooses_one_of_theirs(client, page, worked_examples, two_owners):
    gamma = OwnerFactory(name="Gamma Grill", slug="gamma", users=[two_owners.user_a])
    StatusPollFactory(store=StoreFactory(store_id="store-g", owner=gamma), timestamp_utc=at("2023-01-25 11:00"))
    client.force_login(two_owners.user_a)
    assert owner_options(client.get("/")) == [("alpha", "Alpha Pizza"), ("gamma", "Gamma Grill")]
    assert page(two_owners.user_a, {"as_of": AS_OF, "owner": "gamma"}).status_code == 302
    assert Report.objects.get().owner.slug == "gamma"
    refused = page(two_owners.user_a, {"as_of": AS_OF, "owner": "beta"})
    assert refused.status_code == 400
    assert "No owner has the slug “beta”." in refused.content.decode()
    assert Report.objects.count() == 1


def test_a_user_of_one_owner_gets_no_choice_and_a_report_of_its_stores(client, page, worked_examples, two_owners):
    client.force_login(two_owners.user_a)
    assert owner_options(client.get("/")) is None
    assert page(two_owners.user_a).status_code == 302
    assert Report.objects.get().owner == two_owners.owner_a


# --- The admin ----------------------------------------------------------------------------


def test_the_admin_refuses_beyond_the_rate_with_the_same_sentence(admin_client, settings, worked_examples):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF})
    response = admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF, "method": "nearest"}, follow=True)
    assert any(
        m.startswith(
            "No report started. Too many reports triggered: at most 1 per hour per user (REPORT_TRIGGER_RATE=1/hour). "
            "Try again in "
        )
        for m in admin_messages(response)
    ), admin_messages(response)
    assert Report.objects.count() == 1


def test_the_admin_refuses_beyond_the_pending_cap(admin_client, settings, worked_examples):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 1
    pending(None, 1)
    response = admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF}, follow=True)
    assert any(
        m.startswith("No report started. 1 report of all stores is already Pending, the most allowed")
        for m in admin_messages(response)
    ), admin_messages(response)
    assert Report.objects.count() == 1


def test_the_admin_shows_an_identical_pending_report_instead_of_queuing_another(admin_client, worked_examples):
    admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF})
    response = admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF})
    report = Report.objects.get()
    assert response.url == f"{ADMIN_REPORTS}?q={report.report_id}"
    shown = admin_client.get(response.url)
    assert f"Report {report.report_id} with the same settings is still pending: showing it." in admin_messages(shown)


def test_the_admin_form_chooses_the_owner(admin_client, worked_examples, two_owners):
    assert owner_options(admin_client.get(ADMIN_REPORTS)) == [
        ("", "All stores"),
        ("alpha", "Alpha Pizza"),
        ("beta", "Beta Burgers"),
    ]
    admin_client.post(ADMIN_GENERATE, {"as_of": AS_OF, "owner": "beta"})
    assert Report.objects.get().owner == two_owners.owner_b


def test_generating_again_from_the_admin_keeps_the_owner_and_the_cap(
    admin_client, settings, worked_examples, two_owners
):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 1
    old = Report.objects.create(owner=two_owners.owner_a, as_of=at("2023-01-25 12:00"), status="Complete")
    admin_client.post(ADMIN_REPORTS, {"action": "generate_like_selected", "_selected_action": [old.pk]})
    new = Report.objects.exclude(pk=old.pk).get()
    assert (new.owner, new.status, new.as_of) == (two_owners.owner_a, "Pending", old.as_of)
    again = Report.objects.create(owner=two_owners.owner_a, as_of=at("2023-01-24 12:00"), status="Failed")
    response = admin_client.post(
        ADMIN_REPORTS, {"action": "generate_like_selected", "_selected_action": [again.pk]}, follow=True
    )
    assert any(
        m.startswith("No report started. 1 report of owner alpha is already Pending") for m in admin_messages(response)
    )
    assert Report.objects.filter(status="Pending").count() == 1


# --- One rule for all three ----------------------------------------------------------------


def test_the_api_the_dashboard_and_the_admin_share_one_rate_per_user(
    api, client, admin_user, settings, worked_examples
):
    settings.REPORT_TRIGGER_RATE = "2/hour"
    assert api(admin_user, {"as_of": AS_OF}).status_code == 202
    client.force_login(admin_user)
    assert client.post(GENERATE, {"as_of": AS_OF, "method": "nearest"}).status_code == 302
    response = client.post(ADMIN_GENERATE, {"as_of": AS_OF, "columns": "extended"}, follow=True)
    assert any(
        m.startswith("No report started. Too many reports triggered: at most 2") for m in admin_messages(response)
    )
    assert api(admin_user, {"as_of": AS_OF, "columns": "extended"}).status_code == 429
    assert Report.objects.count() == 2


def test_a_report_queued_from_the_api_is_handed_back_on_the_dashboard(api, page, worked_examples, two_owners):
    report_id = api(two_owners.user_a, {"as_of": AS_OF}).json()["report_id"]
    assert page(two_owners.user_a, {"as_of": AS_OF}).url == f"/?new={report_id}#reports"
    assert Report.objects.count() == 1


# --- Simultaneous triggers ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simultaneous_triggers_never_exceed_the_cap_nor_queue_the_same_report_twice(settings, monkeypatch, two_owners):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 3
    settings.REPORT_TRIGGER_RATE = "1000/hour"
    monkeypatch.setattr("reports.actions._queue", lambda pk: None)  # they stay Pending
    # Five different reports, each asked for by two threads at once.
    asked = [(at(f"2023-01-25 0{n}:00"), "last_known") for n in range(5)] * 2
    start = threading.Barrier(len(asked))
    results = []

    def trigger(as_of, method):
        try:
            request = RequestFactory().post("/trigger_report")
            request.user = two_owners.user_a
            start.wait()
            admission = admit_report(request, owner_slug=None, as_of=as_of, method=method, columns="basic")
            results.append(("admitted", admission.report.pk, admission.existing))
        except ReportRefused as refusal:
            results.append(("refused", refusal.status_code, None))
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger, args=combo) for combo in asked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(asked)
    waiting = list(Report.objects.filter(status="Pending").values_list("owner__slug", "as_of", "method", "columns"))
    assert len(waiting) == 3
    assert len(set(waiting)) == 3
    created = {pk for outcome, pk, existing in results if outcome == "admitted" and not existing}
    assert len(created) == 3
    assert {pk for outcome, pk, _ in results if outcome == "admitted"} == created
    assert {status for outcome, status, _ in results if outcome == "refused"} <= {429}


# --- The settings -------------------------------------------------------------------------


def settings_with(**values: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "storemonitor.settings"}
    for name in ("REPORT_TRIGGER_RATE", "MAX_PENDING_REPORTS_PER_OWNER"):
        environment.pop(name, None)
    environment.update(values)
    code = (
        "from django.conf import settings; print(settings.REPORT_TRIGGER_RATE, settings.MAX_PENDING_REPORTS_PER_OWNER)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("values", "printed"),
    [
        ({}, "60/hour 5"),
        ({"REPORT_TRIGGER_RATE": "10/minute", "MAX_PENDING_REPORTS_PER_OWNER": "2"}, "10/minute 2"),
        ({"REPORT_TRIGGER_RATE": " 500/d "}, "500/d 5"),
    ],
)
def test_the_limits_default_to_60_an_hour_and_5_pending_and_can_be_set(values, printed):
    result = settings_with(**values)
    assert (result.returncode, result.stdout.strip()) == (0, printed), result.stderr


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        (
            {"REPORT_TRIGGER_RATE": "60 an hour"},
            "REPORT_TRIGGER_RATE='60 an hour' is not a rate: write how many per period, like 60/hour",
        ),
        ({"REPORT_TRIGGER_RATE": "0/hour"}, "REPORT_TRIGGER_RATE='0/hour' is not a rate"),
        ({"REPORT_TRIGGER_RATE": "60/fortnight"}, "REPORT_TRIGGER_RATE='60/fortnight' is not a rate"),
        ({"MAX_PENDING_REPORTS_PER_OWNER": "0"}, "MAX_PENDING_REPORTS_PER_OWNER=0 is below the minimum 1."),
    ],
)
def test_a_bad_limit_stops_the_service_with_a_sentence(values, sentence):
    result = settings_with(**values)
    assert result.returncode != 0
    assert sentence in result.stderr
