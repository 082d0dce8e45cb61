"""The watched folder (monitoring.incoming): a pass loads each file through the ledger and moves
it to processed/ or failed/; claims keep workers apart, a dead worker's claim is retried once."""

import datetime as dt
import io
import json
import logging
import os
import time

import pytest
from django.core.management import CommandError, call_command
from django.core.management.sql import emit_post_migrate_signal
from django.utils import timezone
from django_q.models import Schedule

from monitoring import incoming, tasks
from monitoring.imports import content_digest
from monitoring.models import Import, StatusPoll, Timezone
from tests.monitoring.csv_files import POLLS_HEADER, polls_file, timezones_file, write_feed

pytestmark = pytest.mark.django_db

POLLS = ["1,active,2023-01-25 18:13:22.47922 UTC", "2,inactive,2023-01-25 19:13:22 UTC"]


@pytest.fixture
def folder(tmp_path, settings):
    settings.INCOMING_DIR = tmp_path / "incoming"
    settings.INCOMING_DIR.mkdir()
    return settings.INCOMING_DIR


def names_in(directory):
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def age(claim, seconds):
    """Make a claim's lease look ``seconds`` old, as if its worker stopped renewing it then."""
    then = time.time() - seconds
    os.utime(claim.claim_file, (then, then))


def test_a_pass_loads_a_good_file_and_moves_it_to_processed(folder):
    polls_file(folder, POLLS)

    report = incoming.run_pass()

    assert StatusPoll.objects.count() == 2
    (result,) = report.results
    assert (result.name, result.outcome, result.moved_to) == (
        "store_status.csv",
        "loaded",
        folder / "processed" / "store_status.csv",
    )
    assert names_in(folder / "processed") == ["store_status.csv"]
    assert names_in(folder / "claimed") == []
    assert not (folder / "store_status.csv").exists()
    entry = Import.objects.get()
    assert (entry.source, entry.name, entry.feed, entry.status) == ("folder", "store_status.csv", "polls", "complete")
    assert entry.sha256 == content_digest(folder / "processed" / "store_status.csv").sha256
    assert result.import_ids == [entry.pk]
    assert report.describe() == [
        f"store_status.csv: loaded, import #{entry.pk}: {entry.summary} -> processed/store_status.csv"
    ]


def test_a_gzip_file_and_a_bq_results_export_are_told_by_name_and_header(folder):
    polls_file(folder, POLLS, name="store_status.csv.gz")
    write_feed(folder / "bq-results-20230125.csv", ["store_id,timezone_str", "1,America/Chicago"])

    incoming.run_pass()

    assert names_in(folder / "processed") == ["bq-results-20230125.csv", "store_status.csv.gz"]
    assert dict(Import.objects.values_list("name", "feed")) == {
        "store_status.csv.gz": "polls",
        "bq-results-20230125.csv": "timezones",
    }
    assert Timezone.objects.get().timezone_str == "America/Chicago"


def test_a_bad_file_goes_to_failed_with_an_error_note_naming_line_and_field(folder):
    polls_file(folder, [POLLS[0], "2,inactive,yesterday"])

    (result,) = incoming.run_pass().results

    assert StatusPoll.objects.count() == 0  # all or nothing
    assert names_in(folder / "failed") == ["store_status.csv", "store_status.csv.error.txt"]
    entry = Import.objects.get()
    assert (entry.source, entry.name, entry.status) == ("folder", "store_status.csv", "failed")
    assert entry.error.startswith("store_status.csv line 3, field timestamp_utc: ")
    note = (folder / "failed" / "store_status.csv.error.txt").read_text()
    assert note.startswith(entry.error + "\n")
    assert f"import #{entry.pk}" in note
    assert "failed at 20" in note
    assert "attempt 1, by worker" in note
    assert (result.outcome, result.import_ids) == ("failed", [entry.pk])
    assert result.detail == entry.error


def test_temporary_hidden_and_unrelated_names_are_left_alone(folder):
    kept = [".store_status.csv", "store_status.csv.tmp", "store_status.csv.part", "notes.txt", "timezones.csv.gz~"]
    for name in kept:
        polls_file(folder, POLLS, name=name)

    report = incoming.run_pass()

    assert report.results == []
    assert report.describe() == [f"nothing to load in {folder}"]
    assert set(kept) <= set(names_in(folder))
    assert Import.objects.count() == 0


