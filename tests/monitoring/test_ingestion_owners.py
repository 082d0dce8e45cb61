"""store_owners.csv: which owner each store belongs to, loaded by load_csvs like the other feeds."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.ingestion import Feed, IngestionError, find_feed_files, load_feeds, values
from monitoring.models import Owner, StatusPoll, Store
from tests.factories import OwnerFactory, StoreFactory
from tests.manage_py import manage_py
from tests.monitoring.csv_files import hours_file, owners_file, polls_file, timezones_file, write_feed

pytestmark = pytest.mark.django_db


def owners_of_stores():
    """Every store's owner, by store id: the owner's slug, or None."""
    return dict(Store.objects.values_list("store_id", "owner__slug"))


def owner_table():
    return sorted(Owner.objects.values_list("slug", "name"))


def counts(summary):
    """What the summary says per store, and the owners it created."""
    feed = summary.feeds[0]
    return {
        "read": feed.read,
        "listed": feed.stores_listed,
        "given": feed.stores_given,
        "changed": feed.stores_changed,
        "unchanged": feed.stores_unchanged,
        "duplicates": feed.duplicates,
        "written": feed.updated,
        "new owners": feed.owners_created,
        "new stores": summary.stores_created,
    }


@pytest.fixture
def alpha():
    """An owner whose slug is not the slugify of its name, with two stores; and a store without owner."""
    owner = OwnerFactory(name="Alpha Pizza", slug="alpha")
    StoreFactory(store_id="1", owner=owner)
    StoreFactory(store_id="2", owner=owner)
    StoreFactory(store_id="3")
    return owner


# --- What a row does -----------------------------------------------------------------------


def test_each_listed_store_gets_the_owner_its_row_names_by_slug_or_by_name(tmp_path, alpha):
    path = owners_file(tmp_path, ["3,alpha", "1,Bella Napoli", "4,bella-napoli"])

    summary = load_feeds(owners=path)

    # 3 had none and gets alpha by its slug; 1 moves from alpha to the new Bella Napoli;
    # 4 is a new store, given Bella Napoli by its slug; 2 is not listed and keeps alpha.
    assert owners_of_stores() == {"1": "bella-napoli", "2": "alpha", "3": "alpha", "4": "bella-napoli"}
    assert owner_table() == [("alpha", "Alpha Pizza"), ("bella-napoli", "Bella Napoli")]
    assert counts(summary) == {
        "read": 3,
        "listed": 3,
        "given": 2,
        "changed": 1,
        "unchanged": 0,
        "duplicates": 0,
        "written": 3,
        "new owners": 1,
        "new stores": 1,
    }


def test_an_owner_named_for_the_first_time_is_created_with_the_text_as_its_name_and_its_slugify_as_slug(tmp_path):
    path = owners_file(tmp_path, ["1,  Le Petit Café  ", "2,LE PETIT CAFE", "3,Taco Loco #2", "4,le-petit-cafe"])

    summary = load_feeds(owners=path)

    # The first row naming an owner gives its name (without the surrounding spaces); the other
    # spellings slugify alike and are the same owner.
    assert owner_table() == [("le-petit-cafe", "Le Petit Café"), ("taco-loco-2", "Taco Loco #2")]
    assert owners_of_stores() == {"1": "le-petit-cafe", "2": "le-petit-cafe", "3": "taco-loco-2", "4": "le-petit-cafe"}
    assert counts(summary)["new owners"] == 2


def test_an_owner_is_found_by_the_slugify_of_the_text_so_a_name_unlike_the_slug_is_another_owner(tmp_path, alpha):
    # "Alpha Pizza" slugifies to alpha-pizza, not alpha: the feed names this owner by its slug.
    load_feeds(owners=owners_file(tmp_path, ["3,Alpha Pizza"]))

    assert owner_table() == [("alpha", "Alpha Pizza"), ("alpha-pizza", "Alpha Pizza")]
    assert owners_of_stores()["3"] == "alpha-pizza"


def test_an_empty_owner_field_takes_the_store_s_owner_away(tmp_path, alpha):
    summary = load_feeds(owners=owners_file(tmp_path, ["1,", "3,   ", "5,"]))

    # 1 loses alpha; 3 had none and keeps none; 5 is created without owner.
    assert owners_of_stores() == {"1": None, "2": "alpha", "3": None, "5": None}
    assert counts(summary) == {
        "read": 3,
        "listed": 3,
        "given": 0,
        "changed": 1,
        "unchanged": 2,
        "duplicates": 0,
        "written": 1,
        "new owners": 0,
        "new stores": 1,
    }
    assert owner_table() == [("alpha", "Alpha Pizza")]  # an owner without stores stays


def test_stores_the_file_does_not_list_keep_their_owner(tmp_path, alpha):
    load_feeds(owners=owners_file(tmp_path, ["9,beta"]))

    assert owners_of_stores() == {"1": "alpha", "2": "alpha", "3": None, "9": "beta"}


def test_a_store_listed_twice_with_the_same_owner_however_spelled_is_a_duplicate(tmp_path):
    summary = load_feeds(
        owners=owners_file(tmp_path, ["1,Bella Napoli", "2,", "1,bella-napoli", "2,", "1,BELLA napoli"])
    )

    assert owners_of_stores() == {"1": "bella-napoli", "2": None}
    assert owner_table() == [("bella-napoli", "Bella Napoli")]
    assert (counts(summary)["read"], counts(summary)["listed"], counts(summary)["duplicates"]) == (5, 2, 3)


def test_loading_the_same_file_twice_writes_nothing_the_second_time(tmp_path, alpha):
    path = owners_file(tmp_path, ["1,beta", "2,alpha", "3,Gamma Grill", "4,"])
    load_feeds(owners=path)
    before = (owners_of_stores(), owner_table())

    again = load_feeds(owners=path)

    assert (owners_of_stores(), owner_table()) == before
    assert counts(again) == {
        "read": 4,
        "listed": 4,
        "given": 0,
        "changed": 0,
        "unchanged": 4,
        "duplicates": 0,
        "written": 0,
        "new owners": 0,
        "new stores": 0,
    }


def test_only_stores_whose_owner_changes_are_written(tmp_path, alpha):
    summary = load_feeds(owners=owners_file(tmp_path, ["1,alpha", "2,beta", "3,"]))

    assert (counts(summary)["written"], counts(summary)["changed"], counts(summary)["unchanged"]) == (1, 1, 2)


def test_owners_keep_their_users_and_name_when_a_file_names_them(tmp_path, two_owners):
    load_feeds(owners=owners_file(tmp_path, ["store-none,ALPHA"]))

    two_owners.owner_a.refresh_from_db()
    assert two_owners.owner_a.name == "Alpha Pizza"
    assert list(two_owners.owner_a.users.all()) == [two_owners.user_a]
    assert set(two_owners.owner_a.stores.values_list("store_id", flat=True)) == {"store-a", "store-none"}


def test_loading_fourteen_thousand_stores_takes_about_the_same_few_queries_as_ten(tmp_path):
    with CaptureQueriesContext(connection) as few:
        load_feeds(owners=owners_file(tmp_path, [f"{n},owner {n % 7}" for n in range(10)], name="a.csv"))
    rows = [f"{n}," if n % 7 == 0 else f"{n},owner {n % 300}" for n in range(14_000)]
    with CaptureQueriesContext(connection) as many:
        summary = load_feeds(owners=owners_file(tmp_path, rows, name="b.csv"))

    # The same statements; SQLite sends the staged rows in batches of 10,000, one more here.
    assert len(many) <= len(few) + 1
    assert Store.objects.count() == 14_000
    assert Store.objects.filter(owner__isnull=True).count() == 2_000
    assert Owner.objects.count() == 300
    # Of the first file's stores 1 to 9, 1-6 keep their owner, 8 and 9 get another; 0 and 7 lose theirs.
    assert counts(summary) == {
        "read": 14_000,
        "listed": 14_000,
        "given": 12_000 - 8,
        "changed": 4,
        "unchanged": 2_000 - 2 + 6,
        "duplicates": 0,
        "written": 12_000 - 8 + 4,
        "new owners": 293,
        "new stores": 13_990,
    }
    assert Store.objects.get(store_id="12345").owner.slug == "owner-45"


# --- Errors: line, field, and nothing kept -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        (
            "!!!",
            "'!!!' has no letters or digits to find the owner by; write the owner's slug or name, e.g. "
            "bella-napoli or Bella Napoli, or leave the field empty for a store without owner",
        ),
        (
            "—",
            "'—' has no letters or digits to find the owner by; write the owner's slug or name, e.g. "
            "bella-napoli or Bella Napoli, or leave the field empty for a store without owner",
        ),
        (
            "x" * 201,
            f"{'x' * 40!r}... (201 characters) is longer than an owner's name may be (200 characters); "
            "name the owner by its slug or a shorter name",
        ),
        (
            "a " * 55,
            f"{'a ' * 20!r}... (109 characters) makes a slug of 109 characters, and an owner's slug has "
            "at most 100; name the owner by a shorter name",
        ),
        ('"Bella\tNapoli"', "'Bella\\tNapoli' contains control characters (tab, line break, ...)"),
    ],
    ids=["no letters or digits", "only a dash", "name too long", "slug too long", "a tab"],
)
def test_an_owner_field_that_names_no_possible_owner_is_an_error_naming_file_line_and_field(tmp_path, field, problem):
    path = owners_file(tmp_path, ["1,alpha", f"2,{field}"])

    with pytest.raises(IngestionError) as caught:
        load_feeds(owners=path)

    assert str(caught.value) == f"store_owners.csv line 3, field owner: {problem}"
    assert (caught.value.line, caught.value.field) == (3, "owner")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["1,alpha", "2,beta", "1,Bella Napoli"],
            "store_owners.csv line 4, field owner: store 1 already has owner 'alpha' on line 2, "
            "here owner 'Bella Napoli'; a store has at most one owner, so keep one of the two rows",
        ),
        (
            ["1,", "1,beta"],
            "store_owners.csv line 3, field owner: store 1 already has no owner (an empty field) on line 2, "
            "here owner 'beta'; a store has at most one owner, so keep one of the two rows",
        ),
        (
            ["1,beta", "1,"],
            "store_owners.csv line 3, field owner: store 1 already has owner 'beta' on line 2, "
            "here no owner (an empty field); a store has at most one owner, so keep one of the two rows",
        ),
    ],
    ids=["two owners", "none, then an owner", "an owner, then none"],
)
def test_a_store_listed_twice_with_different_owners_is_an_error_on_the_second_line_naming_both(tmp_path, rows, message):
    with pytest.raises(IngestionError) as caught:
        load_feeds(owners=owners_file(tmp_path, rows))

    assert str(caught.value) == message


def test_the_header_needs_both_columns(tmp_path):
    path = write_feed(tmp_path / "store_owners.csv", ["store_id,owner_name", "1,alpha"])

    with pytest.raises(IngestionError) as caught:
        load_feeds(owners=path)

    assert str(caught.value) == (
        "store_owners.csv line 1, field owner: the header has no owner column "
        "(it has store_id,owner_name; expected store_id,owner)"
    )


def test_a_row_without_the_owner_field_is_an_error_even_to_mean_no_owner(tmp_path):
    with pytest.raises(IngestionError) as caught:
        load_feeds(owners=owners_file(tmp_path, ["1,alpha", "2"]))

    assert str(caught.value) == "store_owners.csv line 3: 1 field where the header has 2 (store_id,owner)"


def test_loading_store_owners_csv_is_all_or_nothing(tmp_path, alpha):
    """A bad row on the last line leaves every store's owner and the owner table as they were."""
    before = (owners_of_stores(), owner_table())
    rows = ["1,beta", "2,", "3,alpha", "4,Gamma Grill", *[f"{n},Delta {n % 3}" for n in range(10, 200)], "5,!!!"]

    with pytest.raises(IngestionError, match=r"^store_owners\.csv line 196, field owner: '!!!' has no letters"):
        load_feeds(owners=owners_file(tmp_path, rows))

    assert (owners_of_stores(), owner_table()) == before


