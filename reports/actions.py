"""Report jobs: trigger a report, run it in a worker, recover reports whose worker died.

The API, the dashboard, the django-q2 tasks (``reports.tasks``) and the tests call these
functions; nothing else changes a report's status.

A report is Pending until a worker claims it with a conditional update (so a task delivered
twice runs once), Running while that worker computes it, then Complete or Failed. Every write
of a run is conditional on the run still owning the report (status Running and its attempt
number), so a run that was given up for dead can never overwrite its successor.
"""

import datetime as dt
import io
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F, Max, Min, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django_q.conf import Conf
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task

from monitoring.models import Owner, StatusPoll
from reports import generation, shards
from reports.attention import attention_summary
from reports.db_work import on_a_working_connection
from reports.heartbeat import Heartbeat
from reports.models import COLUMN_SETS, DEFAULT_COLUMNS, Report
from reports.signals import report_completed
from reports.uptime import DEFAULT_METHOD, METHODS
from reports.worker_signals import WorkerShutdown, current_cluster, worker_identity

log = logging.getLogger(__name__)
T = TypeVar("T")

Status = Report.Status

# Progress is written at every stage change and otherwise at most this often.
PROGRESS_WRITE_SECONDS = 1.0


def do_trigger_report(
    *,
    as_of: dt.datetime | None = None,
    method: str = DEFAULT_METHOD,
    columns: str = DEFAULT_COLUMNS,
    owner: Owner | None = None,
    requested_by: User | None = None,
) -> Report:
    """Create a Pending report and queue its task when the current transaction commits.

    ``as_of`` must be timezone-aware; None means "the newest poll", resolved by the task
    inside its own snapshot. ``columns`` names the CSV's column set (``COLUMN_SETS``).
    ``owner``: the report covers that owner's stores only; None, every store.
    Raises ValueError for an unknown method or column set, or a naive as_of.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    if columns not in COLUMN_SETS:
        raise ValueError(f"Unknown columns {columns!r}: use one of {', '.join(COLUMN_SETS)}.")
    if as_of is not None and timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware.")
    report = Report.objects.create(
        as_of=as_of,
        method=method,
        columns=columns,
        owner=owner,
        requested_by=requested_by,
        queued_at=timezone.now(),
    )
    transaction.on_commit(partial(_queue, report.pk))
    return report


def do_run_report(report_pk: int) -> str | None:
    """Run a Pending report to Complete or Failed; returns the final status.

    Returns None, doing nothing, when the report is not Pending (another delivery of the
    same task claimed it, or it is finished).
    """
    run = _claim(report_pk)
    if run is None:
        log.info("report pk=%s is not Pending: this delivery of its task does nothing", report_pk)
        return None
    report = run.report
    progress = _ProgressWriter(run)
    with Heartbeat(run.beat, settings.REPORT_HEARTBEAT_SECONDS):
        try:
            if shards.is_sharded(report):
                result = shards.coordinate(report, still_ours=progress.write_now)
            else:
                result = _compute_in_one_piece(report, progress)
            if result.store_count == 0:
                return run.fail(_no_stores_sentence(result.as_of, report.owner))
            csv_name, outages_name = _save_files(report, result)
        except (_Superseded, shards.ReportTakenOver):
            if Report.objects.filter(pk=report.pk, status=Status.FAILED, attempts=report.attempts).exists():
                return Status.FAILED  # one of its shards failed it, with the shard's sentence
            log.warning("report %s was taken over by another run; this run stops", report.report_id)
            return None
        except generation.NoPollsError as error:
            return run.fail(str(error))
        except (OperationalError, InterfaceError, shards.SnapshotGone) as error:
            # The database went away under the report (server restarted, connection terminated):
            # not the report's fault, so it gets another run on a fresh connection.
            log.warning("report %s lost its database connection: %s", report.report_id, error)
            return run.give_back(f"its database connection was lost ({type(error).__name__}: {str(error).strip()})")
        except Exception as error:
            log.exception("report %s failed", report.report_id)
            return run.fail(
                f"The report could not be computed: {type(error).__name__}: {error}. "
                "The worker log has the details; trigger a new report to try again."
            )
        except WorkerShutdown as stop:
            # The worker was told to stop (its qcluster is stopping): another run continues.
            run.give_back(f"its worker was stopped ({stop.signal_name})")
            raise
        except BaseException as error:
            # A timeout (django-q2 raises it in the task), or an interruption we did not ask for.
            run.fail(_interruption_sentence(error))
            raise
        if run.update(
            status=Status.COMPLETE,
            progress=1.0,
            as_of=result.as_of,
            store_count=result.store_count,
            csv_file=csv_name,
            outages_file=outages_name,
            summary=result.summary,
            finished_at=timezone.now(),
        ):
            report_completed.send(sender=Report, report=Report.objects.get(pk=report.pk))
            return Status.COMPLETE
    # Another run owns the report now: this run's files are nobody's.
    report.csv_file.storage.delete(csv_name)
    report.outages_file.storage.delete(outages_name)
    log.warning("report %s was taken over by another run; its result is discarded", report.report_id)
    return None


def _compute_in_one_piece(report: Report, progress: "_ProgressWriter") -> shards.ReportResult:
    """The report computed by this worker alone, as the same result a sharded run gives."""
    owners = None if report.owner_id is None else [report.owner_id]  # None: every store
    data = generation.compute_report(as_of=report.as_of, method=report.method, progress=progress, owner_ids=owners)
    if data.store_count == 0:
        return shards.ReportResult(data.as_of, 0, "", "", {})
    csv_text, outages_text = io.StringIO(), io.StringIO()
    generation.write_report_csv(data.figures, csv_text, columns=report.columns)
    generation.write_outages_csv(data.figures, data.feeds, outages_text)
    # What the dashboard shows from the newest complete report (stores needing attention,
    # offline now): kept with the report, so a page never recomputes it.
    summary = attention_summary(data.figures, data.feeds)
    return shards.ReportResult(data.as_of, data.store_count, csv_text.getvalue(), outages_text.getvalue(), summary)


@dataclass
class Recovery:
    """What ``recover_stalled_reports`` did, as lists of report ids."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{len(self.requeued)} stalled report(s) re-queued, {len(self.failed)} failed, "
            f"{len(self.resent)} pending report(s) queued again"
        )


