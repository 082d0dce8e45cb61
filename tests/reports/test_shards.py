"""Sharded reports (reports.shards) in one process: django-q2's sync mode runs each queued shard
task at once, inside the coordinator's call, so every rule can be driven step by step.

The shards import the coordinator's exported snapshot: that needs transactions of their own, so
these tests use transactional_db (committed data), and PostgreSQL for everything but the
SQLite fallback. The real workers and clusters are in test_shards_e2e.py.
"""

import datetime as dt
import random
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from monitoring.models import StatusPoll
from reports import actions, generation, shards
from reports.attention import attention_summary
from reports.models import Report, ReportShard
from reports.worker_signals import worker_identity
from tests.factories import BusinessHoursFactory, OwnerFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db(transaction=True)
postgres = pytest.mark.postgres

AS_OF = at("2023-01-25 12:00")
ZONES = ("America/Chicago", "America/New_York", "Asia/Kolkata", "UTC")


def build_stores(count=12, seed=7, owner=None):
    """``count`` stores whose primary-key order is not their store_id order (ids drawn at random,
    quoting included), with random hours, zones and a week of hourly polls up to AS_OF."""
    rng = random.Random(seed)
    # Drawn without replacement: a store_id twice would be one store (the factory gets it).
    ids = [f"store-{number:06d}" for number in rng.sample(range(10**6), count - 2)] + [
        f"with,comma {seed}",
        f'with"quote {seed}',
    ]
    rng.shuffle(ids)
    stores = []
    for store_id in ids:
        store = StoreFactory(store_id=store_id, owner=owner)
        stores.append(store)
        if rng.random() < 0.8:
            TimezoneFactory(store=store, timezone_str=rng.choice(ZONES))
        for day in rng.sample(range(7), rng.randrange(0, 7)):
            opens = rng.randrange(0, 20)
            BusinessHoursFactory(
                store=store, day_of_week=day, start_time_local=dt.time(opens), end_time_local=dt.time(opens + 4)
            )
        moment = AS_OF - dt.timedelta(days=7, minutes=rng.randrange(60))
        polls = []
        while moment <= AS_OF:
            status = StatusPoll.Status.INACTIVE if rng.random() < 0.25 else StatusPoll.Status.ACTIVE
            polls.append(StatusPoll(store=store, timestamp_utc=moment, status=status))
            moment += dt.timedelta(minutes=rng.randrange(40, 80))
        StatusPoll.objects.bulk_create(polls)
    return stores


def run_report(settings, shard_stores, **trigger):
    """Trigger and run a report (sync mode: at once) with REPORT_SHARD_STORES=shard_stores."""
    settings.REPORT_SHARD_STORES = shard_stores
    report = actions.do_trigger_report(**{"as_of": AS_OF, **trigger})
    report.refresh_from_db()
    assert report.status == Report.Status.COMPLETE, report.error
    return report


def files_of(report):
    with report.csv_file.open("rb") as csv_file, report.outages_file.open("rb") as outages_file:
        return csv_file.read(), outages_file.read(), report.summary


# --- Cutting the stores ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pks", "size", "expected"),
    [
        ([], 3, []),
        ([5], 3, [(5, 5)]),
        ([1, 2, 3], 3, [(1, 3)]),
        ([1, 2, 3, 4], 3, [(1, 2), (3, 4)]),
        ([2, 4, 6, 8, 10, 12, 14], 3, [(2, 4), (6, 10), (12, 14)]),
        (list(range(1, 13)), 3, [(1, 3), (4, 6), (7, 9), (10, 12)]),
        (list(range(1, 11)), 1, [(pk, pk) for pk in range(1, 11)]),
    ],
)
def test_split_stores_cuts_runs_of_nearly_equal_length(pks, size, expected):
    assert shards.split_stores(pks, size) == expected


