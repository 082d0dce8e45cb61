"""End to end: real ``manage.py qcluster`` processes watching a folder on pytest's test database.

The clusters run ``tests/reports/worker_settings.py`` with ``E2E_GUARD_CYCLE=30``, so their
scheduler runs as they start (not half a minute later), and a poll interval of a second or two,
so the scheduled task keeps watching the folder for its 30 s period, a pass every interval.
"""

import os
import time

import pytest
from django_q.models import Schedule
from django_q.tasks import async_task

from monitoring import incoming, tasks
from monitoring.models import Import, StatusPoll
from tests.monitoring.csv_files import POLLS_HEADER, write_feed
from tests.reports.workers import Worker, forget_queues, private_queue, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def folder(tmp_path, settings):
    settings.INCOMING_DIR = tmp_path / "incoming"
    settings.INCOMING_DIR.mkdir()
    return settings.INCOMING_DIR


@pytest.fixture
def start_cluster(transactional_db, folder, settings, monkeypatch, tmp_path):
    """Start qclusters on a private queue watching ``folder``; the schedule is for that queue."""
    queue = private_queue(monkeypatch)
    base_env = worker_env(queue, E2E_GUARD_CYCLE="30", INCOMING_DIR=str(folder))
    workers = []
    queues = {queue}

    def start(poll_seconds: int, queue: str = queue, **env) -> Worker:
        """A cluster on ``queue`` (the schedule's by default) polling every ``poll_seconds``."""
        queues.add(queue)
        if not workers:
            settings.INCOMING_POLL_SECONDS = poll_seconds
            tasks.ensure_incoming_schedule()
            # The service's default cluster runs schedules without a cluster; this one has a name.
            Schedule.objects.filter(name=tasks.INCOMING_SCHEDULE).update(cluster=queue)
        worker = Worker(
            tmp_path / f"worker-{len(workers)}.log",
            {**base_env, "E2E_CLUSTER_NAME": queue, "INCOMING_POLL_SECONDS": str(poll_seconds), **env},
        )
        workers.append(worker)
        return worker

    start.queue = queue
    start.logs = lambda: "\n".join(f"--- {w.log_path.name}\n{w.log_tail()}" for w in workers)
    yield start
    for worker in workers:
        worker.kill()
        worker.stop()
    forget_queues(*queues)


def drop(folder, name, lines):
    """Put a feed file in the folder as writers should: written under another name, renamed in."""
    partial = write_feed(folder / f".{name}.part", lines)
    os.rename(partial, folder / name)
    return time.monotonic()


def polls(count, store="1", hour=10):
    return [POLLS_HEADER] + [f"{store},active,2023-01-25 {hour:02d}:{minute:02d}:00 UTC" for minute in range(count)]


def watching(folder):
    """The scheduled task made its first pass (a pass creates claimed/, processed/ and failed/)."""
    return (folder / "processed").is_dir()


def test_files_dropped_in_are_loaded_or_failed_within_two_poll_intervals(start_cluster, folder):
    poll_seconds = 2
    start_cluster(poll_seconds)
    wait_for(lambda: watching(folder), 30, "the first pass", on_timeout=start_cluster.logs)

    dropped = drop(folder, "store_status.csv", polls(5))
    drop(folder, "timezones.csv", ["store_id,timezone_str", "1,Mars/Olympus_Mons"])
    wait_for(
        lambda: (
            (folder / "processed" / "store_status.csv").exists()
            and (folder / "failed" / "timezones.csv.error.txt").exists()
        ),
        30,
        "both files to be moved",
        interval=0.05,
        on_timeout=start_cluster.logs,
    )
    elapsed = time.monotonic() - dropped

    assert elapsed <= 2 * poll_seconds, f"took {elapsed:.1f} s"
    assert StatusPoll.objects.count() == 5
    loaded = Import.objects.get(name="store_status.csv")
    assert (loaded.source, loaded.status, loaded.rows_inserted) == ("folder", "complete", 5)
    failed = Import.objects.get(name="timezones.csv")
    assert failed.status == "failed"
    assert failed.error.startswith("timezones.csv line 2, field timezone_str: ")
    note = (folder / "failed" / "timezones.csv.error.txt").read_text()
    assert note.startswith(failed.error)
    assert f"import #{failed.pk}" in note
    assert sorted(path.name for path in folder.iterdir()) == ["claimed", "failed", "processed"]