def recover_stalled_reports(*, now: dt.datetime | None = None) -> Recovery:
    """Deal with reports whose task is gone.

    A Running report whose heartbeat is older than REPORT_STALL_SECONDS lost its worker: it
    goes back to Pending and is queued again while it has had fewer than REPORT_MAX_ATTEMPTS
    runs, and is marked Failed with the reason otherwise. A Pending report queued longer ago
    than the queue's retry time is queued again (a Redis task dies with its worker); a
    duplicate delivery does nothing, so this is safe. Safe to run from several workers at once.
    """
    now = now or timezone.now()
    recovery = Recovery()
    stalled_before = now - dt.timedelta(seconds=settings.REPORT_STALL_SECONDS)
    for report in Report.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stalled_before):
        still_stalled = Report.objects.filter(
            pk=report.pk, status=Status.RUNNING, attempts=report.attempts, heartbeat_at__lt=stalled_before
        )
        if report.attempts < settings.REPORT_MAX_ATTEMPTS:
            if still_stalled.update(**_pending_again(now)):
                log.warning("report %s: %s; queued again", report.report_id, _stall_description(report))
                transaction.on_commit(partial(_queue, report.pk))
                recovery.requeued.append(report.report_id)
        elif still_stalled.update(status=Status.FAILED, finished_at=now, error=_stalled_sentence(report)):
            log.warning("report %s: %s; marked Failed", report.report_id, _stall_description(report))
            recovery.failed.append(report.report_id)

    # The queue hands a task out again after its retry time; a Pending report older than that lost it.
    resend_before = now - dt.timedelta(seconds=Conf.RETRY)
    waiting = Report.objects.filter(status=Status.PENDING).filter(
        Q(queued_at__lt=resend_before) | Q(queued_at__isnull=True, created_at__lt=resend_before)
    )
    for report in waiting:
        if Report.objects.filter(pk=report.pk, status=Status.PENDING, queued_at=report.queued_at).update(queued_at=now):
            log.warning("report %s has been Pending since %s; queued again", report.report_id, report.queued_at)
            transaction.on_commit(partial(_queue, report.pk))
            recovery.resent.append(report.report_id)
    return recovery


