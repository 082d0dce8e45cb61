"""Outages through the API: the extended report CSV, every store's outages CSV and a store's outage
list, on the README's worked examples (a, b) and the issue's third one (c), run by the job in
django-q2's sync mode (settings_test)."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from monitoring.models import StatusPoll
from reports import generation
from reports.models import Report
from reports.uptime import CSV_COLUMNS, EXTENDED_CSV_COLUMNS, OUTAGE_CSV_COLUMNS, outage_rows
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
AS_OF = "2023-01-25T12:00:00Z"
TUE, WED, SUN = 1, 2, 6
HEADER = ",".join(CSV_COLUMNS)
NEW_COLUMNS = EXTENDED_CSV_COLUMNS[len(CSV_COLUMNS) :]


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def trigger(client, django_capture_on_commit_callbacks):
    """POST /trigger_report with a JSON body; sync mode runs the job when the trigger commits."""

    def post(body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/trigger_report", body, format="json")

    return post


@pytest.fixture
def example_c(worked_examples, third_example):
    """The README's two worked examples (stores a, b) and the third of rules 10-13 (store c)."""
    return third_example


def body_of(response):
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


def completed(trigger, **body):
    response = trigger({"as_of": AS_OF, **body})
    assert response.status_code == 202, response.content
    report = Report.objects.get(report_id=response.json()["report_id"])
    assert report.status == "Complete", report.error
    return report


def csv_lines(client, report):
    return body_of(client.get(f"/api/reports/{report.report_id}/csv")).splitlines()


def extended_figures(client, report):
    """{store_id: (outages h/d/w, uptime percent h/d/w, longest outage, polls h/d/w)} of the report's CSV."""
    rows = list(csv.DictReader(io.StringIO("\n".join(csv_lines(client, report)))))
    return {
        row["store_id"]: (
            tuple(int(row[f"outages_last_{w}"]) for w in ("hour", "day", "week")),
            tuple(row[f"uptime_percent_last_{w}"] for w in ("hour", "day", "week")),
            row["longest_outage_last_week"],
            tuple(int(row[f"polls_last_{w}"]) for w in ("hour", "day", "week")),
        )
        for row in rows
    }


def outage_list(client, store_id, **query):
    response = client.get(f"/api/stores/{store_id}/outages", query)
    assert response.status_code == 200, response.content
    return response.json()