def test_two_clusters_on_one_folder_load_each_file_exactly_once(start_cluster, folder):
    other_queue = f"{start_cluster.queue}-other"
    # Loads of a third of a second each: a pass is still loading when the others look.
    slow = {"E2E_SLOW_LOAD_SECONDS": "0.3"}
    clusters = [start_cluster(1, **slow), start_cluster(1, queue=other_queue, **slow)]
    # Four passes at once, each worker of both clusters: the schedule's task and three more like it
    # (queued once the schedule's is, as each pass moves the schedule's next run on).
    wait_for(lambda: "from schedule" in clusters[0].log_path.read_text(), 30, "the scheduled pass")
    async_task("monitoring.tasks.load_incoming", cluster=start_cluster.queue)
    async_task("monitoring.tasks.load_incoming", cluster=other_queue)
    async_task("monitoring.tasks.load_incoming", cluster=other_queue)

    def all_passing():
        return all(cluster.log_path.read_text().count("processing") == 2 for cluster in clusters)

    wait_for(all_passing, 30, "four passes in two clusters", on_timeout=start_cluster.logs)
    names = [f"bq-results-{number:02d}.csv" for number in range(12)]
    for number, name in enumerate(names):
        drop(folder, name, polls(3, store=f"s{number}"))

    wait_for(
        lambda: len(list((folder / "processed").iterdir())) >= len(names),
        40,
        "every file to be processed",
        on_timeout=start_cluster.logs,
    )

    assert sorted(path.name for path in (folder / "processed").iterdir()) == names
    rows = list(Import.objects.values_list("name", "status", "rows_inserted"))
    assert sorted(rows) == [(name, "complete", 3) for name in names]
    assert StatusPoll.objects.count() == 3 * len(names)
    assert list((folder / "claimed").iterdir()) == []
    assert all(": loaded, import #" in cluster.log_path.read_text() for cluster in clusters)  # both took some


def test_a_file_whose_worker_is_killed_mid_load_is_retried_by_the_next_pass(start_cluster, folder):
    first = start_cluster(1, E2E_SLOW_LOAD_SECONDS="60", INCOMING_LEASE_SECONDS="2")
    drop(folder, "store_status.csv", polls(4))
    running = wait_for(
        lambda: Import.objects.filter(name="store_status.csv", status="running").first(),
        30,
        "the load to start",
        on_timeout=start_cluster.logs,
    )
    first.kill()
    (claim,) = (folder / "claimed").iterdir()
    assert sorted(path.name for path in claim.iterdir()) == ["claim.json", "store_status.csv"]
    # Nobody renews the lease now; once it is stale (and the schedule due) a new cluster starts.
    wait_for(lambda: incoming.lease_age(claim) > 2.5, 30, "the lease to go stale")
    assert (claim / "store_status.csv").exists()

    start_cluster(1, INCOMING_LEASE_SECONDS="2")
    wait_for(
        lambda: (folder / "processed" / "store_status.csv").exists(),
        30,
        "the retried file to be processed",
        on_timeout=start_cluster.logs,
    )

    running.refresh_from_db()
    assert running.status == "failed"
    assert "stopped before the load ended" in running.error
    retried = Import.objects.exclude(pk=running.pk).get()
    assert (retried.name, retried.status, retried.rows_inserted) == ("store_status.csv", "complete", 4)
    assert StatusPoll.objects.count() == 4
    assert list((folder / "claimed").iterdir()) == []
