"""The sample-data generator: feed formats, realistic shapes, determinism, the command, the
committed sample in ``data/sample/`` and loading what it generates with ``load_csvs``."""

import datetime as dt
import gzip
import re
import shlex
import uuid
from collections import Counter, defaultdict
from io import StringIO
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils.text import slugify

from monitoring.models import BusinessHours, Owner, StatusPoll, Store, Timezone
from monitoring.sample_data import (
    DEFAULT_END,
    DST_STRADDLE_END,
    SampleDataError,
    format_timestamps,
    generate_feeds,
    owner_name,
    owner_slug,
    parse_end,
    write_feeds,
)
from monitoring.timezones import DEFAULT_TIMEZONE, is_valid_timezone

UTC = dt.UTC
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
FEED_FILES = ("store_status.csv", "menu_hours.csv", "timezones.csv")

POLL_LINE = re.compile(
    r"(?P<store>[0-9]{1,19}),(?P<status>active|inactive),"
    r"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{0,5}[1-9])?) UTC"
)
HOURS_LINE = re.compile(r"([0-9]{1,19}),([0-6]),([0-9]{2}:[0-9]{2}:[0-9]{2}),([0-9]{2}:[0-9]{2}:[0-9]{2})")


def parse_poll_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.removesuffix(" UTC")).replace(tzinfo=UTC)


class Parsed:
    """The three feeds read back line by line; every line must match its format."""

    def __init__(self, feeds):
        status_lines = feeds.store_status.splitlines()
        hours_lines = feeds.menu_hours.splitlines()
        zone_lines = feeds.timezones.splitlines()
        self.headers = (status_lines[0], hours_lines[0], zone_lines[0])
        self.polls = defaultdict(list)  # store -> [(time, status)] in file order
        for line in status_lines[1:]:
            match = POLL_LINE.fullmatch(line)
            assert match, line
            self.polls[match["store"]].append((parse_poll_time(match["time"]), match["status"]))
        self.hours = defaultdict(list)  # store -> [(day, start, end)]
        for line in hours_lines[1:]:
            match = HOURS_LINE.fullmatch(line)
            assert match, line
            start, end = dt.time.fromisoformat(match[3]), dt.time.fromisoformat(match[4])
            self.hours[match[1]].append((int(match[2]), start, end))
        self.zones = {}
        for line in zone_lines[1:]:
            store, zone = line.split(",")
            assert store not in self.zones
            self.zones[store] = zone
        self.stores = set(self.polls)


@pytest.fixture(scope="module")
def feeds():
    return generate_feeds(200, 8, seed=7)


@pytest.fixture(scope="module")
def parsed(feeds):
    return Parsed(feeds)


def read_feed_files(directory: Path) -> dict[str, bytes]:
    """Each feed's uncompressed bytes, whether written as .csv or .csv.gz."""
    contents = {}
    for name in FEED_FILES:
        plain, packed = directory / name, directory / f"{name}.gz"
        contents[name] = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
    return contents


# --- Determinism ---------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes_and_another_seed_different_ones(tmp_path):
    first = write_feeds(generate_feeds(40, 3, seed=1), tmp_path / "a", compress=True)
    again = write_feeds(generate_feeds(40, 3, seed=1), tmp_path / "b", compress=True)
    other = write_feeds(generate_feeds(40, 3, seed=2), tmp_path / "c", compress=True)
    for one, two, three in zip(first, again, other, strict=True):
        assert one.read_bytes() == two.read_bytes()
        assert one.read_bytes() != three.read_bytes()


# --- Formats like the real feeds -----------------------------------------------------------


def test_headers_are_exactly_those_of_the_2023_feeds(parsed):
    assert parsed.headers == (
        "store_id,status,timestamp_utc",
        "store_id,day,start_time_local,end_time_local",
        "store_id,timezone_str",
    )


def test_headers_match_the_real_files_when_they_are_at_hand(parsed, shared_data_dir):
    for header, name in zip(parsed.headers, FEED_FILES, strict=True):
        with gzip.open(shared_data_dir / "loop-2023" / f"{name}.gz", "rt") as real:
            assert real.readline().rstrip("\n") == header


def test_every_file_ends_with_a_newline_and_has_no_blank_or_carriage_return_lines(feeds):
    for text in (feeds.store_status, feeds.menu_hours, feeds.timezones):
        assert text.endswith("\n")
        assert "\r" not in text
        assert "\n\n" not in text


