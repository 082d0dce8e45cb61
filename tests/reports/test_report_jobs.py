"""The report job functions (reports.actions, reports.tasks) called directly, in one process."""

import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.exceptions import TimeoutException
from django_q.models import Schedule
from django_q.scheduler import scheduler

from monitoring.ingestion import load_feeds
from reports import actions, generation, snapshot, tasks
from reports.attention import attention_summary
from reports.heartbeat import Heartbeat
from reports.models import Report
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run queued jobs (sync mode) when the block ends, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def stalled(attempts=1, seconds_ago=None, worker="old-host:4242"):
    beat = timezone.now() - dt.timedelta(seconds=seconds_ago or settings.REPORT_STALL_SECONDS + 5)
    return Report.objects.create(
        status="Running", attempts=attempts, worker=worker, heartbeat_at=beat, started_at=beat, progress=0.45
    )


# --- Triggering and running ----------------------------------------------------------------


def test_trigger_creates_a_pending_report_and_queues_it_on_commit(worked_examples, run_on_commit):
    with run_on_commit():
        report = actions.do_trigger_report(as_of=at("2023-01-25 12:00"), method="nearest")
        assert Report.objects.get(pk=report.pk).status == "Pending"
    report.refresh_from_db()
    assert (report.status, report.method, report.as_of) == ("Complete", "nearest", at("2023-01-25 12:00"))
    assert len(report.task_id) == 32
    assert report.queued_at is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "mean"}, "Unknown method 'mean'"),
        ({"columns": "wide"}, "Unknown columns 'wide': use one of basic, extended."),
        ({"as_of": dt.datetime(2023, 1, 25)}, "timezone-aware"),
    ],
)
def test_trigger_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        actions.do_trigger_report(**kwargs)


def test_the_database_refuses_a_report_with_an_unknown_column_set():
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(columns="wide")


def test_the_csv_writer_refuses_an_unknown_column_set_naming_the_sets(worked_examples):
    figures = generation.compute_report().figures
    with pytest.raises(ValueError, match="^“wide” is not a column set; choose basic or extended.$"):
        generation.write_report_csv(figures, io.StringIO(), columns="wide")


def test_a_second_delivery_of_the_task_does_nothing(worked_examples):
    report = Report.objects.create()
    assert actions.do_run_report(report.pk) == "Complete"
    finished = Report.objects.get(pk=report.pk)
    assert actions.do_run_report(report.pk) is None
    again = Report.objects.get(pk=report.pk)
    assert (again.attempts, again.finished_at, again.csv_file.name) == (1, finished.finished_at, finished.csv_file.name)


def test_the_run_records_its_worker_and_start(worked_examples):
    report = Report.objects.create()
    actions.do_run_report(report.pk)
    report.refresh_from_db()
    assert report.worker == actions.worker_identity()
    assert report.started_at <= report.finished_at
    assert report.heartbeat_at is not None
    assert report.duration >= dt.timedelta(0)


def test_progress_is_saved_at_each_stage(worked_examples, monkeypatch):
    seen = []  # (stage, fraction reported, progress in the database right after)
    real = generation.compute_report

    def watched(progress, **kwargs):
        def watching(fraction, stage):
            progress(fraction, stage)
            seen.append((stage, fraction, Report.objects.get(pk=report.pk).progress))

        return real(progress=watching, **kwargs)

    monkeypatch.setattr("reports.generation.compute_report", watched)
    report = Report.objects.create()
    actions.do_run_report(report.pk)
    assert [stage for stage, _, _ in seen[:2]] == ["reading the feeds", "computing uptime"]
    assert len({stage for stage, _, _ in seen}) >= 3  # the calculator's own stages too
    previous = None
    for stage, fraction, saved in seen:
        if stage != previous:  # a new stage is always written; within one, at most once a second
            assert saved == pytest.approx(fraction), stage
        previous = stage
    assert Report.objects.get(pk=report.pk).progress == 1.0


def test_progress_writes_within_one_stage_are_throttled(worked_examples, monkeypatch):
    writes = []

    def chatty(progress, **kwargs):
        for step in range(100):
            progress(step / 100, "one long stage")
            writes.append(Report.objects.get(pk=report.pk).progress)
        raise generation.NoPollsError("stop here")

    monkeypatch.setattr("reports.generation.compute_report", chatty)
    report = Report.objects.create()
    actions.do_run_report(report.pk)
    assert set(writes) == {0.0}  # the first write only: the others came within a second


