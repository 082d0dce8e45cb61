"""Poll retention (monitoring.retention): polls older than DAYS before the newest poll go, in
batches, with a ledger row per run; the daily schedule follows POLL_RETENTION_DAYS."""

import datetime as dt
import io
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from monitoring import retention_tasks
from monitoring.models import Import, StatusPoll
from monitoring.retention import RetentionRefused, poll_cutoff, prune_polls
from reports import actions, generation, snapshot
from reports.models import Report
from tests.factories import StoreFactory
from tests.manage_py import manage_py

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_polls(store, times, status="active"):
    StatusPoll.objects.bulk_create(StatusPoll(store=store, timestamp_utc=moment, status=status) for moment in times)


def hourly(start, hours):
    return [start + dt.timedelta(hours=n) for n in range(hours)]


def poll_times():
    return sorted(StatusPoll.objects.values_list("timestamp_utc", flat=True))


def prune(days=90, **options):
    return prune_polls(days, name=f"test prune {days}", **options)


def run_command(*args):
    out = io.StringIO()
    call_command("prune_polls", *args, stdout=out)
    return out.getvalue()


# --- The cutoff ----------------------------------------------------------------------------


def test_the_cutoff_counts_back_from_the_newest_poll_not_from_the_clock():
    store = StoreFactory()
    # Newest poll 2023-06-01 12:00; 90 days before it is 2023-03-03 12:00 (March 3, as 2023
    # has 28 days in February: 31 + 30 + 29 days back from June 1 lands on March 3).
    add_polls(store, [at("2023-01-20 08:00"), at("2023-03-03 11:59"), at("2023-03-03 12:01"), at("2023-06-01 12:00")])
    assert poll_cutoff(90) == (at("2023-06-01 12:00"), at("2023-03-03 12:00"))
    pruning = prune(90)
    # The clock is years past 2023: counted from it, every poll would have gone.
    assert timezone.now() - dt.timedelta(days=90) > at("2023-06-01 12:00")
    assert poll_times() == [at("2023-03-03 12:01"), at("2023-06-01 12:00")]
    assert pruning.deleted == 2
    assert (pruning.newest, pruning.cutoff) == (at("2023-06-01 12:00"), at("2023-03-03 12:00"))


def test_a_poll_exactly_at_the_cutoff_is_kept_and_one_a_microsecond_older_goes():
    """Kept at the cutoff, as a report's lookback includes its own start (reports.snapshot)."""
    store = StoreFactory()
    cutoff = at("2023-01-11 18:13:22.479220")
    newest = cutoff + dt.timedelta(days=14)
    add_polls(store, [cutoff - dt.timedelta(microseconds=1), cutoff, newest])
    pruning = prune(14)
    assert pruning.cutoff == cutoff
    assert poll_times() == [cutoff, newest]


def test_every_store_s_old_polls_go_and_every_store_keeps_its_recent_ones():
    first, second = StoreFactory(store_id="first"), StoreFactory(store_id="second")
    add_polls(first, [at("2023-01-01 00:00"), at("2023-05-01 00:00")])
    add_polls(second, [at("2023-01-02 00:00"), at("2023-04-30 00:00")])
    prune(30)  # newest 2023-05-01: cutoff 2023-04-01
    assert list(StatusPoll.objects.order_by("timestamp_utc").values_list("store__store_id", "timestamp_utc")) == [
        ("second", at("2023-04-30 00:00")),
        ("first", at("2023-05-01 00:00")),
    ]


def test_without_polls_there_is_nothing_to_prune_and_the_ledger_says_so():
    pruning = prune(90)
    assert (pruning.deleted, pruning.batches, pruning.cutoff) == (0, 0, None)
    (entry,) = Import.objects.all()
    assert (entry.status, entry.rows_deleted, entry.summary) == (
        Import.Status.COMPLETE,
        0,
        "No polls in the database: nothing to prune.",
    )