def test_timestamps_drop_trailing_zeros_of_the_fraction_like_the_real_feeds():
    base = int(dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC).timestamp()) * 1_000_000
    texts = format_timestamps([base + 479220, base + 647069, base + 10, base + 500000, base]).tolist()
    assert texts == [
        "2023-01-25 18:13:22.47922 UTC",
        "2023-01-25 18:13:22.647069 UTC",
        "2023-01-25 18:13:22.00001 UTC",
        "2023-01-25 18:13:22.5 UTC",
        "2023-01-25 18:13:22 UTC",
    ]


def test_poll_times_have_mostly_six_fraction_digits_and_some_fewer(feeds):
    digits = Counter(len(m) for m in re.findall(r"\.([0-9]+) UTC", feeds.store_status))
    assert digits[6] > 0.8 * feeds.polls
    assert digits[5] > 0


def test_polls_are_grouped_by_store_in_ascending_time_without_duplicates(feeds, parsed):
    store_order = [line.split(",", 1)[0] for line in feeds.store_status.splitlines()[1:]]
    grouped = [store for i, store in enumerate(store_order) if i == 0 or store != store_order[i - 1]]
    assert len(grouped) == len(set(grouped)) == 200
    for polls in parsed.polls.values():
        times = [time for time, _ in polls]
        assert times == sorted(times)
        assert len(set(times)) == len(times)


def test_polls_cover_the_days_before_the_end_and_the_newest_poll_is_the_end(feeds, parsed):
    times = [time for polls in parsed.polls.values() for time, _ in polls]
    assert max(times) == feeds.last_poll == DEFAULT_END
    assert min(times) == feeds.first_poll > DEFAULT_END - dt.timedelta(days=8)
    assert min(times) < DEFAULT_END - dt.timedelta(days=8) + dt.timedelta(hours=1)
    assert len(times) == feeds.polls


def test_hours_rows_name_days_zero_to_six_and_valid_times_of_known_stores(feeds, parsed):
    rows = [row for rows in parsed.hours.values() for row in rows]
    assert len(rows) == feeds.hours_rows
    assert {day for day, _, _ in rows} == set(range(7))
    assert set(parsed.hours) <= parsed.stores


def test_every_zone_is_a_tz_database_name_and_every_store_has_at_most_one(feeds, parsed):
    assert len(parsed.zones) == feeds.zone_rows
    assert set(parsed.zones) <= parsed.stores
    assert all(is_valid_timezone(zone) for zone in parsed.zones.values())


def test_uuid_ids_look_like_the_2024_feeds():
    feeds = generate_feeds(20, 2, seed=3, uuid_ids=True)
    ids = {line.split(",", 1)[0] for line in feeds.store_status.splitlines()[1:]}
    assert len(ids) == 20
    for store_id in ids:
        assert str(uuid.UUID(store_id)) == store_id
        assert uuid.UUID(store_id).version == 4
    assert {line.split(",", 1)[0] for line in feeds.menu_hours.splitlines()[1:]} <= ids


# --- Realistic shapes ----------------------------------------------------------------------


