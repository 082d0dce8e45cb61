import time

from django.conf import settings
from django.core.management.base import CommandError

from monitoring.incoming import run_pass
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Load the files put in the watched folder (INCOMING_DIR), as the workers' schedule does: each "
        "*.csv / *.csv.gz is loaded on its own and moved to processed/, or to failed/ with <name>.error.txt. "
        "Without --once it keeps watching, a pass every INCOMING_POLL_SECONDS, until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once, **options):
        while True:
            report = run_pass()
            if report.problem:
                raise CommandError(report.problem)
            if once or report.results:
                for line in report.describe():
                    self.stdout.write(line)
            if once:
                return
            time.sleep(settings.INCOMING_POLL_SECONDS)
