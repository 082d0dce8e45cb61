"""Report retention: finished reports go with their CSVs after REPORT_RETENTION_DAYS, leftovers are swept."""

import datetime as dt
import io
import os

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from reports import tasks
from reports.models import Report, report_csv_path, report_outages_path
from reports.retention import csv_storage, prune_reports
from tests.assertions import absent_from, page_text

pytestmark = pytest.mark.django_db
REPORTS = "/admin/reports/report/"


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what waits for the commit (the CSV deletions) when the block ends, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def days_before(moment, days):
    return moment - dt.timedelta(days=days)


def old_report(created_at, status="Complete", with_csv=True, with_outages=False):
    """A report created at ``created_at``, with its CSV (and with ``with_outages`` its outages CSV)
    written then, as a run would."""
    report = Report.objects.create(status=status)
    Report.objects.filter(pk=report.pk).update(created_at=created_at)
    report.refresh_from_db()
    if with_csv:
        name = csv_file(report_csv_path(report, ""), created_at)
        Report.objects.filter(pk=report.pk).update(csv_file=name)
    if with_outages:
        name = csv_file(report_outages_path(report, ""), created_at)
        Report.objects.filter(pk=report.pk).update(outages_file=name)
    report.refresh_from_db()
    return report


def csv_file(name, modified_at, content=b"store_id\n"):
    """A file in the reports' storage, last modified at ``modified_at``; returns its stored name."""
    storage = csv_storage()
    name = storage.save(name, ContentFile(content))
    os.utime(storage.path(name), (modified_at.timestamp(), modified_at.timestamp()))
    return name


def exists(name):
    return csv_storage().exists(name)


# --- Rows and files go together ------------------------------------------------------------


def test_finished_reports_older_than_the_retention_go_with_their_csvs(now, run_on_commit):
    complete = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    failed = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 5), status="Failed", with_csv=False)
    with run_on_commit():
        pruning = prune_reports(now)
    assert not Report.objects.exists()
    assert not exists(complete.csv_file.name)
    assert sorted(pruning.reports) == sorted([complete.report_id, failed.report_id])
    assert pruning.files == [complete.csv_file.name]
    assert (pruning.missing, pruning.orphans, pruning.failed) == ([], [], [])


def test_a_report_goes_with_both_its_csvs(now, run_on_commit):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1), with_outages=True)
    assert report.outages_file.name.endswith(f"{report.report_id}-outages.csv")
    with run_on_commit():
        pruning = prune_reports(now)
    assert not Report.objects.exists()
    assert not exists(report.csv_file.name)
    assert not exists(report.outages_file.name)
    assert (pruning.reports, pruning.files) == ([report.report_id], [report.csv_file.name, report.outages_file.name])
    assert " with 2 CSV file(s) (0 already gone) " in pruning.describe()


def test_a_report_whose_outages_csv_is_already_gone_is_pruned_with_its_csv(now, run_on_commit):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1), with_outages=True)
    csv_storage().delete(report.outages_file.name)
    with run_on_commit():
        pruning = prune_reports(now)
    assert not Report.objects.exists()
    assert not exists(report.csv_file.name)
    assert (pruning.files, pruning.missing) == ([report.csv_file.name], [report.report_id])


def test_a_report_is_kept_until_its_retention_has_passed(now, run_on_commit):
    young = old_report(days_before(now, settings.REPORT_RETENTION_DAYS - 1))
    due_now = old_report(days_before(now, settings.REPORT_RETENTION_DAYS))
    with run_on_commit():
        pruning = prune_reports(now)
    assert set(Report.objects.values_list("pk", flat=True)) == {young.pk, due_now.pk}
    assert exists(young.csv_file.name)
    assert exists(due_now.csv_file.name)
    assert pruning.reports == []
    with run_on_commit():
        assert prune_reports(now + dt.timedelta(microseconds=1)).reports == [due_now.report_id]
    assert not exists(due_now.csv_file.name)