def give_back_cluster_reports(cluster: str, why: str) -> list[str]:
    """After a qcluster run stopped (all its processes gone): the reports its workers ran and did
    not finish get another run; returns their ids.

    Reports still Running in it (a worker that had to be killed) are given back, or fail when
    out of attempts (``_Run.give_back``). Reports its workers gave back themselves while it
    stopped are queued once more: their task may have gone to the cluster's own pusher in its
    last moments (a Redis pop answered to a dying process is lost). A duplicate task is harmless.
    """
    if not cluster:
        return []
    ours = Report.objects.filter(cluster=cluster)
    running, pending = on_a_working_connection(
        lambda: (list(ours.filter(status=Status.RUNNING)), list(ours.filter(status=Status.PENDING)))
    )
    handed_over = []
    for report in running:
        if _Run(report).give_back(f"its qcluster was stopped ({why})") is not None:
            handed_over.append(report.report_id)
    for report in pending:
        _queue(report.pk)
        handed_over.append(report.report_id)
    # Shards its workers ran for other workers' reports: another attempt each.
    on_a_working_connection(lambda: shards.give_back_cluster_shards(cluster, why))
    return handed_over


# --- Internals -----------------------------------------------------------------------------


class _Superseded(Exception):
    """The report is no longer this run's: recovery gave it to another run."""


class _Run:
    """One attempt at a report. Its writes apply only while it still owns the report."""

    def __init__(self, report: Report):
        self.report = report
        self._owned = Report.objects.filter(pk=report.pk, status=Status.RUNNING, attempts=report.attempts)

    def update(self, **fields) -> bool:
        return on_a_working_connection(lambda: self._owned.update(**fields) == 1)

    def beat(self) -> bool:
        return self.update(heartbeat_at=timezone.now())

    def give_back(self, why: str) -> str | None:
        """After an interruption that is not the report's fault (``why``): Pending and queued again
        while it has had fewer than REPORT_MAX_ATTEMPTS runs, Failed saying why otherwise."""
        report = self.report
        if report.attempts >= settings.REPORT_MAX_ATTEMPTS:
            return self.fail(
                f"The report was interrupted on its last attempt ({report.attempts} of "
                f"{settings.REPORT_MAX_ATTEMPTS}): {why}. Trigger a new report."
            )
        if not self.update(**_pending_again(timezone.now())):
            return None
        log.warning(
            "report %s: %s (attempt %s of %s); queued again",
            report.report_id,
            why,
            report.attempts,
            settings.REPORT_MAX_ATTEMPTS,
        )
        transaction.on_commit(partial(_queue, report.pk))
        return Status.PENDING

    def fail(self, error: str) -> str | None:
        if self.update(status=Status.FAILED, error=error, finished_at=timezone.now()):
            log.info("report %s failed: %s", self.report.report_id, error)
            return Status.FAILED
        return None


def _claim(report_pk: int) -> _Run | None:
    now = timezone.now()
    claimed = Report.objects.filter(pk=report_pk, status=Status.PENDING).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        worker=worker_identity(),
        cluster=current_cluster(),
        progress=0.0,
        error="",
    )
    if not claimed:
        return None
    return _Run(Report.objects.get(pk=report_pk))


class _ProgressWriter:
    """The progress callback of ``compute_report``: throttled writes that also beat the heart."""

    def __init__(self, run: _Run):
        self._run = run
        self._stage: str | None = None
        self._written_at = 0.0

    def write_now(self, fraction: float) -> bool:
        """Write ``fraction`` as the progress now (with the heartbeat); whether the report is
        still this run's. A busy database skips the write and answers True."""
        try:
            return self._run.update(progress=min(max(fraction, 0.0), 1.0), heartbeat_at=timezone.now())
        except DatabaseError as error:
            log.warning("report %s: progress not saved: %s", self._run.report.report_id, error)
            return True

    def __call__(self, fraction: float, stage: str) -> None:
        moment = time.monotonic()
        if stage == self._stage and moment - self._written_at < PROGRESS_WRITE_SECONDS:
            return
        self._stage, self._written_at = stage, moment
        # Progress is informative only; a busy database must not fail the report.
        if not self.write_now(fraction):
            raise _Superseded


