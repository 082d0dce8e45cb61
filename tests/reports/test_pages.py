"""The dashboard and the store week page, through Django's test client."""

import io
import re

import pytest
from django.test import Client

from reports.forms import AsOfField
from reports.generation import compute_report, write_report_csv
from reports.models import Report
from tests.assertions import absent_from, page_text
from tests.factories import StatusPollFactory, StoreFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
# Stores and polls (on PostgreSQL the planner's estimate, plus an exact COUNT when small), the
# newest poll, the recent reports.
DASHBOARD_QUERIES = 6


def report_row(store_id, **kwargs):
    out = io.StringIO()
    write_report_csv(compute_report(**kwargs).figures, out)
    rows = [line.split(",") for line in out.getvalue().splitlines()[1:]]
    return next(row for row in rows if row[0] == store_id)


def drawn(page, status):
    """Total microseconds of the drawn status rectangles, from their exact data attributes."""
    spans = re.findall(rf'data-status="{status}" data-start="(\d+)" data-end="(\d+)"', page)
    return sum(int(end) - int(start) for start, end in spans)


# --- Dashboard -----------------------------------------------------------------------------


def test_the_dashboard_shows_the_feeds_and_the_default_as_of(client, worked_examples, django_assert_max_num_queries):
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        response = client.get("/")
    page = page_text(response)
    assert not absent_from(
        page,
        '<span class="stat-value" id="stat-stores">2</span>',
        '<span class="stat-value" id="stat-polls">5</span>',
        "2023-01-25 11:30:00 UTC",
        "No reports yet",
        'action="/reports/generate/"',
        "csrfmiddlewaretoken",
        'action="/stores/"',
        'data-api="/api/reports/"',
        "storemonitor/reports.js",
    )


def test_the_dashboard_works_on_an_empty_database(client):
    page = client.get("/").content.decode()
    assert "none yet" in page


def test_the_dashboard_lists_recent_reports_with_their_csv(client, worked_examples, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/reports/generate/", {"method": "nearest"})
    Report.objects.create(method="last_known")  # still pending
    page = client.get("/").content.decode()
    complete = Report.objects.get(status="Complete")
    assert not absent_from(
        page,
        f'data-report-id="{complete.report_id}" data-status="Complete"',
        f'href="/api/reports/{complete.report_id}/csv"',
        'data-status="Pending"',
    )
    assert page.count("<tr data-report-id=") == 2


def test_generate_report_triggers_a_report_and_goes_back_to_the_dashboard(
    client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/generate/", {"as_of": "2023-01-25T12:00:00Z", "method": "nearest"})
    assert response.status_code == 302
    assert response.url == "/#reports"
    report = Report.objects.get()
    assert (report.status, report.as_of, report.method, report.store_count) == (
        "Complete",
        at("2023-01-25 12:00"),
        "nearest",
        2,
    )
    follow = client.get("/").content.decode()
    assert f"Report {report.report_id} queued" in follow


@pytest.mark.django_db(transaction=True)
def test_generate_report_says_so_when_the_job_queue_cannot_take_it(client, monkeypatch, worked_examples):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("reports.actions.async_task", down)
    page = client.post("/reports/generate/", follow=True).content.decode()
    report = Report.objects.get()
    assert report.status == "Failed"
    assert f"Report {report.report_id} could not be started. The job queue could not be reached" in page
    assert "queued: its status" not in page


def test_generate_report_without_parameters_uses_the_newest_poll(
    client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/reports/generate/")
    report = Report.objects.get()
    assert (report.as_of, report.method) == (at("2023-01-25 11:30"), "last_known")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"as_of": "yesterday"}, "“yesterday” is not a time"),
        ({"method": "guess"}, "Select a valid choice"),
    ],
)
def test_generate_report_with_bad_parameters_starts_nothing_and_says_why(client, worked_examples, data, words):
    response = client.post("/reports/generate/", data, follow=True)
    assert Report.objects.count() == 0
    assert "No report started." in response.content.decode()
    assert words in response.content.decode()


def test_generate_report_needs_a_post_with_a_csrf_token(worked_examples):
    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/reports/generate/").status_code == 405
    assert strict.post("/reports/generate/").status_code == 403
    assert Report.objects.count() == 0


# --- Finding a store -----------------------------------------------------------------------


def test_the_search_box_jumps_to_the_store(client, worked_examples):
    response = client.get("/stores/", {"store_id": "  a "})
    assert response.status_code == 302
    assert response.url == "/stores/a/"
    assert client.get("/stores/", {"store_id": ""}).url == "/"


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/stores/nope/", "/stores/?store_id=nope", "/stores/?store_id=a/b"])
def test_an_unknown_store_is_a_friendly_404_page(client, settings, worked_examples, debug, path):
    settings.DEBUG = debug
    response = client.get(path, follow=True)
    page = page_text(response, 404)
    assert "<h1>No store “" in page
    assert "Find a store" in page
    assert "Traceback" not in page
    assert "URLconf" not in page


