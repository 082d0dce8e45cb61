"""Sharded reports: a report of many stores computed in pieces by any workers, in one snapshot.

A report of more than ``REPORT_SHARD_STORES`` stores (PostgreSQL only) is run by its
*coordinator*, the worker that claimed the report (``reports.actions.do_run_report``):

1. It opens a transaction of its own (REPEATABLE READ, READ ONLY) on a second connection and
   exports its snapshot with ``pg_export_snapshot()``, as parallel ``pg_dump`` does. The report
   time and the list of stores are read in that snapshot.
2. It cuts the stores, in primary-key order, into shards of nearly equal size (as many as
   ``ceil(stores / REPORT_SHARD_STORES)``), writes them as ``ReportShard`` rows and queues one
   django-q2 task per shard (``reports.tasks.run_report_shard``), which any worker on any
   machine may take.
3. A shard's worker starts a transaction with ``SET TRANSACTION SNAPSHOT`` of that snapshot, so
   every shard sees exactly what the coordinator saw, whatever loads commit meanwhile; it reads
   and computes its stores (``compute_report(store_pk_range=...)``) and keeps its parts of the
   CSVs and of the dashboard summary in its row.
4. The coordinator runs pending shards itself while it waits (so a cluster of one worker
   finishes too: nothing waits for a task that cannot start), gives back shards whose heartbeat
   stopped, writes the report's progress (the share of shards done), and once every shard is
   Complete ends its transaction and merges the parts (``reports.shard_merge``) into the one
   CSV, byte for byte the CSV of the same report computed in one piece.

Every shard is claimed, heartbeated and retried like a report: a shard attempt that fails (an
error, a lost connection, a stopped or vanished worker) is queued again while the shard has had
fewer than ``REPORT_MAX_ATTEMPTS`` attempts; after that the report fails with the shard's
sentence. If the coordinator dies its connection closes, PostgreSQL ends its transaction and
the snapshot can no longer be imported: shards that cannot import it step back without
counting an attempt, the report's own heartbeat stops, and the stalled-report recovery runs the
report again from a new snapshot (docs/jobs.md).
"""

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connection, connections
from django.db import transaction as db_transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task

from monitoring.models import StatusPoll, Store
from reports import generation, shard_merge
from reports.attention import attention_summary_part, merge_attention_summaries
from reports.db_work import on_a_working_connection
from reports.heartbeat import Heartbeat
from reports.models import Report, ReportShard
from reports.worker_signals import WorkerShutdown, current_cluster, worker_identity

log = logging.getLogger(__name__)

ShardStatus = ReportShard.Status

# How often the coordinator looks at its shards while other workers run them, and how often it
# touches its snapshot's connection (also noticing at once when that connection broke).
WAIT_SECONDS = 0.25
KEEPALIVE_SECONDS = 5.0
SHARD_TASK = "reports.tasks.run_report_shard"


class ReportTakenOver(Exception):
    """The report is no longer this coordinator's: recovery gave it to another run, or one of
    its shards failed it."""


class SnapshotGone(Exception):
    """The report's exported snapshot cannot be imported any more (its coordinator is gone)."""


@dataclass(frozen=True)
class ReportResult:
    """What a sharded run gives the report: its time, stores and the merged files' texts."""

    as_of: dt.datetime
    store_count: int
    csv_text: str
    outages_text: str
    summary: dict[str, Any]


