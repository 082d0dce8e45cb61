"""manage.py create_api_token: the token alone on the last line, errors as one sentence."""

import pytest
from django.core.management import CommandError, call_command
from knox.crypto import hash_token
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import UserFactory
from tests.manage_py import manage_py


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_token_alone_on_its_last_line_and_it_works(settings):
    settings.ALLOW_ANONYMOUS = False
    UserFactory(username="alice")
    result = manage_py("create_api_token", "alice", "--name", "nightly export")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    secret = lines[-1]
    assert lines[0].startswith("API token 'nightly export' for user 'alice' (never expires; lookup prefix ")
    token = ApiToken.objects.get()
    assert (token.user.username, token.name, token.digest) == ("alice", "nightly export", hash_token(secret))
    response = APIClient().get("/api/reports/", HTTP_AUTHORIZATION=f"Token {secret}")
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unknown_user_is_one_sentence_and_status_1():
    result = manage_py("create_api_token", "nobody")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "CommandError: No user has the username 'nobody': create it first (manage.py createsuperuser)."
    )


@pytest.mark.django_db
def test_without_a_name_the_token_is_named_after_the_command_and_the_time(capsys):
    UserFactory(username="alice")
    call_command("create_api_token", "alice")
    call_command("create_api_token", "alice", "--expires-in-days", "30")
    names = list(ApiToken.objects.values_list("name", flat=True))
    assert len(names) == 2
    assert all(name.startswith("manage.py create_api_token 20") for name in names)
    expiring = ApiToken.objects.exclude(expiry=None).get()
    assert 29 <= (expiring.expiry - expiring.created).days <= 30
    assert "expires 20" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_name_the_user_already_has_is_refused():
    UserFactory(username="alice")
    call_command("create_api_token", "alice", "--name", "ci")
    with pytest.raises(CommandError, match=r"^alice already has a token named 'ci': choose another name"):
        call_command("create_api_token", "alice", "--name", "ci")
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_days_value_below_one_is_an_argument_error():
    result = manage_py("create_api_token", "alice", "--expires-in-days", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("manage.py create_api_token: error: argument --expires-in-days: invalid")
