"""The import ledger (monitoring.imports): a row per file on every load, identical content
skipped unless forced, failures recorded with their sentence; and readers that list several
problems at once (InvalidRows)."""

import gzip
import io

import pytest
from django.core.management import CommandError, call_command

from monitoring.imports import content_digest, import_feeds
from monitoring.ingestion import Feed, IngestionError, InvalidRows, load_feeds
from monitoring.models import BusinessHours, Import, StatusPoll, Store
from tests.factories import UserFactory
from tests.monitoring.csv_files import POLLS_HEADER, hours_file, polls_file, timezones_file, write_feed

POLLS = [
    "1,active,2023-01-25 18:13:22.47922 UTC",
    "1,inactive,2023-01-25 19:13:22 UTC",
    "2,inactive,2023-01-25 18:13:22 UTC",
]

pytestmark = pytest.mark.django_db


def run_load_csvs(*args) -> str:
    out = io.StringIO()
    call_command("load_csvs", *args, stdout=out)
    return out.getvalue()


def test_a_command_load_is_recorded_per_file_with_its_counts(tmp_path):
    polls_file(tmp_path, [*POLLS, POLLS[0]])
    hours_file(tmp_path, ["1,0,09:00:00,17:00:00"])

    run_load_csvs(str(tmp_path))

    hours, polls = Import.objects.order_by("pk")
    assert (hours.feed, hours.source, hours.name, hours.status) == ("hours", "command", "menu_hours.csv", "complete")
    assert (polls.feed, polls.name, polls.status) == ("polls", "store_status.csv", "complete")
    assert (polls.rows_read, polls.rows_inserted, polls.rows_duplicate, polls.rows_skipped) == (4, 3, 1, 0)
    assert polls.summary.startswith("polls store_status.csv: 4 read, 3 inserted, 1 duplicates, 0 skipped")
    assert polls.finished_at >= polls.started_at
    assert polls.error == ""
    assert polls.sha256 == content_digest(tmp_path / "store_status.csv").sha256
    assert polls.size_bytes == (tmp_path / "store_status.csv").stat().st_size
    assert Import.objects.last_complete() in (hours, polls)


def test_the_same_content_is_skipped_and_says_so_unless_forced(tmp_path):
    polls_file(tmp_path, POLLS)
    run_load_csvs(str(tmp_path))
    first = Import.objects.get()

    out = run_load_csvs(str(tmp_path))

    skipped = Import.objects.exclude(pk=first.pk).get()
    assert skipped.status == "skipped"
    assert skipped.rows_read == 0
    assert f"(import #{first.pk})" in skipped.summary
    assert out.startswith("polls store_status.csv: skipped, the same content was imported completely at ")
    assert "--force loads it anyway" in out
    assert StatusPoll.objects.count() == 3

    out = run_load_csvs(str(tmp_path), "--force")
    forced = Import.objects.order_by("-pk").first()
    assert (forced.status, forced.rows_read, forced.rows_inserted, forced.rows_duplicate) == ("complete", 3, 0, 3)
    assert "polls store_status.csv: 3 read, 0 inserted, 3 duplicates" in out


def test_gzip_and_plain_files_of_one_content_have_one_digest(tmp_path):
    plain = write_feed(tmp_path / "a.csv", [POLLS_HEADER, *POLLS])
    compressed = tmp_path / "b.csv.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))

    assert content_digest(plain).sha256 == content_digest(compressed).sha256
    import_feeds({Feed.POLLS: plain}, source=Import.Source.COMMAND)
    outcome = import_feeds({Feed.POLLS: compressed}, source=Import.Source.FOLDER)
    assert [entry.status for entry in outcome.imports] == ["skipped"]
    assert outcome.summary is None


def test_the_same_content_for_another_feed_is_not_a_repeat(tmp_path):
    # Only a complete import of the same feed counts: a file of polls says nothing about hours.
    path = polls_file(tmp_path, POLLS)
    import_feeds({Feed.POLLS: path}, source=Import.Source.COMMAND)
    Import.objects.update(feed="hours")
    outcome = import_feeds({Feed.POLLS: path}, source=Import.Source.COMMAND)
    assert outcome.imports[0].status == "complete"


