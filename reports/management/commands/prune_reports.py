from reports.retention import prune_reports
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Delete finished reports older than REPORT_RETENTION_DAYS with their CSVs, and CSV files that "
        "no report names (what the daily schedule does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")

    def handle(self, *args, dry_run, verbosity, **options):
        pruning = prune_reports(dry_run=dry_run)
        if verbosity > 1:
            for label, names in [
                ("report", pruning.reports),
                ("CSV of a report", pruning.files),
                ("CSV without a report", pruning.orphans),
            ]:
                for name in names:
                    self.stdout.write(f"{'would delete' if dry_run else 'deleted'} {label}: {name}")
        self.stdout.write(pruning.describe())