def utc(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- The extended report -------------------------------------------------------------------


def test_an_extended_report_of_the_three_examples_with_last_known_has_the_issues_figures(client, trigger, example_c):
    report = completed(trigger, columns="extended")
    assert report.columns == "extended"
    assert csv_lines(client, report) == [
        ",".join(EXTENDED_CSV_COLUMNS),
        "a,15.00,2.25,2.25,45.00,0.75,0.75,1,1,1,25.00,75.00,75.00,0.75,1,2,2",
        "b,30.00,0.50,0.50,30.00,23.50,167.50,1,1,1,50.00,2.08,0.30,167.50,1,2,2",
        "c,0.00,1.50,1.50,60.00,10.50,22.50,1,2,3,0.00,12.50,6.25,12.00,0,3,3",
    ]


def test_an_extended_report_of_the_three_examples_with_nearest_has_the_issues_figures(client, trigger, example_c):
    report = completed(trigger, columns="extended", method="nearest")
    figures = extended_figures(client, report)
    assert {store: values[:3] for store, values in figures.items()} == {
        "a": ((1, 1, 1), ("0.00", "58.06", "58.06"), "1.26"),
        "b": ((0, 1, 1), ("100.00", "15.62", "2.23"), "164.25"),
        "c": ((1, 2, 3), ("0.00", "8.33", "4.17"), "12.00"),
    }
    # Evidence does not depend on the method.
    assert [values[3] for values in figures.values()] == [(1, 2, 2), (1, 2, 2), (0, 3, 3)]


def test_the_extended_header_is_the_seven_columns_then_the_ten_new_ones_in_the_issues_order(client, trigger, example_c):
    header = csv_lines(client, completed(trigger, columns="extended"))[0]
    assert header == HEADER + (
        ",outages_last_hour,outages_last_day,outages_last_week,uptime_percent_last_hour,uptime_percent_last_day,"
        "uptime_percent_last_week,longest_outage_last_week,polls_last_hour,polls_last_day,polls_last_week"
    )


@pytest.mark.parametrize("body", [{}, {"columns": "basic"}])
def test_a_default_report_is_byte_for_byte_the_seven_columns(client, trigger, example_c, body):
    report = completed(trigger, **body)
    assert report.columns == "basic"
    assert body_of(client.get(f"/api/reports/{report.report_id}/csv")) == (
        "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,downtime_last_day,"
        "downtime_last_week\n"
        "a,15.00,2.25,2.25,45.00,0.75,0.75\n"
        "b,30.00,0.50,0.50,30.00,23.50,167.50\n"
        "c,0.00,1.50,1.50,60.00,10.50,22.50\n"
    )


def test_the_report_says_which_columns_it_has_and_where_its_outages_are(client, trigger, worked_examples):
    extended = completed(trigger, columns="extended")
    basic = completed(trigger)
    for report, columns in ((extended, "extended"), (basic, "basic")):
        outages_url = f"http://testserver/api/reports/{report.report_id}/outages.csv"
        resource = client.get(f"/api/reports/{report.report_id}/").json()
        assert (resource["columns"], resource["outages_url"]) == (columns, outages_url)
        summary = client.get("/get_report", {"report_id": report.report_id, "format": "json"}).json()
        assert (summary["columns"], summary["outages_url"]) == (columns, outages_url)
    listed = client.get("/api/reports/").json()["results"]
    assert [(r["report_id"], r["columns"]) for r in listed] == [
        (basic.report_id, "basic"),
        (extended.report_id, "extended"),
    ]


def test_an_unfinished_report_has_no_outages_url_yet(client):
    report = Report.objects.create(columns="extended")
    resource = client.get(f"/api/reports/{report.report_id}/").json()
    assert (resource["columns"], resource["outages_url"]) == ("extended", None)


@pytest.mark.parametrize("columns", ["wide", "Extended", 7, ""])
def test_an_unknown_columns_value_is_a_400_naming_the_field_and_the_accepted_values(trigger, worked_examples, columns):
    response = trigger({"columns": columns})
    assert response.status_code == 400
    assert response.json() == {
        "error": f"Invalid request: columns: “{columns}” is not a column set; choose basic or extended.",
        "fields": {"columns": [f"“{columns}” is not a column set; choose basic or extended."]},
    }
    assert not Report.objects.exists()


def test_another_field_in_the_body_is_refused_naming_the_four_it_takes(trigger, worked_examples):
    response = trigger({"columns": "extended", "store_id": "a"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Invalid request: Unknown field(s): store_id. The body takes only as_of, method, columns and owner."
    )


# --- Every store's outages as one CSV ------------------------------------------------------


def test_the_outages_csv_is_every_stores_outages_as_the_engine_lists_them(client, trigger, example_c):
    report = completed(trigger, method="nearest")
    response = client.get(f"/api/reports/{report.report_id}/outages.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="report-{report.report_id}-outages.csv"'
    data = generation.compute_report(as_of=at("2023-01-25 12:00"), method="nearest")
    expected = [",".join(OUTAGE_CSV_COLUMNS)] + [
        ",".join(row) for row in outage_rows(data.figures.outages, data.feeds.store_ids, data.feeds.store_zones)
    ]
    lines = body_of(response).splitlines()
    assert lines == expected
    # Store c's, by hand: its lookback's outages (cut to the lookback at 2023-01-11 12:00), with
    # Wednesday up from 09:00 to the midpoint 10:00 of its two polls.
    assert [line for line in lines if line.startswith("c,")] == [
        f"c,{start}+00:00,{end}+00:00,{start}+00:00,{end}+00:00,{minutes}"
        for start, end, minutes in [
            ("2023-01-11T12:00:00", "2023-01-11T21:00:00", "540.00"),
            ("2023-01-17T09:00:00", "2023-01-17T21:00:00", "720.00"),
            ("2023-01-18T09:00:00", "2023-01-18T21:00:00", "720.00"),
            ("2023-01-24T09:00:00", "2023-01-24T21:00:00", "720.00"),
            ("2023-01-25T10:00:00", "2023-01-25T12:00:00", "120.00"),
        ]
    ]


def test_a_basic_and_an_extended_report_hand_back_the_same_outages_csv(client, trigger, example_c):
    basic, extended = completed(trigger), completed(trigger, columns="extended")
    bodies = [body_of(client.get(f"/api/reports/{r.report_id}/outages.csv")) for r in (basic, extended)]
    assert bodies[0] == bodies[1]
    assert bodies[0].count("\n") == 1 + 1 + 1 + 5  # the header, a's, b's and c's five


def test_the_outages_csv_is_stored_next_to_the_reports_csv(trigger, worked_examples, media_root):
    report = completed(trigger)
    created = report.created_at
    assert report.outages_file.name == f"reports/{created:%Y}/{created:%m}/{report.report_id}-outages.csv"
    assert (media_root / report.outages_file.name).read_text().splitlines()[0] == ",".join(OUTAGE_CSV_COLUMNS)


def test_the_outages_csv_of_an_unknown_report_is_a_404_like_its_csv(client):
    for path in ("/api/reports/nope/outages.csv", "/api/reports/a%00b/outages.csv"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"].startswith("No report has report_id ")


@pytest.mark.parametrize("status", ["Pending", "Running", "Failed"])
def test_the_outages_csv_of_an_unfinished_report_is_a_409(client, status):
    report = Report.objects.create(status=status)
    response = client.get(f"/api/reports/{report.report_id}/outages.csv")
    assert response.status_code == 409
    assert response.json() == {
        "error": f"Report {report.report_id} is {status}; its outages CSV exists once it is Complete."
    }


def test_a_report_completed_before_outages_were_kept_has_none_a_404_that_says_so(client, trigger, worked_examples):
    report = completed(trigger)
    Report.objects.filter(pk=report.pk).update(outages_file="")  # as a report of before this change
    response = client.get(f"/api/reports/{report.report_id}/outages.csv")
    assert response.status_code == 404
    assert response.json() == {
        "error": f"Report {report.report_id} was completed before outages were kept, so it has no outages CSV; "
        "trigger a new report to get one."
    }
    assert client.get(f"/api/reports/{report.report_id}/").json()["outages_url"] is None
    assert client.get(f"/api/reports/{report.report_id}/csv").status_code == 200


def test_an_outages_csv_missing_from_storage_is_a_410_as_the_csv_is(client, trigger, worked_examples):
    report = completed(trigger)
    report.outages_file.storage.delete(report.outages_file.name)
    response = client.get(f"/api/reports/{report.report_id}/outages.csv")
    assert response.status_code == 410
    assert response.json() == {"error": "The outages CSV of this report is no longer stored; trigger a new report."}


# --- A store's outage list -----------------------------------------------------------------


def test_the_outage_list_is_the_weeks_outages_newest_first_with_their_sessions(client, example_c):
    listing = outage_list(client, "c", as_of=AS_OF)
    assert {key: value for key, value in listing.items() if key != "outages"} == {
        "store_id": "c",
        "as_of": "2023-01-25T12:00:00Z",
        "method": "last_known",
        "time_zone": "UTC",
        "week_start": "2023-01-18T12:00:00Z",
        "note": None,
    }

    def interval(start, end):
        return {
            "start_utc": f"{start}Z",
            "end_utc": f"{end}Z",
            "start_local": f"{start}+00:00",
            "end_local": f"{end}+00:00",
        }

    # The outages of the 11th and 17th are in the lookback (and the outages CSV) but not the week.
    assert listing["outages"] == [
        {
            **interval("2023-01-25T10:30:00", "2023-01-25T12:00:00"),
            "minutes": 90.0,
            "started_before_week": False,
            "ongoing": True,  # still inactive at as_of: Wednesday is open until 21:00
            "session": interval("2023-01-25T09:00:00", "2023-01-25T21:00:00"),
        },
        {
            **interval("2023-01-24T09:00:00", "2023-01-24T21:00:00"),
            "minutes": 720.0,
            "started_before_week": False,
            "ongoing": False,
            "session": interval("2023-01-24T09:00:00", "2023-01-24T21:00:00"),
        },
        {
            **interval("2023-01-18T09:00:00", "2023-01-18T21:00:00"),
            "minutes": 720.0,  # listed whole, though the week holds its last 9 hours only
            "started_before_week": True,
            "ongoing": False,
            "session": interval("2023-01-18T09:00:00", "2023-01-18T21:00:00"),
        },
    ]


@pytest.mark.parametrize(
    ("method", "start", "minutes"),
    [("last_known", "2023-01-25T11:15:00Z", 45.0), ("nearest", "2023-01-25T10:44:30Z", 75.5)],
)
def test_an_outage_ending_as_the_session_closes_at_as_of_is_not_ongoing(
    client, worked_examples, method, start, minutes
):
    (outage,) = outage_list(client, "a", as_of=AS_OF, method=method)["outages"]
    assert (outage["start_utc"], outage["end_utc"], outage["minutes"]) == (start, "2023-01-25T12:00:00Z", minutes)
    assert (outage["started_before_week"], outage["ongoing"]) == (False, False)


def test_a_store_open_all_the_time_has_its_session_cut_at_the_lookback_and_a_day_after_as_of(client, worked_examples):
    (outage,) = outage_list(client, "b", as_of=AS_OF)["outages"]
    # Inactive from the lookback's start (the first poll's status holds from the opening) to 11:30.
    assert (outage["start_utc"], outage["end_utc"], outage["minutes"]) == (
        "2023-01-11T12:00:00Z",
        "2023-01-25T11:30:00Z",
        14 * 24 * 60 - 30.0,
    )
    assert (outage["started_before_week"], outage["ongoing"]) == (True, False)
    assert outage["session"] == {
        "start_utc": "2023-01-11T12:00:00Z",
        "end_utc": "2023-01-26T12:00:00Z",
        # No zone: America/Chicago (rule 4).
        "start_local": "2023-01-11T06:00:00-06:00",
        "end_local": "2023-01-26T06:00:00-06:00",
    }
    assert outage_list(client, "b", as_of=AS_OF)["time_zone"] == "America/Chicago"


def test_the_outages_in_the_week_add_up_to_the_reports_downtime_last_week(client, trigger, example_c):
    report = completed(trigger, method="nearest")
    rows = {line.split(",")[0]: line.split(",") for line in csv_lines(client, report)[1:]}
    for store_id in ("a", "b", "c"):
        listing = outage_list(client, store_id, as_of=AS_OF, method="nearest")
        week_start = utc(listing["week_start"])
        hours = sum(
            (utc(o["end_utc"]) - max(utc(o["start_utc"]), week_start)).total_seconds() / 3600
            for o in listing["outages"]
        )
        assert f"{hours:.2f}" == rows[store_id][CSV_COLUMNS.index("downtime_last_week")], store_id


def test_local_times_are_in_the_stores_zone_as_zoneinfo_gives_them(client):
    # Wednesday 09:00-17:00 in Kolkata (UTC+05:30) is 03:30-11:30 UTC.
    store = StoreFactory(store_id="k")
    TimezoneFactory(store=store, timezone_str="Asia/Kolkata")
    BusinessHoursFactory(store=store, day_of_week=WED, start_time_local=dt.time(9), end_time_local=dt.time(17))
    StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 04:00"), status="active")
    StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 05:00:00.250000"), status="inactive")
    (outage,) = outage_list(client, "k", as_of=AS_OF)["outages"]
    assert outage["start_local"] == "2023-01-25T10:30:00.250000+05:30"
    assert outage["end_local"] == "2023-01-25T17:00:00+05:30"
    assert outage["session"]["start_local"] == "2023-01-25T09:00:00+05:30"
    kolkata = ZoneInfo("Asia/Kolkata")
    for prefix in ("start", "end"):
        assert outage[f"{prefix}_local"] == utc(outage[f"{prefix}_utc"]).astimezone(kolkata).isoformat()


def test_an_outage_across_the_spring_forward_change_has_both_local_offsets(client):
    # Open Sundays 00:00-06:00 in Chicago; on 2023-03-12 that is 06:00-11:00 UTC, 5 hours.
    store = StoreFactory(store_id="dst")
    TimezoneFactory(store=store, timezone_str="America/Chicago")
    BusinessHoursFactory(store=store, day_of_week=SUN, start_time_local=dt.time(0), end_time_local=dt.time(6))
    StatusPollFactory(store=store, timestamp_utc=at("2023-03-12 08:00"), status="inactive")
    (outage,) = outage_list(client, "dst", as_of="2023-03-13T00:00:00Z")["outages"]
    assert (outage["start_utc"], outage["end_utc"]) == ("2023-03-12T06:00:00Z", "2023-03-12T11:00:00Z")
    assert (outage["start_local"], outage["end_local"], outage["minutes"]) == (
        "2023-03-12T00:00:00-06:00",
        "2023-03-12T06:00:00-05:00",
        300.0,
    )
    # The Sunday before (06:00-12:00 UTC on the 5th) is in the lookback, not in the week.
    assert not outage["started_before_week"]


def test_without_as_of_the_list_is_as_of_the_newest_poll_of_all_stores(client, example_c):
    # As a report (and the store page): b's poll at 11:30, not a's own newest at 11:15.
    listing = outage_list(client, "a")
    assert (listing["as_of"], listing["method"]) == ("2023-01-25T11:30:00Z", "last_known")
    assert [o["end_utc"] for o in listing["outages"]] == ["2023-01-25T11:30:00Z"]
    assert [o["ongoing"] for o in listing["outages"]] == [True]


def test_the_list_answers_with_and_without_the_trailing_slash(client, example_c):
    assert client.get("/api/stores/c/outages/", {"as_of": AS_OF}).json() == outage_list(client, "c", as_of=AS_OF)


def test_a_store_without_polls_in_the_lookback_has_an_empty_list_and_a_note(client, worked_examples):
    StatusPollFactory(store=StoreFactory(store_id="quiet"), timestamp_utc=at("2023-01-01 10:00"))
    listing = outage_list(client, "quiet", as_of=AS_OF)
    assert listing["outages"] == []
    assert listing["note"] == (
        "Store quiet has no poll in the 14 days before 2023-01-25T12:00:00Z (the lookback), so it is not in the "
        "report and has no outages to list."
    )
    assert listing["time_zone"] == "America/Chicago"


def test_an_unknown_store_is_a_404_like_an_unknown_report(client, worked_examples):
    response = client.get("/api/stores/nope/outages")
    assert response.status_code == 404
    assert response.json() == {"error": "No store has store_id 'nope'."}


@pytest.mark.parametrize("store_id", ["a%00b", "%20a", "x" * 65])
def test_a_store_id_that_cannot_be_one_is_a_404_without_a_query(client, django_assert_num_queries, store_id):
    with django_assert_num_queries(0):
        response = client.get(f"/api/stores/{store_id}/outages")
    assert response.status_code == 404
    assert response.json()["error"].startswith("No store has store_id ")


def test_columns_on_the_outage_list_is_a_400_naming_it_and_the_parameters_it_takes(client, worked_examples):
    response = client.get("/api/stores/a/outages", {"as_of": AS_OF, "columns": "extended"})
    assert response.status_code == 400
    sentence = (
        "Not a parameter here: columns chooses a report's CSV columns (POST /trigger_report); "
        "the outage list takes only as_of and method."
    )
    assert response.json() == {
        "error": f"Invalid request: columns: {sentence.rstrip('.')}.",
        "fields": {"columns": [sentence]},
    }


def test_any_other_query_parameter_is_a_400_naming_it(client, worked_examples):
    response = client.get("/api/stores/a/outages", {"format": "json", "as_of": AS_OF})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Invalid request: format: Unknown query parameter: the outage list takes only as_of and method."
    )


def test_an_unknown_parameter_and_a_bad_value_are_named_together(client, worked_examples):
    response = client.get("/api/stores/a/outages", {"columns": "extended", "method": "fast"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"columns", "method"}


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"method": "fast"}, "method: “fast” is not a method; choose last_known or nearest."),
        ({"as_of": "yesterday"}, "as_of: “yesterday” is not a time: write it like 2023-01-25T18:13:22Z"),
        (
            {"as_of": "2023-03-01T00:00:00Z"},
            "as_of: 2023-03-01 00:00:00 UTC has no poll in the 14 days before it (the lookback): the polls run from "
            "2023-01-25 05:00:00 UTC to 2023-01-25 11:30:00 UTC",
        ),
        ({"as_of": "1999-12-31T23:59:59Z"}, "as_of: 1999-12-31T23:59:59+00:00 is before 2000-01-01"),
    ],
)
def test_as_of_and_method_are_checked_as_for_a_report(client, trigger, worked_examples, query, error):
    response = client.get("/api/stores/a/outages", query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"Invalid request: {error}")
    # The trigger says the same of the same value.
    assert trigger(query).json()["error"].startswith(f"Invalid request: {error}")