def test_polls_come_about_hourly_with_jitter(parsed):
    gaps = [
        (later[0] - earlier[0]).total_seconds() / 3600
        for polls in parsed.polls.values()
        for earlier, later in pairwise(polls)
    ]
    gaps.sort()
    assert 0.8 < gaps[len(gaps) // 2] < 1.2
    assert len({round(gap, 2) for gap in gaps}) > 50


def test_some_stores_are_polled_sparsely_or_have_a_gap_of_a_day(parsed):
    per_store = {store: len(polls) for store, polls in parsed.polls.items()}
    assert any(count <= 8 * 24 / 2 for count in per_store.values())
    assert any(
        any((b[0] - a[0]) >= dt.timedelta(hours=20) for a, b in pairwise(polls)) for polls in parsed.polls.values()
    )


def test_most_polls_are_active_and_outages_come_in_runs_of_several_polls(feeds, parsed):
    assert 0 < feeds.inactive_polls < 0.15 * feeds.polls
    longest_runs = []
    for polls in parsed.polls.values():
        run = longest = 0
        for _, status in polls:
            run = run + 1 if status == "inactive" else 0
            longest = max(longest, run)
        longest_runs.append(longest)
    assert max(longest_runs) >= 4
    assert sum(1 for longest in longest_runs if longest >= 3) >= 5


def test_some_stores_have_split_shifts_of_up_to_four_rows_a_day(parsed):
    rows_per_day = Counter((store, day) for store, rows in parsed.hours.items() for day, _, _ in rows)
    assert {2, 3, 4} <= set(rows_per_day.values())
    assert max(rows_per_day.values()) == 4


def test_some_stores_have_different_hours_on_different_days(parsed):
    assert any(len({(start, end) for _, start, end in rows}) > 1 for rows in parsed.hours.values())


def test_some_stores_have_overnight_rows_ending_before_they_start(parsed):
    assert any(end < start for rows in parsed.hours.values() for _, start, end in rows)


def test_some_stores_are_open_24_hours_by_equal_times_or_a_whole_day_row(parsed):
    rows = {(start, end) for rows in parsed.hours.values() for _, start, end in rows}
    assert any(start == end for start, end in rows)
    assert (dt.time(0), dt.time(23, 59, 59)) in rows
    assert (dt.time(0), dt.time(23, 59)) in rows


def test_some_stores_split_midnight_like_the_real_feeds(parsed):
    def splits_midnight(rows):
        days = defaultdict(set)
        for day, start, end in rows:
            days[day].add((start, end))
        return any(
            any(start == dt.time(0) and end <= dt.time(2) for start, end in spans)
            and any(end >= dt.time(23, 59) and start > dt.time(2) for start, end in spans)
            for spans in days.values()
        )

    assert any(splits_midnight(rows) for rows in parsed.hours.values())


def test_some_stores_list_fewer_than_seven_days(parsed):
    assert any(len({day for day, _, _ in rows}) < 7 for rows in parsed.hours.values())


def test_some_stores_have_no_hours_rows_and_some_no_zone_row(parsed):
    assert parsed.stores - set(parsed.hours)
    assert parsed.stores - set(parsed.zones)


def test_stores_are_in_several_us_and_non_us_zones(parsed):
    zones = set(parsed.zones.values())
    assert len({z for z in zones if z.startswith("America/")}) >= 4
    assert len({z for z in zones if not z.startswith("America/")}) >= 3
    assert {"America/Phoenix", "Pacific/Honolulu"} & zones


def test_a_dozen_stores_already_show_every_shape():
    small = Parsed(generate_feeds(12, 4, seed=11))
    rows = [row for rows in small.hours.values() for row in rows]
    assert small.stores - set(small.hours)
    assert small.stores - set(small.zones)
    assert any(end < start for _, start, end in rows)
    assert any(end == start for _, start, end in rows)
    assert any(len({day for day, _, _ in rows}) < 7 for rows in small.hours.values())
    assert any(status == "inactive" for polls in small.polls.values() for _, status in polls)


# --- Daylight saving -----------------------------------------------------------------------


def test_straddle_dst_puts_a_daylight_saving_change_inside_the_last_seven_days():
    feeds = generate_feeds(30, 8, seed=5, straddle_dst=True)
    parsed = Parsed(feeds)
    assert feeds.last_poll == DST_STRADDLE_END
    zones_in_use = set(parsed.zones.values())
    if parsed.stores - set(parsed.zones):
        zones_in_use.add(DEFAULT_TIMEZONE)
    week_start, week_end = feeds.last_poll - dt.timedelta(days=7), feeds.last_poll
    changing = {
        zone
        for zone in zones_in_use
        if week_start.astimezone(ZoneInfo(zone)).utcoffset() != week_end.astimezone(ZoneInfo(zone)).utcoffset()
    }
    assert {"America/New_York", "America/Chicago"} & changing


def test_the_default_end_has_no_daylight_saving_change_in_its_last_week():
    week_start = DEFAULT_END - dt.timedelta(days=7)
    zone = ZoneInfo("America/New_York")
    assert week_start.astimezone(zone).utcoffset() == DEFAULT_END.astimezone(zone).utcoffset()


def test_straddle_dst_and_an_explicit_end_exclude_each_other():
    with pytest.raises(SampleDataError, match="--straddle-dst"):
        generate_feeds(5, 1, seed=1, end=DEFAULT_END, straddle_dst=True)


# --- Arguments and the command -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2023-01-25 18:13:22.47922 UTC", "2023-01-25T18:13:22.47922Z", "2023-01-25 12:13:22.47922-06:00"],
)
def test_an_end_is_read_in_the_feed_format_or_iso_8601(text):
    assert parse_end(text) == DEFAULT_END


def test_an_unreadable_end_says_what_is_expected():
    with pytest.raises(SampleDataError, match="is not a time like"):
        parse_end("yesterday")


