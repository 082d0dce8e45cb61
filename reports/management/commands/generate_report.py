import datetime as dt
import os
import sys

from django.core.management.base import CommandError
from tqdm import tqdm

from reports.generation import (
    NoPollsError,
    ReportData,
    ReportTimeError,
    check_report_time,
    compute_report,
    parse_as_of,
    write_report_csv,
)
from reports.uptime import DEFAULT_METHOD, METHODS
from storemonitor.commands import ProjectCommand


def report_time(text: str | dt.datetime | None) -> dt.datetime | None:
    """The ``--as-of`` value as a datetime; a text that is not a time is a ``CommandError``."""
    # Parsed here, not by argparse's type=: an error raised inside argparse escapes Django's
    # handling and prints a traceback. call_command may also pass a datetime.
    if text is None or isinstance(text, dt.datetime):
        return text
    try:
        return parse_as_of(text)
    except ValueError as error:
        raise CommandError(f"--as-of {error}") from None


def check_report_file(out: str) -> None:
    """Refuse, before the report is computed, an ``--out`` that names no file that can be written;
    other reasons (permissions, a name too long) are found when it is written."""
    # os.path's checks answer False where pathlib's raise (e.g. for a name too long).
    parent = os.path.dirname(out) or "."
    if os.path.isdir(out):
        raise CommandError(f"--out {out}: is a directory; name the CSV file to write")
    if not os.path.lexists(parent):
        raise CommandError(f"--out {out}: the directory {parent} does not exist")
    if not os.path.isdir(parent):
        raise CommandError(f"--out {out}: {parent} is not a directory")


class Command(ProjectCommand):
    help = "Write the uptime/downtime report of every store as CSV (stdout by default)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            metavar="TIME",
            help="report time, e.g. 2023-01-25T18:13:22Z; UTC when it has no offset (default: the newest poll)",
        )
        parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help="extrapolation method")
        parser.add_argument("--out", metavar="FILE", help="write the CSV to this file instead of stdout")

    def handle(self, *args, as_of, method, out, **options):
        as_of = report_time(as_of)
        if out:
            check_report_file(out)
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
            rows = self._write_file(data, out) if out else write_report_csv(data.figures, self.stdout)
        except NoPollsError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        as_of_text = data.as_of.isoformat()
        self.stderr.write(f"{rows} stores as of {as_of_text} ({method}){f' written to {out}' if out else ''}")

    def _write_file(self, data: ReportData, out: str) -> int:
        try:
            with open(out, "w", newline="", encoding="utf-8") as stream:
                return write_report_csv(data.figures, stream)
        except OSError as error:
            reason = error.strerror or str(error)
            raise CommandError(f"--out {out}: cannot write the report there ({reason})") from None
