"""A report interrupted by something that is not its fault gets another run, or fails saying why.

In-process: the worker's stop signal, a lost database connection, a stopped cluster's leftovers,
and a report that finds nothing to report on. ``test_worker_shutdown.py`` does the same with
real ``qcluster`` processes.
"""

import os
import signal
import subprocess
import sys

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_q.conf import Conf

from reports import actions, processes
from reports.models import Report
from reports.worker_signals import WorkerShutdown, install_worker_signal_handlers
from tests.reports.conftest import at
from tests.reports.workers import wait_for

pytestmark = pytest.mark.django_db


def fails_once(error: BaseException, monkeypatch):
    """compute_report raises ``error`` on its first call and works afterwards."""
    from reports import generation

    real = generation.compute_report
    calls = []

    def compute_report(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise error
        return real(**kwargs)

    monkeypatch.setattr("reports.generation.compute_report", compute_report)
    return calls


def test_a_worker_told_to_stop_gives_its_report_back_and_the_next_run_completes_it(
    worked_examples, monkeypatch, django_capture_on_commit_callbacks
):
    calls = fails_once(WorkerShutdown(signal.SIGTERM), monkeypatch)
    report = Report.objects.create(as_of=at("2023-01-25 12:00"))
    with django_capture_on_commit_callbacks(execute=False) as queued, pytest.raises(WorkerShutdown):
        actions.do_run_report(report.pk)
    report.refresh_from_db()
    assert (report.status, report.attempts, report.worker, report.error) == ("Pending", 1, "", "")
    assert len(queued) == 1  # queued again at once, not left for the stall check

    queued[0]()  # the queue hands it to a worker (synchronously in tests)
    report.refresh_from_db()
    assert (report.status, report.attempts, report.store_count) == ("Complete", 2, 2)
    assert len(calls) == 2


def test_a_report_stopped_on_its_last_attempt_fails_saying_so(worked_examples, monkeypatch, settings):
    settings.REPORT_MAX_ATTEMPTS = 1
    fails_once(WorkerShutdown(signal.SIGHUP), monkeypatch)
    report = Report.objects.create()
    with pytest.raises(WorkerShutdown):
        actions.do_run_report(report.pk)
    report.refresh_from_db()
    assert (report.status, report.attempts) == ("Failed", 1)
    assert report.error == (
        "The report was interrupted on its last attempt (1 of 1): its worker was stopped (SIGHUP). "
        "Trigger a new report."
    )


def test_a_lost_database_connection_gives_the_report_another_run(
    worked_examples, monkeypatch, django_capture_on_commit_callbacks
):
    fails_once(OperationalError("server closed the connection unexpectedly"), monkeypatch)
    report = Report.objects.create()
    with django_capture_on_commit_callbacks(execute=True):
        status = actions.do_run_report(report.pk)
    assert status == "Pending"
    report.refresh_from_db()
    assert (report.status, report.attempts, report.error) == ("Complete", 2, "")


def test_a_report_that_finds_no_store_with_a_poll_in_its_lookback_fails_with_the_range_of_the_data(worked_examples):
    report = Report.objects.create(as_of=at("2023-03-01 00:00"))
    assert actions.do_run_report(report.pk) == "Failed"
    report.refresh_from_db()
    assert report.store_count is None
    assert not report.csv_file
    assert report.error == (
        "No store has a poll in the 14 days before 2023-03-01 00:00:00 UTC, so the report would be empty "
        "(the polls run from 2023-01-25 05:00:00 to 2023-01-25 11:30:00 UTC). "
        "Trigger a report with an as_of inside that range."
    )


def running_report(cluster: str, attempts: int = 1) -> Report:
    now = timezone.now()
    return Report.objects.create(
        status="Running",
        attempts=attempts,
        cluster=cluster,
        worker=f"{cluster}-worker",
        started_at=now,
        heartbeat_at=now,
    )


def test_a_stopped_cluster_hands_over_the_reports_its_workers_did_not_finish(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REPORT_MAX_ATTEMPTS = 2
    queued_tasks = []
    monkeypatch.setattr("reports.actions.async_task", lambda func, pk, **kwargs: queued_tasks.append(pk))
    mine, last_try = running_report("host:10"), running_report("host:10", attempts=2)
    other_cluster, no_cluster = running_report("host:11"), running_report("")
    # Given back by one of its workers while it stopped: its task may have gone to a dying pusher.
    handed_back = Report.objects.create(status="Pending", attempts=1, cluster="host:10")
    finished = Report.objects.create(status="Complete", attempts=1, cluster="host:10")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        given_back = actions.give_back_cluster_reports("host:10", "SIGTERM")
    assert sorted(given_back) == sorted([mine.report_id, last_try.report_id, handed_back.report_id])
    assert len(queued) == 1  # mine, queued again when the give-back commits
    assert sorted(queued_tasks) == sorted([mine.pk, handed_back.pk])
    statuses = {r.pk: (r.status, r.error) for r in Report.objects.all()}
    assert statuses[mine.pk] == ("Pending", "")
    assert statuses[handed_back.pk] == ("Pending", "")
    assert statuses[finished.pk] == ("Complete", "")
    assert statuses[last_try.pk] == (
        "Failed",
        "The report was interrupted on its last attempt (2 of 2): its qcluster was stopped (SIGTERM). "
        "Trigger a new report.",
    )
    assert statuses[other_cluster.pk] == ("Running", "")
    assert statuses[no_cluster.pk] == ("Running", "")
    assert actions.give_back_cluster_reports("", "SIGTERM") == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_report_write_on_a_connection_the_server_closed_is_made_on_a_fresh_one(settings, worked_examples):
    settings.REPORT_MAX_ATTEMPTS = 2
    report = running_report("host:10")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (terminated_pid,) = cursor.fetchone()
    other = connection.copy()  # another session ends ours, as a server restart would
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [terminated_pid])
    other.close()

    assert actions.give_back_cluster_reports("host:10", "SIGTERM") == [report.report_id]
    report.refresh_from_db()  # queued again, and run at once: tests run tasks synchronously
    assert (report.status, report.attempts) == ("Complete", 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != terminated_pid


def test_a_worker_turns_its_first_stop_signal_into_worker_shutdown(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        install_worker_signal_handlers()
        with pytest.raises(WorkerShutdown) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as this returns
        assert stopped.value.signal_name == "SIGTERM"
        assert stopped.value.code == 0
        os.kill(os.getpid(), signal.SIGTERM)  # the main process may repeat it: no second raise
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_in_sync_mode_the_stop_signals_are_left_alone():
    assert Conf.SYNC
    before = signal.getsignal(signal.SIGTERM)
    install_worker_signal_handlers()
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_processes_below_a_process_are_found_and_told_apart_from_a_reused_pid():
    sleeper = "import time; time.sleep(60)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        (child,) = wait_for(lambda: processes.descendants(parent.pid), 10, "the child process")
        assert processes.is_alive(child)
        assert processes.descendants(child.pid) == []
        # Same pid, another start time: a later process the kernel gave the pid to.
        assert not processes.is_alive(processes.ProcessId(child.pid, child.started + 1))
        processes.send(child, signal.SIGKILL)
        # Killed and not yet reaped by its parent (a zombie): gone all the same.
        wait_for(lambda: not processes.is_alive(child), 10, "the child to end")
        assert processes.descendants(parent.pid) == []
    finally:
        parent.kill()
        parent.wait()
    assert processes.identify(parent.pid) is None