def test_other_missing_pages_use_the_same_template_when_debug_is_off(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    page = page_text(response, 404)
    assert "<h1>Page not found</h1>" in page
    assert "/no/such/page/" in page


# --- Store week page -----------------------------------------------------------------------


def test_the_store_page_shows_the_week_and_the_figures_of_the_report_row(client, worked_examples):
    response = client.get("/stores/b/")
    page = page_text(response)
    row = report_row("b")  # a full report, as of the newest poll, last_known
    # Inactive at 05:00, active at 11:30 = as_of: inactive all week (rule: last known status).
    assert row == ["b", "0.00", "0.00", "0.00", "60.00", "24.00", "168.00"]
    assert not absent_from(
        page,
        f'data-row="{",".join(row)}"',
        '<td data-column="downtime_last_hour">60.00 min</td>',
        '<td data-column="downtime_last_week">168.00 h</td>',
        "America/Chicago (default)",
        "24/7",
        "2023-01-25 11:30:00 UTC",
    )
    # As of 05:30 Chicago time: the week window touches 8 local days.
    assert page.count('<g class="day') == 8
    assert 'data-days="8"' in page
    assert drawn(page, "active") == 0
    assert drawn(page, "inactive") == 168 * 3600 * 10**6
    assert page.count('<line class="poll') == 2  # 05:00, and 11:30 at as_of itself


@pytest.mark.parametrize("method", ["last_known", "nearest"])
@pytest.mark.parametrize("as_of", ["2023-01-25T12:00:00Z", "2023-01-25T04:30:00-06:00", "2023-01-25 11:15:00 UTC"])
def test_as_of_and_method_give_the_row_of_the_same_report(client, worked_examples, as_of, method):
    page = client.get("/stores/a/", {"as_of": as_of, "method": method}).content.decode()
    row = report_row("a", as_of=AsOfField().clean(as_of), method=method)
    assert f'data-row="{",".join(row)}"' in page
    # The CSV rounds to 2 decimals of an hour; the drawing keeps the exact microseconds.
    figures = compute_report(as_of=AsOfField().clean(as_of), method=method).figures
    position = figures.store_ids.index("a")
    assert drawn(page, "active") == figures.uptime_us["week"][position]
    assert drawn(page, "inactive") == figures.downtime_us["week"][position]
    assert abs(drawn(page, "active") - float(row[3]) * 3600e6) <= 0.005 * 3600e6
    assert abs(drawn(page, "inactive") - float(row[6]) * 3600e6) <= 0.005 * 3600e6


def test_the_store_page_names_a_real_zone_and_marks_business_hours(client, worked_examples):
    page = client.get("/stores/a/", {"as_of": "2023-01-25T12:00:00Z"}).content.decode()
    assert "<dd>UTC</dd>" in page
    assert "Wed 09:00–12:00; closed Mon–Tue, Thu–Sun" in page
    sessions = re.findall(r'<rect class="session"[^>]*data-start="(\d+)" data-end="(\d+)"', page)
    # The window starts at the previous Wednesday's 12:00, just as its session closes.
    assert [(int(end) - int(start)) // 3_600_000_000 for start, end in sessions] == [3]
    assert '<td data-column="uptime_last_day">2.25 h</td>' in page


@pytest.mark.parametrize(
    ("query", "words"), [({"as_of": "soon"}, "“soon” is not a time"), ({"method": "guess"}, "Select a valid choice")]
)
def test_bad_parameters_are_a_400_page_that_says_what_to_fix(client, worked_examples, query, words):
    response = client.get("/stores/a/", query)
    assert response.status_code == 400
    assert words in response.content.decode()


def test_a_store_without_polls_in_the_lookback_is_not_in_the_report(client, worked_examples):
    store = StoreFactory(store_id="old")
    StatusPollFactory(store=store, timestamp_utc=at("2022-12-01 00:00"))
    page = client.get("/stores/old/").content.decode()
    assert "this store is not in a report with this as of" in page
    assert 'data-status="active"' not in page


def test_a_store_page_on_a_database_without_polls_says_to_load_them(client):
    StoreFactory(store_id="lonely")
    response = client.get("/stores/lonely/")
    assert response.status_code == 200
    assert "load the feeds with manage.py load_csvs" in response.content.decode()


def test_the_store_page_links_staff_to_the_admin(admin_client, worked_examples):
    page = admin_client.get("/stores/a/").content.decode()
    assert "/admin/monitoring/store/" in page
    assert "Edit in the admin" in page


def test_the_pages_load_no_external_assets(client, worked_examples):
    for path in ("/", "/stores/a/", "/stores/nope/"):
        page = client.get(path).content.decode()
        assert not re.search(r'(src|href)="(https?:)?//', page), path
