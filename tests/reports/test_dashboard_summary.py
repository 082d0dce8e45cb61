"""The dashboard's "stores needing attention" and "offline now", from the newest complete
report or computed on the fly, and its generate form's column choice."""

import re

import pytest

from reports import attention
from reports.attention import attention_summary
from reports.generation import compute_report
from reports.models import Report
from tests.assertions import absent_from, page_text
from tests.reports.conftest import at
from tests.reports.test_pages import DASHBOARD_QUERIES

pytestmark = pytest.mark.django_db


def attention_rows(page):
    """(store_id, link, downtime day, downtime week) of each row of the attention table."""
    return re.findall(
        r'<tr data-store-id="([^"]+)">\s*<td class="store-cell"><a class="store-id" href="([^"]*)">[^<]*</a></td>\s*'
        r'<td data-column="downtime_last_day">([^<]*)</td>\s*<td data-column="downtime_last_week">([^<]*)</td>',
        page,
    )


def offline_rows(page):
    """(store_id, link, since text) of each store offline now."""
    return re.findall(
        r'<li data-store-id="([^"]+)"[^>]*>\s*<a class="store-id" href="([^"]*)">[^<]*</a>\s*'
        r'<span class="offline-since">since (?:at least )?<time [^>]*>([^<]*)</time>',
        page,
    )


def test_without_a_report_the_dashboard_computes_the_summary_now(client, worked_examples):
    page = page_text(client.get("/"))
    assert "Computed now, as of the newest poll (2023-01-25 11:30:00 UTC, last_known)" in page
    # As of 11:30: b was down from the lookback's start to 11:30, a from 11:15 (its session
    # runs to 12:00, so it is offline now).
    assert attention_rows(page) == [("b", "/stores/b/", "24.00", "168.00"), ("a", "/stores/a/", "0.25", "0.25")]
    assert offline_rows(page) == [("a", "/stores/a/", "Wed 25 Jan 11:15 UTC")]
    assert "2 of 2 stores had downtime in the last week" in page


def test_the_newest_complete_reports_summary_is_shown_and_links_to_its_time(
    client, worked_examples, django_assert_max_num_queries
):
    data = compute_report(as_of=at("2023-01-25 12:00"), method="nearest")
    older = Report.objects.create(status="Complete", progress=1.0, store_count=2, as_of=data.as_of, method="nearest")
    report = Report.objects.create(
        status="Complete",
        progress=1.0,
        store_count=2,
        as_of=data.as_of,
        method="nearest",
        summary=attention_summary(data.figures, data.feeds),
    )
    Report.objects.filter(pk=older.pk).update(summary={"as_of": "not read", "attention": []})
    Report.objects.create(status="Running", progress=0.5)  # newer, but not complete
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        page = page_text(client.get("/"))
    assert (
        f'From report <a href="/api/reports/{report.report_id}/"><code class="id">{report.report_id}</code></a>' in page
    )
    assert "as of 2023-01-25 12:00:00 UTC (nearest), the newest complete one." in page
    # nearest as of 12:00: b is up from 08:15 (3.75 of the day's 24 hours); a down 10:44:30-12:00.
    query = "?as_of=2023-01-25T12%3A00%3A00Z&amp;method=nearest"
    assert attention_rows(page) == [
        ("b", f"/stores/b/{query}", "20.25", "164.25"),
        ("a", f"/stores/a/{query}", "1.26", "1.26"),
    ]
    # a's session closes at 12:00 = as_of: nobody is offline inside business hours then.
    assert offline_rows(page) == []
    assert "Inside business hours and inactive at 2023-01-25 12:00:00 UTC: 0 stores." in page


@pytest.mark.parametrize(
    "summary",
    [{}, {"version": 99, "as_of": "a summary of another shape"}],
    ids=["from before summaries were kept", "of another version"],
)
def test_a_complete_report_without_a_summary_to_read_is_passed_over(client, worked_examples, summary):
    Report.objects.create(status="Complete", progress=1.0, store_count=2, as_of=at("2023-01-25 11:30"), summary=summary)
    page = page_text(client.get("/"))
    assert "Computed now, as of the newest poll" in page
    assert [row[0] for row in attention_rows(page)] == ["b", "a"]


def test_a_big_database_without_a_report_is_asked_for_one_instead(client, worked_examples, monkeypatch):
    monkeypatch.setattr(attention, "ON_THE_FLY_MAX_POLLS", 4)  # the examples hold 5 polls
    page = page_text(client.get("/"))
    assert "Generate a report to see them: with 5 polls they take too long to work out while this page waits." in page
    assert 'id="attention-table"' not in page


def test_an_empty_database_says_to_load_the_feeds(client):
    page = page_text(client.get("/"))
    assert page.count("No polls yet: load the feeds with manage.py load_csvs.") == 1
    assert not absent_from(page, "Stores needing attention", "Offline now, during business hours")


def test_a_summary_with_more_stores_than_it_lists_says_how_many_there_are(client, worked_examples):
    data = compute_report(as_of=at("2023-01-25 11:30"))
    summary = attention_summary(data.figures, data.feeds, limit=1)
    Report.objects.create(status="Complete", progress=1.0, store_count=2, as_of=data.as_of, summary=summary)
    page = page_text(client.get("/"))
    assert "2 of 2 stores had downtime in the last week; these 1 the most" in page
    assert [row[0] for row in attention_rows(page)] == ["b"]
    # As of the newest poll: the links need no as_of.
    assert attention_rows(page)[0][1] == "/stores/b/"


# --- The generate form's columns -----------------------------------------------------------


@pytest.mark.parametrize(("posted", "columns"), [({}, "basic"), ({"columns": "extended"}, "extended")])
def test_the_generate_form_starts_a_report_with_the_chosen_columns(
    client, worked_examples, django_capture_on_commit_callbacks, posted, columns
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/generate/", posted)
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.columns, report.status) == (columns, "Complete")
    header = report.csv_file.open("rb").read().decode().splitlines()[0]
    assert header.count(",") + 1 == (17 if columns == "extended" else 7)


def test_the_generate_form_offers_both_column_sets(client, worked_examples):
    page = page_text(client.get("/"))
    assert not absent_from(
        page,
        '<label for="id_columns">Columns</label>',
        '<option value="basic" selected>basic: the 7 columns of the assignment</option>',
        '<option value="extended">extended: plus outages, uptime % and evidence polls</option>',
    )


def test_an_unknown_column_set_is_explained_beside_its_field(client, worked_examples):
    page = page_text(client.post("/reports/generate/", {"columns": "all"}), 400)
    assert Report.objects.count() == 0
    assert (
        '<p class="field-error" id="id_columns_error">“all” is not a column set; choose basic or extended.</p>' in page
    )