def test_a_file_named_otherwise_is_told_by_its_header(folder):
    # Hourly drops carry a time in their name; the header says which feed they hold.
    polls_file(folder, POLLS, name="store_status-2026-12-02T07.csv")

    (result,) = incoming.run_pass().results

    assert result.outcome == "loaded"
    assert StatusPoll.objects.count() == len(POLLS)
    assert Import.objects.get().name == "store_status-2026-12-02T07.csv"


def test_a_csv_whose_feed_cannot_be_told_fails_with_a_sentence(folder):
    (folder / "notes.csv").write_text("date,remark\n2026-12-02,all good\n")

    (result,) = incoming.run_pass().results

    assert result.outcome == "failed"
    note = (folder / "failed" / "notes.csv.error.txt").read_text()
    assert note.startswith(
        "notes.csv line 1: neither the file name nor the header tells which feed this is; "
        "the header must hold the columns of one feed ("
    )
    assert "store_id,status,timestamp_utc;" in note.split("\n")[0]
    entry = Import.objects.get()  # refused before any load, still on record
    assert (entry.status, entry.source, entry.name, entry.feed) == ("failed", "folder", "notes.csv", "")
    assert f"import #{entry.pk}" in note
    assert entry.error == note.split("\n")[0]


def test_a_name_taken_in_processed_gets_a_number_and_nothing_is_overwritten(folder):
    (folder / "processed").mkdir()
    (folder / "processed" / "store_status.csv").write_text("an earlier file\n")
    (folder / "processed" / "store_status.1.csv").write_text("another earlier file\n")
    polls_file(folder, POLLS)

    (result,) = incoming.run_pass().results

    assert result.moved_to == folder / "processed" / "store_status.2.csv"
    assert (folder / "processed" / "store_status.csv").read_text() == "an earlier file\n"
    assert (folder / "processed" / "store_status.1.csv").read_text() == "another earlier file\n"
    assert (folder / "processed" / "store_status.2.csv").read_text().startswith(POLLS_HEADER)


def test_content_already_imported_is_skipped_and_still_moved_to_processed(folder):
    polls_file(folder, POLLS)
    incoming.run_pass()
    polls_file(folder, POLLS, name="store_status.csv.gz")  # the same rows, compressed

    (result,) = incoming.run_pass().results

    first, again = Import.objects.order_by("pk")
    assert (again.source, again.name, again.status) == ("folder", "store_status.csv.gz", "skipped")
    assert f"(import #{first.pk})" in again.summary
    assert result.outcome == "skipped"
    assert names_in(folder / "processed") == ["store_status.csv", "store_status.csv.gz"]
    assert StatusPoll.objects.count() == 2


def test_each_file_is_its_own_load(folder):
    timezones_file(folder, ["1,America/Chicago"])
    polls_file(folder, ["1,active,not a time"])

    results = {result.name: result.outcome for result in incoming.run_pass().results}

    assert results == {"timezones.csv": "loaded", "store_status.csv": "failed"}
    assert Timezone.objects.count() == 1  # kept, though the polls file of the same pass failed


def test_files_are_taken_oldest_first_and_a_pass_is_bounded(folder):
    for number, name in enumerate(["timezones.csv", "store_status.csv", "menu_hours.csv"]):
        path = write_feed(folder / name, ["x"])
        os.utime(path, (1_000_000 + number, 1_000_000 + number))

    report = incoming.run_pass(max_files=2)

    assert [result.name for result in report.results] == ["timezones.csv", "store_status.csv"]
    assert report.left == 1
    assert report.describe()[-1] == "1 file(s) left for the next pass (a pass takes at most its bound)"
    assert names_in(folder) == ["claimed", "failed", "menu_hours.csv", "processed"]
    assert [result.name for result in incoming.run_pass().results] == ["menu_hours.csv"]


