import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import TextIO

from django.core.management.base import CommandError
from tqdm import tqdm

from monitoring.models import Owner
from reports.generation import (
    NoPollsError,
    ReportTimeError,
    check_report_time,
    compute_report,
    parse_as_of,
    write_outages_csv,
    write_report_csv,
)
from reports.models import COLUMN_SETS, DEFAULT_COLUMNS
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


def report_owner(slug: str | None) -> Owner | None:
    """The ``--owner`` named (None: every store); an unknown slug is a ``CommandError``."""
    if slug is None:
        return None
    owner = Owner.objects.filter(slug=slug.strip()).first()
    if owner is None:
        known = ", ".join(Owner.objects.order_by("slug").values_list("slug", flat=True)[:10])
        hint = f" (owners: {known})" if known else " (no owner exists yet: load store_owners.csv or add one)"
        raise CommandError(f"--owner {slug}: no owner has this slug{hint}.")
    return owner


def check_report_file(out: str, option: str = "--out") -> None:
    """Refuse, before the report is computed, an ``--out`` (or ``--outages``) that names no file that
    can be written; other reasons (permissions, a name too long) are found when it is written."""
    # os.path's checks answer False where pathlib's raise (e.g. for a name too long).
    parent = os.path.dirname(out) or "."
    if os.path.isdir(out):
        raise CommandError(f"{option} {out}: is a directory; name the CSV file to write")
    if not os.path.lexists(parent):
        raise CommandError(f"{option} {out}: the directory {parent} does not exist")
    if not os.path.isdir(parent):
        raise CommandError(f"{option} {out}: {parent} is not a directory")


class Command(ProjectCommand):
    help = "Write the uptime/downtime report of every store (or one owner's) as CSV (stdout by default)."
    # A read-only report: the system checks (migrate, runserver and `check` run them) would load
    # every URL, view and API module first, a third of a second of a 14,000-store report.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            metavar="TIME",
            help="report time, e.g. 2023-01-25T18:13:22Z; UTC when it has no offset (default: the newest poll)",
        )
        parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help="extrapolation method")
        parser.add_argument(
            "--columns",
            choices=tuple(COLUMN_SETS),
            default=DEFAULT_COLUMNS,
            help="basic: the seven columns of the assignment (default); extended: also outages, uptime percent "
            "and evidence polls per window (README rules 10-13)",
        )
        parser.add_argument(
            "--owner",
            metavar="SLUG",
            help="report on this owner's stores only (its slug, as in store_owners.csv; default: every store)",
        )
        parser.add_argument("--out", metavar="FILE", help="write the CSV to this file instead of stdout")
        parser.add_argument(
            "--outages",
            metavar="FILE",
            help="also write every store's outages (store_id,start_utc,end_utc,start_local,end_local,minutes) here",
        )

    def handle(self, *args, as_of, method, out, columns=DEFAULT_COLUMNS, outages=None, owner=None, **options):
        as_of = report_time(as_of)
        chosen = report_owner(owner)
        for option, name in (("--out", out), ("--outages", outages)):
            if name:
                check_report_file(name, option)
        try:
            check_report_time(as_of, stores=None if chosen is None else chosen.stores.all())
        except ReportTimeError as error:
            raise CommandError(f"--as-of {error}") from None
        except NoPollsError as error:
            raise CommandError(str(error)) from None
        bar = tqdm(total=100, desc="report", unit="%", disable=not sys.stderr.isatty(), leave=False)

        def progress(fraction, stage):
            bar.set_description(stage)
            bar.update(round(fraction * 100) - bar.n)

        try:
            data = compute_report(
                as_of=as_of, method=method, progress=progress, owner_ids=None if chosen is None else [chosen.pk]
            )
            if out:
                rows = self._write_file(out, "--out", lambda stream: write_report_csv(data.figures, stream, columns))
            else:
                rows = write_report_csv(data.figures, self.stdout, columns)
            if outages:
                outage_count = self._write_file(
                    outages, "--outages", lambda stream: write_outages_csv(data.figures, data.feeds, stream)
                )
        except NoPollsError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        as_of_text = data.as_of.isoformat()
        whose = "" if chosen is None else f" of {chosen.name}"
        self.stderr.write(f"{rows} stores{whose} as of {as_of_text} ({method}){f' written to {out}' if out else ''}")
        if outages:
            self.stderr.write(f"{outage_count} outages written to {outages}")

    def _write_file(self, name: str, option: str, write: Callable[[TextIO], int]) -> int:
        try:
            with open(name, "w", newline="", encoding="utf-8") as stream:
                return write(stream)
        except OSError as error:
            reason = error.strerror or str(error)
            raise CommandError(f"{option} {name}: cannot write the report there ({reason})") from None