def test_a_bad_row_in_another_file_of_the_run_undoes_the_owners_too(tmp_path, alpha):
    before = (owners_of_stores(), owner_table())

    with pytest.raises(IngestionError, match="store_status.csv line 3, field status"):
        load_feeds(
            owners=owners_file(tmp_path, ["1,beta", "3,alpha", "7,gamma"]),
            polls=polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC", "1,asleep,2023-01-25 19:13:22 UTC"]),
        )

    assert (owners_of_stores(), owner_table()) == before
    assert not StatusPoll.objects.exists()


def test_skip_invalid_skips_bad_owner_rows_and_the_second_of_two_owners_and_loads_the_rest(tmp_path, alpha):
    path = owners_file(tmp_path, ["3,beta", "4,!!!", "3,gamma", "5,gamma"])

    summary = load_feeds(owners=path, skip_invalid=True)

    feed = summary.feeds[0]
    assert (feed.read, feed.skipped, feed.stores_listed) == (4, 2, 2)
    assert feed.skip_reasons == [
        "store_owners.csv line 3, field owner: '!!!' has no letters or digits to find the owner by; write the "
        "owner's slug or name, e.g. bella-napoli or Bella Napoli, or leave the field empty for a store without owner",
        "store_owners.csv line 4, field owner: store 3 already has owner 'beta' on line 2, here owner 'gamma'; "
        "a store has at most one owner, so keep one of the two rows",
    ]
    assert owners_of_stores() == {"1": "alpha", "2": "alpha", "3": "beta", "5": "gamma"}


