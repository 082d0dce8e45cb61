from django.core.management.base import CommandError

from alerts.runs import run_reconcile
from monitoring.models import StatusPoll
from reports.actions import worker_identity
from reports.generation import NoPollsError, check_report_time, parse_as_of
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Make the incidents equal to the outages of a report a microsecond after the newest poll (or at "
        "--as-of), and queue the notifications that calls for, as every import does. A running "
        "reconciliation is not waited for: it goes round once more instead. Running it twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            metavar="TS",
            help="a report time after the newest poll, e.g. 2023-01-25T18:13:22Z (UTC when no offset is "
            "given): sessions that closed since end their incidents; the next import's reconciliation "
            "goes back to the newest poll",
        )

    def handle(self, *args, as_of=None, **options):
        moment = None
        if as_of is not None:
            try:
                moment = parse_as_of(as_of)
                check_report_time(moment)  # the report's own range: 2000 … a day ahead, a poll in the lookback
            except ValueError as error:  # ReportTimeError is one
                raise CommandError(f"--as-of {error}") from None
            except NoPollsError as error:
                raise CommandError(str(error)) from None
            newest = StatusPoll.objects.newest_time()
            if newest is not None and moment <= newest:
                # An earlier report would end or take back incidents later polls show, and tell channels so.
                raise CommandError(
                    f"--as-of {moment.isoformat()} is not after the newest poll ({newest.isoformat()}): "
                    "incidents follow the newest polls. Leave --as-of out to reconcile just after it."
                )
        results = run_reconcile(worker_identity(), as_of=moment)
        if results is None:
            self.stdout.write("Another reconciliation is running: it goes round once more, so nothing is left out.")
            return
        for result in results:
            self.stdout.write(result.describe())