def test_a_timeout_fails_the_report_and_reaches_the_worker(worked_examples, monkeypatch):
    def slow(**kwargs):
        raise TimeoutException("Task exceeded maximum timeout value (600 seconds)")

    monkeypatch.setattr("reports.generation.compute_report", slow)
    report = Report.objects.create()
    with pytest.raises(TimeoutException):
        actions.do_run_report(report.pk)
    report.refresh_from_db()
    assert report.status == "Failed"
    assert report.error == (
        f"The report ran longer than the {settings.REPORT_TIMEOUT_SECONDS}-second limit "
        "(REPORT_TIMEOUT_SECONDS) and was stopped."
    )


def test_an_unreachable_queue_fails_the_report(monkeypatch, run_on_commit):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("reports.actions.async_task", down)
    with run_on_commit():
        report = actions.do_trigger_report()
    report.refresh_from_db()
    assert report.status == "Failed"
    assert report.error.startswith("The job queue could not be reached (ConnectionError: Error 111")


def test_a_run_that_lost_its_report_stops_at_its_next_progress_write(worked_examples, monkeypatch):
    def recovered_meanwhile(progress, **kwargs):
        progress(0.0, "reading the feeds")
        Report.objects.filter(pk=report.pk).update(status="Pending", attempts=1)
        Report.objects.filter(pk=report.pk).update(status="Running", attempts=2)  # another run claimed it
        progress(0.45, "computing uptime")
        raise AssertionError("not reached")

    monkeypatch.setattr("reports.generation.compute_report", recovered_meanwhile)
    report = Report.objects.create()
    assert actions.do_run_report(report.pk) is None
    report.refresh_from_db()
    assert (report.status, report.attempts, report.progress, report.error) == ("Running", 2, 0.0, "")


def test_a_run_that_lost_its_report_at_the_end_discards_both_its_csvs(worked_examples, monkeypatch, media_root):
    real = generation.compute_report

    def recovered_at_the_end(**kwargs):
        data = real(**kwargs)
        Report.objects.filter(pk=report.pk).update(attempts=2)
        return data

    monkeypatch.setattr("reports.generation.compute_report", recovered_at_the_end)
    report = Report.objects.create()
    assert actions.do_run_report(report.pk) is None
    report.refresh_from_db()
    assert report.status == "Running"
    assert not report.csv_file
    assert not report.outages_file
    assert not list(media_root.rglob("*.csv"))


@pytest.mark.parametrize("columns", ["basic", "extended"])
def test_one_run_writes_the_csv_of_its_columns_and_the_outages_csv_from_the_same_figures(
    worked_examples, monkeypatch, columns
):
    computed = []
    real = generation.compute_report

    def counted(**kwargs):
        computed.append(real(**kwargs))
        return computed[-1]

    monkeypatch.setattr("reports.generation.compute_report", counted)
    report = Report.objects.create(as_of=at("2023-01-25 12:00"), columns=columns)
    assert actions.do_run_report(report.pk) == "Complete"
    report.refresh_from_db()
    (data,) = computed
    expected_csv, expected_outages = io.StringIO(), io.StringIO()
    generation.write_report_csv(data.figures, expected_csv, columns=columns)
    generation.write_outages_csv(data.figures, data.feeds, expected_outages)
    with report.csv_file.open("rb") as stored:
        assert stored.read().decode() == expected_csv.getvalue()
    with report.outages_file.open("rb") as stored:
        assert stored.read().decode() == expected_outages.getvalue()
    assert expected_csv.getvalue().splitlines()[0].count(",") == {"basic": 6, "extended": 16}[columns]
    assert expected_outages.getvalue().splitlines()[1:] == [
        "a,2023-01-25T11:15:00+00:00,2023-01-25T12:00:00+00:00,2023-01-25T11:15:00+00:00,2023-01-25T12:00:00+00:00,45.00",
        "b,2023-01-11T12:00:00+00:00,2023-01-25T11:30:00+00:00,2023-01-11T06:00:00-06:00,2023-01-25T05:30:00-06:00,20130.00",
    ]
    # The dashboard's summary comes from the same figures, and is kept with the report.
    assert report.summary == attention_summary(data.figures, data.feeds)