def test_the_retention_follows_the_setting(settings, now, run_on_commit):
    settings.REPORT_RETENTION_DAYS = 2
    report = old_report(days_before(now, 3))
    with run_on_commit():
        assert prune_reports(now).reports == [report.report_id]


def test_pending_and_running_reports_are_never_pruned_however_old(now, run_on_commit):
    long_ago = days_before(now, 10 * settings.REPORT_RETENTION_DAYS)
    pending = old_report(long_ago, status="Pending", with_csv=False)
    running = old_report(long_ago, status="Running", with_csv=False)
    with run_on_commit():
        pruning = prune_reports(now)
    assert set(Report.objects.values_list("pk", flat=True)) == {pending.pk, running.pk}
    assert pruning.reports == []


def test_a_row_whose_csv_is_already_gone_is_pruned(now, run_on_commit):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    csv_storage().delete(report.csv_file.name)
    with run_on_commit():
        pruning = prune_reports(now)
    assert not Report.objects.exists()
    assert (pruning.reports, pruning.missing, pruning.files) == ([report.report_id], [report.report_id], [])


def test_inside_a_transaction_the_csvs_wait_for_the_commit(now, django_capture_on_commit_callbacks):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    with django_capture_on_commit_callbacks(execute=False) as waiting:
        assert prune_reports(now).reports == [report.report_id]
    # The deletion was never committed (the callbacks did not run): the file is still there.
    assert len(waiting) == 1
    assert exists(report.csv_file.name)


# --- Leftovers: files without a row --------------------------------------------------------


def test_a_crash_between_a_row_and_its_csv_leaves_a_file_the_next_prune_sweeps(now, run_on_commit, monkeypatch):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))

    def killed(self, name):
        raise SystemExit("the worker is killed")

    monkeypatch.setattr(FileSystemStorage, "delete", killed)
    with pytest.raises(SystemExit), run_on_commit():
        prune_reports(now)
    monkeypatch.undo()
    assert not Report.objects.exists()
    assert exists(report.csv_file.name)
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == [report.csv_file.name]
    assert not exists(report.csv_file.name)