def test_the_command_writes_three_files_and_prints_a_one_line_summary(tmp_path):
    out = StringIO()
    call_command("generate_sample_data", stores=15, days=2, seed=4, out=str(tmp_path), stdout=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FEED_FILES)
    feeds = generate_feeds(15, 2, seed=4)
    summary = out.getvalue()
    assert summary.count("\n") == 1
    assert f"15 stores, {feeds.polls} polls" in summary
    assert f"{feeds.hours_rows} hours rows" in summary
    assert read_feed_files(tmp_path)["store_status.csv"] == feeds.store_status.encode()


def test_the_command_reads_its_options_like_a_shell_would(tmp_path):
    args = f"--stores 10 --days 1 --seed 9 --gzip --uuid-ids --end '2024-10-03 23:33:20 UTC' --out {tmp_path}"
    call_command("generate_sample_data", *shlex.split(args), stdout=StringIO())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.gz" for name in FEED_FILES)
    lines = read_feed_files(tmp_path)["store_status.csv"].decode().splitlines()[1:]
    polls = [line.split(",") for line in lines]
    newest = max(parse_poll_time(time) for _, _, time in polls)
    assert newest == dt.datetime(2024, 10, 3, 23, 33, 20, tzinfo=UTC)
    assert all(uuid.UUID(store_id) for store_id, _, _ in polls)


def test_the_command_refuses_bad_numbers_and_a_mix_of_csv_and_gzip(tmp_path):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_sample_data", stores=0, out=str(tmp_path), stdout=StringIO())
    call_command("generate_sample_data", stores=3, days=1, out=str(tmp_path), stdout=StringIO())
    with pytest.raises(CommandError, match="store_status.csv exists"):
        call_command("generate_sample_data", "--gzip", stores=3, days=1, out=str(tmp_path), stdout=StringIO())


# --- The committed sample ------------------------------------------------------------------


def documented_command() -> list[str]:
    readme = (SAMPLE_DIR / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if "manage.py generate_sample_data" in line]
    assert len(lines) == 1, "data/sample/README.md must show exactly one generate_sample_data command"
    words = shlex.split(lines[0])
    return words[words.index("generate_sample_data") + 1 :]


def test_the_committed_sample_is_what_its_documented_command_generates(tmp_path):
    args = documented_command()
    out = args.index("--out")
    assert Path(args[out + 1]) == Path("data/sample")
    args[out + 1] = str(tmp_path)
    call_command("generate_sample_data", *args, stdout=StringIO())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in SAMPLE_DIR.glob("*.csv*"))
    # Uncompressed contents, so a different zlib build cannot fail this.
    assert read_feed_files(tmp_path) == read_feed_files(SAMPLE_DIR)


def test_the_committed_sample_readme_states_its_row_counts_and_stays_small():
    readme = (SAMPLE_DIR / "README.md").read_text()
    contents = read_feed_files(SAMPLE_DIR)
    for name, data in contents.items():
        rows = data.count(b"\n") - 1
        assert f"{rows:,}" in readme, name
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 2_000_000


# --- Loading with load_csvs ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_committed_sample_loads_with_load_csvs_row_for_row():
    call_command("load_csvs", str(SAMPLE_DIR), stdout=StringIO())
    contents = read_feed_files(SAMPLE_DIR)
    rows = {name: data.count(b"\n") - 1 for name, data in contents.items()}
    assert StatusPoll.objects.count() == rows["store_status.csv"]
    assert BusinessHours.objects.count() == rows["menu_hours.csv"]
    assert Timezone.objects.count() == rows["timezones.csv"]
    assert Store.objects.count() == 300
    # Microseconds survive, and the newest poll is the generator's end.
    assert StatusPoll.objects.latest("timestamp_utc").timestamp_utc == DEFAULT_END
    assert BusinessHours.objects.filter(end_time_local__lt=F("start_time_local")).exists()


@pytest.mark.django_db
def test_generated_uuid_ids_in_plain_csv_load_with_load_csvs(tmp_path):
    feeds = generate_feeds(25, 3, seed=8, uuid_ids=True)
    write_feeds(feeds, tmp_path)
    call_command("load_csvs", str(tmp_path), stdout=StringIO())
    assert Store.objects.count() == feeds.stores
    assert StatusPoll.objects.count() == feeds.polls
    assert StatusPoll.objects.filter(status="inactive").count() == feeds.inactive_polls
    assert BusinessHours.objects.count() == feeds.hours_rows
    assert Timezone.objects.count() == feeds.zone_rows
    without_zone = Store.objects.filter(timezone__isnull=True)
    assert without_zone.exists()
    assert {store.timezone_name for store in without_zone} == {DEFAULT_TIMEZONE}


