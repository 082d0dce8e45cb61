"""End to end: a live server, real ``manage.py qcluster`` processes, reports over HTTP.

The workers use the service's broker (ORM on SQLite, Redis when REDIS_URL is set) on pytest's
test database (``tests/reports/worker_settings.py``). Timeouts are generous: the machine may
be busy, and nothing here depends on tight timing.
"""

import datetime as dt
import io
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from django.core.management import call_command
from django.utils import timezone

from reports import generation
from reports.models import Report
from reports.uptime import EXTENDED_CSV_COLUMNS
from tests.reports.workers import http, poll, report, running_with_a_heartbeat, trigger, wait_for

# Above the longest wait_for below (300 s), so a stuck worker fails there, with its log.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(360)]

STALL_SECONDS = 3


def command_csv(*args):
    out = io.StringIO()
    call_command("generate_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_report_triggered_over_http_completes_in_a_real_worker(live_server, start_worker, worked_examples):
    start_worker()
    report_id, location = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z"})
    seen = set()

    def complete():
        answer = poll(location)
        seen.add(answer["status"])
        assert answer["status"] in ("Pending", "Running", "Complete"), answer
        return answer if answer["status"] == "Complete" else None

    answer = wait_for(complete, 120, "the report to complete", on_timeout=start_worker.logs)
    assert answer["store_count"] == 2
    assert answer["as_of"] == "2023-01-25T12:00:00Z"
    status, headers, content = http("GET", location)
    assert status == 200
    assert headers["Content-Type"] == "text/csv"
    assert headers["X-Report-Status"] == "Complete"
    assert content.decode() == command_csv("--as-of", "2023-01-25T12:00:00Z")
    status, _, content = http("GET", answer["download_url"])
    assert status == 200
    assert content.decode() == command_csv("--as-of", "2023-01-25T12:00:00Z")
    assert report(report_id).worker.rsplit(":", 1)[1] != str(os.getpid())  # another process ran it


def test_an_extended_report_and_its_outages_csv_come_from_a_real_worker(live_server, start_worker, worked_examples):
    start_worker()
    report_id, location = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z", "columns": "extended"})

    def finished():
        answer = poll(location)
        return answer if answer["status"] in ("Complete", "Failed") else None

    answer = wait_for(finished, 120, "the extended report to finish", on_timeout=start_worker.logs)
    assert (answer["status"], answer["columns"]) == ("Complete", "extended"), answer
    data = generation.compute_report(as_of=dt.datetime(2023, 1, 25, 12, tzinfo=dt.UTC))
    expected_csv, expected_outages = io.StringIO(), io.StringIO()
    generation.write_report_csv(data.figures, expected_csv, columns="extended")
    generation.write_outages_csv(data.figures, data.feeds, expected_outages)
    status, _, content = http("GET", answer["download_url"])
    assert (status, content.decode()) == (200, expected_csv.getvalue())
    assert content.decode().splitlines()[0] == ",".join(EXTENDED_CSV_COLUMNS)
    status, headers, content = http("GET", answer["outages_url"])
    assert (status, headers["Content-Type"], content.decode()) == (200, "text/csv", expected_outages.getvalue())
    assert report(report_id).worker.rsplit(":", 1)[1] != str(os.getpid())  # another process ran it


def test_twenty_reports_triggered_at_once_all_complete(live_server, start_worker, worked_examples, settings):
    # Twenty different reports (identical Pending ones would be handed back), all let in.
    settings.MAX_PENDING_REPORTS_PER_OWNER = 20
    start_worker()
    bodies = [None] + [
        {"as_of": f"2023-01-25T{8 + i // 4:02d}:{15 * (i % 4):02d}:00Z", "method": ("nearest", "last_known")[i % 2]}
        for i in range(1, 20)
    ]
    with ThreadPoolExecutor(max_workers=20) as pool:
        triggered = list(pool.map(lambda body: trigger(live_server, body), bodies))
    ids = [report_id for report_id, _ in triggered]
    assert len(set(ids)) == 20

    def all_finished():
        statuses = dict(Report.objects.filter(report_id__in=ids).values_list("report_id", "status"))
        return all(statuses[i] in ("Complete", "Failed") for i in ids)

    wait_for(all_finished, 300, "20 reports to finish", interval=0.5, on_timeout=start_worker.logs)
    for (report_id, location), body in zip(triggered, bodies, strict=True):
        done = report(report_id)
        assert (done.status, done.error, done.attempts) == ("Complete", "", 1)
        args = [] if body is None else ["--as-of", body["as_of"], "--method", body["method"]]
        assert http("GET", location)[2].decode() == command_csv(*args)


def stale(report_id):
    """The report's heartbeat is older than the stall threshold (its worker is dead)."""
    current = report(report_id)
    return current.heartbeat_at < timezone.now() - dt.timedelta(seconds=STALL_SECONDS + 0.5)


def test_a_report_whose_worker_is_killed_is_requeued_and_completes(live_server, start_worker, worked_examples):
    recovery = {"E2E_STALL_SECONDS": str(STALL_SECONDS), "E2E_MAX_ATTEMPTS": "2"}
    first = start_worker(E2E_SLOW_REPORT_SECONDS="60", **recovery)  # killed long before it ends
    report_id, location = trigger(live_server, {"as_of": "2023-01-25T12:00:00Z"})
    wait_for(lambda: running_with_a_heartbeat(report_id, 1), 120, "the first run", on_timeout=start_worker.logs)
    first_worker = report(report_id).worker
    first.kill()

    wait_for(lambda: stale(report_id), 60, "the heartbeat to go stale")
    assert report(report_id).status == "Running"  # nothing noticed yet: no worker is alive
    start_worker(E2E_SLOW_REPORT_SECONDS="1", **recovery)
    done = wait_for(
        lambda: report(report_id) if report(report_id).status in ("Complete", "Failed") else None,
        120,
        "the re-queued report",
        on_timeout=start_worker.logs,
    )
    assert (done.status, done.attempts, done.error) == ("Complete", 2, "")
    assert done.worker != first_worker
    assert http("GET", location)[2].decode() == command_csv("--as-of", "2023-01-25T12:00:00Z")


def test_a_report_whose_workers_are_killed_twice_ends_failed_with_the_reason(
    live_server, start_worker, worked_examples
):
    slow = {"E2E_SLOW_REPORT_SECONDS": "30", "E2E_STALL_SECONDS": str(STALL_SECONDS), "E2E_MAX_ATTEMPTS": "2"}
    worker = start_worker(**slow)
    report_id, location = trigger(live_server)
    for attempt in (1, 2):
        wait_for(
            partial(running_with_a_heartbeat, report_id, attempt), 120, f"run {attempt}", on_timeout=start_worker.logs
        )
        killed_worker = report(report_id).worker
        worker.kill()
        wait_for(lambda: stale(report_id), 60, "the heartbeat to go stale")
        worker = start_worker(**slow)

    failed = wait_for(
        lambda: report(report_id) if report(report_id).status != "Running" else None,
        120,
        "the report to be given up",
        on_timeout=start_worker.logs,
    )
    assert (failed.status, failed.attempts) == ("Failed", 2)
    assert failed.error.startswith(f"The worker running this report ({killed_worker}) stopped responding")
    answer = poll(location)
    assert answer["status"] == "Failed"
    assert answer["error"] == failed.error