def test_an_old_csv_without_a_report_is_swept(now, run_on_commit):
    leftover = csv_file("reports/2023/01/lost.csv", days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == [leftover]
    assert not exists(leftover)


def test_a_fresh_csv_without_a_report_is_kept_for_the_run_about_to_record_it(now, run_on_commit):
    # A run writes its CSV a moment before it names it on its report's row.
    being_recorded = csv_file("reports/2023/01/just-written.csv", now - dt.timedelta(seconds=1))
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == []
    assert exists(being_recorded)


def test_only_csv_files_under_reports_are_swept(now, run_on_commit):
    long_ago = days_before(now, settings.REPORT_RETENTION_DAYS + 1)
    others = [csv_file("reports/2023/01/notes.txt", long_ago), csv_file("exports/2023/old.csv", long_ago)]
    swept = csv_file("reports/2023/01/deeper/lost.csv", long_ago)
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == [swept]
    assert all(exists(name) for name in others)


def test_an_old_report_s_csv_is_not_taken_for_a_leftover(now, run_on_commit):
    kept = old_report(days_before(now, settings.REPORT_RETENTION_DAYS - 1))
    os.utime(csv_storage().path(kept.csv_file.name), (0, 0))  # however old the file looks
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == []
    assert exists(kept.csv_file.name)


def test_an_old_report_s_outages_csv_is_not_taken_for_a_leftover(now, run_on_commit):
    kept = old_report(days_before(now, settings.REPORT_RETENTION_DAYS - 1), with_outages=True)
    for name in (kept.csv_file.name, kept.outages_file.name):
        os.utime(csv_storage().path(name), (0, 0))  # however old the files look
    leftover = csv_file("reports/2023/01/lost-outages.csv", days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    with run_on_commit():
        pruning = prune_reports(now)
    assert pruning.orphans == [leftover]
    assert exists(kept.csv_file.name)
    assert exists(kept.outages_file.name)


def test_a_storage_that_cannot_tell_a_file_s_age_keeps_the_file(now, run_on_commit, monkeypatch):
    leftover = csv_file("reports/2023/01/lost.csv", days_before(now, settings.REPORT_RETENTION_DAYS + 1))

    def undated(self, name):
        raise NotImplementedError("subclasses of Storage must provide a get_modified_time() method")

    monkeypatch.setattr(FileSystemStorage, "get_modified_time", undated)
    with run_on_commit():
        pruning = prune_reports(now)
    assert (pruning.undated, pruning.orphans) == ([leftover], [])
    assert exists(leftover)
    assert "1 CSV file(s) without a report were kept: the storage cannot tell their age." in pruning.describe()


def test_no_reports_folder_yet_prunes_nothing(now, media_root):
    assert not (media_root / "reports").exists()
    pruning = prune_reports(now)
    assert (pruning.reports, pruning.orphans) == ([], [])


# --- Concurrency and failures --------------------------------------------------------------


def test_two_prunes_at_once_delete_each_report_once(now, run_on_commit, monkeypatch):
    reports = [old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1)) for _ in range(3)]
    overtaking = {}
    real_exists = FileSystemStorage.exists

    def exists_while_another_worker_prunes(self, name):
        # The first prune, right after deleting its first row, is overtaken by a second one.
        if "second" not in overtaking:
            overtaking["second"] = None
            overtaking["second"] = prune_reports(now)
        return real_exists(self, name)

    monkeypatch.setattr(FileSystemStorage, "exists", exists_while_another_worker_prunes)
    with run_on_commit():
        first = prune_reports(now)
    second = overtaking["second"]
    assert not Report.objects.exists()
    assert not any(exists(report.csv_file.name) for report in reports)
    assert len(first.reports) == 1
    assert set(first.reports).isdisjoint(second.reports)
    assert sorted(first.reports + second.reports) == sorted(report.report_id for report in reports)
    assert first.failed == second.failed == []