def test_a_file_another_worker_claimed_first_is_not_taken(folder):
    path = polls_file(folder, POLLS)
    winner = incoming.claim_file(folder, path)

    assert incoming.claim_file(folder, path) is None  # the rename of the loser finds no file
    assert names_in(folder / "claimed") == [winner.directory.name]
    assert names_in(winner.directory) == ["claim.json", "store_status.csv"]
    record = json.loads(winner.claim_file.read_text())
    assert (record["attempt"], record["worker"]) == (1, incoming.worker_identity())


def test_a_live_claim_is_left_alone(folder, settings):
    settings.INCOMING_LEASE_SECONDS = 60
    claim = incoming.claim_file(folder, polls_file(folder, POLLS))
    age(claim, 30)

    assert incoming.run_pass().results == []
    assert claim.path.exists()
    assert Import.objects.count() == 0


def test_a_stale_claim_is_retried_once_and_its_interrupted_ledger_row_marked_failed(folder, settings):
    settings.INCOMING_LEASE_SECONDS = 60
    claim = incoming.claim_file(folder, polls_file(folder, POLLS))
    # The dead worker had started its load: its ledger row is Running.
    interrupted = Import.objects.create(
        source=Import.Source.FOLDER, name="store_status.csv", feed="polls", started_at=timezone.now()
    )
    age(claim, 61)

    (result,) = incoming.run_pass().results

    assert (result.outcome, result.attempt) == ("loaded", 2)
    assert result.describe().startswith("store_status.csv (attempt 2): loaded")
    interrupted.refresh_from_db()
    assert interrupted.status == "failed"
    assert interrupted.error.startswith(
        f"the worker loading it ({claim.worker}, attempt 1) stopped before the load ended"
    )
    retried = Import.objects.exclude(pk=interrupted.pk).get()
    assert (retried.source, retried.status) == ("folder", "complete")
    assert names_in(folder / "processed") == ["store_status.csv"]
    assert names_in(folder / "claimed") == []
    assert StatusPoll.objects.count() == 2


def test_a_file_interrupted_twice_fails_with_a_sentence(folder, settings):
    settings.INCOMING_LEASE_SECONDS = 60
    first = incoming.claim_file(folder, polls_file(folder, POLLS))
    age(first, 61)
    second = incoming.recover_claim(folder, first.directory)  # the retry, whose worker died too
    assert second.attempt == 2
    age(second, 61)

    (result,) = incoming.run_pass().results

    assert (result.outcome, result.attempt, result.detail) == ("failed", 3, "interrupted twice")
    note = (folder / "failed" / "store_status.csv.error.txt").read_text()
    assert note.startswith("store_status.csv: loading was interrupted twice: the worker loading it stopped")
    assert names_in(folder / "claimed") == []
    assert Import.objects.count() == 0
    assert StatusPoll.objects.count() == 0


def test_two_recovering_workers_cannot_both_take_a_stale_claim(folder):
    claim = incoming.claim_file(folder, polls_file(folder, POLLS))

    assert incoming.recover_claim(folder, claim.directory) is not None
    assert incoming.recover_claim(folder, claim.directory) is None


def test_a_stale_empty_claim_is_cleared(folder, settings):
    settings.INCOMING_LEASE_SECONDS = 60
    claim_dir = folder / "claimed" / "left-by-a-crash"
    claim_dir.mkdir(parents=True)
    then = time.time() - 120
    os.utime(claim_dir, (then, then))

    assert incoming.run_pass().results == []
    assert names_in(folder / "claimed") == []


def test_the_lease_is_renewed_while_a_file_loads(folder, settings, monkeypatch):
    settings.INCOMING_LEASE_SECONDS = 0.2
    claim = incoming.claim_file(folder, polls_file(folder, POLLS))
    age(claim, 100)
    ages = []

    def slow_import(*args, **kwargs):
        time.sleep(0.3)
        ages.append(incoming.lease_age(claim.directory))
        raise RuntimeError("stop here")

    monkeypatch.setattr(incoming, "import_feeds", slow_import)
    result = incoming.load_claimed(folder, claim)

    assert ages[0] < 1  # touched by the thread meanwhile
    assert result.outcome == "failed"
    assert (
        (folder / "failed" / "store_status.csv.error.txt")
        .read_text()
        .startswith("the load stopped: RuntimeError: stop here")
    )


