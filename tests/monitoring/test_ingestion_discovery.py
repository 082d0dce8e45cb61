"""A directory of feed files: the usual names, the older published names, and bq-results exports."""

from pathlib import Path

import pytest

from monitoring.ingestion import Feed, IngestionError, choose_feed_files, find_feed_files
from tests.monitoring.csv_files import POLLS_HEADER, hours_file, polls_file, timezones_file, write_feed


def test_the_usual_names_are_found(tmp_path):
    polls = polls_file(tmp_path, [])
    hours = hours_file(tmp_path, [])
    zones = timezones_file(tmp_path, [])
    (tmp_path / "README.md").write_text("not a feed")

    assert find_feed_files(tmp_path) == {Feed.TIMEZONES: zones, Feed.HOURS: hours, Feed.POLLS: polls}


def test_gzip_names_are_found(tmp_path):
    polls = polls_file(tmp_path, [], name="store_status.csv.gz")
    hours = hours_file(tmp_path, [], name="menu_hours.csv.gz")

    assert find_feed_files(tmp_path) == {Feed.HOURS: hours, Feed.POLLS: polls}


def test_the_older_published_names_are_found(tmp_path):
    hours = hours_file(tmp_path, [], name="Menu hours.csv")
    polls = polls_file(tmp_path, [], name="store status.csv")
    zones = timezones_file(tmp_path, [], name="bq-results-20230125-202210-1674678181880.csv")

    assert find_feed_files(tmp_path) == {Feed.TIMEZONES: zones, Feed.HOURS: hours, Feed.POLLS: polls}


@pytest.mark.parametrize(
    ("header", "feed"),
    [
        ("store_id,status,timestamp_utc", Feed.POLLS),
        ("store_id,dayOfWeek,start_time_local,end_time_local", Feed.HOURS),
        ("timezone_str,store_id", Feed.TIMEZONES),
    ],
)
def test_a_bq_results_export_is_the_feed_its_header_names(tmp_path, header, feed):
    path = write_feed(tmp_path / "bq-results-20230125-202210-1674678181880.csv.gz", [header])

    assert find_feed_files(tmp_path) == {feed: path}


def test_a_bq_results_export_with_an_unknown_header_is_an_error(tmp_path):
    write_feed(tmp_path / "bq-results-1.csv", ["store_id,revenue"])

    with pytest.raises(IngestionError, match="bq-results-1.csv line 1: is a bq-results export whose header"):
        find_feed_files(tmp_path)


def test_two_files_for_one_feed_are_an_error(tmp_path):
    polls_file(tmp_path, [])
    polls_file(tmp_path, [], name="store_status.csv.gz")

    with pytest.raises(IngestionError, match="holds two polls files, store_status.csv and store_status.csv.gz"):
        find_feed_files(tmp_path)


def test_a_directory_without_feed_files_is_an_error(tmp_path):
    with pytest.raises(IngestionError, match="holds none of the feed files"):
        find_feed_files(tmp_path)


def test_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(IngestionError, match="nowhere: no such directory"):
        find_feed_files(tmp_path / "nowhere")


def test_a_file_given_as_the_directory_is_an_error(tmp_path):
    with pytest.raises(IngestionError, match="store_status.csv: is not a directory; give the directory holding"):
        find_feed_files(polls_file(tmp_path, []))


def test_a_bq_results_export_separated_by_semicolons_is_told_so(tmp_path):
    write_feed(tmp_path / "bq-results-1.csv", ["store_id;timezone_str", "1;Asia/Beirut"])

    with pytest.raises(IngestionError) as caught:
        find_feed_files(tmp_path)

    assert str(caught.value) == "bq-results-1.csv line 1: the columns are separated by “;”; the feeds use commas"


@pytest.mark.parametrize(
    ("name", "message"),
    [("nowhere.csv", "nowhere.csv: no such file"), ("feeds", "feeds: is a directory, not a feed file")],
)
def test_a_named_file_that_cannot_be_opened_is_refused_before_anything_loads(tmp_path, name, message):
    (tmp_path / "feeds").mkdir()

    with pytest.raises(IngestionError) as caught:
        choose_feed_files(polls=tmp_path / name)

    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_file_named_explicitly_replaces_the_directory_s_file_for_that_feed(tmp_path):
    (tmp_path / "feeds").mkdir()
    polls_file(tmp_path / "feeds", [])
    zones = timezones_file(tmp_path / "feeds", [])
    other_polls = write_feed(tmp_path / "latest.csv", [POLLS_HEADER])

    assert choose_feed_files(tmp_path / "feeds", polls=other_polls) == {
        Feed.TIMEZONES: zones,
        Feed.POLLS: other_polls,
    }
    hours = hours_file(tmp_path, [], name="h.csv")
    assert choose_feed_files(hours=str(hours)) == {Feed.HOURS: Path(hours)}
