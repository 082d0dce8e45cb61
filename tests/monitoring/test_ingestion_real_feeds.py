"""Both published versions of the real feeds load as they are (skipped when they are absent).

The expected counts come from the files themselves, read here with plain Python.
"""

import csv
import datetime as dt
import gzip
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from monitoring.models import BusinessHours, StatusPoll, Store, Timezone

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def read_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as text:
        return list(csv.DictReader(text))


@pytest.mark.parametrize("version", ["loop-2023", "loop-2024"])
def test_a_published_version_of_the_feeds_loads_completely(shared_data_dir, version):
    directory = shared_data_dir / version
    polls = read_rows(directory / "store_status.csv.gz")
    hours = read_rows(directory / "menu_hours.csv.gz")
    zones = read_rows(directory / "timezones.csv.gz")
    expected_stores = {row["store_id"] for row in polls + hours + zones}

    call_command("load_csvs", str(directory), stdout=io.StringIO())

    assert StatusPoll.objects.count() == len({(row["store_id"], row["timestamp_utc"]) for row in polls})
    assert BusinessHours.objects.count() == len(hours)
    assert Timezone.objects.count() == len({row["store_id"] for row in zones})
    assert Store.objects.count() == len(expected_stores)
    assert StatusPoll.objects.filter(status="inactive").count() == sum(row["status"] == "inactive" for row in polls)


def test_reloading_the_2023_feeds_changes_nothing(shared_data_dir):
    directory = shared_data_dir / "loop-2023"
    call_command("load_csvs", str(directory), stdout=io.StringIO())
    counts = [model.objects.count() for model in (Store, StatusPoll, BusinessHours, Timezone)]

    out = io.StringIO()
    call_command("load_csvs", str(directory), stdout=out)  # the same content: skipped, not read
    assert [model.objects.count() for model in (Store, StatusPoll, BusinessHours, Timezone)] == counts
    assert "polls store_status.csv.gz: skipped, the same content was imported completely" in out.getvalue()

    out = io.StringIO()
    call_command("load_csvs", str(directory), "--force", stdout=out)
    assert [model.objects.count() for model in (Store, StatusPoll, BusinessHours, Timezone)] == counts
    assert f"polls store_status.csv.gz: {counts[1]:,} read, 0 inserted, {counts[1]:,} duplicates" in out.getvalue()


@pytest.mark.parametrize("version", ["loop-2023", "loop-2024"])
def test_every_real_poll_keeps_its_store_status_and_microseconds(shared_data_dir, version):
    path = shared_data_dir / version / "store_status.csv.gz"
    expected = {
        (
            row["store_id"],
            dt.datetime.fromisoformat(row["timestamp_utc"].removesuffix(" UTC")).replace(tzinfo=UTC),
            row["status"],
        )
        for row in read_rows(path)
    }

    call_command("load_csvs", "--polls", str(path), stdout=io.StringIO())

    assert set(StatusPoll.objects.values_list("store__store_id", "timestamp_utc", "status")) == expected
