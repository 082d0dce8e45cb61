"""The admin's report pages: read-only rows, progress, downloads, and starting a report."""

import datetime as dt

import pytest
from django.utils import timezone

from reports.models import Report
from tests.assertions import absent_from, page_text
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
REPORTS = "/admin/reports/report/"
GENERATE = "/admin/reports/report/generate/"
# Session, user, the count of the filtered list, the page, and the date hierarchy's range; the
# owners of the "stores of" filter, and of the generate form's owner choice.
REPORT_LIST_QUERIES = 8


@pytest.fixture
def reports():
    now = timezone.now()
    running = Report.objects.create(status="Running", progress=0.42, started_at=now - dt.timedelta(seconds=3))
    complete = Report.objects.create(
        status="Complete",
        progress=1.0,
        as_of=at("2023-01-25 11:30"),
        store_count=2,
        started_at=now - dt.timedelta(seconds=10),
        finished_at=now - dt.timedelta(seconds=7, milliseconds=500),
    )
    failed = Report.objects.create(status="Failed", error="The database holds no polls yet.")
    return running, complete, failed


def test_the_report_list_shows_status_progress_duration_and_downloads(
    admin_client, reports, django_assert_max_num_queries
):
    running, complete, failed = reports
    with django_assert_max_num_queries(REPORT_LIST_QUERIES):
        response = admin_client.get(REPORTS)
    page = page_text(response)
    assert not absent_from(
        page,
        '<span class="status status-running">Running</span><br><span class="progress"><progress max="100" value="42"',
        "42%",
        "2.5\N{NO-BREAK SPACE}s",
        f'href="/api/reports/{complete.report_id}/csv"',
        # The method under the as of, to the microsecond.
        '2023-01-25 11:30:00<br><span class="method">last_known</span>',
    )
    assert page.count(">CSV</a>") == 1
    assert page.count("<progress") == 1  # only while a report runs
    assert 'id="admin-generate-report"' in page
    assert 'action="/admin/reports/report/generate/"' in page


def test_a_failed_report_or_one_of_no_store_says_so_in_the_list(admin_client, reports):
    _, complete, failed = reports
    empty = Report.objects.create(status="Complete", progress=1.0, store_count=0)
    page = page_text(admin_client.get(REPORTS))
    assert not absent_from(
        page,
        '<span class="status status-failed">Failed</span> <span class="status-note" '
        'title="The database holds no polls yet.">The database holds no polls yet.</span>',
        '<span class="status status-empty">Complete</span> '
        '<span class="status-note">0 stores — nothing to report</span>',
        '<td class="field-status_text"><span class="status status-complete">Complete</span></td>',
    )
    assert f'<a href="/admin/reports/report/{empty.pk}/change/">{empty.report_id}</a>' in page


def test_the_report_list_tells_when_each_report_is_pruned(admin_client, reports, settings):
    _, complete, _ = reports
    kept_until = complete.created_at.astimezone(dt.UTC) + dt.timedelta(days=settings.REPORT_RETENTION_DAYS)
    assert f'title="Pruned after {kept_until:%Y-%m-%d %H:%M:%S} UTC"' in page_text(admin_client.get(REPORTS))


def test_the_report_list_runs_the_same_queries_for_many_reports(admin_client, reports, django_assert_max_num_queries):
    Report.objects.bulk_create(Report(status="Complete", progress=1.0) for _ in range(40))
    with django_assert_max_num_queries(REPORT_LIST_QUERIES):
        assert admin_client.get(REPORTS).status_code == 200


def test_a_report_page_is_read_only(admin_client, reports):
    _, complete, failed = reports
    page = admin_client.get(f"{REPORTS}{complete.pk}/change/").content.decode()
    assert complete.report_id in page
    assert 'name="_save"' not in page
    assert "2023-01-25 11:30:00" in page
    failed_page = admin_client.get(f"{REPORTS}{failed.pk}/change/").content.decode()
    assert "The database holds no polls yet." in failed_page
    assert admin_client.get(f"{REPORTS}add/").status_code == 403


def test_the_generate_button_starts_a_report_through_the_jobs(
    admin_client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(GENERATE, {"as_of": "2023-01-25T12:00:00Z", "method": "nearest"})
    assert response.status_code == 302
    assert response.url == REPORTS
    report = Report.objects.get()
    assert (report.status, report.as_of, report.method) == ("Complete", at("2023-01-25 12:00"), "nearest")
    assert f"Report {report.report_id} queued." in admin_client.get(REPORTS).content.decode()


def test_the_generate_button_with_a_bad_time_starts_nothing(admin_client, worked_examples):
    response = admin_client.post(GENERATE, {"as_of": "noon"}, follow=True)
    assert Report.objects.count() == 0
    assert "No report started." in response.content.decode()


def test_the_generate_button_needs_a_post_from_staff(client, admin_client, worked_examples):
    assert admin_client.get(GENERATE).status_code == 405
    response = client.post(GENERATE)
    assert response.status_code == 302
    assert "/admin/login/" in response.url
    assert Report.objects.count() == 0


def test_the_action_regenerates_the_selected_reports(admin_client, worked_examples, django_capture_on_commit_callbacks):
    old = Report.objects.create(status="Failed", as_of=at("2023-01-25 12:00"), method="nearest", columns="extended")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            REPORTS, {"action": "generate_like_selected", "_selected_action": [old.pk]}, follow=True
        )
    new = Report.objects.exclude(pk=old.pk).get()
    assert (new.status, new.as_of, new.method, new.columns) == ("Complete", old.as_of, old.method, old.columns)
    assert "1 report(s) queued" in response.content.decode()


def test_an_extended_report_shows_its_columns_and_both_downloads(
    admin_client, worked_examples, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(GENERATE, {"as_of": "2023-01-25T12:00:00Z", "method": "nearest", "columns": "extended"})
    report = Report.objects.get()
    assert (report.status, report.columns) == ("Complete", "extended")
    page = page_text(admin_client.get(REPORTS))
    assert not absent_from(
        page,
        '<span class="method">nearest, extended</span>',
        f'href="/api/reports/{report.report_id}/csv"',
        f'href="/api/reports/{report.report_id}/outages.csv"',
    )
    detail = page_text(admin_client.get(f"{REPORTS}{report.pk}/change/"))
    assert not absent_from(detail, "extended (17 columns)", f'href="/api/reports/{report.report_id}/outages.csv"')


def test_a_basic_report_names_no_column_set_and_one_from_before_outages_links_only_its_csv(admin_client, reports):
    _, complete, _ = reports
    page = page_text(admin_client.get(REPORTS))
    assert '<span class="method">last_known</span>' in page
    assert "outages.csv" not in page  # completed before outages were kept: no file