def test_a_complete_report_keeps_the_dashboard_s_summary_of_its_stores(worked_examples):
    report = Report.objects.create(as_of=at("2023-01-25 12:00"))
    assert actions.do_run_report(report.pk) == "Complete"
    report.refresh_from_db()
    summary = report.summary
    assert (summary["as_of"], summary["method"], summary["stores"]) == ("2023-01-25T12:00:00+00:00", "last_known", 2)
    # b was down 23.5 h of the last day, a 0.75 h: b needs attention first.
    assert [store["store_id"] for store in summary["attention"]] == ["b", "a"]
    # At 12:00 a's session has just closed and b is active again since 11:30: nobody offline now.
    assert summary["offline_now"] == []


def test_a_run_whose_outages_csv_cannot_be_written_fails_and_leaves_no_file(worked_examples, monkeypatch, media_root):
    def full(figures, feeds, stream):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("reports.generation.write_outages_csv", full)
    report = Report.objects.create()
    assert actions.do_run_report(report.pk) == "Failed"
    report.refresh_from_db()
    assert report.error.startswith("The report could not be computed: OSError: [Errno 28] No space left on device.")
    assert (report.csv_file.name, report.outages_file.name) == ("", "")
    assert not list(media_root.rglob("*.csv"))


def test_the_heartbeat_beats_until_stopped_and_stops_when_the_report_is_lost():
    beats = []
    with Heartbeat(lambda: beats.append(1) or True, interval=0.01):
        while len(beats) < 3:
            time.sleep(0.01)
    count = len(beats)
    time.sleep(0.05)
    assert len(beats) == count
    with Heartbeat(lambda: False, interval=0.01) as lost:
        while not lost.lost:
            time.sleep(0.01)


# --- Recovery ------------------------------------------------------------------------------


def test_a_stalled_report_is_queued_again_and_completes(worked_examples, run_on_commit):
    report = stalled(attempts=1)
    with run_on_commit():
        recovery = actions.recover_stalled_reports()
    assert recovery.requeued == [report.report_id]
    assert not recovery.failed
    report.refresh_from_db()
    assert (report.status, report.attempts, report.error) == ("Complete", 2, "")