def test_nothing_older_than_the_cutoff_deletes_nothing_in_no_batch():
    add_polls(StoreFactory(), hourly(at("2023-01-01 00:00"), 48))
    pruning = prune(14)
    assert (pruning.deleted, pruning.batches) == (0, 0)
    assert StatusPoll.objects.count() == 48
    assert pruning.describe() == (
        "Pruned 0 poll(s) older than 2022-12-19 23:00:00 UTC (14 days before the newest poll, 2023-01-02 23:00:00 UTC)."
    )


# --- Batches -------------------------------------------------------------------------------


def test_a_tiny_batch_size_deletes_everything_old_in_several_batches():
    store = StoreFactory()
    add_polls(store, hourly(at("2023-01-01 00:00"), 7))  # 7 old polls
    add_polls(store, [at("2023-06-01 00:00")])
    pruning = prune(90, batch_size=3)
    assert pruning.deleted == 7
    assert pruning.batches == 3  # 3 + 3 + 1
    assert poll_times() == [at("2023-06-01 00:00")]


def test_a_batch_size_dividing_the_old_polls_exactly_takes_no_empty_extra_batch():
    store = StoreFactory()
    add_polls(store, hourly(at("2023-01-01 00:00"), 6))
    add_polls(store, [at("2023-06-01 00:00")])
    pruning = prune(90, batch_size=3)
    assert (pruning.deleted, pruning.batches) == (6, 2)


class FailingDelete:
    """A database execute wrapper that fails the DELETE number ``failing`` (1 = the first)."""

    def __init__(self, failing):
        self.failing = failing
        self.deletes = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("DELETE"):
            self.deletes += 1
            if self.deletes == self.failing:
                raise OperationalError("canceling statement due to lock timeout")
        return execute(sql, params, many, context)


def test_batches_go_oldest_first_and_a_failed_run_keeps_what_it_deleted_on_record():
    store = StoreFactory()
    # Loaded newest first, so primary-key order is the reverse of time order.
    old = hourly(at("2023-01-01 00:00"), 5)
    add_polls(store, [at("2023-06-01 00:00")] + old[::-1])
    with connection.execute_wrapper(FailingDelete(failing=2)), pytest.raises(OperationalError):
        prune(90, batch_size=2)
    # The first batch (the two oldest) was committed; the second failed and rolled back.
    assert poll_times() == [*old[2:], at("2023-06-01 00:00")]
    (entry,) = Import.objects.all()
    assert entry.status == Import.Status.FAILED
    assert entry.rows_deleted == 2
    assert entry.finished_at is not None
    assert entry.error == (
        "the prune stopped after 2 poll(s) in 1 batch(es), which stay deleted: "
        "OperationalError: canceling statement due to lock timeout"
    )


# --- The ledger ----------------------------------------------------------------------------


def test_each_run_writes_one_complete_ledger_row_saying_what_was_pruned():
    store = StoreFactory()
    add_polls(store, hourly(at("2023-01-01 00:00"), 5) + [at("2023-06-01 12:00")])
    before = timezone.now()
    prune_polls(90, name="prune_polls --older-than 90", batch_size=2)
    (entry,) = Import.objects.all()
    assert (entry.source, entry.feed, entry.name) == (Import.Source.RETENTION, "polls", "prune_polls --older-than 90")
    assert (entry.status, entry.rows_deleted, entry.error) == (Import.Status.COMPLETE, 5, "")
    assert (entry.rows_read, entry.rows_inserted, entry.sha256) == (0, 0, "")
    assert before <= entry.started_at <= entry.finished_at <= timezone.now()
    assert entry.summary.startswith(
        "Pruned 5 poll(s) older than 2023-03-03 12:00:00 UTC "
        "(90 days before the newest poll, 2023-06-01 12:00:00 UTC) in 3 batch(es), the longest "
    )
    assert entry.summary.endswith(" s.")


def test_a_prune_is_not_data_arriving_for_the_ledger_s_last_complete_load():
    add_polls(StoreFactory(), [at("2023-01-01 00:00"), at("2023-06-01 00:00")])
    load = Import.objects.create(
        source=Import.Source.COMMAND,
        name="store_status.csv",
        feed="polls",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status=Import.Status.COMPLETE,
    )
    prune(90)
    assert Import.objects.filter(source=Import.Source.RETENTION, status=Import.Status.COMPLETE).count() == 1
    assert Import.objects.last_complete() == load


