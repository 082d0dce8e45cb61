"""Poll retention: polls older than POLL_RETENTION_DAYS are deleted, oldest first, in short batches.

``prune_polls`` runs daily (the django-q2 schedule in ``monitoring.retention_tasks``) and from
``manage.py prune_polls``. How it stays out of the way of loads and reports:

- The cutoff is the given number of days before the **newest poll in the database**, not before
  the wall clock: a historical data set (the sample data is from January 2023) is never wiped out
  because the clock moved on, and for live data, whose newest poll is minutes old, the two agree.
  A poll exactly at the cutoff is kept: a report's lookback includes its start (polls at or after
  ``as_of - lookback``, ``reports.snapshot``), so keeping N days keeps what an N-day lookback reads.
- Polls go in batches (``BATCH_SIZE``, oldest first along the ``statuspoll_time_idx`` index), each
  batch its own short transaction, so its locks last one batch (50,000 of 1.85 M polls on
  PostgreSQL: 0.1 to 0.4 s median, about 1 s at most on a busy two-CPU machine; see
  ``benchmarks/bench_prune.py``). On PostgreSQL a DELETE takes the table's ROW EXCLUSIVE lock, which
  loads share, and row locks: only a load re-inserting a poll that a batch is deleting waits, for
  that batch. A report never waits, nor sees a batch commit during its read: it reads its snapshot in
  one REPEATABLE READ transaction (``reports.snapshot``), which MVCC serves from the rows as they
  were when it began. On SQLite (WAL) a report's read transaction keeps its snapshot while batches commit
  beside it, and a load's write waits its turn for the batch holding the one write lock.
- Each run writes one ``monitoring.Import`` row (source ``retention``): Running, then Complete with
  the count and the cutoff, or Failed with the error. Batches committed before a failure stay
  deleted and are counted on the row. A dry run counts what would go and writes no row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone

from monitoring.ingestion import Feed
from monitoring.models import Import, StatusPoll

log = logging.getLogger(__name__)

# Polls deleted per transaction: big enough that 1.85 M polls take seconds, small enough that a
# batch's locks last a fraction of a second.
BATCH_SIZE = 50_000


class RetentionRefused(ValueError):
    """A retention shorter than the reports' lookback: reports would lose polls they read."""


@dataclass
class PollPruning:
    """What ``prune_polls`` did (or, in a dry run, would do)."""

    older_than_days: int
    # The newest poll the cutoff counts back from, and the cutoff; both None without any poll.
    newest: dt.datetime | None
    cutoff: dt.datetime | None
    dry_run: bool = False
    deleted: int = 0  # polls deleted (a dry run: polls that would be)
    # Seconds each batch's transaction held its locks, in the order they ran.
    batch_seconds: list[float] = field(default_factory=list)

    @property
    def batches(self) -> int:
        return len(self.batch_seconds)

    def describe(self) -> str:
        """One sentence for logs, the task result, the command and the ledger's summary."""
        if self.cutoff is None or self.newest is None:
            return "No polls in the database: nothing to prune."
        verb = "Would prune" if self.dry_run else "Pruned"
        text = (
            f"{verb} {self.deleted:,} poll(s) older than {self.cutoff:%Y-%m-%d %H:%M:%S} UTC "
            f"({self.older_than_days} days before the newest poll, {self.newest:%Y-%m-%d %H:%M:%S} UTC)"
        )
        if self.batches:
            text += f" in {self.batches} batch(es), the longest {max(self.batch_seconds):.2f} s"
        return text + "."


def check_retention_days(days: int, option: str = "--older-than") -> None:
    """Refuse a retention shorter than REPORT_LOOKBACK_DAYS, with the sentence saying why."""
    lookback = settings.REPORT_LOOKBACK_DAYS
    if days < lookback:
        raise RetentionRefused(
            f"{option} {days} is below REPORT_LOOKBACK_DAYS={lookback}: reports would lose polls they read. "
            f"Keep at least {lookback} days."
        )


