from django.conf import settings
from django.core.management.base import CommandError

from monitoring.retention import BATCH_SIZE, RetentionRefused, prune_polls
from storemonitor.commands import ProjectCommand, positive_int


class Command(ProjectCommand):
    help = (
        "Delete the polls older than DAYS days before the NEWEST POLL in the database (not before today: "
        "a historical data set is never wiped out by the clock; for live data the two agree), oldest first, "
        "in batches of their own short transactions, and record the run in the import ledger. A poll exactly "
        "DAYS before the newest is kept. The daily schedule does this with POLL_RETENTION_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="days of polls to keep before the newest "
            f"(at least REPORT_LOOKBACK_DAYS={settings.REPORT_LOOKBACK_DAYS}; "
            f"default POLL_RETENTION_DAYS={settings.POLL_RETENTION_DAYS})",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=BATCH_SIZE,
            metavar="N",
            help=f"polls deleted per transaction (default {BATCH_SIZE:,})",
        )
        parser.add_argument("--dry-run", action="store_true", help="say how many polls would go, delete nothing")

    def handle(self, *args, older_than, batch_size, dry_run, verbosity, **options):
        if older_than is None:
            if not settings.POLL_RETENTION_DAYS:
                raise CommandError(
                    "POLL_RETENTION_DAYS is 0 (keep every poll): give --older-than DAYS to prune anyway."
                )
            older_than = settings.POLL_RETENTION_DAYS
        try:
            pruning = prune_polls(
                older_than, name=f"prune_polls --older-than {older_than}", batch_size=batch_size, dry_run=dry_run
            )
        except RetentionRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        if verbosity > 1:
            for number, seconds in enumerate(pruning.batch_seconds, start=1):
                self.stdout.write(f"batch {number}: {seconds:.3f} s")
        self.stdout.write(pruning.describe())