def test_split_stores_keeps_every_store_once_and_no_shard_above_the_size():
    rng = random.Random(3)
    for _ in range(200):
        pks = sorted(rng.sample(range(1, 10_000), rng.randrange(1, 400)))
        size = rng.randrange(1, 60)
        ranges = shards.split_stores(pks, size)
        members = [[pk for pk in pks if first <= pk <= last] for first, last in ranges]
        assert sum(members, []) == pks
        lengths = [len(part) for part in members]
        assert max(lengths) <= size
        assert max(lengths) - min(lengths) <= 1
        assert len(ranges) == -(-len(pks) // size)


# --- A sharded report is the report ----------------------------------------------------------


@postgres
@pytest.mark.parametrize("columns", ["basic", "extended"])
def test_a_sharded_report_equals_the_unsharded_one_byte_for_byte(settings, columns):
    build_stores()
    whole = run_report(settings, 1000, columns=columns)
    sharded = run_report(settings, 3, columns=columns)

    assert (whole.shard_count, sharded.shard_count) == (0, 4)
    assert files_of(sharded) == files_of(whole)
    assert (sharded.store_count, sharded.as_of) == (whole.store_count, whole.as_of)
    parts = list(ReportShard.objects.filter(report=sharded).order_by("number"))
    assert [(part.number, part.status, part.attempts) for part in parts] == [(n, "Complete", 1) for n in (1, 2, 3, 4)]
    assert {part.worker for part in parts} == {worker_identity()}
    assert sum(part.store_count for part in parts) == whole.store_count
    # The parts were merged and emptied; the shards stay as the record of who ran what.
    assert all(part.csv_part == part.outages_part == "" and part.summary_part == {} for part in parts)
    # Pieces of three stores each, in primary-key order, covering every store once.
    assert [part.last_store_pk for part in parts[:-1]] == [parts[i + 1].first_store_pk - 1 for i in range(3)]


@postgres
def test_a_sharded_report_of_an_owner_covers_that_owner_only(settings):
    mine, theirs = OwnerFactory(slug="mine"), OwnerFactory(slug="theirs")
    build_stores(count=7, seed=1, owner=mine)
    build_stores(count=9, seed=2, owner=theirs)
    whole = run_report(settings, 1000, owner=mine)
    sharded = run_report(settings, 2, owner=mine)
    assert (sharded.shard_count, sharded.store_count) == (4, 7)
    assert files_of(sharded) == files_of(whole)


@postgres
def test_a_report_without_time_given_takes_the_newest_poll_of_its_snapshot(settings):
    build_stores(count=6)
    whole = run_report(settings, 1000, as_of=None)
    sharded = run_report(settings, 2, as_of=None)
    assert sharded.as_of == whole.as_of == StatusPoll.objects.newest_time()
    assert files_of(sharded) == files_of(whole)


@postgres
def test_the_dashboard_summary_of_a_sharded_report_is_the_whole_reports(settings):
    build_stores(count=20, seed=11)
    sharded = run_report(settings, 3)
    data = generation.compute_report(as_of=AS_OF)
    assert sharded.summary == attention_summary(data.figures, data.feeds)
    assert sharded.summary["attention"], "the data has stores needing attention"


# --- One snapshot for all shards -------------------------------------------------------------


@postgres
def test_a_load_committed_between_shards_changes_nothing(settings, monkeypatch):
    stores = build_stores()
    before = run_report(settings, 1000)
    compute = shards._compute
    calls = []

    def compute_then_load(report, shard):
        parts = compute(report, shard)
        if not calls:
            # Committed at once (no test transaction): every store goes offline for the last
            # hours and changes its hours, between the first shard and the others.
            for store in stores:
                StatusPollFactory(store=store, timestamp_utc=AS_OF - dt.timedelta(minutes=1), status="inactive")
                store.business_hours.all().delete()
        calls.append(shard.number)
        return parts

    monkeypatch.setattr(shards, "_compute", compute_then_load)
    sharded = run_report(settings, 3)
    assert calls == [1, 2, 3, 4]
    assert files_of(sharded)[:2] == files_of(before)[:2]
    # The load did change the data: a report after it differs.
    after = run_report(settings, 1000)
    assert files_of(after)[0] != files_of(before)[0]


@postgres
def test_a_shard_cannot_import_a_snapshot_that_is_gone_and_steps_back_uncounted(settings):
    build_stores(count=4)
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id="00000003-0000001B-1")
    shard = ReportShard.objects.create(report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=10**9)
    assert shards.run_shard_task(shard.pk) == "Pending"
    shard.refresh_from_db()
    assert (shard.status, shard.attempts, shard.worker) == ("Pending", 0, "")
    report.refresh_from_db()
    assert report.status == "Running"  # the report's own recovery deals with a dead coordinator


