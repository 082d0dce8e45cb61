"""generate_report end to end through the database: snapshot, calculator, CSV."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import StatusPoll, Store
from reports.generation import compute_report
from storemonitor.commands import BROKEN_PIPE_EXIT_STATUS
from tests.manage_py import manage_py, start_manage_py

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


def test_extended_columns_add_outages_percentages_and_evidence_after_the_seven(worked_examples):
    out, _ = run_command("--as-of", "2023-01-25T12:00:00Z", "--columns", "extended")
    header, *rows = out.splitlines()
    assert header == HEADER + (
        ",outages_last_hour,outages_last_day,outages_last_week,uptime_percent_last_hour,uptime_percent_last_day"
        ",uptime_percent_last_week,longest_outage_last_week,polls_last_hour,polls_last_day,polls_last_week"
    )
    # The README's worked examples (rules 10-13): a's evidence is 10:14 and 11:15 (07:00 is
    # outside its session), b has no hours so both its polls are evidence.
    assert rows == [
        "a,15.00,2.25,2.25,45.00,0.75,0.75,1,1,1,25.00,75.00,75.00,0.75,1,2,2",
        "b,30.00,0.50,0.50,30.00,23.50,167.50,1,1,1,50.00,2.08,0.30,167.50,1,2,2",
    ]


def test_the_basic_columns_are_the_default(worked_examples):
    default, _ = run_command("--as-of", "2023-01-25T12:00:00Z")
    basic, _ = run_command("--as-of", "2023-01-25T12:00:00Z", "--columns", "basic")
    assert default == basic
    assert default.splitlines()[0] == HEADER


def test_the_outages_file_lists_every_store_s_outages(worked_examples, tmp_path):
    target = tmp_path / "outages.csv"
    _, err = run_command("--as-of", "2023-01-25T12:00:00Z", "--outages", str(target))
    assert target.read_text().splitlines() == [
        "store_id,start_utc,end_utc,start_local,end_local,minutes",
        # a (zone UTC): inactive from its 11:15 poll to as_of, still going on there.
        "a,2023-01-25T11:15:00+00:00,2023-01-25T12:00:00+00:00,2023-01-25T11:15:00+00:00,2023-01-25T12:00:00+00:00,45.00",
        # b: open all the time, inactive from the lookback's start to its 11:30 active poll.
        "b,2023-01-11T12:00:00+00:00,2023-01-25T11:30:00+00:00,2023-01-11T06:00:00-06:00,2023-01-25T05:30:00-06:00,20130.00",
    ]
    assert f"2 outages written to {target}" in err


def test_an_unknown_column_set_is_one_line_naming_the_choices():
    result = manage_py("generate_report", "--columns", "wide")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "argument --columns: invalid choice: 'wide' (choose from 'basic', 'extended')" in result.stderr


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


def test_an_as_of_without_a_zone_is_utc(worked_examples):
    out_utc, _ = run_command("--as-of", "2023-01-25T12:00:00Z")
    out_zoneless, _ = run_command("--as-of", "2023-01-25T12:00:00")
    assert out_zoneless == out_utc


def test_a_bad_as_of_is_a_clear_error():
    with pytest.raises(CommandError, match="is not a time"):
        call_command("generate_report", "--as-of", "yesterday")


def test_an_out_file_that_cannot_be_written_is_a_clear_error(worked_examples, tmp_path):
    target = tmp_path / f"{'r' * 300}.csv"  # longer than a file name may be, even for root

    with pytest.raises(CommandError) as caught:
        run_command("--as-of", "2023-01-25T12:00:00Z", "--out", str(target))

    assert str(caught.value) == f"--out {target}: cannot write the report there (File name too long)"


# --- at the command line, in a child process ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("arguments", "status", "line"),
    [
        (["--as-of", "yesterday"], 1, "CommandError: --as-of “yesterday” is not a time: write it like 2023-01-25T18"),
        (
            ["--as-of", "1999-12-31T00:00:00Z"],
            1,
            "CommandError: --as-of 1999-12-31T00:00:00+00:00 is before 2000",
        ),
        (["--out", "{tmp}"], 1, "CommandError: --out {tmp}: is a directory; name the CSV file to write"),
        (["--out", "{tmp}/nowhere/r.csv"], 1, "CommandError: --out {tmp}/nowhere/r.csv: the directory {tmp}/nowhere "),
        (["--out", "{tmp}/r.csv/r.csv"], 1, "CommandError: --out {tmp}/r.csv/r.csv: {tmp}/r.csv is not a directory"),
        ([], 1, "CommandError: The database holds no polls yet: load the feeds with manage.py load_csvs."),
        (["--as-of"], 2, "manage.py generate_report: error: argument --as-of: expected one argument; see manage.py"),
        (["--method", "best"], 2, "manage.py generate_report: error: argument --method: invalid choice: 'best' (ch"),
        (["now"], 2, "manage.py generate_report: error: unrecognized arguments: now; see manage.py generate_report"),
    ],
    ids=[
        "not a time",
        "a time out of range",
        "a directory for the file",
        "a file in no directory",
        "a file in a file",
        "no polls",
        "an option without its value",
        "an unknown method",
        "a stray argument",
    ],
)
def test_a_bad_argument_is_one_line_with_status_1_or_argparse_s_2(tmp_path, arguments, status, line):
    (tmp_path / "r.csv").write_text("")
    result = manage_py("generate_report", *(argument.format(tmp=tmp_path) for argument in arguments))

    assert (result.returncode, result.stdout) == (status, "")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line.format(tmp=tmp_path))


@pytest.mark.django_db(transaction=True)
def test_a_standard_output_closed_before_the_report_is_written_ends_it_quietly(worked_examples):
    report = start_manage_py("generate_report", "--as-of", "2023-01-25T12:00:00Z")
    # Closed before the child writes anything: its first write meets a pipe without a reader.
    report.stdout.close()

    _, stderr = report.communicate(timeout=120)

    # As a Unix tool ended by SIGPIPE, with no traceback and no "Exception ignored" at exit.
    assert (report.returncode, stderr) == (BROKEN_PIPE_EXIT_STATUS, b"")


def stores_with_one_poll(count: int) -> None:
    stores = Store.objects.bulk_create(Store(store_id=f"store-{number:05}") for number in range(count))
    when = dt.datetime(2023, 1, 25, 11, 30, tzinfo=UTC)
    StatusPoll.objects.bulk_create(StatusPoll(store=store, timestamp_utc=when, status="active") for store in stores)


@pytest.mark.django_db(transaction=True)
def test_a_reader_that_stops_after_the_first_line_ends_the_report_quietly_like_head():
    # 4,000 rows of about 40 bytes: three times what a pipe holds (64 KiB), so the child is still
    # writing when the reader goes.
    stores_with_one_poll(4000)
    report = start_manage_py("generate_report")

    first_line = report.stdout.readline()
    report.stdout.close()
    _, stderr = report.communicate(timeout=120)

    assert first_line.decode().startswith("store_id,uptime_last_hour,")
    assert (report.returncode, stderr) == (BROKEN_PIPE_EXIT_STATUS, b"")
