"""API tokens in the admin: staff create one for a user (shown once), list, search and revoke."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tokens import create_api_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/accounts/apitoken/"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_staff_create_a_token_for_a_user_shown_once_in_a_message(signed_in_only, admin_client, alice):
    response = admin_client.post(
        f"{ADMIN}add/", {"user": alice.pk, "name": "from the admin", "expires_in_days": ""}, follow=True
    )
    assert response.redirect_chain == [(ADMIN, 302)]
    page = response.content.decode()
    assert "it is not stored, and will not be shown again" in page
    secret = re.search(r"for alice is: ([0-9a-f]{64}) ", page).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (alice, "from the admin")
    assert APIClient().get("/api/reports/", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    # Never again: the token's page shows what is stored, not the token.
    detail = admin_client.get(f"{ADMIN}{token.pk}/change/").content.decode()
    assert token.token_key in detail
    assert secret not in detail


def test_the_admin_refuses_a_name_the_user_already_has(admin_client, alice, alice_token):
    response = admin_client.post(f"{ADMIN}add/", {"user": alice.pk, "name": "laptop script"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_the_list_shows_and_searches_tokens(admin_client, alice, alice_token):
    create_api_token(UserFactory(username="bob"), "bob's cron")
    page = admin_client.get(ADMIN).content.decode()
    assert "laptop script" in page
    assert "bob&#x27;s cron" in page
    assert alice_token[0].token_key in page
    found = admin_client.get(ADMIN, {"q": "laptop"}).content.decode()
    assert "laptop script" in found
    assert "bob&#x27;s cron" not in found


def test_deleting_in_the_admin_revokes_the_token(signed_in_only, admin_client, alice_token):
    row, secret = alice_token
    response = admin_client.post(f"{ADMIN}{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ApiToken.objects.exists()
    assert APIClient().get("/api/reports/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401


def test_a_token_cannot_be_edited(admin_client, alice_token):
    row, _ = alice_token
    admin_client.post(f"{ADMIN}{row.pk}/change/", {"name": "renamed"})
    row.refresh_from_db()
    assert row.name == "laptop script"


def test_the_admin_stays_staff_only(client, alice):
    client.force_login(alice)
    response = client.get(ADMIN)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