def test_a_failed_load_keeps_nothing_and_records_why(tmp_path):
    polls_file(tmp_path, [POLLS[0], "2,sleeping,2023-01-25 18:13:22 UTC"])
    hours_file(tmp_path, ["1,0,09:00:00,17:00:00"])

    with pytest.raises(CommandError, match="store_status.csv line 3, field status"):
        run_load_csvs(str(tmp_path))

    assert not StatusPoll.objects.exists()
    assert not BusinessHours.objects.exists()
    hours, polls = Import.objects.order_by("pk")
    assert polls.status == hours.status == "failed"
    assert polls.error.startswith("store_status.csv line 3, field status: ")
    assert hours.error == ("not kept: polls store_status.csv of the same load failed, and a load is all or nothing")
    assert Import.objects.last_complete() is None
    # A failed import is not a complete one: the same file, once mended, loads.
    polls_file(tmp_path, POLLS)
    run_load_csvs(str(tmp_path))
    assert StatusPoll.objects.count() == 3


def test_a_load_that_crashes_is_recorded_as_failed(tmp_path, monkeypatch):
    path = polls_file(tmp_path, POLLS)

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("monitoring.imports.load_feeds", crash)
    with pytest.raises(RuntimeError):
        import_feeds({Feed.POLLS: path}, source=Import.Source.API)
    entry = Import.objects.get()
    assert (entry.status, entry.error) == ("failed", "the load stopped: RuntimeError: disk on fire")


def test_the_user_and_the_display_name_are_recorded(tmp_path):
    user = UserFactory()
    path = timezones_file(tmp_path, ["1,America/Denver"])
    outcome = import_feeds(
        {Feed.TIMEZONES: path}, source=Import.Source.API, names={Feed.TIMEZONES: "request body"}, requested_by=user
    )
    entry = outcome.imports[0]
    assert (entry.requested_by, entry.name, entry.source) == (user, "request body", "api")
    assert Store.objects.get().timezone.timezone_str == "America/Denver"


def test_several_problems_are_listed_in_file_order_and_nothing_is_kept(tmp_path):
    rows = [POLLS[0]] + [f"{n},sleeping,2023-01-25 18:13:22 UTC" for n in range(25)] + ["9,active,yesterday"]
    path = polls_file(tmp_path, rows)

    with pytest.raises(InvalidRows) as raised:
        load_feeds(polls=path, max_problems=20)

    problems = raised.value.problems
    assert len(problems) == 20
    assert [problem.line for problem in problems] == list(range(3, 23))
    assert {problem.field for problem in problems} == {"status"}
    assert str(raised.value).startswith("store_status.csv line 3, field status: ")
    assert str(raised.value).endswith("(and 19 more problems after it)")
    assert not StatusPoll.objects.exists()


def test_fewer_problems_than_the_limit_are_all_listed_at_the_end(tmp_path):
    path = polls_file(tmp_path, [POLLS[0], "2,sleeping,2023-01-25 18:13:22 UTC", POLLS[1], "3,active,yesterday"])

    with pytest.raises(InvalidRows) as raised:
        load_feeds(polls=path, max_problems=20, names={Feed.POLLS: "request body"})

    assert [(p.line, p.field) for p in raised.value.problems] == [(3, "status"), (5, "timestamp_utc")]
    assert raised.value.describe_all()[0].startswith("request body line 3, field status: ")
    assert not StatusPoll.objects.exists()


def test_a_file_level_error_after_row_problems_ends_the_list(tmp_path, settings):
    # A quote that stays open past the line limit stops the reading: the problems found before
    # it come first.
    settings.MAX_FEED_LINE_CHARS = 1024
    open_quote = ['3,"active,2023-01-25 18:13:22 UTC'] + ["x" * 100] * 20
    path = polls_file(tmp_path, [POLLS[0], "2,sleeping,2023-01-25 18:13:22 UTC", *open_quote])

    with pytest.raises(InvalidRows) as raised:
        load_feeds(polls=path, max_problems=20)

    first, last = raised.value.problems
    assert (first.line, first.field) == (3, "status")
    assert last.line == 4
    assert "its closing quote is probably missing" in last.problem


def test_one_problem_is_still_a_plain_error_by_default(tmp_path):
    path = polls_file(tmp_path, ["2,sleeping,2023-01-25 18:13:22 UTC", "3,active,yesterday"])
    with pytest.raises(IngestionError) as raised:
        load_feeds(polls=path)
    assert not isinstance(raised.value, InvalidRows)
    assert raised.value.line == 2
