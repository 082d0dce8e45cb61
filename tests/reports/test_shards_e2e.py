"""End to end: sharded reports (reports.shards) run by real ``manage.py qcluster`` processes.

PostgreSQL only (exported snapshots); the workers use the service's broker (Redis when
REDIS_URL is set) on a private queue, against pytest's test database
(``tests/reports/worker_settings.py``). Every worker gets ``REPORT_SHARD_STORES=3``, so the 12
stores of ``build_stores`` make 4 shards; the test process keeps the default and computes the
unsharded files itself. Timeouts are generous: the machine may be busy.
"""

import datetime as dt
import io
import json
import os
import socket

import pytest

from reports import generation
from reports.models import Report, ReportShard
from tests.factories import StatusPollFactory
from tests.reports.test_shards import AS_OF, build_stores
from tests.reports.workers import Worker, http, poll, report, trigger, wait_for

# Above the longest wait_for below (180 s), so a stuck worker fails there, with its log.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

SHARDED = {"REPORT_SHARD_STORES": "3"}  # 12 stores: 4 shards of 3
BODY = {"as_of": "2023-01-25T12:00:00Z"}
STALL_SECONDS = 3


def unsharded_files(columns="basic"):
    """The report CSV and outages CSV of every store at AS_OF, computed in one piece here."""
    data = generation.compute_report(as_of=AS_OF)
    csv_text, outages_text = io.StringIO(), io.StringIO()
    generation.write_report_csv(data.figures, csv_text, columns=columns)
    generation.write_outages_csv(data.figures, data.feeds, outages_text)
    return csv_text.getvalue().encode(), outages_text.getvalue().encode()


def finished(report_id, start_worker, timeout=180):
    return wait_for(
        lambda: report(report_id) if report(report_id).status in ("Complete", "Failed") else None,
        timeout,
        "the sharded report to finish",
        on_timeout=start_worker.logs,
    )


def downloaded(location):
    answer = poll(location)
    files = []
    for url in (answer["download_url"], answer["outages_url"]):
        status, _, content = http("GET", url)
        assert status == 200, content
        files.append(content)
    return tuple(files)


def shards_of(report_id):
    return list(ReportShard.objects.filter(report__report_id=report_id).order_by("number"))


def worker_pids(*workers: Worker) -> dict[int, Worker]:
    """pid of every process of these clusters -> its cluster."""
    return {member.pid: worker for worker in workers for member in worker.members()}


def pid_of(identity: str) -> int:
    host, pid = identity.rsplit(":", 1)
    assert host == socket.gethostname()
    return int(pid)


def cluster_identity(worker: Worker) -> str:
    """What the shards record as their ``cluster``: host:pid of the qcluster's main process."""
    return f"{socket.gethostname()}:{worker.process.pid}"


def test_a_four_shard_report_over_http_equals_the_unsharded_one_and_lists_its_workers(
    live_server, start_worker, admin_client
):
    build_stores()
    cluster = start_worker(**SHARDED)
    report_id, location = trigger(live_server, {**BODY, "columns": "basic"})
    done = finished(report_id, start_worker)
    assert (done.status, done.error, done.shard_count, done.store_count) == ("Complete", "", 4, 12)
    assert downloaded(location) == unsharded_files()
    status, headers, content = http("GET", location)
    assert (status, headers["Content-Type"], content) == (200, "text/csv", unsharded_files()[0])

    members = worker_pids(cluster)
    rows = shards_of(report_id)
    assert [(row.number, row.status, row.attempts) for row in rows] == [(n, "Complete", 1) for n in (1, 2, 3, 4)], [
        row.error for row in rows
    ]
    assert all(pid_of(row.worker) in members for row in rows)  # the cluster's processes
    assert all(pid_of(row.worker) != os.getpid() for row in rows)  # not this test process
    answers = {
        "get_report": poll(location),
        "api": admin_client.get(f"/api/reports/{report_id}/", HTTP_ACCEPT="application/json").json(),
    }
    for name, answer in answers.items():
        assert answer["shard_count"] == 4, name
        assert [(shard["number"], shard["status"], shard["worker"]) for shard in answer["shards"]] == [
            (row.number, "Complete", row.worker) for row in rows
        ], name
        assert sum(shard["store_count"] for shard in answer["shards"]) == 12, name


def test_an_extended_sharded_report_equals_the_unsharded_one(live_server, start_worker):
    build_stores(count=13, seed=5)
    start_worker(**SHARDED)
    report_id, location = trigger(live_server, {**BODY, "columns": "extended"})
    done = finished(report_id, start_worker)
    assert (done.status, done.shard_count) == ("Complete", 5)
    assert downloaded(location) == unsharded_files("extended")