def is_sharded(report: Report) -> bool:
    """Whether ``report`` is computed in shards: on PostgreSQL, outside a transaction (a shard
    must start one of its own), when it covers more than ``REPORT_SHARD_STORES`` stores."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    return _stores_in_scope(report).count() > settings.REPORT_SHARD_STORES


def split_stores(store_pks: Sequence[int], shard_stores: int) -> list[tuple[int, int]]:
    """``(first_pk, last_pk)`` of each shard: the sorted ``store_pks`` cut into
    ``ceil(len / shard_stores)`` runs of nearly equal length (at most one store apart)."""
    count = len(store_pks)
    if count == 0:
        return []
    shards = math.ceil(count / shard_stores)
    bounds = [round(number * count / shards) for number in range(shards + 1)]
    return [(store_pks[start], store_pks[end - 1]) for start, end in zip(bounds, bounds[1:], strict=False)]


def coordinate(report: Report, still_ours: Callable[[float], bool]) -> ReportResult:
    """Run ``report`` (claimed by this worker, attempt ``report.attempts``) in shards.

    ``still_ours(progress)`` writes the report's progress and heartbeat and says whether the
    report is still this run's. Raises ``ReportTakenOver`` when it is not (or a shard failed
    it), ``generation.NoPollsError`` when its stores have no polls.
    """
    owner_ids = None if report.owner_id is None else [report.owner_id]
    with ExportedSnapshot() as snapshot:
        as_of = report.as_of or snapshot.newest_poll(owner_ids)
        if as_of is None:
            raise (
                generation.NoPollsError()
                if owner_ids is None
                else generation.NoPollsError(generation.NO_POLLS_IN_SCOPE)
            )
        store_pks = snapshot.store_pks(owner_ids)
        ranges = split_stores(store_pks, settings.REPORT_SHARD_STORES)
        shards = _create_shards(report, ranges)
        if not Report.objects.filter(pk=report.pk, status=Report.Status.RUNNING, attempts=report.attempts).update(
            as_of=as_of, snapshot_id=snapshot.snapshot_id, shard_count=len(shards)
        ):
            raise ReportTakenOver
        report.as_of, report.snapshot_id, report.shard_count = as_of, snapshot.snapshot_id, len(shards)
        for shard in shards:
            queue_shard(shard.pk)
        log.info(
            "report %s: %s stores in %s shards, snapshot %s",
            report.report_id,
            len(store_pks),
            len(shards),
            snapshot.snapshot_id,
        )
        _wait_for_shards(report, snapshot, still_ours)
    return _merge(report, as_of)


def run_shard_task(shard_pk: int) -> str | None:
    """Task: run shard ``shard_pk``, or, when another worker took it already, another Pending
    shard of the same report run; None when there is nothing left to run."""
    shard = _claim(shard_pk, any_of_its_report=True)
    if shard is None:
        log.info("report shard pk=%s is not Pending: this delivery of its task does nothing", shard_pk)
        return None
    return run_claimed_shard(shard)


def run_claimed_shard(shard: ReportShard) -> str:
    """Compute a shard this worker claimed, inside its report's snapshot; returns its status."""
    report = Report.objects.get(pk=shard.report_id)
    owned = ReportShard.objects.filter(pk=shard.pk, status=ShardStatus.RUNNING, attempts=shard.attempts)
    with Heartbeat(
        lambda: on_a_working_connection(lambda: owned.update(heartbeat_at=timezone.now()) == 1),
        settings.REPORT_HEARTBEAT_SECONDS,
    ):
        try:
            parts = _compute(report, shard)
        except SnapshotGone:
            # Not the shard's fault: its coordinator is gone (the report will be run again) or
            # done. The attempt is not counted and the shard is not queued again.
            on_a_working_connection(
                lambda: owned.update(
                    status=ShardStatus.PENDING,
                    attempts=F("attempts") - 1,
                    worker="",
                    heartbeat_at=None,
                    started_at=None,
                )
            )
            log.warning("%s: the report's snapshot is gone; the shard steps back", shard)
            return ShardStatus.PENDING
        except (OperationalError, InterfaceError) as error:
            return give_back(shard, f"its database connection was lost ({type(error).__name__}: {str(error).strip()})")
        except Exception as error:
            log.exception("%s failed", shard)
            return give_back(shard, f"{type(error).__name__}: {error}")
        except WorkerShutdown as stop:
            give_back(shard, f"its worker was stopped ({stop.signal_name})")
            raise
        except BaseException as error:
            give_back(shard, _interruption(error))
            raise
    if on_a_working_connection(lambda: owned.update(status=ShardStatus.COMPLETE, finished_at=timezone.now(), **parts)):
        return ShardStatus.COMPLETE
    log.warning("%s was taken over by another run; its result is discarded", shard)
    return ShardStatus.PENDING


