from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from alerts.models import ReportSchedule
from alerts.schedules import (
    describe_next_run,
    describe_schedule,
    disable_schedule,
    parse_local_time,
    parse_weekday,
    save_schedule,
)
from monitoring.models import Owner
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Send the owner OWNER a report (extended columns) daily or weekly at a local time: report.ready "
        "goes to the owner's channels with the CSV link. Prints the next run in the zone and in UTC. "
        "--off turns the schedule off. Running it again with the same options changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, metavar="SLUG", help="the owner's slug")
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("--daily", action="store_true", help="every day")
        when.add_argument("--weekly", metavar="WEEKDAY", help="every week on WEEKDAY (monday … sunday, or 0 … 6)")
        when.add_argument("--off", action="store_true", help="turn the owner's scheduled report off")
        parser.add_argument("--at", metavar="HH:MM", help="the local time of day (24-hour clock)")
        parser.add_argument("--zone", metavar="ZONE", help="the time zone of --at, e.g. America/Chicago")

    def handle(self, *args, owner, daily, weekly, off, at, zone, **options):
        found = Owner.objects.filter(slug=owner).first()
        if found is None:
            raise CommandError(f"No owner has the slug {owner!r}: the admin's Owners page lists them.")
        if off:
            schedule = disable_schedule(found)
            self.stdout.write(
                f"{found.name} has no scheduled report: nothing to turn off."
                if schedule is None
                else f"The scheduled report of {found.name} is off."
            )
            return
        if at is None or zone is None:
            raise CommandError("--daily and --weekly need --at HH:MM and --zone ZONE (e.g. --at 08:00 --zone UTC).")
        try:
            schedule = save_schedule(
                found,
                frequency=ReportSchedule.Frequency.DAILY if daily else ReportSchedule.Frequency.WEEKLY,
                weekday=None if daily else parse_weekday(weekly),
                local_time=parse_local_time(at),
                time_zone=zone,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"The report of {found.name}: {describe_schedule(schedule)}.")
        self.stdout.write(f"Next run: {describe_next_run(schedule)}.")