# --- Owners (store_owners.csv, with --owners) ----------------------------------------------


def owner_rows(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert lines[0] == "store_id,owner"
    rows = dict(line.split(",") for line in lines[1:])
    assert len(rows) == len(lines) - 1  # one row per store
    return rows


def test_owners_come_in_a_store_owners_file_and_leave_the_other_feeds_as_they_are():
    plain = generate_feeds(60, 2, seed=5)
    owned = generate_feeds(60, 2, seed=5, owners=4)

    assert plain.store_owners is None
    assert (owned.store_status, owned.menu_hours, owned.timezones) == (
        plain.store_status,
        plain.menu_hours,
        plain.timezones,
    )
    rows = owner_rows(owned.store_owners)
    assert len(rows) == owned.owner_rows
    assert set(rows) <= set(Parsed(owned).stores)


def test_most_stores_get_an_owner_by_name_or_slug_every_owner_has_stores_and_some_stores_none():
    feeds = generate_feeds(300, 2, seed=9, owners=6)
    rows = owner_rows(feeds.store_owners)
    named = {slugify(text) for text in rows.values() if text}

    assert feeds.owner_names == (
        "Bella Napoli",
        "Golden Wok",
        "Taco Loco",
        "Le Petit Café",
        "Burger Barn",
        "Green Bowl",
    )
    assert named == {slugify(name) for name in feeds.owner_names}
    assert feeds.owned_stores == sum(1 for text in rows.values() if text) > 0.85 * 300
    assert "" in rows.values()  # listed without an owner
    assert len(rows) < 300  # and not listed at all
    assert {"Bella Napoli", "bella-napoli"} <= set(rows.values())


def test_owner_slugs_are_what_django_s_slugify_makes_of_the_names():
    assert [owner_slug(owner_name(n)) for n in range(14)] == [slugify(owner_name(n)) for n in range(14)]
    assert owner_name(12) == "Restaurant Group 13"


def test_a_negative_number_of_owners_is_refused():
    with pytest.raises(SampleDataError, match=r"--owners must be 0 \(no store_owners.csv\) or more \(got -1\)"):
        generate_feeds(5, 1, seed=1, owners=-1)


def test_the_command_writes_store_owners_csv_with_owners_and_says_so(tmp_path):
    out = StringIO()
    call_command("generate_sample_data", "--owners", "3", stores=20, days=1, seed=4, out=str(tmp_path), stdout=out)

    feeds = generate_feeds(20, 1, seed=4, owners=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FEED_FILES, "store_owners.csv"])
    assert (tmp_path / "store_owners.csv").read_text() == feeds.store_owners
    assert f", {feeds.owner_rows} owner rows giving {feeds.owned_stores} stores one of 3 owners; wrote " in (
        out.getvalue()
    )


def committed_owner_rows() -> dict[str, str]:
    return owner_rows(gzip.decompress((SAMPLE_DIR / "store_owners.csv.gz").read_bytes()).decode())


def test_the_committed_sample_s_owners_are_what_its_documented_command_generates_and_its_readme_counts(tmp_path):
    args = documented_command()
    args[args.index("--out") + 1] = str(tmp_path)
    call_command("generate_sample_data", *args, stdout=StringIO())
    rows = committed_owner_rows()

    assert owner_rows(gzip.decompress((tmp_path / "store_owners.csv.gz").read_bytes()).decode()) == rows
    readme = (SAMPLE_DIR / "README.md").read_text()
    owned = sum(1 for text in rows.values() if text)
    assert f"| `store_owners.csv.gz` | {len(rows):,} | {owned} stores of 8 owners; " in readme


@pytest.mark.django_db
def test_the_committed_sample_gives_most_stores_one_of_its_owners_when_loaded():
    call_command("load_csvs", str(SAMPLE_DIR), stdout=StringIO())
    rows = committed_owner_rows()

    assert Owner.objects.count() == 8
    assert Owner.objects.get(slug="le-petit-cafe").name == "Le Petit Café"
    assert Store.objects.filter(owner__isnull=False).count() == sum(1 for text in rows.values() if text)
    assert Store.objects.filter(owner__isnull=True).count() == 300 - sum(1 for text in rows.values() if text)
    for store_id, text in list(rows.items())[:40]:
        assert Store.objects.get(store_id=store_id).owner_id == (
            Owner.objects.get(slug=slugify(text)).pk if text else None
        )
