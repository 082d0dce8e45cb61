"""The API against its own OpenAPI schema: schemathesis, in-process, every check on."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings

from monitoring.models import Import
from reports.actions import do_trigger_report
from reports.models import Report
from storemonitor.wsgi import application
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# A date-time the schema allows is still refused (400) when no poll falls in its lookback, which
# a schema cannot say: schema-valid triggers ask for a time inside the worked examples' polls.
AS_OF_WITH_POLLS = "2023-01-25T12:00:00Z"


@pytest.fixture(autouse=True)
def data(worked_examples):
    # A fresh import: GET /api/status answers 200 (its 503s: tests/monitoring/test_status_api.py).
    now = timezone.now()
    Import.objects.create(
        source=Import.Source.COMMAND,
        name="store_status.csv",
        feed="polls",
        started_at=now,
        finished_at=now,
        status=Import.Status.COMPLETE,
    )
    return worked_examples


@pytest.fixture(autouse=True)
def one_connection():
    """Requests share the test's connection and transaction, as with Django's test client (which
    also keeps the end of a request from closing it)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=60, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_answers_the_schema_describes(case):
    if case.meta.generation.mode.is_positive and isinstance(case.body, dict):
        if case.body.get("as_of"):
            case.body = {**case.body, "as_of": AS_OF_WITH_POLLS}
        # A made-up owner slug is rightly a 400 (no owner has it), which a positive case does not expect.
        case.body = {name: value for name, value in case.body.items() if name != "owner"}
    case.call_and_validate()


@pytest.fixture
def reports(django_capture_on_commit_callbacks):
    """A report in each status, the Complete one computed by the job (sync mode)."""
    with django_capture_on_commit_callbacks(execute=True):
        complete = do_trigger_report(as_of=at("2023-01-25 12:00"))
    now = timezone.now()
    return {
        "Pending": Report.objects.create(),
        "Running": Report.objects.create(status="Running", progress=0.45, started_at=now, attempts=1),
        "Complete": Report.objects.get(pk=complete.pk),
        "Failed": Report.objects.create(status="Failed", error="The worker stopped.", started_at=now, finished_at=now),
    }


@pytest.mark.parametrize("status", ["Pending", "Running", "Complete", "Failed"])
@pytest.mark.parametrize(
    ("path", "query", "headers"),
    [
        ("/get_report", {}, {}),
        ("/get_report", {"format": "json"}, {}),
        ("/get_report", {"format": "csv"}, {}),
        ("/get_report", {}, {"Accept": "application/json"}),
        ("/api/reports/{report_id}/", {}, {}),
        ("/api/reports/{report_id}/csv", {}, {}),
        ("/api/reports/{report_id}/outages.csv", {}, {}),
        ("/api/reports/", {}, {}),
    ],
)
def test_every_answer_about_a_known_report_is_described_by_the_schema(reports, status, path, query, headers):
    report = reports[status]
    assert report.status == status
    if path == "/get_report":
        query = {**query, "report_id": report.report_id}
    path_parameters = {"report_id": report.report_id} if "{report_id}" in path else {}
    case = schema[path]["GET"].Case(query=query, path_parameters=path_parameters, headers=headers)
    response = case.call_and_validate()
    assert response.status_code in (200, 409)


@pytest.mark.parametrize(
    ("store_id", "query", "status"),
    [
        ("a", {}, 200),
        ("b", {"as_of": AS_OF_WITH_POLLS, "method": "nearest"}, 200),
        ("a", {"as_of": "2023-03-01T00:00:00Z"}, 400),  # no poll in its lookback
        ("a", {"columns": "extended"}, 400),
        ("nope", {}, 404),
    ],
)
def test_every_answer_of_the_outage_list_is_described_by_the_schema(store_id, query, status):
    case = schema["/api/stores/{store_id}/outages"]["GET"].Case(query=query, path_parameters={"store_id": store_id})
    response = case.call_and_validate()
    assert response.status_code == status
