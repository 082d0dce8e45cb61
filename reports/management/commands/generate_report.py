import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reports.generation import NoPollsError, compute_report, write_report_csv
from reports.uptime import METHODS


def aware_timestamp(text: str) -> dt.datetime:
    """ISO 8601 time; without an offset it is UTC. Also accepts the feeds' '… UTC' form."""
    cleaned = text.strip().removesuffix(" UTC").replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise CommandError(f"--as-of {text!r} is not a time: use e.g. 2023-01-25T18:13:22Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Command(BaseCommand):
    help = "Write the uptime/downtime report of every store as CSV (stdout by default)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=aware_timestamp, help="report time (default: the newest poll)")
        parser.add_argument("--method", choices=METHODS, default="last_known", help="extrapolation method")
        parser.add_argument("--out", help="write the CSV to this file instead of stdout")

    def handle(self, *args, as_of, method, out, **options):
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