def test_a_database_without_polls_is_a_400_with_the_no_polls_sentence(client):
    StoreFactory(store_id="a")
    response = client.get("/api/stores/a/outages")
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Invalid request: The database holds no polls yet: load the feeds with manage.py load_csvs."
    )


def test_the_outage_list_at_the_end_of_the_calendar_writes_the_times_it_names(client):
    # Polls at the last instant the database holds (older databases may): the session runs a day
    # past it, beyond what a datetime holds, and is written all the same.
    last = dt.datetime.max.replace(tzinfo=dt.UTC)
    store = StoreFactory(store_id="edge")
    TimezoneFactory(store=store, timezone_str="Pacific/Kiritimati")
    StatusPollFactory(store=store, timestamp_utc=last - dt.timedelta(hours=2), status="inactive")
    StatusPollFactory(store=store, timestamp_utc=last, status="inactive")
    assert StatusPoll.objects.newest_time() == last
    (outage,) = outage_list(client, "edge")["outages"]
    assert outage["end_utc"] == "9999-12-31T23:59:59.999999Z"
    assert outage["end_local"] == "10000-01-01T13:59:59.999999+14:00"
    assert outage["session"]["end_utc"] == "10000-01-01T23:59:59.999999Z"
    assert outage["ongoing"] is True