def test_a_report_stalled_on_its_last_attempt_fails_with_the_reason():
    report = stalled(attempts=settings.REPORT_MAX_ATTEMPTS)
    recovery = actions.recover_stalled_reports()
    assert recovery.failed == [report.report_id]
    report.refresh_from_db()
    assert report.status == "Failed"
    assert report.finished_at is not None
    assert report.error.startswith(
        f"The worker running this report (old-host:4242) stopped responding: its last heartbeat was at "
        f"{report.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert f"Gave up after {settings.REPORT_MAX_ATTEMPTS} attempt(s)" in report.error


def test_a_running_report_with_a_recent_heartbeat_is_left_alone():
    report = stalled(seconds_ago=settings.REPORT_STALL_SECONDS - 30)
    assert actions.recover_stalled_reports().describe() == (
        "0 stalled report(s) re-queued, 0 failed, 0 pending report(s) queued again"
    )
    assert Report.objects.get(pk=report.pk).status == "Running"


def test_a_report_pending_longer_than_the_retry_time_is_queued_again(worked_examples, run_on_commit):
    long_ago = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    lost = Report.objects.create(queued_at=long_ago)
    waiting = Report.objects.create(queued_at=timezone.now())
    with run_on_commit():
        recovery = actions.recover_stalled_reports()
    assert recovery.resent == [lost.report_id]
    assert Report.objects.get(pk=lost.pk).status == "Complete"
    assert Report.objects.get(pk=waiting.pk).status == "Pending"


def test_a_starting_worker_looks_for_stalled_reports(monkeypatch):
    report = stalled(attempts=settings.REPORT_MAX_ATTEMPTS)
    monkeypatch.setattr(Conf, "SYNC", False)
    tasks.recover_on_worker_start(sender="django_q", proc_name="Process-1")
    assert Report.objects.get(pk=report.pk).status == "Failed"


def test_sync_mode_does_not_recover_at_every_task():
    report = stalled(attempts=settings.REPORT_MAX_ATTEMPTS)
    tasks.recover_on_worker_start(sender="django_q", proc_name="MainProcess")
    assert Report.objects.get(pk=report.pk).status == "Running"


def test_migrate_keeps_one_recovery_schedule_every_minute():
    tasks.ensure_recovery_schedule()
    Schedule.objects.filter(name=tasks.RECOVERY_SCHEDULE).update(minutes=60)
    tasks.ensure_recovery_schedule()
    (schedule,) = Schedule.objects.filter(name=tasks.RECOVERY_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "reports.tasks.recover_stalled_reports",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_django_q2_s_scheduler_runs_the_recovery_when_it_is_due():
    report = stalled(attempts=settings.REPORT_MAX_ATTEMPTS)
    Schedule.objects.filter(name=tasks.RECOVERY_SCHEDULE).update(next_run=timezone.now() - dt.timedelta(minutes=1))
    scheduler(broker=get_broker())  # what every qcluster does about twice a minute
    assert Report.objects.get(pk=report.pk).status == "Failed"
    (schedule,) = Schedule.objects.filter(name=tasks.RECOVERY_SCHEDULE)
    assert schedule.next_run > timezone.now()


def test_the_scheduled_recovery_task_describes_what_it_did():
    stalled(attempts=settings.REPORT_MAX_ATTEMPTS)
    assert (
        tasks.recover_stalled_reports() == "0 stalled report(s) re-queued, 1 failed, 0 pending report(s) queued again"
    )


# --- Settings ------------------------------------------------------------------------------


def q_cluster_for(**env):
    """Q_CLUSTER as storemonitor.settings builds it from this environment (fresh process)."""
    code = "import json, storemonitor.settings as s; print(json.dumps(s.Q_CLUSTER))"
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REPORT_TIMEOUT_SECONDS", "Q_WORKERS")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_queue_settings_never_run_a_report_twice():
    default = q_cluster_for()
    assert default["orm"] == "default"
    assert "redis" not in default
    assert default["timeout"] < default["retry"]
    assert (default["max_attempts"], default["ack_failures"], default["catch_up"]) == (1, True, False)
    tuned = q_cluster_for(REDIS_URL="redis://127.0.0.1:6379/3", REPORT_TIMEOUT_SECONDS="30", Q_WORKERS="4")
    assert tuned["redis"] == "redis://127.0.0.1:6379/3"
    assert "orm" not in tuned
    assert (tuned["timeout"], tuned["retry"], tuned["workers"]) == (30, 150, 4)


def test_the_test_settings_run_jobs_synchronously():
    assert Conf.SYNC is True


# --- Consistency under a concurrent load ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_load_during_a_report_never_mixes_old_and_new_data(monkeypatch, tmp_path):
    """While a report reads its snapshot, load_feeds (load_csvs) loads new polls and hours.

    The load commits mid-read without waiting for the report, and the report ignores it
    (REPEATABLE READ on PostgreSQL, the read transaction's WAL snapshot on SQLite): the report
    equals the database before the load, and a report afterwards equals the database after it.
    """
    store = StoreFactory(store_id="s")
    for hour in range(0, 12):
        StatusPollFactory(store=store, timestamp_utc=at(f"2023-01-25 {hour:02d}:00"), status="active")
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(0), end_time_local=dt.time(23, 59))
    before = generation.compute_report()
    polls = tmp_path / "store_status.csv"
    polls.write_text(
        "store_id,status,timestamp_utc\n"
        "s,inactive,2023-01-25 11:30:00.000000 UTC\n"
        "s,inactive,2023-01-25 12:30:00.000000 UTC\n"
        "t,active,2023-01-25 12:00:00.000000 UTC\n"
    )
    hours = tmp_path / "menu_hours.csv"
    hours.write_text("store_id,day,start_time_local,end_time_local\ns,2,09:00:00,12:00:00\n")

    def load():
        try:
            load_feeds(polls=polls, hours=hours)
        finally:
            connection.close()

    writer = threading.Thread(target=load)
    real_read_polls = snapshot.read_polls
    load_waited = []

    def read_polls_while_loading(queryset):
        if writer.ident is None:
            writer.start()
            # The load commits meanwhile; it must not wait for our read to end.
            writer.join(timeout=30)
            load_waited.append(writer.is_alive())
        return real_read_polls(queryset)

    monkeypatch.setattr("reports.snapshot.read_polls", read_polls_while_loading)
    report = Report.objects.create()
    assert actions.do_run_report(report.pk) == "Complete"
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert load_waited == [False]
    monkeypatch.undo()
    after = generation.compute_report()

    report.refresh_from_db()
    stored = report.csv_file.read().decode()
    assert report.as_of == before.as_of == at("2023-01-25 11:00") != after.as_of
    assert stored == csv_of(before) != csv_of(after)
    assert report.store_count == 1
    assert after.store_count == 2


def csv_of(data):
    text = io.StringIO()
    generation.write_report_csv(data.figures, text)
    return text.getvalue()