def test_a_load_committed_while_the_shards_run_changes_nothing(live_server, start_worker):
    stores = build_stores()
    before = unsharded_files()
    # One worker: the coordinator runs the four shards itself, one after the other, each
    # waiting 2 s after its claim; the load commits while shard 1 runs.
    start_worker(E2E_WORKERS="1", E2E_SLOW_SHARD_SECONDS="2", **SHARDED)
    report_id, location = trigger(live_server, BODY)
    wait_for(
        lambda: ReportShard.objects.filter(report__report_id=report_id, number=1, status="Running").exists(),
        120,
        "shard 1 to run",
        on_timeout=start_worker.logs,
    )
    for store in stores:  # every store goes offline at the end and loses its hours
        StatusPollFactory(store=store, timestamp_utc=AS_OF - dt.timedelta(minutes=1), status="inactive")
        store.business_hours.all().delete()
    loaded_at = dt.datetime.now(dt.UTC)
    done = finished(report_id, start_worker)
    assert (done.status, done.shard_count) == ("Complete", 4)
    rows = shards_of(report_id)
    assert rows[0].started_at < loaded_at < rows[-1].started_at  # the load came between them
    assert downloaded(location) == before

    # The load did change the data: a report after it differs.
    after_id, after_location = trigger(live_server, {**BODY, "method": "last_known"})
    assert finished(after_id, start_worker).status == "Complete"
    assert downloaded(after_location)[0] != before[0]


def test_a_worker_killed_mid_shard_reruns_that_shard_only(live_server, start_worker):
    build_stores()
    recovery = {"E2E_STALL_SECONDS": str(STALL_SECONDS), "E2E_MAX_ATTEMPTS": "2", **SHARDED}
    # Two clusters of one worker each: one coordinates (and runs shards while it waits), the
    # other's worker takes a queued shard task; each shard waits 4 s, time to kill it mid-shard.
    clusters = [start_worker(E2E_WORKERS="1", E2E_SLOW_SHARD_SECONDS="4", **recovery) for _ in range(2)]
    for cluster in clusters:
        wait_for(cluster.is_running, 120, "both clusters to run", on_timeout=start_worker.logs)
    report_id, location = trigger(live_server, BODY)
    wait_for(lambda: report(report_id).shard_count == 4, 120, "the shards", on_timeout=start_worker.logs)
    coordinator = report(report_id).cluster
    (other,) = [cluster for cluster in clusters if cluster_identity(cluster) != coordinator]
    taken = wait_for(
        lambda: ReportShard.objects.filter(
            report__report_id=report_id, status="Running", cluster=cluster_identity(other)
        ).first(),
        120,
        "the other cluster to run a shard",
        on_timeout=start_worker.logs,
    )
    other.kill()

    done = finished(report_id, start_worker)
    assert (done.status, done.error, done.attempts) == ("Complete", "", 1)
    rows = shards_of(report_id)
    assert {row.number: row.attempts for row in rows} == {row.number: 2 if row.pk == taken.pk else 1 for row in rows}
    rerun = next(row for row in rows if row.pk == taken.pk)
    assert rerun.worker != taken.worker
    assert rerun.error.startswith(f"its worker {taken.worker} sent no heartbeat since ")
    assert downloaded(location) == unsharded_files()


def test_two_clusters_share_the_shards(live_server, start_worker):
    build_stores()
    clusters = [start_worker(E2E_SLOW_SHARD_SECONDS="3", **SHARDED) for _ in range(2)]
    for cluster in clusters:
        wait_for(cluster.is_running, 120, "both clusters to run", on_timeout=start_worker.logs)
    members = worker_pids(*clusters)
    report_id, location = trigger(live_server, BODY)
    done = finished(report_id, start_worker)
    assert (done.status, done.shard_count) == ("Complete", 4)
    rows = shards_of(report_id)
    ran_in = {members[pid_of(row.worker)] for row in rows}
    assert ran_in == set(clusters), [row.worker for row in rows]
    assert {row.cluster for row in rows} == {cluster_identity(cluster) for cluster in clusters}
    assert downloaded(location) == unsharded_files()


def test_a_cluster_of_a_single_worker_finishes_a_sharded_report(live_server, start_worker):
    build_stores()
    cluster = start_worker(E2E_WORKERS="1", **SHARDED)
    report_id, location = trigger(live_server, BODY)
    done = finished(report_id, start_worker)
    assert (done.status, done.shard_count) == ("Complete", 4)
    rows = shards_of(report_id)
    # Its one worker coordinates and, while it waits, runs every shard itself.
    assert {row.worker for row in rows} == {done.worker}
    assert pid_of(done.worker) in worker_pids(cluster)
    assert downloaded(location) == unsharded_files()
    assert json.loads(http("GET", f"{location}&format=json")[2])["shard_count"] == 4
    assert Report.objects.get(report_id=report_id).progress == 1.0
