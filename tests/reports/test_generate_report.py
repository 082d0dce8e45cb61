"""generate_report end to end through the database: snapshot, calculator, CSV."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from reports.generation import compute_report, write_report_csv

pytestmark = pytest.mark.django_db
UTC = dt.UTC
HEADER = (
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,downtime_last_day,downtime_last_week"
)


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_the_worked_examples_as_csv(worked_examples):
    out, err = run_command("--as-of", "2023-01-25T12:00:00Z")
    assert out.splitlines() == [
        HEADER,
        "a,15.00,2.25,2.25,45.00,0.75,0.75",
        "b,30.00,0.50,0.50,30.00,23.50,167.50",
    ]
    assert "2 stores as of 2023-01-25T12:00:00+00:00 (last_known)" in err


def test_the_command_runs_the_nearest_method(worked_examples):
    out, _ = run_command("--as-of", "2023-01-25 12:00:00 UTC", "--method", "nearest")
    assert out.splitlines()[1:] == [
        "a,0.00,1.74,1.74,60.00,1.26,1.26",
        "b,60.00,3.75,3.75,0.00,20.25,164.25",
    ]


def test_as_of_defaults_to_the_newest_poll(worked_examples):
    data = compute_report()
    assert data.as_of == at("2023-01-25 11:30")


def test_the_command_writes_to_a_file(worked_examples, tmp_path):
    target = tmp_path / "report.csv"
    _, err = run_command("--as-of", "2023-01-25T12:00:00+00:00", "--out", str(target))
    assert target.read_text().splitlines()[0] == HEADER
    assert f"written to {target}" in err


def test_an_as_of_with_an_offset_is_converted_to_utc(worked_examples):
    out_utc, _ = run_command("--as-of", "2023-01-25T12:00:00Z")
    out_offset, _ = run_command("--as-of", "2023-01-25T06:00:00-06:00")
    assert out_utc == out_offset


def test_a_bad_as_of_is_a_clear_error():
    with pytest.raises(CommandError, match="is not a time"):
        call_command("generate_report", "--as-of", "yesterday")


def test_an_empty_database_is_a_clear_error():
    with pytest.raises(CommandError, match="no polls yet"):
        call_command("generate_report")


def test_a_single_store_report_equals_its_row_in_the_full_report(worked_examples):
    full = io.StringIO()
    write_report_csv(compute_report(as_of=at("2023-01-25 12:00")).figures, full)
    single = io.StringIO()
    write_report_csv(compute_report(as_of=at("2023-01-25 12:00"), store_id="a").figures, single)
    assert single.getvalue().splitlines()[1] == full.getvalue().splitlines()[1]