def give_back(shard: ReportShard, why: str) -> str:
    """After a failed or interrupted attempt (``why``): the shard is Pending and queued again
    while it has had fewer than REPORT_MAX_ATTEMPTS attempts; otherwise it is Failed and so is
    its report, with the shard's sentence."""
    owned = ReportShard.objects.filter(pk=shard.pk, status=ShardStatus.RUNNING, attempts=shard.attempts)
    now = timezone.now()
    if shard.attempts < settings.REPORT_MAX_ATTEMPTS:
        if on_a_working_connection(
            lambda: owned.update(
                status=ShardStatus.PENDING, error=why, worker="", heartbeat_at=None, started_at=None, queued_at=now
            )
        ):
            log.warning(
                "%s: %s (attempt %s of %s); queued again", shard, why, shard.attempts, settings.REPORT_MAX_ATTEMPTS
            )
            queue_shard(shard.pk)
        return ShardStatus.PENDING
    sentence = (
        f"Shard {shard.number} of {_shard_count(shard)} (stores with primary keys {shard.first_store_pk} to "
        f"{shard.last_store_pk}) failed {shard.attempts} times; its last attempt: {why}. Trigger a new report."
    )
    if on_a_working_connection(lambda: owned.update(status=ShardStatus.FAILED, error=why, finished_at=now)):
        on_a_working_connection(
            lambda: Report.objects.filter(
                pk=shard.report_id, status=Report.Status.RUNNING, attempts=shard.report_attempt
            ).update(status=Report.Status.FAILED, error=sentence, finished_at=now)
        )
        log.warning("%s failed for good; its report fails: %s", shard, why)
    return ShardStatus.FAILED


def queue_shard(shard_pk: int) -> None:
    """Hand a shard to the job queue. A queue that cannot be reached leaves it Pending: the
    coordinator runs Pending shards itself while it waits."""
    try:
        task_id = async_task(SHARD_TASK, shard_pk, group="report-shards")
    except Exception:
        log.exception("could not queue report shard pk=%s; its coordinator will run it", shard_pk)
        return
    ReportShard.objects.filter(pk=shard_pk).update(task_id=task_id or "", queued_at=timezone.now())


def give_back_cluster_shards(cluster: str, why: str) -> list[int]:
    """After a qcluster run stopped: the shards still Running in it get another attempt (or fail
    their report when out of attempts); returns their primary keys."""
    if not cluster:
        return []
    given = []
    for shard in ReportShard.objects.filter(cluster=cluster, status=ShardStatus.RUNNING):
        give_back(shard, f"its qcluster was stopped ({why})")
        given.append(shard.pk)
    return given