def test_a_folder_that_does_not_exist_is_a_sentence_not_a_crash(tmp_path, settings, caplog):
    settings.INCOMING_DIR = tmp_path / "nowhere"

    with caplog.at_level(logging.WARNING, logger="monitoring.incoming"):
        report = incoming.run_pass()

    sentence = (
        f"The watched folder {tmp_path / 'nowhere'} (INCOMING_DIR) does not exist; create it or correct INCOMING_DIR."
    )
    assert report.problem == sentence
    assert report.describe() == [sentence]
    assert sentence in caplog.text


def test_no_folder_set_is_a_sentence(settings):
    settings.INCOMING_DIR = None

    assert incoming.run_pass().problem.startswith("INCOMING_DIR is not set, so no folder is watched")


def test_the_command_runs_one_pass_and_says_what_it_did(folder):
    polls_file(folder, POLLS)
    out = io.StringIO()

    call_command("load_incoming", "--once", stdout=out)

    assert out.getvalue().startswith("store_status.csv: loaded, import #")
    assert out.getvalue().rstrip().endswith("-> processed/store_status.csv")
    out = io.StringIO()
    call_command("load_incoming", "--once", stdout=out)
    assert out.getvalue() == f"nothing to load in {folder}\n"


def test_the_command_refuses_a_missing_folder(tmp_path, settings):
    settings.INCOMING_DIR = tmp_path / "nowhere"

    with pytest.raises(CommandError, match="does not exist; create it or correct INCOMING_DIR"):
        call_command("load_incoming", "--once")


def test_the_schedule_exists_while_a_folder_is_set_and_is_deleted_when_not(folder, settings):
    settings.INCOMING_POLL_SECONDS = 150
    tasks.ensure_incoming_schedule()
    schedule = Schedule.objects.get(name=tasks.INCOMING_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "monitoring.tasks.load_incoming",
        Schedule.MINUTES,
        3,
        -1,
    )
    tasks.ensure_incoming_schedule()
    assert Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).count() == 1

    settings.INCOMING_DIR = None
    tasks.ensure_incoming_schedule()
    assert not Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).exists()


def test_migrate_keeps_the_schedule_and_repairs_it(folder):
    Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).exists()
    Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).update(func="gone", repeats=0, cluster="elsewhere")
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    (schedule,) = Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE)
    assert (schedule.func, schedule.repeats, schedule.cluster) == ("monitoring.tasks.load_incoming", -1, None)


def test_the_task_runs_a_pass_and_sets_its_next_run_to_the_poll_interval(folder, settings):
    settings.INCOMING_POLL_SECONDS = 60
    tasks.ensure_incoming_schedule()
    polls_file(folder, POLLS)
    before = timezone.now()

    summary = tasks.load_incoming()

    assert summary.startswith("store_status.csv: loaded")
    next_run = Schedule.objects.get(name=tasks.INCOMING_SCHEDULE).next_run
    assert before + dt.timedelta(seconds=60) <= next_run <= timezone.now() + dt.timedelta(seconds=60)
    assert tasks.load_incoming() == "nothing to load"


def test_a_short_poll_interval_keeps_the_task_watching_for_a_scheduler_period(folder, settings, monkeypatch):
    settings.INCOMING_POLL_SECONDS = 10
    passes, sleeps = [], []
    monkeypatch.setattr(incoming, "run_pass", lambda: passes.append(1) or incoming.PassReport(folder))
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(tasks, "monotonic", lambda: next(clock))
    monkeypatch.setattr(tasks, "sleep", sleeps.append)

    tasks.load_incoming()

    assert len(passes) == 3  # at 0, 10 and 20 s of the 30 s period
    assert sleeps == [10, 10]


def test_a_worker_told_to_stop_mid_load_gives_the_file_back_for_the_next_pass(folder, monkeypatch):
    polls_file(folder, POLLS)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # as WorkerShutdown (a SystemExit) is raised inside a task

    monkeypatch.setattr(incoming, "import_feeds", stopped)
    with pytest.raises(KeyboardInterrupt):
        incoming.run_pass()

    assert (folder / "store_status.csv").exists()
    assert names_in(folder / "claimed") == []
    monkeypatch.undo()
    assert [result.outcome for result in incoming.run_pass().results] == ["loaded"]
