import time

from django.core.management.base import CommandError

from monitoring.sample_data import SampleDataError, generate_feeds, parse_end, write_feeds
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Write synthetic store_status.csv, menu_hours.csv and timezones.csv shaped like the real "
        "feeds into --out, and with --owners a store_owners.csv; the same arguments give the same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stores", type=int, default=300, help="number of stores (default 300)")
        parser.add_argument("--days", type=int, default=10, help="days of polls before --end (default 10)")
        parser.add_argument("--seed", type=int, default=2023, help="random seed (default 2023)")
        parser.add_argument("--out", required=True, help="directory to write the files into")
        parser.add_argument("--gzip", action="store_true", help="write .csv.gz files")
        parser.add_argument("--uuid-ids", action="store_true", help="UUID store ids like the 2024 feeds")
        parser.add_argument(
            "--owners",
            type=int,
            default=0,
            help="also write store_owners.csv: most stores belong to one of this many owners (default 0: no file)",
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--end", help="newest poll, e.g. '2023-01-25 18:13:22.47922 UTC' (the default)")
        when.add_argument(
            "--straddle-dst",
            action="store_true",
            help="end on 2023-03-15 18:13:22.47922 UTC: the last 7 days contain the US change of 12 March",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            feeds = generate_feeds(
                options["stores"],
                options["days"],
                options["seed"],
                end=parse_end(options["end"]) if options["end"] else None,
                uuid_ids=options["uuid_ids"],
                straddle_dst=options["straddle_dst"],
                owners=options["owners"],
            )
            paths = write_feeds(feeds, options["out"], compress=options["gzip"])
        except SampleDataError as error:
            raise CommandError(str(error)) from error
        owners = ""
        if feeds.store_owners is not None:
            owners = (
                f", {feeds.owner_rows} owner rows giving {feeds.owned_stores} stores "
                f"one of {len(feeds.owner_names)} owners"
            )
        self.stdout.write(
            f"{feeds.stores} stores, {feeds.polls} polls ({feeds.inactive_polls} inactive), "
            f"{feeds.hours_rows} hours rows, {feeds.zone_rows} zone rows in {len(feeds.zones)} zones{owners}; "
            f"wrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - started:.1f} s"
        )