class ExportedSnapshot:
    """A read-only REPEATABLE READ transaction on a connection of its own, exported with
    ``pg_export_snapshot()`` for the shards to import; it lasts for the ``with`` block."""

    def __init__(self, alias: str = DEFAULT_DB_ALIAS):
        self._wrapper = connections.create_connection(alias)
        self.snapshot_id = ""
        self._touched = 0.0

    def __enter__(self) -> "ExportedSnapshot":
        self._wrapper.ensure_connection()
        with self._wrapper.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (self.snapshot_id,) = cursor.fetchone()
        self._touched = time.monotonic()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            with self._wrapper.cursor() as cursor:
                cursor.execute("COMMIT")
        except DatabaseError:
            pass  # the connection is gone: so is the transaction
        finally:
            self._wrapper.close()

    def keep_alive(self) -> None:
        """Touch the connection now and then (an idle-in-transaction timeout, a dead server);
        raises SnapshotGone when it broke."""
        if time.monotonic() - self._touched < KEEPALIVE_SECONDS:
            return
        try:
            with self._wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            raise SnapshotGone(str(error)) from error
        self._touched = time.monotonic()

    def newest_poll(self, owner_ids: list[int] | None) -> dt.datetime | None:
        """The newest poll of the report's stores, in the snapshot (``read_snapshot``'s rule)."""
        if owner_ids is None:
            query = StatusPoll.objects.order_by("-timestamp_utc").values_list("timestamp_utc")[:1]
            rows = self._fetch(query)
            return rows[0][0] if rows else None
        newest = StatusPoll.objects.filter(store=OuterRef("pk")).order_by("-timestamp_utc").values("timestamp_utc")[:1]
        per_store = (
            Store.objects.filter(owner_id__in=owner_ids)
            .order_by()
            .annotate(store_newest=Subquery(newest))
            .values_list("store_newest")
        )
        values = [row[0] for row in self._fetch(per_store) if row[0] is not None]
        return max(values) if values else None

    def store_pks(self, owner_ids: list[int] | None) -> list[int]:
        stores = Store.objects.order_by("pk")
        if owner_ids is not None:
            stores = stores.filter(owner_id__in=owner_ids)
        return [row[0] for row in self._fetch(stores.values_list("pk"))]

    def _fetch(self, queryset: Any) -> list[tuple[Any, ...]]:
        sql, params = queryset.query.sql_with_params()
        with self._wrapper.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        self._touched = time.monotonic()
        return rows


# --- Internals -----------------------------------------------------------------------------


def _stores_in_scope(report: Report):
    stores = Store.objects.all()
    return stores if report.owner_id is None else stores.filter(owner_id=report.owner_id)


def _create_shards(report: Report, ranges: list[tuple[int, int]]) -> list[ReportShard]:
    # Shards of an earlier run of this report (its coordinator died) are replaced: their
    # snapshot is gone, and their workers' conditional writes find no row.
    ReportShard.objects.filter(report=report).delete()
    return ReportShard.objects.bulk_create(
        ReportShard(
            report=report, report_attempt=report.attempts, number=number, first_store_pk=first, last_store_pk=last
        )
        for number, (first, last) in enumerate(ranges, start=1)
    )


def _claim(shard_pk: int, *, any_of_its_report: bool) -> ReportShard | None:
    """Claim shard ``shard_pk`` if Pending; else (``any_of_its_report``) the first Pending shard
    of its report's run. Only shards of a Running report's current run are claimed."""
    shard = ReportShard.objects.filter(pk=shard_pk).first()
    if shard is None:
        return None
    candidates = [shard.pk]
    if any_of_its_report:
        candidates += list(
            ReportShard.objects.filter(
                report_id=shard.report_id, report_attempt=shard.report_attempt, status=ShardStatus.PENDING
            )
            .exclude(pk=shard.pk)
            .order_by("number")
            .values_list("pk", flat=True)
        )
    for pk in candidates:
        claimed = _claim_exactly(pk)
        if claimed is not None:
            return claimed
    return None


def _claim_exactly(shard_pk: int) -> ReportShard | None:
    now = timezone.now()
    # The report's conditions as an EXISTS, not a join: Django turns an update filtered across a
    # join into "WHERE id IN (SELECT ...)", and PostgreSQL, after waiting for a concurrent claim
    # of the row, re-checks only that id, not the status read in the subquery, so two workers
    # could both claim the shard. With the status on the updated row itself, the second sees
    # Running and claims nothing.
    report_runs_it = Report.objects.filter(
        pk=OuterRef("report_id"), status=Report.Status.RUNNING, attempts=OuterRef("report_attempt")
    )
    claimed = ReportShard.objects.filter(Exists(report_runs_it), pk=shard_pk, status=ShardStatus.PENDING).update(
        status=ShardStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        worker=worker_identity(),
        cluster=current_cluster(),
    )
    return ReportShard.objects.get(pk=shard_pk) if claimed else None


