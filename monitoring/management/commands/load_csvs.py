import sys

from django.core.management.base import CommandError

from monitoring.imports import import_feeds
from monitoring.ingestion import IngestionError, TerminalProgress, choose_feed_files, database_has_polls
from monitoring.models import Import
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Load the store status, business hours, time zone and store owner feeds (.csv or .csv.gz) "
        "into the database in one transaction: polls are added, hours, time zones and owners replace "
        "those of the stores they mention. Give a directory holding store_status.csv, menu_hours.csv, "
        "timezones.csv and store_owners.csv (any of them), or name files with --polls, --hours, "
        "--timezones and --owners."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", help="directory holding the feed files")
        parser.add_argument("--polls", metavar="FILE", help="status polls (store_id,status,timestamp_utc)")
        parser.add_argument("--hours", metavar="FILE", help="business hours (store_id,day,start_time_local,...)")
        parser.add_argument("--timezones", metavar="FILE", help="time zones (store_id,timezone_str)")
        parser.add_argument(
            "--owners",
            metavar="FILE",
            help="store owners (store_id,owner): the owner's slug or name, created if new; empty for none",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="skip malformed rows (bad values, poll times out of range, over-long lines) instead of stopping",
        )
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the database holds polls")
        parser.add_argument(
            "--force",
            action="store_true",
            help="load a file even if the same content was already imported completely (the ledger's sha256)",
        )

    def handle(self, *args, directory, polls, hours, timezones, owners, skip_invalid, if_empty, force, **options):
        if not (directory or polls or hours or timezones or owners):
            raise CommandError("Nothing to load: give a directory or --polls, --hours, --timezones or --owners.")
        if if_empty and database_has_polls():
            self.stdout.write("Nothing loaded: the database already holds polls (--if-empty).")
            return
        # A bar only on a terminal; logs and pipes get just the summary.
        progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
        try:
            files = choose_feed_files(directory, polls=polls, hours=hours, timezones=timezones, owners=owners)
        except IngestionError as error:
            # Found before anything is read: a wrong argument, not a load that was undone.
            raise CommandError(str(error)) from error
        try:
            outcome = import_feeds(
                files,
                source=Import.Source.COMMAND,
                force=force,
                skip_invalid=skip_invalid,
                progress=progress,
            )
        except IngestionError as error:
            raise CommandError(f"{error}\nNothing was loaded.") from error
        for line in outcome.describe():
            self.stdout.write(line)
