"""Repeated wrong passwords lock signing in (django-axes), on the pages and in the admin alike."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from tests.accounts.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES_LOGIN = "/account/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def staff(db):
    return UserFactory(username="alice", is_staff=True)


def sign_in(client, url, password, username="alice"):
    return client.post(url, {"username": username, "password": password, "next": "/"})


def fail(client, url, times):
    for _ in range(times):
        response = sign_in(client, url, "wrong password")
        assert response.status_code == 200  # the form again


def lock_out(client, url):
    """Five wrong passwords: the fifth already gets the lockout page."""
    fail(client, url, 4)
    assert sign_in(client, url, "wrong password").status_code == 429


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def cool_off_passes():
    AccessAttempt.objects.update(attempt_time=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize("url", [PAGES_LOGIN, ADMIN_LOGIN])
def test_after_the_limit_even_the_right_password_gets_the_lockout_page(client, staff, url):
    fail(client, url, 4)
    # Four wrong are not yet the limit of five: the fifth, wrong, is.
    response = sign_in(client, url, "wrong password")
    assert response.status_code == 429
    page = response.content.decode()
    assert "<title>Signing in is paused · storemonitor</title>" in page
    assert "storemonitor/site.css" in page
    assert "Signing in as <strong>alice</strong> from this address is paused after\n    5 wrong passwords" in page
    assert "Try again in 15 minutes" in page
    response = sign_in(client, url, PASSWORD)
    assert response.status_code == 429
    assert not is_signed_in(client)


@pytest.mark.parametrize("url", [PAGES_LOGIN, ADMIN_LOGIN])
def test_the_right_password_works_again_after_the_cool_off(client, staff, url):
    lock_out(client, url)
    assert sign_in(client, url, PASSWORD).status_code == 429
    cool_off_passes()
    response = sign_in(client, url, PASSWORD)
    assert response.status_code == 302
    assert is_signed_in(client)


def test_one_lockout_covers_the_pages_and_the_admin(client, staff):
    lock_out(client, PAGES_LOGIN)
    assert sign_in(client, ADMIN_LOGIN, PASSWORD).status_code == 429


def test_an_administrator_can_lift_a_lockout(client, staff):
    lock_out(client, PAGES_LOGIN)
    call_command("axes_reset_username", "alice")
    assert sign_in(client, PAGES_LOGIN, PASSWORD).status_code == 302


def test_a_right_password_before_the_limit_clears_the_count(client, staff):
    fail(client, PAGES_LOGIN, 4)
    assert sign_in(client, PAGES_LOGIN, PASSWORD).status_code == 302
    client.post("/account/logout/")
    fail(client, PAGES_LOGIN, 4)
    assert sign_in(client, PAGES_LOGIN, PASSWORD).status_code == 302


def test_the_lockout_is_of_one_username_from_one_address(client, staff):
    lock_out(client, PAGES_LOGIN)
    # The same account from another address, and another account from this one, still sign in.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in(elsewhere, PAGES_LOGIN, PASSWORD).status_code == 302
    UserFactory(username="bob")
    assert sign_in(client, PAGES_LOGIN, PASSWORD, username="bob").status_code == 302


def test_the_limit_and_the_wait_come_from_the_settings(settings, client, staff):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=3)
    fail(client, PAGES_LOGIN, 1)
    response = sign_in(client, PAGES_LOGIN, "wrong password")
    assert response.status_code == 429
    assert "Try again in 3 minutes" in response.content.decode()