@postgres
def test_the_exported_snapshot_is_importable_until_the_coordinator_ends_it():
    build_stores(count=2)
    with shards.ExportedSnapshot() as snapshot:
        identifier = snapshot.snapshot_id
        StatusPollFactory(store=StoreFactory(store_id="later"), timestamp_utc=AS_OF)
        assert snapshot.store_pks(None) == sorted(snapshot.store_pks(None))
        assert len(snapshot.store_pks(None)) == 2  # the store added after the export is not in it
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [identifier])
            cursor.execute("SELECT count(*) FROM monitoring_store")
            assert cursor.fetchone() == (2,)
            cursor.execute("COMMIT")
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id=identifier)
    shard = ReportShard.objects.create(report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=10**9)
    assert shards.run_shard_task(shard.pk) == "Pending"


# --- Claims, retries, failures ---------------------------------------------------------------


@postgres
def test_a_shard_that_fails_once_is_run_again_and_the_report_completes(settings, monkeypatch):
    build_stores()
    whole = run_report(settings, 1000)
    compute_report = generation.compute_report
    calls = []

    def fail_the_second_shard_once(*args, store_pk_range=None, **kwargs):
        calls.append(store_pk_range)
        if len(calls) == 2:  # sync mode runs the shards in order: this is shard 2's first attempt
            raise RuntimeError("disk on fire")
        return compute_report(*args, store_pk_range=store_pk_range, **kwargs)

    monkeypatch.setattr(generation, "compute_report", fail_the_second_shard_once)
    sharded = run_report(settings, 3)
    assert files_of(sharded) == files_of(whole)
    attempts = dict(ReportShard.objects.filter(report=sharded).values_list("number", "attempts"))
    assert attempts == {1: 1, 2: 2, 3: 1, 4: 1}
    assert ReportShard.objects.get(report=sharded, number=2).error == "RuntimeError: disk on fire"


@postgres
def test_a_shard_that_fails_twice_fails_the_report_with_its_sentence(settings, monkeypatch):
    last_store = max(store.pk for store in build_stores())
    compute_report = generation.compute_report

    def fail_the_last_shard(*args, store_pk_range=None, **kwargs):
        if store_pk_range is not None and store_pk_range[1] == last_store:
            raise ValueError("no such zone: Mars/Olympus")
        return compute_report(*args, store_pk_range=store_pk_range, **kwargs)

    monkeypatch.setattr(generation, "compute_report", fail_the_last_shard)
    settings.REPORT_SHARD_STORES = 3
    report = actions.do_trigger_report(as_of=AS_OF)
    report.refresh_from_db()
    last = ReportShard.objects.get(report=report, number=4)
    assert report.status == "Failed"
    assert report.error == (
        f"Shard 4 of 4 (stores with primary keys {last.first_store_pk} to {last.last_store_pk}) failed 2 times; "
        "its last attempt: ValueError: no such zone: Mars/Olympus. Trigger a new report."
    )
    assert (last.status, last.attempts) == ("Failed", 2)
    assert not report.csv_file


@postgres
def test_the_coordinator_gives_back_a_shard_whose_worker_stopped_beating(settings, monkeypatch):
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id="x", shard_count=2)
    old = timezone.now() - dt.timedelta(seconds=settings.REPORT_STALL_SECONDS + 5)
    stalled = ReportShard.objects.create(
        report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=5,
        status="Running", attempts=1, worker="gone:1", heartbeat_at=old, started_at=old,
    )  # fmt: skip
    alive = ReportShard.objects.create(
        report=report, report_attempt=1, number=2, first_store_pk=6, last_store_pk=9,
        status="Running", attempts=1, worker="here:2", heartbeat_at=timezone.now(), started_at=old,
    )  # fmt: skip
    queued = []
    monkeypatch.setattr(shards, "queue_shard", queued.append)
    shards._give_back_stalled(ReportShard.objects.filter(report=report))
    stalled.refresh_from_db()
    alive.refresh_from_db()
    assert (stalled.status, stalled.worker, queued) == ("Pending", "", [stalled.pk])
    assert stalled.error.startswith("its worker gone:1 sent no heartbeat since ")
    assert (alive.status, alive.worker) == ("Running", "here:2")


@postgres
def test_a_stopped_cluster_gives_back_the_shards_it_ran(monkeypatch):
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id="x", shard_count=1)
    shard = ReportShard.objects.create(
        report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=5,
        status="Running", attempts=1, worker="host:3", cluster="host:1", heartbeat_at=timezone.now(),
    )  # fmt: skip
    queued = []
    monkeypatch.setattr(shards, "queue_shard", queued.append)
    assert shards.give_back_cluster_shards("host:1", "SIGTERM") == [shard.pk]
    shard.refresh_from_db()
    assert (shard.status, queued) == ("Pending", [shard.pk])
    assert shards.give_back_cluster_shards("host:2", "SIGTERM") == []