def test_a_csv_the_storage_refuses_to_delete_is_reported_and_the_others_go(now, run_on_commit, monkeypatch):
    stuck, fine = (old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1)) for _ in range(2))
    real_delete = FileSystemStorage.delete

    def refusing(self, name):
        if name == stuck.csv_file.name:
            raise PermissionError(13, "Permission denied")
        real_delete(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", refusing)
    with run_on_commit():
        pruning = prune_reports(now)
    assert not Report.objects.exists()
    assert pruning.files == [fine.csv_file.name]
    assert pruning.failed == [f"{stuck.csv_file.name}: PermissionError: [Errno 13] Permission denied."]
    assert pruning.describe().endswith(
        f"1 file(s) could not be deleted: {stuck.csv_file.name}: PermissionError: [Errno 13] Permission denied."
    )
    monkeypatch.undo()
    with run_on_commit():
        again = prune_reports(now)
    assert again.orphans == [stuck.csv_file.name]  # the next run tries again


def test_the_dry_run_says_what_it_would_prune_and_deletes_nothing(now, run_on_commit):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    leftover = csv_file("reports/2023/01/lost.csv", days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    with run_on_commit():
        pruning = prune_reports(now, dry_run=True)
    assert (pruning.reports, pruning.files, pruning.orphans) == ([report.report_id], [report.csv_file.name], [leftover])
    assert Report.objects.filter(pk=report.pk).exists()
    assert exists(report.csv_file.name)
    assert exists(leftover)
    assert pruning.describe().startswith("Would prune 1 report(s) created before ")


# --- The daily schedule --------------------------------------------------------------------


def test_migrate_creates_the_daily_prune_schedule_and_repairs_it():
    (schedule,) = Schedule.objects.filter(name=tasks.PRUNE_SCHEDULE)  # made by the test database's migrate
    next_run = schedule.next_run
    Schedule.objects.filter(pk=schedule.pk).update(schedule_type=Schedule.WEEKLY, repeats=0)
    tasks.ensure_prune_schedule()
    (schedule,) = Schedule.objects.filter(name=tasks.PRUNE_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.repeats, schedule.cluster) == (
        "reports.tasks.prune_reports",
        Schedule.DAILY,
        -1,
        None,
    )
    assert schedule.next_run == next_run  # a migrate keeps the time of day it runs at


def test_django_q2_s_scheduler_runs_the_prune_when_it_is_due(now, run_on_commit):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    Schedule.objects.filter(name=tasks.PRUNE_SCHEDULE).update(next_run=now - dt.timedelta(minutes=1))
    with run_on_commit():
        scheduler(broker=get_broker())  # what every qcluster does about twice a minute
    assert not Report.objects.exists()
    assert not exists(report.csv_file.name)
    (schedule,) = Schedule.objects.filter(name=tasks.PRUNE_SCHEDULE)
    assert now + dt.timedelta(hours=23) < schedule.next_run <= now + dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_task_describes_what_it_did(now):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    described = tasks.prune_reports()
    assert described.startswith("Pruned 1 report(s) created before ")
    assert described.endswith(" UTC with 1 CSV file(s) (0 already gone) and swept 0 CSV file(s) that had no report.")
    assert not exists(report.csv_file.name)


# --- The command ---------------------------------------------------------------------------


def run_command(*args):
    out = io.StringIO()
    call_command("prune_reports", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_command_prunes_and_says_what_it_did(now):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    kept = old_report(days_before(now, 1))
    out = run_command()
    assert out.startswith("Pruned 1 report(s) created before ")
    assert "with 1 CSV file(s) (0 already gone)" in out
    assert list(Report.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not exists(report.csv_file.name)


@pytest.mark.django_db(transaction=True)
def test_the_command_s_dry_run_lists_what_it_would_delete_and_deletes_nothing(now):
    report = old_report(days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    leftover = csv_file("reports/2023/01/lost.csv", days_before(now, settings.REPORT_RETENTION_DAYS + 1))
    out = run_command("--dry-run", "--verbosity", "2")
    assert out.splitlines()[:3] == [
        f"would delete report: {report.report_id}",
        f"would delete CSV of a report: {report.csv_file.name}",
        f"would delete CSV without a report: {leftover}",
    ]
    assert "Would prune 1 report(s)" in out
    assert "would sweep 1 CSV file(s) that had no report." in out
    assert Report.objects.filter(pk=report.pk).exists()
    assert exists(report.csv_file.name)
    assert exists(leftover)


# --- The admin -----------------------------------------------------------------------------


def test_the_admin_says_when_each_report_will_be_pruned(admin_client, settings):
    settings.REPORT_RETENTION_DAYS = 7
    complete = old_report(dt.datetime(2026, 3, 1, 10, 11, 57, tzinfo=dt.UTC))
    running = old_report(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), status="Running", with_csv=False)
    assert complete.kept_until == dt.datetime(2026, 3, 8, 10, 11, 57, tzinfo=dt.UTC)
    listing = page_text(admin_client.get(REPORTS))
    # In the created cell's tooltip: the list fits a 1280 px window without a column for it.
    assert not absent_from(
        listing,
        '<span title="Pruned after 2026-03-08 10:11:57 UTC">2026-03-01 10:11:57</span>',
        '<span title="Pruned after 2026-03-09 08:00:00 UTC">2026-03-02 08:00:00</span>',
    )
    page = page_text(admin_client.get(f"{REPORTS}{complete.pk}/change/"))
    assert (
        "At the first daily prune after 2026-03-08 10:11:57 UTC, with its CSV "
        "(reports are kept REPORT_RETENTION_DAYS = 7 days)." in page
    )
    running_page = page_text(admin_client.get(f"{REPORTS}{running.pk}/change/"))
    assert "Not while it is Running: at the first prune after it finishes." in running_page