def test_a_header_only_file_changes_nothing(tmp_path, alpha):
    summary = load_feeds(owners=owners_file(tmp_path, []))

    assert summary.describe()[0] == "owners store_owners.csv: held no rows (only its header), so nothing changed"
    assert owners_of_stores() == {"1": "alpha", "2": "alpha", "3": None}


# --- Files and the command -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["store_owners.csv", "store_owners.csv.gz", "Store Owners.CSV", "store-owners.csv"])
def test_a_directory_s_store_owners_file_is_found_by_its_name(tmp_path, name):
    polls = polls_file(tmp_path, [])
    owners = owners_file(tmp_path, [], name=name)

    assert find_feed_files(tmp_path) == {Feed.OWNERS: owners, Feed.POLLS: polls}


def test_a_bq_results_export_with_the_owners_header_is_the_owners_feed(tmp_path):
    path = write_feed(tmp_path / "bq-results-20240101-000000-1.csv", ["owner,store_id"])

    assert find_feed_files(tmp_path) == {Feed.OWNERS: path}


def test_a_directory_with_two_owners_files_says_to_name_one_with_owners(tmp_path):
    owners_file(tmp_path, [])
    owners_file(tmp_path, [], name="store_owners.csv.gz")

    with pytest.raises(
        IngestionError,
        match="holds two owners files, store_owners.csv and store_owners.csv.gz; remove one or name it with --owners",
    ):
        find_feed_files(tmp_path)


