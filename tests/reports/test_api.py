"""The report API through DRF's client; jobs run in django-q2's sync mode (settings_test)."""

import io
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import Report
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
HEADER = (
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,downtime_last_day,downtime_last_week"
)


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def trigger(client, django_capture_on_commit_callbacks):
    """POST /trigger_report; the job is queued on commit, and sync mode runs it at once."""

    def post(body=None, path="/trigger_report"):
        with django_capture_on_commit_callbacks(execute=True):
            if body is None:
                return client.post(path)
            return client.post(path, body, format="json")

    return post


def command_csv(*args):
    out = io.StringIO()
    call_command("generate_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def body_of(response):
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


# --- POST /trigger_report ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_trigger_answers_503_when_the_job_queue_cannot_take_the_report(client, monkeypatch, worked_examples):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("reports.actions.async_task", down)
    response = client.post("/trigger_report")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "Failed"
    assert body["error"].startswith("The job queue could not be reached (ConnectionError: Error 111")
    assert Report.objects.get(report_id=body["report_id"]).status == "Failed"


def test_a_report_that_fails_while_running_still_answers_202(trigger, worked_examples, monkeypatch):
    # The report fails in the worker (sync mode here), after the trigger answered.
    monkeypatch.setattr("reports.generation.compute_report", lambda **kwargs: 1 / 0)
    response = trigger()
    assert response.status_code == 202
    assert Report.objects.get(report_id=response.json()["report_id"]).status == "Failed"


def test_trigger_answers_202_with_the_report_id_and_where_to_poll(trigger, worked_examples):
    response = trigger()
    assert response.status_code == 202
    report_id = response.json()["report_id"]
    assert response.json() == {"report_id": report_id, "status": "Pending"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", report_id)
    assert response["Location"] == f"http://testserver/get_report?report_id={report_id}"


def test_a_report_without_as_of_is_as_of_the_newest_poll(trigger, worked_examples):
    report_id = trigger().json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    assert report.status == "Complete"
    assert report.as_of == at("2023-01-25 11:30")
    assert report.store_count == 2
    assert report.attempts == 1
    assert report.progress == 1.0


@pytest.mark.parametrize(
    "given", ["2023-01-25T12:00:00Z", "2023-01-25T12:00:00", "2023-01-25T06:00:00-06:00", "2023-01-25 12:00:00 UTC"]
)
def test_as_of_is_iso_time_in_utc_unless_it_has_an_offset(trigger, worked_examples, given):
    report_id = trigger({"as_of": given, "method": "nearest"}).json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    assert (report.as_of, report.method, report.status) == (at("2023-01-25 12:00"), "nearest", "Complete")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"as_of": "yesterday"}, "as_of", "“yesterday” is not a time: write it like 2023-01-25T18:13:22Z"),
        ({"as_of": 12}, "as_of", "“12” is not a time"),
        ({"method": "average"}, "method", "“average” is not a method; choose last_known or nearest."),
        ({"as_of": "2023-01-25T12:00:00Z", "store": "a"}, "non_field_errors", "Unknown field(s): store"),
        (["as_of"], "non_field_errors", "Expected a dictionary"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(trigger, body, field, words):
    response = trigger(body)
    assert response.status_code == 400
    error = response.json()
    assert words in error["error"]
    assert error["error"].startswith("Invalid request: ")
    assert words in " ".join(error["fields"][field])
    assert not Report.objects.exists()


def test_a_body_that_is_not_json_is_a_400(client):
    response = client.post("/trigger_report", "{as_of:", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["error"]


def test_a_form_body_is_a_415_asking_for_json(client):
    response = client.post("/trigger_report", "method=nearest", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {
        "error": 'Unsupported media type "application/x-www-form-urlencoded" in request. '
        "Send JSON, with Content-Type: application/json."
    }


def test_get_on_trigger_report_is_a_405_in_json(client):
    response = client.get("/trigger_report")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed. Allowed: POST, OPTIONS.'}


def test_both_slash_forms_of_the_spec_endpoints_work(trigger, client, worked_examples):
    report_id = trigger(path="/trigger_report/").json()["report_id"]
    for path in ("/get_report", "/get_report/"):
        response = client.get(path, {"report_id": report_id, "format": "json"})
        assert response.status_code == 200
        assert response.json()["status"] == "Complete"
    assert client.get("/trigger_report/").status_code == 405


# --- GET /get_report -----------------------------------------------------------------------


def test_a_pending_report_answers_its_status_and_progress(client):
    report = Report.objects.create()
    response = client.get("/get_report", {"report_id": report.report_id})
    assert response.status_code == 200
    assert response.json() == {
        "report_id": report.report_id,
        "status": "Pending",
        "progress": 0.0,
        "owner": None,
        "shard_count": 0,  # computed in one piece (reports.shards)
        "shards": [],
    }
    assert response["X-Report-Status"] == "Pending"


def test_a_running_report_answers_its_progress(client):
    report = Report.objects.create(status="Running", progress=0.45, started_at=timezone.now())
    response = client.get("/get_report", {"report_id": report.report_id, "format": "csv"})
    assert response.json() == {
        "report_id": report.report_id,
        "status": "Running",
        "progress": 0.45,
        "owner": None,
        "shard_count": 0,
        "shards": [],
    }


def test_a_complete_report_answers_the_csv_of_generate_report(trigger, client, worked_examples):
    report_id = trigger({"as_of": "2023-01-25T12:00:00Z"}).json()["report_id"]
    response = client.get("/get_report", {"report_id": report_id})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="report-{report_id}.csv"'
    assert response["X-Report-Status"] == "Complete"
    body = body_of(response)
    assert body == command_csv("--as-of", "2023-01-25T12:00:00Z")
    assert body.splitlines() == [HEADER, "a,15.00,2.25,2.25,45.00,0.75,0.75", "b,30.00,0.50,0.50,30.00,23.50,167.50"]


def test_a_report_of_the_newest_poll_equals_generate_report_without_as_of(trigger, client, worked_examples):
    report_id = trigger().json()["report_id"]
    assert body_of(client.get("/get_report", {"report_id": report_id})) == command_csv()


@pytest.mark.parametrize("how", [{"format": "json"}, {"HTTP_ACCEPT": "application/json"}])
def test_a_complete_report_answers_json_when_asked(trigger, client, worked_examples, how):
    report_id = trigger({"as_of": "2023-01-25T12:00:00Z", "method": "nearest"}).json()["report_id"]
    query = {"report_id": report_id, **{k: v for k, v in how.items() if k == "format"}}
    headers = {k: v for k, v in how.items() if k != "format"}
    response = client.get("/get_report", query, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    report = Report.objects.get(report_id=report_id)
    assert response.json() == {
        "report_id": report_id,
        "status": "Complete",
        "download_url": f"http://testserver/api/reports/{report_id}/csv",
        "outages_url": f"http://testserver/api/reports/{report_id}/outages.csv",
        "store_count": 2,
        "owner": None,
        "as_of": "2023-01-25T12:00:00Z",
        "method": "nearest",
        "columns": "basic",
        "created_at": report.created_at.isoformat().replace("+00:00", "Z"),
        "finished_at": report.finished_at.isoformat().replace("+00:00", "Z"),
        "shard_count": 0,
        "shards": [],
    }


def test_a_browser_accept_header_gets_the_csv(trigger, client, worked_examples):
    report_id = trigger().json()["report_id"]
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/get_report", {"report_id": report_id}, HTTP_ACCEPT=accept)
    assert response["Content-Type"] == "text/csv"


def test_a_trigger_on_an_empty_database_is_a_400_with_the_no_polls_sentence(trigger):
    response = trigger()
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Invalid request: The database holds no polls yet: load the feeds with manage.py load_csvs."
    )
    assert not Report.objects.exists()


def test_a_report_that_crashes_fails_with_a_readable_error(trigger, client, worked_examples, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("reports.generation.compute_report", broken)
    report_id = trigger().json()["report_id"]
    response = client.get("/get_report", {"report_id": report_id})
    assert response.status_code == 200
    assert response["X-Report-Status"] == "Failed"
    body = response.json()
    assert body["status"] == "Failed"
    assert body["error"].startswith("The report could not be computed: RuntimeError: disk on fire.")
    assert body["as_of"] is None
    assert body["finished_at"]


def test_get_report_without_report_id_is_a_400(client):
    response = client.get("/get_report")
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid request: report_id: This query parameter is required")


def test_an_unknown_report_id_is_a_404(client):
    response = client.get("/get_report", {"report_id": "nope"})
    assert response.status_code == 404
    assert response.json() == {"error": "No report has report_id 'nope'."}


def test_an_unknown_format_is_a_400(trigger, client, worked_examples):
    report_id = trigger().json()["report_id"]
    response = client.get("/get_report", {"report_id": report_id, "format": "xml"})
    assert response.status_code == 400
    assert "Unknown format 'xml'" in response.json()["error"]


def test_post_on_get_report_is_a_405_in_json(client):
    response = client.post("/get_report")
    assert response.status_code == 405
    assert "not allowed" in response.json()["error"]


def test_a_csv_missing_from_storage_is_a_410(trigger, client, worked_examples):
    report_id = trigger().json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    report.csv_file.storage.delete(report.csv_file.name)
    response = client.get("/get_report", {"report_id": report_id})
    assert response.status_code == 410
    assert "no longer stored" in response.json()["error"]


def test_the_csv_is_stored_under_reports_year_month_report_id(trigger, worked_examples, media_root):
    report_id = trigger().json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    created = report.created_at
    assert report.csv_file.name == f"reports/{created:%Y}/{created:%m}/{report_id}.csv"
    assert (media_root / report.csv_file.name).read_text().splitlines()[0] == HEADER


# --- /api/reports/ -------------------------------------------------------------------------


def test_the_report_list_is_paginated_newest_first(client):
    reports = [Report.objects.create() for _ in range(23)]
    page = client.get("/api/reports/").json()
    assert page["count"] == 23
    assert len(page["results"]) == 20
    assert [r["report_id"] for r in page["results"]] == [r.report_id for r in reversed(reports)][:20]
    assert page["next"] == "http://testserver/api/reports/?page=2"
    rest = client.get(page["next"]).json()
    assert [r["report_id"] for r in rest["results"]] == [r.report_id for r in reversed(reports)][20:]


def test_a_report_resource_and_its_csv(trigger, client, worked_examples):
    report_id = trigger({"as_of": "2023-01-25T12:00:00Z"}).json()["report_id"]
    resource = client.get(f"/api/reports/{report_id}/").json()
    assert resource["url"] == f"http://testserver/api/reports/{report_id}/"
    assert resource["download_url"] == f"http://testserver/api/reports/{report_id}/csv"
    assert (resource["status"], resource["store_count"], resource["attempts"], resource["error"]) == (
        "Complete",
        2,
        1,
        "",
    )
    assert resource["duration_seconds"] >= 0
    response = client.get(f"/api/reports/{report_id}/csv")
    assert response["Content-Type"] == "text/csv"
    assert body_of(response) == command_csv("--as-of", "2023-01-25T12:00:00Z")


def test_the_csv_of_an_unfinished_report_is_a_409(client):
    report = Report.objects.create(status="Running")
    response = client.get(f"/api/reports/{report.report_id}/csv")
    assert response.status_code == 409
    assert response.json() == {"error": f"Report {report.report_id} is Running; its CSV exists once it is Complete."}
    assert client.get(f"/api/reports/{report.report_id}/").json()["download_url"] is None


def test_unknown_report_resources_are_404s_in_json(client):
    for path in ("/api/reports/nope/", "/api/reports/nope/csv"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "No report has report_id 'nope'."}


def test_the_report_resources_are_read_only(client):
    report = Report.objects.create()
    assert client.post("/api/reports/", {}, format="json").status_code == 405
    assert client.delete(f"/api/reports/{report.report_id}/").status_code == 405


# --- Schema and docs -----------------------------------------------------------------------


def test_the_openapi_schema_lists_the_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/trigger_report", "/get_report", "/api/reports/", "/api/reports/{report_id}/"} <= set(paths)
    assert "/api/reports/{report_id}/csv" in paths
    assert "/trigger_report/" not in paths


def test_the_docs_page_loads_its_assets_from_this_service(client):
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'"(/static/[^"]+)"', html)
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    local = [a for a in assets if a.startswith("/static/")]
    assert any("swagger-ui-bundle.js" in a for a in local)
    for asset in local:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert '"validatorUrl": null' in html
    assert not re.search(r"https?://", html)
