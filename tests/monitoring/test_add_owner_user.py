"""manage.py add_owner_user OWNER_SLUG USERNAME: a user (created if needed) joins an owner."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from monitoring.models import Owner
from monitoring.owners import OwnerUserError, add_owner_user
from tests.factories import OwnerFactory, StoreFactory, UserFactory
from tests.manage_py import manage_py

pytestmark = pytest.mark.django_db
User = get_user_model()


def run_command(*args) -> list[str]:
    out = io.StringIO()
    call_command("add_owner_user", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_new_user_is_created_without_a_password_and_added_to_the_owner(two_owners):
    StoreFactory(store_id="store-a2", owner=two_owners.owner_a)

    lines = run_command("alpha", "carol", "--email", "carol@example.com")

    assert lines == [
        "Created user carol.",
        "Added carol to owner Alpha Pizza (alpha): carol now sees its 2 stores.",
        "carol has no password yet; set one with: manage.py changepassword carol",
    ]
    carol = User.objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert not carol.has_usable_password()
    assert not carol.is_staff
    assert list(carol.owners.all()) == [two_owners.owner_a]
    assert set(two_owners.owner_a.users.all()) == {two_owners.user_a, carol}


def test_an_existing_user_is_added_to_another_owner_and_keeps_its_password_and_first_owner(two_owners):
    lines = run_command("beta", "alice")

    assert lines == ["Added alice to owner Beta Burgers (beta): alice now sees its 1 store."]
    alice = User.objects.get(username="alice")
    assert alice.check_password("a long enough test password")
    assert set(alice.owners.values_list("slug", flat=True)) == {"alpha", "beta"}


def test_adding_a_user_twice_says_it_is_already_a_user_and_changes_nothing(two_owners):
    lines = run_command("alpha", "alice")

    assert lines == ["alice is already a user of owner Alpha Pizza (alpha); nothing changed."]
    assert list(two_owners.owner_a.users.all()) == [two_owners.user_a]


def test_an_unknown_owner_is_an_error_saying_how_to_create_one(two_owners):
    with pytest.raises(CommandError) as caught:
        run_command("gamma", "carol")

    assert str(caught.value) == (
        "No owner has the slug 'gamma' (the owners are alpha, beta). Create it with --create-owner \"Its Name\", "
        "in the admin (Owners, Add), or by naming it in store_owners.csv (manage.py load_csvs --owners FILE)."
    )
    assert not User.objects.filter(username="carol").exists()


def test_without_any_owner_the_error_says_there_is_none_yet():
    with pytest.raises(OwnerUserError, match=r"^No owner has the slug 'alpha' \(there are no owners yet\)\."):
        add_owner_user("alpha", "alice")


def test_an_unknown_owner_error_lists_only_the_first_ten_slugs():
    for n in range(12):
        OwnerFactory(slug=f"owner-{n:02}")

    with pytest.raises(OwnerUserError) as caught:
        add_owner_user("gamma", "alice")

    assert "(owners include owner-00, owner-01, owner-02, owner-03, owner-04, owner-05, owner-06, owner-07, " in str(
        caught.value
    )
    assert "owner-09, ...)" in str(caught.value)


def test_create_owner_creates_the_owner_with_its_name_and_the_given_slug():
    lines = run_command("gamma-grill", "gina", "--create-owner", "Gamma Grill")

    assert lines[:3] == [
        "Created owner Gamma Grill (gamma-grill).",
        "Created user gina.",
        "Added gina to owner Gamma Grill (gamma-grill): gina now sees its 0 stores.",
    ]
    owner = Owner.objects.get()
    assert (owner.slug, owner.name, [u.username for u in owner.users.all()]) == ("gamma-grill", "Gamma Grill", ["gina"])


def test_create_owner_with_an_existing_owner_uses_it_as_it_is(two_owners):
    lines = run_command("alpha", "carol", "--create-owner", "Another Name")

    assert lines[1] == "Added carol to owner Alpha Pizza (alpha): carol now sees its 1 store."
    assert Owner.objects.count() == 2
    assert Owner.objects.get(slug="alpha").name == "Alpha Pizza"


def test_the_owner_may_be_named_as_store_owners_csv_names_it(two_owners):
    OwnerFactory(name="Gamma Grill", slug="gamma-grill")

    lines = run_command("Gamma Grill", "alice")

    assert lines == ["Added alice to owner Gamma Grill (gamma-grill): alice now sees its 0 stores."]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["Gamma_Grill", "gina", "--create-owner", "Gamma Grill"],
            "'Gamma_Grill' cannot be a new owner's slug: use up to 100 lower-case letters, digits, hyphens and "
            "underscores, e.g. gamma_grill (store_owners.csv finds an owner by such a slug).",
        ),
        (
            ["gamma grill", "gina", "--create-owner", "Gamma Grill"],
            "'gamma grill' cannot be a new owner's slug: use up to 100 lower-case letters, digits, hyphens and "
            "underscores, e.g. gamma-grill (store_owners.csv finds an owner by such a slug).",
        ),
        (["gamma", "gina", "--create-owner", "  "], "--create-owner needs the owner's name, 1 to 200 characters."),
        (
            ["alpha", "gi na"],
            "'gi na' cannot be a username: Enter a valid username. This value may contain only letters, numbers, "
            "and @/./+/-/_ characters.",
        ),
        (
            ["alpha", "g" * 151],
            f"{'g' * 151!r} cannot be a username: Ensure this value has at most 150 characters (it has 151).",
        ),
        (["alpha", " "], "The username is empty; give the user's name, e.g. alice."),
        (
            ["alpha", "gina", "--email", "gina-at-example"],
            "--email 'gina-at-example' is not an email address: Enter a valid email address.",
        ),
    ],
    ids=["capitals", "a space", "no name", "a space in the username", "too long a username", "no username", "email"],
)
def test_what_cannot_be_saved_is_a_sentence_and_nothing_is_created(two_owners, arguments, message):
    with pytest.raises(CommandError) as caught:
        run_command(*arguments)

    assert str(caught.value) == message
    assert Owner.objects.count() == 2
    assert User.objects.count() == 3


def test_a_user_without_email_gets_the_given_one_and_a_user_with_one_keeps_it(two_owners):
    UserFactory(username="dan", email="")

    assert run_command("alpha", "dan", "--email", "dan@example.com")[0].startswith("Added dan")
    lines = run_command("beta", "alice", "--email", "other@example.com")

    assert User.objects.get(username="dan").email == "dan@example.com"
    assert lines[0] == "User alice keeps the email alice@example.com; --email applies to new users only."
    assert User.objects.get(username="alice").email == "alice@example.com"


def test_the_function_says_what_it_did():
    added = add_owner_user("delta", "dora", create_owner="Delta Diner")
    again = add_owner_user("delta", "dora")

    assert (added.owner_created, added.user_created, added.already_a_user) == (True, True, False)
    assert (again.owner_created, again.user_created, again.already_a_user) == (False, False, True)
    assert again.owner == added.owner
    assert again.user == added.user


# transactional_db: the child process must see our rows, and we its commits.
def test_manage_py_exits_0_and_prints_what_it_did_then_says_already_a_user(transactional_db):
    OwnerFactory(name="Alpha Pizza", slug="alpha")

    first = manage_py("add_owner_user", "alpha", "alice", "--email", "alice@example.com")
    second = manage_py("add_owner_user", "alpha", "alice")

    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == (
        "Created user alice.\n"
        "Added alice to owner Alpha Pizza (alpha): alice now sees its 0 stores.\n"
        "alice has no password yet; set one with: manage.py changepassword alice\n"
    )
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout.splitlines()[0] == "alice is already a user of owner Alpha Pizza (alpha); nothing changed."
    assert list(Owner.objects.get().users.values_list("username", flat=True)) == ["alice"]


def test_manage_py_exits_1_with_one_line_for_an_unknown_owner(transactional_db):
    result = manage_py("add_owner_user", "gamma", "alice")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: No owner has the slug 'gamma' (there are no owners yet). Create it with --create-owner "
        '"Its Name", in the admin (Owners, Add), or by naming it in store_owners.csv (manage.py load_csvs '
        "--owners FILE).\n"
    )
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "start"),
    [
        ([], "manage.py add_owner_user: error: the following arguments are required: OWNER_SLUG, USERNAME"),
        (["alpha"], "manage.py add_owner_user: error: the following arguments are required: USERNAME"),
        (["alpha", "alice", "--password", "x"], "manage.py add_owner_user: error: unrecognized arguments: --password"),
    ],
    ids=["nothing", "no username", "a password on the command line"],
)
def test_manage_py_exits_2_with_one_line_for_a_bad_command_line(transactional_db, arguments, start):
    result = manage_py("add_owner_user", *arguments)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(start)
    assert result.stderr.endswith("; see manage.py add_owner_user --help\n")
    assert result.stderr.count("\n") == 1