def _save_files(report: Report, result: shards.ReportResult) -> tuple[str, str]:
    """Write the report's CSV and its outages CSV through the FileFields' storage; returns their
    stored names. A failure leaves neither file behind."""
    csv_name = _save(report.csv_file, f"{report.report_id}.csv", result.csv_text)
    try:
        outages_name = _save(report.outages_file, f"{report.report_id}-outages.csv", result.outages_text)
    except BaseException:
        report.csv_file.storage.delete(csv_name)
        raise
    return csv_name, outages_name


def _save(file: FieldFile, filename: str, text: str) -> str:
    file.save(filename, ContentFile(text.encode("utf-8")), save=False)
    assert file.name, "FieldFile.save() names the file"
    return file.name


def _queue(report_pk: int) -> None:
    """Hand the report to the job queue; a queue that cannot be reached fails the report."""
    try:
        task_id = async_task("reports.tasks.run_report", report_pk, group="reports")
    except Exception as error:
        log.exception("could not queue report pk=%s", report_pk)
        Report.objects.filter(pk=report_pk, status=Status.PENDING).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error=f"The job queue could not be reached ({type(error).__name__}: {error}); trigger the report again.",
        )
        return
    Report.objects.filter(pk=report_pk).update(task_id=task_id or "")


def _pending_again(now: dt.datetime) -> dict[str, object]:
    """The fields that send a Running report back to the queue for another run."""
    return {
        "status": Status.PENDING,
        "progress": 0.0,
        "started_at": None,
        "worker": "",
        # ``cluster`` stays: the cluster that gave it back queues it again once it has stopped
        # (give_back_cluster_reports); the next claim sets its own.
        "heartbeat_at": None,
        "queued_at": now,
    }


def _no_stores_sentence(as_of: dt.datetime, owner: Owner | None = None) -> str:
    """Why a report is empty, naming the poll times of the stores it covers only (an owner's
    report never learns another owner's)."""
    polls = StatusPoll.objects.all() if owner is None else StatusPoll.objects.filter(store__owner=owner)
    times = polls.aggregate(oldest=Min("timestamp_utc"), newest=Max("timestamp_utc"))
    days = settings.REPORT_LOOKBACK_DAYS
    whose = "" if owner is None else f" of {owner.name}"
    held = (
        f"the polls{whose} run from {times['oldest']:%Y-%m-%d %H:%M:%S} to {times['newest']:%Y-%m-%d %H:%M:%S} UTC"
        if times["newest"] is not None
        else ("the database holds no polls" if owner is None else f"the stores{whose} have no polls")
    )
    return (
        f"No store{whose} has a poll in the {days} days before {as_of:%Y-%m-%d %H:%M:%S} UTC, so the report would "
        f"be empty ({held}). Trigger a report with an as_of inside that range."
    )


def _interruption_sentence(error: BaseException) -> str:
    if isinstance(error, TimeoutException):
        return (
            f"The report ran longer than the {settings.REPORT_TIMEOUT_SECONDS}-second limit "
            "(REPORT_TIMEOUT_SECONDS) and was stopped."
        )
    return f"The worker stopped while running the report ({type(error).__name__}); trigger a new report."


def _stall_description(report: Report) -> str:
    return (
        f"its worker {report.worker or '(unknown)'} sent no heartbeat since "
        f"{report.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (attempt {report.attempts} of {settings.REPORT_MAX_ATTEMPTS})"
    )


def _stalled_sentence(report: Report) -> str:
    return (
        f"The worker running this report ({report.worker or 'unknown'}) stopped responding: its last "
        f"heartbeat was at {report.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC, more than "
        f"{settings.REPORT_STALL_SECONDS} seconds before it was given up (the worker was probably "
        f"killed or its machine restarted). Gave up after {report.attempts} attempt(s); "
        "trigger a new report."
    )