# --- Refusals ------------------------------------------------------------------------------


def test_a_retention_below_the_report_lookback_is_refused_and_nothing_is_deleted(settings):
    add_polls(StoreFactory(), [at("2023-01-01 00:00"), at("2023-06-01 00:00")])
    assert settings.REPORT_LOOKBACK_DAYS == 14
    with pytest.raises(RetentionRefused) as refused:
        prune(13)
    assert str(refused.value) == (
        "--older-than 13 is below REPORT_LOOKBACK_DAYS=14: reports would lose polls they read. Keep at least 14 days."
    )
    with pytest.raises(CommandError, match=r"^--older-than 0 is below REPORT_LOOKBACK_DAYS=14: "):
        run_command("--older-than", "0")
    assert StatusPoll.objects.count() == 2
    assert not Import.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_at_the_command_line_a_refusal_is_one_line_naming_the_setting():
    result = manage_py("prune_polls", "--older-than", "7")
    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: --older-than 7 is below REPORT_LOOKBACK_DAYS=14: reports would lose polls they read. "
        "Keep at least 14 days.\n"
    )


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(CommandError, match="--batch-size: invalid positive_int value: '0'"):
        run_command("--older-than", "90", "--batch-size", "0")
    with pytest.raises(ValueError, match="the batch size must be at least 1, not 0"):
        prune(90, batch_size=0)


# --- The command ---------------------------------------------------------------------------


def test_the_command_prunes_and_says_what_it_did():
    add_polls(StoreFactory(), hourly(at("2023-01-01 00:00"), 3) + [at("2023-06-01 00:00")])
    out = run_command("--older-than", "30", "--batch-size", "2", "--verbosity", "2")
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["batch 1", "batch 2"]
    assert lines[2].startswith(
        "Pruned 3 poll(s) older than 2023-05-02 00:00:00 UTC "
        "(30 days before the newest poll, 2023-06-01 00:00:00 UTC) in 2 batch(es)"
    )
    assert poll_times() == [at("2023-06-01 00:00")]
    assert Import.objects.get().name == "prune_polls --older-than 30"


def test_the_command_s_dry_run_says_how_many_would_go_and_deletes_nothing():
    add_polls(StoreFactory(), hourly(at("2023-01-01 00:00"), 3) + [at("2023-06-01 00:00")])
    out = run_command("--older-than", "30", "--dry-run")
    assert out == (
        "Would prune 3 poll(s) older than 2023-05-02 00:00:00 UTC "
        "(30 days before the newest poll, 2023-06-01 00:00:00 UTC).\n"
    )
    assert StatusPoll.objects.count() == 4
    assert not Import.objects.exists()  # nothing was pruned, so nothing to record


def test_the_command_keeps_poll_retention_days_by_default(settings):
    settings.POLL_RETENTION_DAYS = 20
    add_polls(StoreFactory(), [at("2023-05-11 23:59"), at("2023-05-12 00:00"), at("2023-06-01 00:00")])
    assert run_command().startswith("Pruned 1 poll(s) older than 2023-05-12 00:00:00 UTC (20 days before")
    assert Import.objects.get().name == "prune_polls --older-than 20"


def test_the_command_wants_days_when_the_setting_keeps_every_poll(settings):
    settings.POLL_RETENTION_DAYS = 0
    with pytest.raises(CommandError, match=r"^POLL_RETENTION_DAYS is 0 \(keep every poll\): give --older-than DAYS"):
        run_command()


# --- The daily schedule --------------------------------------------------------------------


