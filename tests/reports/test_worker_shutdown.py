"""Real ``manage.py qcluster`` processes stop within 15 s when told, and give back what they ran.

SIGTERM goes to the whole process group (what systemd and container runtimes send) or to the
main process only (``docker stop``, ``kill <pid>``, ``make run``); the workers use the service's
broker (ORM on SQLite, Redis when REDIS_URL is set), see ``tests/reports/worker_settings.py``.
"""

import random
import signal
import time
from functools import partial

import pytest
from django.db import connection

from reports import processes
from tests.reports.workers import Worker, poll, report, running_with_a_heartbeat, trigger, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]

STOP_WITHIN_SECONDS = 15
GROUP_TRIALS = 30
MAIN_PROCESS_TRIALS = 10


def running(start_worker, **env) -> Worker:
    worker = start_worker(**env)
    wait_for(worker.is_running, 60, "the cluster to run", on_timeout=start_worker.logs)
    return worker


def finished(report_id: str):
    current = report(report_id)
    return current if current.status in ("Complete", "Failed") else None


def stop_and_check(worker: Worker, *, group: bool, start_worker) -> float:
    """Stop the cluster; it must exit in time and leave none of its processes behind."""
    members = worker.members()
    assert len(members) >= 5, start_worker.logs()  # main, sentinel, 2 workers, monitor, pusher
    seconds = worker.signal_and_wait(signal.SIGTERM, group=group)
    assert seconds <= STOP_WITHIN_SECONDS, start_worker.logs()
    assert worker.process.returncode == 0, start_worker.logs()
    wait_for(lambda: not any(processes.is_alive(p) for p in members), 5, "the cluster's processes to end")
    return seconds


@pytest.mark.parametrize(("group", "trials"), [(True, GROUP_TRIALS), (False, MAIN_PROCESS_TRIALS)])
def test_a_running_cluster_stops_within_15_seconds_of_a_sigterm_every_time(start_worker, group, trials):
    jitter = random.Random(trials)  # the moment in the cluster's life varies, reproducibly
    for _ in range(trials):
        worker = running(start_worker)
        time.sleep(jitter.uniform(0, 1.5))
        stop_and_check(worker, group=group, start_worker=start_worker)


@pytest.mark.parametrize("group", [True, False])
def test_a_report_running_when_its_cluster_stops_is_given_back_at_once_and_completes_elsewhere(
    live_server, start_worker, worked_examples, group
):
    for trial in range(3 if group else 1):
        worker = running(start_worker, E2E_SLOW_REPORT_SECONDS="60")  # far from done when stopped
        report_id, location = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z"})
        wait_for(partial(running_with_a_heartbeat, report_id, 1), 60, f"run {trial}", on_timeout=start_worker.logs)
        stop_and_check(worker, group=group, start_worker=start_worker)

        given_back = report(report_id)  # before any other worker exists: the stopping one did it
        assert (given_back.status, given_back.attempts, given_back.worker, given_back.error) == ("Pending", 1, "", "")

        other = running(start_worker)
        done = wait_for(partial(finished, report_id), 60, "the given-back report", on_timeout=start_worker.logs)
        assert (done.status, done.attempts, done.error) == ("Complete", 2, "")
        assert poll(location)["status"] == "Complete"
        stop_and_check(other, group=True, start_worker=start_worker)


def test_a_report_stopped_on_its_last_attempt_fails_saying_so(live_server, start_worker, worked_examples):
    worker = running(start_worker, E2E_SLOW_REPORT_SECONDS="60", E2E_MAX_ATTEMPTS="1")
    report_id, location = trigger(live_server)
    wait_for(lambda: running_with_a_heartbeat(report_id, 1), 60, "the run", on_timeout=start_worker.logs)
    stop_and_check(worker, group=True, start_worker=start_worker)
    failed = report(report_id)
    assert (failed.status, failed.attempts) == ("Failed", 1)
    assert failed.error == (
        "The report was interrupted on its last attempt (1 of 1): its worker was stopped (SIGTERM). "
        "Trigger a new report."
    )
    assert poll(location)["error"] == failed.error


def terminate_other_connections() -> int:
    """End every other session on the test database (the workers', the heartbeat's, the live
    server's), as a PostgreSQL restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    return terminated


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("slow", "attempts"),
    [
        # Cut in the middle of the snapshot read: the report fails there and is run again.
        ({"E2E_SLOW_SNAPSHOT_SECONDS": "4"}, 2),
        # Cut while the report waits between queries: its next write reconnects, and it goes on.
        ({"E2E_SLOW_REPORT_SECONDS": "4"}, 1),
    ],
)
def test_a_report_whose_database_connections_are_terminated_still_completes_and_so_does_the_next(
    live_server, start_worker, worked_examples, slow, attempts
):
    worker = running(start_worker, **slow)
    report_id, _ = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z"})
    wait_for(partial(running_with_a_heartbeat, report_id, 1), 60, "the first run", on_timeout=start_worker.logs)
    time.sleep(1)  # well inside the 4-second wait
    assert terminate_other_connections() >= 1

    done = wait_for(partial(finished, report_id), 90, "the report", on_timeout=start_worker.logs)
    assert (done.status, done.attempts, done.error) == ("Complete", attempts, ""), start_worker.logs()
    if attempts == 2:
        assert "lost its database connection" in worker.log_tail(200)

    next_id, _ = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z"})
    following = wait_for(partial(finished, next_id), 90, "the next report", on_timeout=start_worker.logs)
    assert (following.status, following.attempts) == ("Complete", 1)
