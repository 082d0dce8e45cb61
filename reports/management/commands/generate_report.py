import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reports.generation import (
    NoPollsError,
    ReportTimeError,
    check_report_time,
    compute_report,
    parse_as_of,
    write_report_csv,
)
from reports.uptime import DEFAULT_METHOD, METHODS


def report_time(text: str):
    try:
        return parse_as_of(text)
    except ValueError as error:
        raise CommandError(f"--as-of {error}") from None


class Command(BaseCommand):
    help = "Write the uptime/downtime report of every store as CSV (stdout by default)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=report_time, help="report time (default: the newest poll)")
        parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help="extrapolation method")
        parser.add_argument("--out", help="write the CSV to this file instead of stdout")

    def handle(self, *args, as_of, method, out, **options):
        try:
            check_report_time(as_of)
        except ReportTimeError as error:
            raise CommandError(f"--as-of {error}") from None
        except NoPollsError as error:
            raise CommandError(str(error)) from None
        bar = tqdm(total=100, desc="report", unit="%", disable=not sys.stderr.isatty(), leave=False)

        def progress(fraction, stage):
            bar.set_description(stage)
            bar.update(round(fraction * 100) - bar.n)

        try:
            data = compute_report(as_of=as_of, method=method, progress=progress)
        except NoPollsError as error:
            raise CommandError(str(error)) from None
        if out:
            with open(out, "w", newline="", encoding="utf-8") as stream:
                rows = write_report_csv(data.figures, stream)
        else:
            rows = write_report_csv(data.figures, self.stdout)
        bar.close()
        as_of_text = data.as_of.isoformat()
        self.stderr.write(f"{rows} stores as of {as_of_text} ({method}){f' written to {out}' if out else ''}")
