"""A report time is checked when the report is asked for: from 2000-01-01 to a day ahead, and
with a poll in its lookback; the API, the pages, the admin and generate_report all refuse alike."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.models import StatusPoll
from reports.generation import NoPollsError, ReportTimeError, check_report_time
from reports.models import Report
from tests.assertions import page_text
from tests.factories import StatusPollFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
NO_POLLS = "The database holds no polls yet: load the feeds with manage.py load_csvs."
# The worked examples' polls run from 05:00 to 11:30 on 2023-01-25; the lookback is 14 days.
GAP_SENTENCE = (
    "2023-03-01 00:00:00 UTC has no poll in the 14 days before it (the lookback): the polls run from "
    "2023-01-25 05:00:00 UTC to 2023-01-25 11:30:00 UTC, so choose an as_of from the first poll to 14 days "
    "after the last."
)
LAST_USABLE = at("2023-01-25 11:30") + dt.timedelta(days=14)


@pytest.fixture
def trigger(django_capture_on_commit_callbacks):
    client = APIClient()

    def post(body=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/trigger_report", body, format="json")

    return post


# --- The rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [at("2023-01-25 05:00"), at("2023-01-25 12:00"), LAST_USABLE])
def test_a_time_with_a_poll_in_its_lookback_passes_with_one_query(worked_examples, django_assert_num_queries, as_of):
    with django_assert_num_queries(1):
        check_report_time(as_of)


@pytest.mark.parametrize(
    "as_of", [at("2023-01-25 04:59:59.999999"), LAST_USABLE + dt.timedelta(microseconds=1), at("2023-03-01 00:00")]
)
def test_a_time_without_a_poll_in_its_lookback_is_refused_with_the_range_of_the_data(worked_examples, as_of):
    with pytest.raises(ReportTimeError, match="has no poll in the 14 days before it") as refusal:
        check_report_time(as_of)
    assert "the polls run from 2023-01-25 05:00:00 UTC to 2023-01-25 11:30:00 UTC" in str(refusal.value)


def test_the_lookback_follows_its_setting(worked_examples, settings):
    settings.REPORT_LOOKBACK_DAYS = 30
    check_report_time(at("2023-01-25 11:30") + dt.timedelta(days=30))
    with pytest.raises(ReportTimeError, match="no poll in the 30 days before it"):
        check_report_time(at("2023-01-25 11:30") + dt.timedelta(days=30, microseconds=1))


def test_times_before_2000_are_refused_before_any_query(worked_examples, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ReportTimeError) as refusal:
        check_report_time(dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
    assert str(refusal.value) == "1999-12-31T23:59:59+00:00 is before 2000-01-01: no feed holds polls that old."


def test_times_more_than_a_day_ahead_are_refused_before_any_query(django_assert_num_queries):
    now = at("2030-06-01 12:00")
    StatusPollFactory(timestamp_utc=now - dt.timedelta(hours=1))
    check_report_time(now + dt.timedelta(days=1), now=now)
    with django_assert_num_queries(0), pytest.raises(ReportTimeError) as refusal:
        check_report_time(now + dt.timedelta(days=1, microseconds=1), now=now)
    assert str(refusal.value) == (
        "2030-06-02T12:00:00.000001+00:00 is more than a day ahead of now (2030-06-01 12:00:00 UTC)."
    )


@pytest.mark.parametrize("as_of", [None, at("2023-01-25 12:00")])
def test_an_empty_database_refuses_any_report_with_the_no_polls_sentence(as_of):
    with pytest.raises(NoPollsError, match="no polls yet"):
        check_report_time(as_of)


def test_without_as_of_a_database_with_polls_passes_with_one_query(worked_examples, django_assert_num_queries):
    with django_assert_num_queries(1):
        check_report_time(None)


def test_the_oldest_poll_time_is_the_first_poll_of_all_stores(worked_examples):
    assert StatusPoll.objects.oldest_time() == at("2023-01-25 05:00")
    assert StatusPoll.objects.filter(store__store_id="a").oldest_time() == at("2023-01-25 07:00")
    assert StatusPoll.objects.none().oldest_time() is None


# --- POST /trigger_report ------------------------------------------------------------------


def test_the_api_refuses_a_time_without_polls_with_a_400_giving_the_range(trigger, worked_examples):
    response = trigger({"as_of": "2023-03-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json() == {"error": f"Invalid request: as_of: {GAP_SENTENCE}", "fields": {"as_of": [GAP_SENTENCE]}}
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("as_of", "words"),
    [
        ("1999-12-31T23:59:59Z", "1999-12-31T23:59:59+00:00 is before 2000-01-01"),
        ("0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00+05:00 is before 2000-01-01"),
        ("9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59-05:00 is more than a day ahead of now"),
    ],
)
def test_the_api_refuses_a_time_outside_2000_to_tomorrow_with_a_400(trigger, worked_examples, as_of, words):
    response = trigger({"as_of": as_of})
    assert response.status_code == 400
    assert response.json()["fields"]["as_of"][0].startswith(words)
    assert not Report.objects.exists()


def test_the_api_starts_a_report_at_the_last_time_the_lookback_reaches(trigger, worked_examples):
    response = trigger({"as_of": LAST_USABLE.isoformat()})
    assert response.status_code == 202
    report = Report.objects.get()
    # Only store b's 11:30 poll is in that lookback (store a's last poll is at 11:15).
    assert (report.status, report.store_count) == ("Complete", 1)


def test_a_time_a_day_ahead_is_accepted_when_polls_reach_it(trigger):
    StatusPollFactory(timestamp_utc=timezone.now() - dt.timedelta(hours=1))
    response = trigger({"as_of": (timezone.now() + dt.timedelta(hours=23)).isoformat()})
    assert response.status_code == 202


# --- The dashboard, the store page and the admin -------------------------------------------


def test_the_dashboard_starts_no_report_at_a_time_without_polls(client, worked_examples):
    page = page_text(client.post("/reports/generate/", {"as_of": "2023-03-01T00:00:00Z"}), 400)
    assert "No report started." in page
    assert f'<p class="field-error" id="id_as_of_error">{GAP_SENTENCE}</p>' in page  # beside the field
    assert not Report.objects.exists()


def test_the_dashboard_starts_no_report_on_an_empty_database(client):
    page = page_text(client.post("/reports/generate/"), 400)
    assert f"No report started. {NO_POLLS}" in page
    assert not Report.objects.exists()


def test_the_store_page_is_a_400_at_a_time_without_polls(client, worked_examples):
    page = page_text(client.get("/stores/a/", {"as_of": "2023-03-01T00:00:00Z"}), 400)
    assert GAP_SENTENCE in page


def test_the_admin_starts_no_report_at_a_time_without_polls(admin_client, worked_examples):
    response = admin_client.post("/admin/reports/report/generate/", {"as_of": "1999-01-01T00:00:00Z"}, follow=True)
    page = page_text(response)
    assert "No report started. As of (UTC): 1999-01-01T00:00:00+00:00 is before 2000-01-01" in page
    assert not Report.objects.exists()


def test_the_admin_starts_no_report_on_an_empty_database(admin_client):
    page = page_text(admin_client.post("/admin/reports/report/generate/", follow=True))
    assert f"No report started. {NO_POLLS}" in page
    assert not Report.objects.exists()


# --- manage.py generate_report -------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2023-03-01T00:00:00Z", f"--as-of {GAP_SENTENCE}"),
        (
            "1999-12-31T23:59:59Z",
            "--as-of 1999-12-31T23:59:59+00:00 is before 2000-01-01: no feed holds polls that old.",
        ),
    ],
)
def test_generate_report_refuses_the_time_in_one_line(worked_examples, as_of, message):
    with pytest.raises(CommandError) as refusal:
        call_command("generate_report", "--as-of", as_of)
    assert str(refusal.value) == message


def test_generate_report_with_a_time_on_an_empty_database_says_there_are_no_polls():
    with pytest.raises(CommandError, match="^The database holds no polls yet"):
        call_command("generate_report", "--as-of", "2023-01-25T12:00:00Z")
