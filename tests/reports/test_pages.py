"""The dashboard and the store week page, through Django's test client."""

import io
import re

import pytest
from django.test import Client

from monitoring.models import Store
from reports.forms import AsOfField
from reports.generation import compute_report, write_report_csv
from reports.models import Report
from tests.assertions import absent_from, page_text
from tests.factories import StatusPollFactory, StoreFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
# Stores and polls (on PostgreSQL the planner's estimate, plus an exact COUNT when small), the
# newest poll, the newest complete report (for its summary), the recent reports, the owners the
# report form offers; the newest poll of every store (the stores not reporting are judged there);
# the open incidents (alerts' "Offline now" panel).
DASHBOARD_QUERIES = 10
# Without a report's summary, the dashboard computes one: stores, polls, zones, business hours.
SUMMARY_NOW_QUERIES = 4


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
    with django_assert_max_num_queries(DASHBOARD_QUERIES + SUMMARY_NOW_QUERIES):
        response = client.get("/")
    page = page_text(response)
    assert not absent_from(
        page,
        '<span class="stat-value" id="stat-stores">2</span>',
        '<span class="stat-value" id="stat-polls">5</span>',
        "2023-01-25 11:30:00 UTC",
        "No reports yet",
        'action="/reports/generate/#generate"',
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
    assert page.count('<tr id="report-') == 2


def test_the_dashboard_links_a_report_s_outages_csv_and_names_extended_columns(
    client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/reports/generate/", {"method": "nearest", "columns": "extended"})
    before_outages = Report.objects.create(status="Complete", progress=1.0, store_count=2)  # no outages file
    report = Report.objects.get(columns="extended")
    section = reports_section(client.get("/").content.decode())
    assert not absent_from(
        section, f'href="/api/reports/{report.report_id}/outages.csv"', '<td class="wide-only">nearest, extended</td>'
    )
    assert f'href="/api/reports/{before_outages.report_id}/outages.csv"' not in section
    assert section.count(">outages</a>") == 1


def reports_section(page):
    """The dashboard's "Recent reports" section, from its heading to the end of the table."""
    start = page.index('<section class="panel" id="reports">')
    return page[start : page.index("</table>", start)]


def test_generate_report_triggers_a_report_and_goes_back_to_it_on_the_dashboard(
    client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/generate/", {"as_of": "2023-01-25T12:00:00Z", "method": "nearest"})
    report = Report.objects.get()
    assert response.status_code == 302
    assert response.url == f"/?new={report.report_id}#reports"
    assert (report.status, report.as_of, report.method, report.store_count) == (
        "Complete",
        at("2023-01-25 12:00"),
        "nearest",
        2,
    )
    follow = page_text(client.get(response.url))
    # The sentence stands where the new report appears, above its highlighted row; not at the top.
    section = reports_section(follow)
    assert f"Report {report.report_id} queued: its status updates below." in section
    row = f'<tr id="report-{report.report_id}" data-report-id="{report.report_id}" data-status="Complete"'
    assert f'{row} class="new-report">' in section
    assert follow.count("queued: its status updates below.") == 1


def test_the_sentence_about_a_new_report_is_shown_once(client, worked_examples, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/generate/")
    assert "queued: its status" in client.get(response.url).content.decode()
    again = client.get(response.url).content.decode()  # a reload
    assert "queued: its status" not in again
    assert Report.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_generate_report_says_so_when_the_job_queue_cannot_take_it(client, monkeypatch, worked_examples):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("reports.actions.async_task", down)
    page = client.post("/reports/generate/", follow=True).content.decode()
    report = Report.objects.get()
    assert report.status == "Failed"
    section = reports_section(page)
    assert f"Report {report.report_id} could not be started. The job queue could not be reached" in section
    assert "queued: its status" not in page
    row = section[section.index(f'<tr id="report-{report.report_id}"') :]
    assert not absent_from(row, 'class="new-report"', '<span class="status status-failed">Failed</span>')
    assert "The job queue could not be reached" in row[: row.index("</tr>")]


def test_generate_report_without_parameters_uses_the_newest_poll(
    client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/reports/generate/")
    report = Report.objects.get()
    assert (report.as_of, report.method) == (at("2023-01-25 11:30"), "last_known")


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"as_of": "yesterday", "method": "nearest"}, "as_of", "“yesterday” is not a time"),
        ({"as_of": "1999-12-31T00:00:00Z"}, "as_of", "2000-01-01"),
        ({"as_of": "2023-01-25T10:00:00Z", "method": "guess"}, "method", "“guess” is not a method"),
    ],
)
def test_generate_report_with_bad_parameters_shows_the_errors_beside_the_fields(
    client, worked_examples, data, field, words
):
    response = client.post("/reports/generate/", data)
    page = page_text(response, 400)  # the dashboard itself, not a redirect
    assert Report.objects.count() == 0
    error = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', page)
    assert error, page
    assert words in error.group(1)
    assert 'aria-invalid="true"' in page
    assert "No report started. Fix the field marked below." in page
    # What was typed is still there to correct.
    assert f'value="{data["as_of"]}"' in page
    if data.get("method") == "nearest":
        assert '<option value="nearest" selected>' in page
    # ...and the rest of the dashboard with it.
    assert not absent_from(page, 'id="stat-stores"', 'id="reports-table"')


def test_generate_report_on_an_empty_database_says_to_load_the_feeds_first(client):
    page = page_text(client.post("/reports/generate/"), 400)
    assert Report.objects.count() == 0
    error = re.search(r'<p class="form-error" role="alert" id="generate-error">([^<]*)</p>', page)
    assert error
    assert error.group(1).startswith("No report started. The database holds no polls yet")


def test_generate_report_needs_a_post_with_a_csrf_token(worked_examples):
    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/reports/generate/").status_code == 405
    assert strict.post("/reports/generate/").status_code == 403
    assert Report.objects.count() == 0


def test_report_ids_are_shown_whole_with_a_copy_button_and_their_json(client, worked_examples):
    report = Report.objects.create(status="Complete", progress=1.0, store_count=2)
    page = page_text(client.get("/"))
    row = page[page.index(f'<tr id="report-{report.report_id}"') :]
    row = row[: row.index("</tr>")]
    assert not absent_from(
        row,
        f'<code class="id">{report.report_id}</code>',
        # Shown by reports.js: without JavaScript there is nothing to copy with.
        f'<button type="button" class="copy-id" data-copy="{report.report_id}"',
        " hidden>Copy</button>",
        f'href="/api/reports/{report.report_id}/"',
        f'href="/api/reports/{report.report_id}/csv"',
    )
    assert client.get(f"/api/reports/{report.report_id}/").json()["report_id"] == report.report_id


def test_a_report_of_no_store_or_a_failed_one_does_not_look_like_a_good_one(client, worked_examples):
    good = Report.objects.create(status="Complete", progress=1.0, store_count=2)
    empty = Report.objects.create(status="Complete", progress=1.0, store_count=0)
    failed = Report.objects.create(status="Failed", error="The database holds no polls yet.")
    page = page_text(client.get("/"))

    def status_cell(report):
        row = page[page.index(f'<tr id="report-{report.report_id}"') :]
        return row[row.index('<td class="status-cell">') : row.index("</td>", row.index('<td class="status-cell">'))]

    assert status_cell(good) == '<td class="status-cell"><span class="status status-complete">Complete</span>'
    assert not absent_from(
        status_cell(empty), '<span class="status status-empty">Complete</span>', "0 stores — nothing to report"
    )
    assert not absent_from(
        status_cell(failed),
        '<span class="status status-failed">Failed</span>',
        ">The database holds no polls yet.</span>",
    )


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
    ("query", "words"),
    [
        ({"as_of": "soon"}, "“soon” is not a time"),
        ({"method": "guess"}, "“guess” is not a method; choose last_known or nearest"),
    ],
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


@pytest.mark.parametrize(("query", "status"), [({}, 200), ({"as_of": "soon"}, 400)])
def test_the_store_page_links_staff_to_the_admin(client, admin_client, worked_examples, query, status):
    store = Store.objects.get(store_id="a")
    link = f'<a class="admin-link" href="/admin/monitoring/store/{store.pk}/change/">Edit in the admin</a>'
    assert link in page_text(admin_client.get("/stores/a/", query), status)
    assert "Edit in the admin" not in page_text(client.get("/stores/a/", query), status)


def test_the_pages_load_no_external_assets(client, worked_examples):
    for path in ("/", "/stores/a/", "/stores/nope/"):
        page = client.get(path).content.decode()
        assert not re.search(r'(src|href)="(https?:)?//', page), path
