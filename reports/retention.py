"""Report retention: reports and their CSVs (the report's and its outages CSV) are deleted together
REPORT_RETENTION_DAYS after creation.

``prune_reports`` runs daily (the django-q2 schedule in ``reports.tasks``) and from
``manage.py prune_reports``. How it keeps rows and files together:

- A report's row is deleted first, by one conditional DELETE (still finished, still expired),
  committed before its files are touched; only the run whose DELETE removed the row deletes the
  files. So a reader never finds a row whose file was pruned, several workers pruning at once
  delete each report once, and a Pending or Running report is never pruned.
- A crash between the two deletions leaves a CSV without a row. Every run therefore also sweeps
  the CSV files under ``reports/`` that no row names and that are older than the retention: a
  leftover lasts at most until the next run. The age matters: a run writes its CSV a moment
  before it records the name on its row, and such a fresh file must not be taken for a leftover.
  A file is a report's when a row names it as its CSV or as its outages CSV.

Files are reached only through the FileField's storage API (``listdir``, ``exists``,
``get_modified_time``, ``delete``), so this works for any storage.
"""

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from reports.models import Report, retention_period

log = logging.getLogger(__name__)

# Only finished reports are pruned: a Pending or Running one still has a run that will write it.
FINISHED = (Report.Status.COMPLETE, Report.Status.FAILED)
CSV_FOLDER = "reports"
BATCH = 500


@dataclass
class Pruning:
    """What ``prune_reports`` did (or, in a dry run, would do)."""

    cutoff: dt.datetime
    dry_run: bool = False
    reports: list[str] = field(default_factory=list)  # report ids of the rows deleted
    files: list[str] = field(default_factory=list)  # their CSV files (reports' and outages') deleted with them
    missing: list[str] = field(default_factory=list)  # report ids with a CSV already gone
    orphans: list[str] = field(default_factory=list)  # CSV files without a row, swept
    undated: list[str] = field(default_factory=list)  # CSV files without a row whose age is unknown: kept
    failed: list[str] = field(default_factory=list)  # sentences: files that could not be deleted

    def describe(self) -> str:
        """One sentence (two with failures) for logs, the task result and the command."""
        verb = "Would prune" if self.dry_run else "Pruned"
        text = (
            f"{verb} {len(self.reports)} report(s) created before {self.cutoff:%Y-%m-%d %H:%M:%S} UTC "
            f"with {len(self.files)} CSV file(s) ({len(self.missing)} already gone) and "
            f"{'would sweep' if self.dry_run else 'swept'} {len(self.orphans)} CSV file(s) that had no report."
        )
        if self.undated:
            text += f" {len(self.undated)} CSV file(s) without a report were kept: the storage cannot tell their age."
        if self.failed:
            text += f" {len(self.failed)} file(s) could not be deleted: {' '.join(self.failed)}"
        return text


def prune_reports(now: dt.datetime | None = None, *, dry_run: bool = False) -> Pruning:
    """Delete finished reports created more than REPORT_RETENTION_DAYS before ``now``, with their
    CSVs, and CSV files under ``reports/`` that no report names and are as old; safe to run from
    several workers at once. Inside a transaction, files go (and are listed) when it commits."""
    now = now or timezone.now()
    pruning = Pruning(cutoff=now - retention_period(), dry_run=dry_run)
    storage = csv_storage()
    # Sweep first, so a file that fails to delete with its row below is not tried twice in a run.
    _sweep_orphans(storage, pruning)
    for pk, report_id, names in _expired(pruning.cutoff):
        if not dry_run:
            deleted, _ = Report.objects.filter(pk=pk, status__in=FINISHED, created_at__lt=pruning.cutoff).delete()
            if not deleted:
                continue  # another worker pruned it meanwhile, and deletes its files
        pruning.reports.append(report_id)
        # A Failed report has no CSV, one completed before outages were kept no outages CSV.
        for name in filter(None, names):
            if not storage.exists(name):
                if report_id not in pruning.missing:
                    pruning.missing.append(report_id)
            else:
                _delete_on_commit(storage, name, pruning, pruning.files)
    return pruning


def csv_storage() -> Storage:
    """The storage of the reports' CSV files (the FileField's, whatever backend it is)."""
    csv_field = Report._meta.get_field("csv_file")
    assert isinstance(csv_field, models.FileField)
    return csv_field.storage


def _expired(cutoff: dt.datetime) -> Iterator[tuple[int, str, tuple[str, str]]]:
    """(pk, report_id, (CSV name, outages CSV name)) of the finished reports created before
    ``cutoff``, in batches by pk."""
    last_pk = 0
    while True:
        batch = list(
            Report.objects.filter(pk__gt=last_pk, status__in=FINISHED, created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", "report_id", "csv_file", "outages_file")[:BATCH]
        )
        for pk, report_id, csv_name, outages_name in batch:
            yield pk, report_id, (csv_name, outages_name)
        if len(batch) < BATCH:
            return
        last_pk = batch[-1][0]


def _sweep_orphans(storage: Storage, pruning: Pruning) -> None:
    for names in _csv_files(storage, CSV_FOLDER):
        for start in range(0, len(names), BATCH):
            chunk = names[start : start + BATCH]
            named = _named_by_reports(chunk)
            for name in chunk:
                if name in named:
                    continue
                try:
                    modified = storage.get_modified_time(name)
                except NotImplementedError:
                    pruning.undated.append(name)
                    continue
                except FileNotFoundError:
                    continue  # deleted meanwhile (another worker pruning its report)
                if modified < pruning.cutoff:
                    _delete_on_commit(storage, name, pruning, pruning.orphans)
    if pruning.undated:
        log.warning("%s CSV file(s) without a report kept: the storage cannot tell their age", len(pruning.undated))


def _named_by_reports(names: list[str]) -> set[str]:
    """Those of ``names`` that a report names as its CSV or as its outages CSV."""
    rows = Report.objects.filter(Q(csv_file__in=names) | Q(outages_file__in=names)).values_list(
        "csv_file", "outages_file"
    )
    return {name for row in rows for name in row} & set(names)


def _csv_files(storage: Storage, folder: str) -> Iterator[list[str]]:
    """The names of the CSV files in ``folder``, then in each folder below it, through the storage."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # no report written yet
    yield [f"{folder}/{name}" for name in sorted(files) if name.endswith(".csv")]
    for child in sorted(folders):
        yield from _csv_files(storage, f"{folder}/{child}")


def _delete_on_commit(storage: Storage, name: str, pruning: Pruning, deleted: list[str]) -> None:
    """Delete the file once the current transaction commits (at once outside one) and list it in
    ``deleted``; in a dry run only list it. Waiting for the commit means a rollback can never
    bring back a row whose file is gone."""
    if pruning.dry_run:
        deleted.append(name)
    else:
        transaction.on_commit(partial(_delete, storage, name, pruning, deleted))


def _delete(storage: Storage, name: str, pruning: Pruning, deleted: list[str]) -> None:
    try:
        storage.delete(name)
    except FileNotFoundError:
        pass  # already gone (another worker deleted it): deleted all the same
    except Exception as error:
        # One file the storage refuses must not stop the others; the next run tries again.
        log.exception("could not delete %s", name)
        pruning.failed.append(f"{name}: {type(error).__name__}: {error}.")
        return
    deleted.append(name)