def test_migrate_creates_the_daily_schedule_and_repairs_it():
    (schedule,) = Schedule.objects.filter(name=retention_tasks.POLL_RETENTION_SCHEDULE)  # the test database's migrate
    next_run = schedule.next_run
    Schedule.objects.filter(pk=schedule.pk).update(schedule_type=Schedule.WEEKLY, repeats=0, func="gone")
    retention_tasks.ensure_poll_retention_schedule()
    (schedule,) = Schedule.objects.filter(name=retention_tasks.POLL_RETENTION_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.repeats, schedule.cluster) == (
        "monitoring.retention_tasks.prune_old_polls",
        Schedule.DAILY,
        -1,
        None,
    )
    assert schedule.next_run == next_run  # a migrate keeps the time of day it runs at


def test_the_schedule_goes_when_the_setting_keeps_every_poll_and_comes_back_with_it():
    named = Schedule.objects.filter(name=retention_tasks.POLL_RETENTION_SCHEDULE)
    with override_settings(POLL_RETENTION_DAYS=0):
        retention_tasks.ensure_poll_retention_schedule()
    assert not named.exists()
    with override_settings(POLL_RETENTION_DAYS=0):
        retention_tasks.ensure_poll_retention_schedule()  # nothing to delete twice
    assert not named.exists()
    with override_settings(POLL_RETENTION_DAYS=30):
        retention_tasks.ensure_poll_retention_schedule()
    (schedule,) = named
    assert schedule.func == "monitoring.retention_tasks.prune_old_polls"
    assert timezone.now() - dt.timedelta(minutes=1) < schedule.next_run <= timezone.now()


def test_the_scheduled_task_prunes_with_the_setting_and_records_the_run(settings):
    settings.POLL_RETENTION_DAYS = 90
    add_polls(StoreFactory(), [at("2023-01-01 00:00"), at("2023-06-01 00:00")])
    described = retention_tasks.prune_old_polls()
    assert described.startswith("Pruned 1 poll(s) older than 2023-03-03 00:00:00 UTC (90 days before the newest")
    entry = Import.objects.get()
    assert (entry.name, entry.rows_deleted, entry.summary) == ("daily retention (POLL_RETENTION_DAYS=90)", 1, described)


def test_the_scheduled_task_keeps_every_poll_when_the_setting_says_so(settings):
    settings.POLL_RETENTION_DAYS = 0
    add_polls(StoreFactory(), [at("2023-01-01 00:00"), at("2023-06-01 00:00")])
    assert retention_tasks.prune_old_polls() == "POLL_RETENTION_DAYS is 0: every poll is kept."
    assert StatusPoll.objects.count() == 2
    assert not Import.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_django_q2_s_scheduler_runs_the_prune_when_it_is_due():
    add_polls(StoreFactory(), [at("2023-01-01 00:00"), at("2023-06-01 00:00")])
    now = timezone.now()
    Schedule.objects.filter(name=retention_tasks.POLL_RETENTION_SCHEDULE).update(next_run=now - dt.timedelta(minutes=1))
    scheduler(broker=get_broker())  # what every qcluster does about twice a minute (sync in tests)
    assert poll_times() == [at("2023-06-01 00:00")]
    assert Import.objects.get().name == "daily retention (POLL_RETENTION_DAYS=90)"
    (schedule,) = Schedule.objects.filter(name=retention_tasks.POLL_RETENTION_SCHEDULE)
    assert now + dt.timedelta(hours=23) < schedule.next_run <= now + dt.timedelta(days=1)


# --- A prune while a report runs -----------------------------------------------------------