@postgres
def test_a_shard_of_an_earlier_run_of_its_report_is_not_claimed():
    report = Report.objects.create(status="Running", attempts=2, as_of=AS_OF, snapshot_id="x")
    old = ReportShard.objects.create(report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=5)
    assert shards.run_shard_task(old.pk) is None
    old.refresh_from_db()
    assert (old.status, old.attempts) == ("Pending", 0)


@postgres
def test_two_workers_claiming_one_shard_at_the_same_moment_claim_it_once():
    """The second claim waits for the first one's row lock; once the first commits it must see
    the shard Running and claim nothing (it did claim it again, attempts 2, when the report's
    conditions were a join: PostgreSQL re-checked only the row's id)."""
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id="x")
    shard = ReportShard.objects.create(report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=5)
    first_claimed, second_started = threading.Event(), threading.Event()
    claims = {}

    def first():
        try:
            with transaction.atomic():  # holds the row lock of its claim until it commits
                claims["first"] = shards._claim_exactly(shard.pk)
                first_claimed.set()
                second_started.wait(10)
                time.sleep(0.5)  # the second claim is now waiting for this lock
        finally:
            connection.close()

    def second():
        try:
            first_claimed.wait(10)
            second_started.set()
            claims["second"] = shards._claim_exactly(shard.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert claims["first"] is not None
    assert claims["second"] is None
    shard.refresh_from_db()
    assert (shard.status, shard.attempts) == ("Running", 1)


@postgres
def test_a_task_whose_shard_was_taken_runs_another_pending_shard_of_the_report(monkeypatch):
    report = Report.objects.create(status="Running", attempts=1, as_of=AS_OF, snapshot_id="x")
    taken = ReportShard.objects.create(
        report=report, report_attempt=1, number=1, first_store_pk=1, last_store_pk=5, status="Running", attempts=1
    )
    waiting = ReportShard.objects.create(report=report, report_attempt=1, number=2, first_store_pk=6, last_store_pk=9)
    ran = []
    monkeypatch.setattr(shards, "run_claimed_shard", lambda shard: ran.append(shard.pk) or "Complete")
    assert shards.run_shard_task(taken.pk) == "Complete"
    assert ran == [waiting.pk]
    assert ReportShard.objects.get(pk=waiting.pk).worker == worker_identity()


# --- Where sharding applies ------------------------------------------------------------------


def test_sqlite_and_small_reports_run_in_one_piece(settings):
    build_stores(count=5)
    report = run_report(settings, 1000)
    assert (report.shard_count, report.shards.count()) == (0, 0)
    if connection.vendor == "sqlite":
        report = run_report(settings, 1)  # SQLite has no exported snapshots: never sharded
        assert (report.shard_count, report.shards.count()) == (0, 0)


# --- What the API and the admin show ---------------------------------------------------------


@postgres
def test_the_report_json_says_how_many_shards_and_which_worker_ran_each(settings, admin_client):
    build_stores(count=6)
    report = run_report(settings, 2)
    shard_rows = list(ReportShard.objects.filter(report=report).order_by("number"))
    for url in (f"/api/reports/{report.report_id}/", f"/get_report?report_id={report.report_id}&format=json"):
        body = admin_client.get(url, HTTP_ACCEPT="application/json").json()
        assert body["shard_count"] == 3, url
        assert [(shard["number"], shard["status"], shard["worker"]) for shard in body["shards"]] == [
            (row.number, "Complete", worker_identity()) for row in shard_rows
        ]
        assert [shard["store_count"] for shard in body["shards"]] == [row.store_count for row in shard_rows]
        assert all(shard["duration_seconds"] >= 0 for shard in body["shards"])
    unsharded = run_report(settings, 1000)
    body = admin_client.get(f"/api/reports/{unsharded.report_id}/").json()
    assert (body["shard_count"], body["shards"]) == (0, [])


@postgres
def test_the_admin_shows_the_shards_and_their_workers(settings, admin_client):
    build_stores(count=6)
    report = run_report(settings, 2)
    page = admin_client.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert page.count(worker_identity()) == 3
    first = ReportShard.objects.get(report=report, number=1)
    assert f"{first.first_store_pk} to {first.last_store_pk}" in page