def test_a_directory_without_store_owners_csv_leaves_every_owner_alone(tmp_path, alpha):
    polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC", "8,active,2023-01-25 18:13:22 UTC"])
    hours_file(tmp_path, ["3,0,09:00:00,17:00:00"])
    timezones_file(tmp_path, ["2,Asia/Beirut"])

    output = run_command(str(tmp_path))

    assert "owners" not in output
    assert owners_of_stores() == {"1": "alpha", "2": "alpha", "3": None, "8": None}


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("load_csvs", *args, stdout=out)
    return out.getvalue()


OWNERS_LINE = (
    r"owners store_owners\.csv: 4 read, 3 stores listed, 1 given an owner, 1 changed \(their owner replaced or "
    r"taken away\), 1 unchanged, 1 new owner, 1 duplicates, 0 skipped in \d+\.\d s"
)


def test_load_csvs_owners_prints_stores_listed_given_changed_unchanged_and_new_owners(tmp_path, alpha):
    path = owners_file(tmp_path, ["1,alpha", "3,Bella Napoli", "2,", "3,bella-napoli"], name="who-owns-what.csv")

    lines = run_command("--owners", str(path)).splitlines()

    assert re.fullmatch(OWNERS_LINE.replace("store_owners", "who-owns-what"), lines[0])
    assert re.fullmatch(r"total: 1 file, 4 rows read, 0 skipped, 0 new stores in \d+\.\d s", lines[1])
    assert len(lines) == 2