@pytest.fixture
def old_and_new_polls(settings, tmp_path):
    """A store polled hourly for the two weeks before 2023-01-15 (one poll in five inactive) and
    once more on 2023-06-01: a report as of 2023-01-15 reads exactly the polls a 90-day prune
    deletes. Report CSVs go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    store = StoreFactory(store_id="s")
    times = hourly(at("2023-01-01 00:00"), 14 * 24 + 1)
    StatusPoll.objects.bulk_create(
        StatusPoll(store=store, timestamp_utc=moment, status="inactive" if n % 5 == 0 else "active")
        for n, moment in enumerate(times)
    )
    add_polls(store, [at("2023-06-01 00:00")])
    return len(times)


def csv_of(data):
    text = io.StringIO()
    generation.write_report_csv(data.figures, text)
    return text.getvalue()


def in_read_transaction() -> bool:
    """Whether this thread's database connection has a transaction open, asked of the driver
    (``read_transaction`` opens an atomic block on PostgreSQL, a raw BEGIN DEFERRED on SQLite)."""
    if connection.vendor == "sqlite":
        return connection.connection.in_transaction
    return connection.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


class PruneThread(threading.Thread):
    """``prune_polls`` on a connection of its own, timed."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.pruning = None
        self.error = None
        self.seconds = None

    def run(self):
        started = time.perf_counter()
        try:
            self.pruning = prune_polls(90, name="prune during a report", batch_size=self.batch_size)
        except Exception as error:  # reported by the test, not lost in the thread
            self.error = error
        finally:
            self.seconds = time.perf_counter() - started
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_prune_during_a_report_s_snapshot_read_neither_waits_for_it_nor_changes_it(old_and_new_polls, monkeypatch):
    """The prune runs, all its batches committed, while the report's read transaction is open
    between its first query and its polls query, and the report still gets the polls it began with.

    PostgreSQL: the snapshot is REPEATABLE READ, and MVCC keeps the deleted rows' old versions
    for it (VACUUM cannot remove them while it is open); a DELETE takes ROW EXCLUSIVE on the table
    and row locks, which no read waits for and which wait for no read. SQLite (WAL): the read
    transaction keeps the snapshot of its first read while the prune commits in the WAL.
    """
    as_of = at("2023-01-15 00:00")
    before = generation.compute_report(as_of=as_of)
    pruner = PruneThread(batch_size=50)
    during = {}
    real_read_polls = snapshot.read_polls

    def read_polls_while_pruning(queryset):
        pruner.start()
        pruner.join(timeout=30)
        during.update(prune_done=not pruner.is_alive(), report_still_reading=in_read_transaction())
        return real_read_polls(queryset)

    monkeypatch.setattr("reports.snapshot.read_polls", read_polls_while_pruning)
    report = Report.objects.create(as_of=as_of)
    assert actions.do_run_report(report.pk) == "Complete"
    monkeypatch.undo()

    assert during == {"prune_done": True, "report_still_reading": True}
    assert pruner.error is None
    assert (pruner.pruning.deleted, pruner.pruning.batches) == (old_and_new_polls, 7)  # 337 in batches of 50
    assert pruner.seconds < 10  # loosely: it did not wait out anything (milliseconds here)
    report.refresh_from_db()
    assert report.csv_file.read().decode() == csv_of(before)
    after = generation.compute_report(as_of=as_of)
    assert csv_of(after) != csv_of(before)  # the polls it read are gone now
    assert StatusPoll.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_prune_and_a_report_running_together_both_complete(old_and_new_polls, monkeypatch):
    """No deadlock, no "database is locked": the prune starts inside the report's read and runs
    on beside it (one poll per batch, so its batches interleave with the report's own writes:
    progress, CSV, status); on SQLite each write waits its turn for the write lock."""
    as_of = at("2023-01-15 00:00")
    before = generation.compute_report(as_of=as_of)
    pruner = PruneThread(batch_size=1)
    real_read_polls = snapshot.read_polls

    def read_polls_and_start_pruning(queryset):
        pruner.start()
        return real_read_polls(queryset)

    monkeypatch.setattr("reports.snapshot.read_polls", read_polls_and_start_pruning)
    report = Report.objects.create(as_of=as_of)
    assert actions.do_run_report(report.pk) == "Complete"
    pruner.join(timeout=60)
    monkeypatch.undo()

    assert not pruner.is_alive()
    assert pruner.error is None
    assert (pruner.pruning.deleted, pruner.pruning.batches) == (old_and_new_polls, old_and_new_polls)
    report.refresh_from_db()
    assert report.csv_file.read().decode() == csv_of(before)
    assert Import.objects.get(source=Import.Source.RETENTION).status == Import.Status.COMPLETE