def poll_cutoff(older_than_days: int, using: str = DEFAULT_DB_ALIAS) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(newest poll, cutoff): polls before the cutoff are older than ``older_than_days`` days
    counted back from the newest poll; (None, None) without any poll."""
    newest = StatusPoll.objects.using(using).newest_time()
    if newest is None:
        return None, None
    return newest, newest - dt.timedelta(days=older_than_days)


def prune_polls(
    older_than_days: int,
    *,
    name: str,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> PollPruning:
    """Delete the polls older than ``older_than_days`` days before the newest poll, ``batch_size``
    at a time, each batch in its own transaction, oldest first; record the run in the ledger as
    ``name``. Raises ``RetentionRefused`` below the reports' lookback, and re-raises a database
    error after marking the ledger row Failed (batches already committed stay deleted). Meant to
    run outside a transaction: inside one, the batches are its savepoints and hold their locks
    until it ends."""
    check_retention_days(older_than_days)
    if batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, not {batch_size}")
    newest, cutoff = poll_cutoff(older_than_days, using)
    pruning = PollPruning(older_than_days, newest, cutoff, dry_run=dry_run)
    if dry_run:
        if cutoff is not None:
            pruning.deleted = StatusPoll.objects.using(using).filter(timestamp_utc__lt=cutoff).count()
        return pruning
    entry = Import.objects.using(using).create(
        source=Import.Source.RETENTION, feed=Feed.POLLS.value, name=name[:300], started_at=timezone.now()
    )
    try:
        if cutoff is not None:
            _delete_in_batches(pruning, cutoff, batch_size, using)
    except BaseException as error:
        _record_failure(entry, pruning, error, using)
        raise
    entry.status = Import.Status.COMPLETE
    entry.finished_at = timezone.now()
    entry.rows_deleted = pruning.deleted
    entry.summary = pruning.describe()
    entry.save(using=using)
    return pruning


def _delete_in_batches(pruning: PollPruning, cutoff: dt.datetime, batch_size: int, using: str) -> None:
    statement, params = _oldest_batch_delete(cutoff, batch_size, using)
    while True:
        started = time.perf_counter()
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(statement, params)
            deleted = cursor.rowcount
        seconds = time.perf_counter() - started
        if deleted == 0:
            return  # the empty last look is no batch: it deleted and locked nothing
        pruning.batch_seconds.append(seconds)
        pruning.deleted += deleted
        log.debug("poll retention: batch %s deleted %s polls in %.3f s", pruning.batches, deleted, seconds)
        if deleted < batch_size:
            return


def _oldest_batch_delete(cutoff: dt.datetime, batch_size: int, using: str) -> tuple[str, tuple]:
    """The DELETE of the ``batch_size`` oldest polls before ``cutoff``, and its parameters.

    The polls are picked along the time index (ORDER BY ... LIMIT) and deleted by primary key. On
    PostgreSQL the keys travel as one array (``= ANY(ARRAY(...))``) so the planner looks each up in
    the primary key index; with ``IN (SELECT ...)`` it hashes the 50,000 keys and scans the whole
    table instead (EXPLAIN ANALYZE on 925,000 polls: 0.17 s a batch against 0.06 s). SQLite looks
    ``IN`` keys up by rowid anyway.
    """
    connection = connections[using]
    oldest = (
        StatusPoll.objects.using(using)
        .filter(timestamp_utc__lt=cutoff)
        .order_by("timestamp_utc")
        .values_list("pk", flat=True)[:batch_size]
    )
    select_sql, params = oldest.query.get_compiler(using).as_sql()
    table = connection.ops.quote_name(StatusPoll._meta.db_table)
    pk_column = StatusPoll._meta.pk.column
    assert pk_column is not None  # typed optional for fields without a column; a primary key has one
    pk = connection.ops.quote_name(pk_column)
    if connection.vendor == "postgresql":
        return f"DELETE FROM {table} WHERE {pk} = ANY(ARRAY({select_sql}))", params
    return f"DELETE FROM {table} WHERE {pk} IN ({select_sql})", params


def _record_failure(entry: Import, pruning: PollPruning, error: BaseException, using: str) -> None:
    entry.status = Import.Status.FAILED
    entry.finished_at = timezone.now()
    entry.rows_deleted = pruning.deleted
    entry.error = (
        f"the prune stopped after {pruning.deleted:,} poll(s) in {pruning.batches} batch(es), which stay deleted: "
        f"{type(error).__name__}: {error}"
    )
    try:
        entry.save(using=using)
    except DatabaseError:
        # The database that failed the prune may refuse this too; the prune's error matters more.
        log.exception("could not record the failed prune %s", entry.pk)