def test_a_directory_s_owners_file_loads_after_the_zones_and_hours_and_before_the_polls(tmp_path, alpha):
    polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC"])
    hours_file(tmp_path, ["1,0,09:00:00,17:00:00"])
    timezones_file(tmp_path, ["1,Asia/Beirut"])
    owners_file(tmp_path, ["1,alpha", "3,Bella Napoli", "2,", "3,bella-napoli"], name="store_owners.csv.gz")

    lines = run_command(str(tmp_path)).splitlines()

    assert [line.split(" ", 1)[0] for line in lines] == ["timezones", "hours", "owners", "polls", "total:"]
    assert re.fullmatch(OWNERS_LINE.replace(r"\.csv", r"\.csv\.gz"), lines[2])


def test_a_bad_owner_row_is_a_command_error_and_nothing_is_loaded(tmp_path, alpha):
    path = owners_file(tmp_path, ["1,beta", "2,***"])

    with pytest.raises(CommandError) as caught:
        run_command("--owners", str(path))

    assert str(caught.value).splitlines() == [
        "store_owners.csv line 3, field owner: '***' has no letters or digits to find the owner by; write the "
        "owner's slug or name, e.g. bella-napoli or Bella Napoli, or leave the field empty for a store without owner",
        "Nothing was loaded.",
    ]
    assert owners_of_stores() == {"1": "alpha", "2": "alpha", "3": None}


def test_manage_py_load_csvs_owners_exits_1_on_a_bad_row_and_keeps_nothing(transactional_db, tmp_path):
    OwnerFactory(name="Alpha Pizza", slug="alpha")
    path = owners_file(tmp_path, ["1,Bella Napoli", "2,alpha", "1,alpha"])

    result = manage_py("load_csvs", "--owners", str(path))

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: store_owners.csv line 4, field owner: store 1 already has owner 'Bella Napoli' on line 2, "
        "here owner 'alpha'; a store has at most one owner, so keep one of the two rows\nNothing was loaded.\n"
    )
    assert not Store.objects.exists()
    assert owner_table() == [("alpha", "Alpha Pizza")]


def test_manage_py_load_csvs_owners_exits_0_and_prints_the_summary(transactional_db, tmp_path):
    path = owners_file(tmp_path, ["1,Bella Napoli", "2,alpha", "3,"])

    result = manage_py("load_csvs", "--owners", str(path))

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"owners store_owners\.csv: 3 read, 3 stores listed, 2 given an owner, 0 changed \(their owner replaced or "
        r"taken away\), 1 unchanged, 2 new owners, 0 duplicates, 0 skipped in \d+\.\d s",
        result.stdout.splitlines()[0],
    )
    assert owners_of_stores() == {"1": "bella-napoli", "2": "alpha", "3": None}


def test_the_lengths_the_feed_checks_are_the_owner_model_s():
    assert Owner._meta.get_field("name").max_length == values.OWNER_NAME_MAX_LENGTH
    assert Owner._meta.get_field("slug").max_length == values.OWNER_SLUG_MAX_LENGTH