def _compute(report: Report, shard: ReportShard) -> dict[str, Any]:
    """The shard's parts, read and computed inside the report's exported snapshot."""
    owner_ids = None if report.owner_id is None else [report.owner_id]
    connection.ensure_connection()  # connecting runs statements of its own: not in the snapshot's transaction
    with db_transaction.atomic():
        with connection.cursor() as cursor:
            # As pg_dump's workers do: the isolation level, then the snapshot, before any query.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:  # (never in a savepoint: PostgreSQL refuses the import in a subtransaction)
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [report.snapshot_id])
            except DatabaseError as error:
                raise SnapshotGone(str(error)) from error
        data = generation.compute_report(
            as_of=report.as_of,
            method=report.method,
            owner_ids=owner_ids,
            store_pk_range=(shard.first_store_pk, shard.last_store_pk),
        )
    return {
        "store_count": data.store_count,
        "csv_part": shard_merge.report_csv_part(data.figures, report.columns),
        "outages_part": shard_merge.outages_csv_part(data.figures, data.feeds),
        "summary_part": attention_summary_part(data.figures, data.feeds),
    }


def _wait_for_shards(report: Report, snapshot: ExportedSnapshot, still_ours: Callable[[float], bool]) -> None:
    """Until every shard of this run is Complete: run Pending ones here, give back stalled ones,
    keep the report's progress and the snapshot alive."""
    shards = ReportShard.objects.filter(report=report, report_attempt=report.attempts)
    done_written = -1
    while True:
        pending = shards.filter(status=ShardStatus.PENDING).order_by("number").values_list("pk", flat=True).first()
        if pending is not None:
            shard = _claim_exactly(pending)
            if shard is not None:
                run_claimed_shard(shard)
        states = dict(shards.values_list("pk", "status"))
        done = sum(status == ShardStatus.COMPLETE for status in states.values())
        if any(status == ShardStatus.FAILED for status in states.values()):
            raise ReportTakenOver  # the shard failed the report
        if done != done_written:
            if not still_ours(done / len(states)):  # progress: the share of shards done
                raise ReportTakenOver
            done_written = done
        elif not _report_is_ours(report):
            raise ReportTakenOver
        if done == len(states):
            return
        _give_back_stalled(shards)
        snapshot.keep_alive()
        if pending is None:
            time.sleep(WAIT_SECONDS)


def _give_back_stalled(shards) -> None:
    stalled_before = timezone.now() - dt.timedelta(seconds=settings.REPORT_STALL_SECONDS)
    for shard in shards.filter(status=ShardStatus.RUNNING, heartbeat_at__lt=stalled_before):
        give_back(
            shard,
            f"its worker {shard.worker or '(unknown)'} sent no heartbeat since "
            f"{shard.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC",
        )


def _report_is_ours(report: Report) -> bool:
    return Report.objects.filter(pk=report.pk, status=Report.Status.RUNNING, attempts=report.attempts).exists()


def _merge(report: Report, as_of: dt.datetime) -> ReportResult:
    shards = ReportShard.objects.filter(report=report, report_attempt=report.attempts).order_by("number")
    rows = list(shards.values_list("store_count", "csv_part", "outages_part", "summary_part"))
    result = ReportResult(
        as_of=as_of,
        store_count=sum(count or 0 for count, *_ in rows),
        csv_text=shard_merge.merge_report_csv([part for _, part, _, _ in rows], report.columns),
        outages_text=shard_merge.merge_outages_csv([part for _, _, part, _ in rows]),
        summary=merge_attention_summaries([part for *_, part in rows]),
    )
    # The parts have done their work; the shards stay as the record of who ran what.
    shards.update(csv_part="", outages_part="", summary_part={})
    return result


def _shard_count(shard: ReportShard) -> int:
    return ReportShard.objects.filter(report_id=shard.report_id, report_attempt=shard.report_attempt).count()


def _interruption(error: BaseException) -> str:
    if isinstance(error, TimeoutException):
        return f"it ran longer than the {settings.REPORT_TIMEOUT_SECONDS}-second limit (REPORT_TIMEOUT_SECONDS)"
    return f"its worker stopped ({type(error).__name__})"
