"""--skip-invalid: bad rows are counted and explained, the rest loads."""

from io import StringIO

import pytest
from django.core.management import call_command

from monitoring.ingestion import IngestionError, load_feeds
from monitoring.models import BusinessHours, StatusPoll, Timezone
from tests.monitoring.csv_files import hours_file, polls_file, timezones_file, write_feed

pytestmark = pytest.mark.django_db


def test_bad_rows_are_skipped_counted_and_the_first_five_reasons_kept(tmp_path):
    bad = [f"{n},asleep,2023-01-25 18:13:22 UTC" for n in range(7)]
    good = ["10,active,2023-01-25 18:13:22 UTC", "11,inactive,2023-01-25 18:13:22 UTC"]
    path = polls_file(tmp_path, [good[0], *bad, "12,active", good[1]])

    summary = load_feeds(polls=path, skip_invalid=True)

    feed = summary.feeds[0]
    assert (feed.read, feed.inserted, feed.skipped, feed.duplicates) == (10, 2, 8, 0)
    assert feed.skip_reasons == [
        f"store_status.csv line {line}, field status: 'asleep' is not a status (expected active or inactive)"
        for line in range(3, 8)
    ]
    assert StatusPoll.objects.count() == 2


def test_every_feed_can_skip_its_bad_rows(tmp_path):
    summary = load_feeds(
        polls=polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC", "1,active,soon"]),
        hours=hours_file(tmp_path, ["1,0,09:00:00,17:00:00", "1,9,09:00:00,17:00:00"]),
        timezones=timezones_file(tmp_path, ["1,America/Chicago", "2,Nowhere/Special", "1,Asia/Beirut"]),
        skip_invalid=True,
    )

    assert [(feed.feed.value, feed.skipped) for feed in summary.feeds] == [
        ("timezones", 2),
        ("hours", 1),
        ("polls", 1),
    ]
    assert StatusPoll.objects.count() == BusinessHours.objects.count() == Timezone.objects.count() == 1
    # Of two different zones for one store, the first is kept and the second skipped.
    assert Timezone.objects.get().timezone_str == "America/Chicago"


def test_problems_with_the_whole_file_still_stop_the_run(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", ["store_id,status", "1,active"])

    with pytest.raises(IngestionError, match="the header has no timestamp_utc column"):
        load_feeds(polls=path, skip_invalid=True)


def test_the_command_prints_how_many_rows_it_skipped_and_why(tmp_path):
    path = polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC", "1,active,2023-02-30 00:00:00 UTC"])
    out = StringIO()

    call_command("load_csvs", "--polls", str(path), "--skip-invalid", stdout=out)

    lines = out.getvalue().splitlines()
    assert ", 1 skipped in " in lines[0]
    assert lines[1:3] == [
        "  1 invalid row skipped:",
        "  - store_status.csv line 3, field timestamp_utc: '2023-02-30 00:00:00 UTC' is not a timestamp "
        "(expected e.g. 2023-01-25 18:13:22.47922 UTC)",
    ]
