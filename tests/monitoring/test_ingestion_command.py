"""The load_csvs command: arguments, summary lines, --if-empty, exit status and progress."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from monitoring.ingestion import TerminalProgress, load_feeds
from monitoring.models import StatusPoll, Store
from storemonitor.commands import BROKEN_PIPE_EXIT_STATUS
from tests.factories import StatusPollFactory
from tests.manage_py import manage_py, start_manage_py
from tests.monitoring.csv_files import hours_file, polls_file, timezones_file

# What the import's queued reconciliation of incidents logs (the test settings run jobs inline):
# log lines, not the command's own output.
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO) ")
SUMMARY_LINE = re.compile(r"polls store_status\.csv: 3 read, 2 inserted, 1 duplicates, 0 skipped in \d+\.\d s")


def feed_directory(tmp_path: Path) -> Path:
    polls_file(
        tmp_path,
        [
            "1,active,2023-01-25 18:13:22.47922 UTC",
            "1,active,2023-01-25 18:13:22.47922 UTC",
            "2,inactive,2023-01-25 18:13:22 UTC",
        ],
    )
    hours_file(tmp_path, ["1,0,09:00:00,17:00:00"], name="Menu hours.csv")
    timezones_file(tmp_path, ["2,America/Denver"], name="timezones.csv.gz")
    return tmp_path


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("load_csvs", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_loading_a_directory_prints_a_line_per_file_and_a_total(tmp_path):
    lines = run_command(str(feed_directory(tmp_path))).splitlines()

    assert re.fullmatch(
        r"timezones timezones\.csv\.gz: 1 read, 1 store listed, 1 given a zone, 0 changed \(their zone replaced\), "
        r"0 unchanged, 0 duplicates, 0 skipped in \d+\.\d s",
        lines[0],
    )
    assert re.fullmatch(
        r"hours Menu hours\.csv: 1 read, 1 store listed, 1 given hours, 0 changed \(their hours replaced\), "
        r"0 unchanged, 0 skipped in \d+\.\d s",
        lines[1],
    )
    assert SUMMARY_LINE.fullmatch(lines[2])
    assert re.fullmatch(r"total: 3 files, 5 rows read, 0 skipped, 2 new stores in \d+\.\d s", lines[3])
    assert len(lines) == 4


@pytest.mark.django_db
def test_files_can_be_named_one_by_one(tmp_path):
    directory = feed_directory(tmp_path)

    output = run_command("--polls", str(directory / "store_status.csv"))

    assert SUMMARY_LINE.fullmatch(output.splitlines()[0])
    assert not Store.objects.filter(timezone__isnull=False).exists()


@pytest.mark.django_db
def test_a_bad_file_is_a_command_error_naming_file_line_and_field(tmp_path):
    path = polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC", "1,maybe,2023-01-25 19:13:22 UTC"])

    with pytest.raises(CommandError) as caught:
        run_command("--polls", str(path))

    assert str(caught.value).splitlines() == [
        "store_status.csv line 3, field status: 'maybe' is not a status (expected active or inactive)",
        "Nothing was loaded.",
    ]
    assert not StatusPoll.objects.exists()


@pytest.mark.django_db
def test_a_header_only_file_is_said_to_hold_no_rows(tmp_path):
    lines = run_command("--hours", str(hours_file(tmp_path, []))).splitlines()

    assert lines[0] == "hours menu_hours.csv: held no rows (only its header), so nothing changed"
    assert re.fullmatch(r"total: 1 file, 0 rows read, 0 skipped, 0 new stores in \d+\.\d s", lines[1])


@pytest.mark.django_db
def test_without_any_file_the_command_says_what_to_give():
    with pytest.raises(CommandError, match="give a directory or --polls, --hours, --timezones or --owners"):
        run_command()


@pytest.mark.django_db
def test_if_empty_loads_into_an_empty_database(tmp_path):
    run_command(str(feed_directory(tmp_path)), "--if-empty")

    assert StatusPoll.objects.count() == 2


@pytest.mark.django_db
def test_if_empty_does_nothing_and_says_why_when_polls_exist(tmp_path):
    StatusPollFactory()

    output = run_command(str(feed_directory(tmp_path)), "--if-empty")

    assert output == "Nothing loaded: the database already holds polls (--if-empty).\n"
    assert StatusPoll.objects.count() == 1


# transactional_db: the child process must see the migrated tables and our reads must see its
# commit; the tables are emptied after the test.
def test_manage_py_exits_with_status_0_and_prints_the_summary(transactional_db, tmp_path):
    result = manage_py("load_csvs", str(feed_directory(tmp_path)))

    assert result.returncode == 0, result.stderr
    assert SUMMARY_LINE.fullmatch(result.stdout.splitlines()[2])
    # Not a terminal: no progress bar.
    assert not_logged(result.stderr) == []
    assert StatusPoll.objects.count() == 2


def test_manage_py_exits_non_zero_on_a_bad_row_and_keeps_nothing(transactional_db, tmp_path):
    directory = feed_directory(tmp_path)
    polls_file(directory, ["1,active,2023-01-25 18:13:22 UTC", "1,active,2023-01-25 25:00:00 UTC"])

    result = manage_py("load_csvs", str(directory))

    assert result.returncode == 1
    assert "CommandError: store_status.csv line 3, field timestamp_utc: '2023-01-25 25:00:00 UTC'" in result.stderr
    assert result.stdout == ""
    assert not Store.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "status", "line"),
    [
        ([], 1, "CommandError: Nothing to load: give a directory or --polls, --hours, --timezones or --owners."),
        (["{tmp}/nowhere"], 1, "CommandError: {tmp}/nowhere: no such directory"),
        (["{tmp}/store_status.csv"], 1, "CommandError: {tmp}/store_status.csv: is not a directory; give the "),
        (["--polls", "{tmp}/nowhere.csv"], 1, "CommandError: {tmp}/nowhere.csv: no such file"),
        (["--hours", "{tmp}"], 1, "CommandError: {tmp}: is a directory, not a feed file"),
        (
            ["--polls"],
            2,
            "manage.py load_csvs: error: argument --polls: expected one argument; see manage.py",
        ),
        (["{tmp}", "{tmp}"], 2, "manage.py load_csvs: error: unrecognized arguments: {tmp}; see manage.py load_csvs"),
        (["--skip-bad"], 2, "manage.py load_csvs: error: unrecognized arguments: --skip-bad; see manage.py load_csvs"),
    ],
    ids=[
        "nothing to load",
        "no such directory",
        "a file for the directory",
        "no such file",
        "a directory for a file",
        "an option without its value",
        "two directories",
        "an unknown option",
    ],
)
def test_a_bad_argument_is_one_line_with_status_1_or_argparse_s_2(transactional_db, tmp_path, arguments, status, line):
    polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC"])

    result = manage_py("load_csvs", *(argument.format(tmp=tmp_path) for argument in arguments))

    assert (result.returncode, result.stdout) == (status, "")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line.format(tmp=tmp_path))
    assert not Store.objects.exists()


def test_a_closed_standard_output_ends_the_command_quietly_after_the_load(transactional_db, tmp_path):
    load = start_manage_py("load_csvs", str(feed_directory(tmp_path)))
    # Closed before the child writes anything: its first write meets a pipe without a reader.
    load.stdout.close()

    _, stderr = load.communicate(timeout=120)

    # As a Unix tool ended by SIGPIPE, with no traceback and no "Exception ignored" at exit.
    assert (load.returncode, not_logged(stderr.decode())) == (BROKEN_PIPE_EXIT_STATUS, [])
    assert StatusPoll.objects.count() == 2


class RecordingProgress:
    def __init__(self):
        self.bars = []

    def __call__(self, label, total_bytes):
        bar = RecordingBar(label, total_bytes)
        self.bars.append(bar)
        return bar


class RecordingBar:
    def __init__(self, label, total_bytes):
        self.label, self.total_bytes, self.positions, self.closed = label, total_bytes, [], False

    def update_to(self, done):
        self.positions.append(done)

    def close(self):
        self.closed = True


@pytest.mark.django_db
def test_progress_is_reported_per_file_in_bytes_read_up_to_the_file_size(tmp_path):
    directory = feed_directory(tmp_path)
    progress = RecordingProgress()

    load_feeds(polls=directory / "store_status.csv", timezones=directory / "timezones.csv.gz", progress=progress)

    assert [bar.label for bar in progress.bars] == ["timezones timezones.csv.gz", "polls store_status.csv"]
    for bar in progress.bars:
        assert bar.closed
        assert bar.positions[-1] == bar.total_bytes


def test_the_terminal_progress_bar_draws_on_its_stream():
    stream = io.StringIO()
    bar = TerminalProgress(stream)("polls store_status.csv", 2048)

    bar.update_to(1024)
    bar.close()

    assert "polls store_status.csv" in stream.getvalue()


def not_logged(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not log lines."""
    return [line for line in stderr.splitlines() if not LOG_LINE.match(line)]
