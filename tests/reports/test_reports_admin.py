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
# Session, user, the count of the filtered list, the page, and the date hierarchy's range.
REPORT_LIST_QUERIES = 6


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
        '<progress max="100" value="42"',
        "42%",
        "2.5 s",
        f'href="/api/reports/{complete.report_id}/csv"',
    )
    assert page.count(">download</a>") == 1
    assert 'id="admin-generate-report"' in page
    assert 'action="/admin/reports/report/generate/"' in page


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
    old = Report.objects.create(status="Failed", as_of=at("2023-01-25 12:00"), method="nearest")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            REPORTS, {"action": "generate_like_selected", "_selected_action": [old.pk]}, follow=True
        )
    new = Report.objects.exclude(pk=old.pk).get()
    assert (new.status, new.as_of, new.method) == ("Complete", old.as_of, old.method)
    assert "1 report(s) queued" in response.content.decode()
