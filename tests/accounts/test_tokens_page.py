"""The API tokens page: a user's own tokens, created (shown once) and revoked there."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tokens import create_api_token
from tests.assertions import absent_from, page_text
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/account/tokens/"


def shown_token(response) -> str:
    match = re.search(r'<code class="token" id="new-token-value">([0-9a-f]{64})</code>', page_text(response))
    assert match, "the new token is not on the page"
    return match.group(1)


def test_the_page_creates_a_token_shows_it_once_and_it_works(signed_in_only, client, alice):
    client.force_login(alice)
    response = client.post(PAGE, {"name": "reporting script", "expires_in_days": ""})
    assert response.status_code == 200
    secret = shown_token(response)
    assert not absent_from(
        page_text(response),
        "it will not be shown again",
        f'data-copy="{secret}"',  # the copy button, as beside report ids
        "storemonitor/copy.js",
        "reporting script",
    )
    token = ApiToken.objects.get(user=alice)
    assert (token.name, token.expiry) == ("reporting script", None)
    # Never again: the list shows only the lookup prefix.
    later = page_text(client.get(PAGE))
    assert secret not in later
    assert f"<code>{token.token_key}…</code>" in later
    for scheme in ("Token", "Bearer"):
        assert APIClient().get("/api/reports/", HTTP_AUTHORIZATION=f"{scheme} {secret}").status_code == 200


def test_a_token_with_an_expiry_shows_it(signed_in_only, client, alice):
    client.force_login(alice)
    client.post(PAGE, {"name": "for a month", "expires_in_days": "30"})
    token = ApiToken.objects.get(user=alice)
    assert 29 <= (token.expiry - token.created).days <= 30
    assert f"{token.expiry:%Y-%m-%d %H:%M} UTC" in page_text(client.get(PAGE))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": ""}, "Give the token a name, e.g. what uses it."),
        ({"name": "x", "expires_in_days": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"name": "x", "expires_in_days": "soon"}, "Enter a whole number."),
        ({"name": "n" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
        ({"name": "laptop script"}, "alice already has a token named &#x27;laptop script&#x27;"),
    ],
)
def test_a_bad_form_is_a_400_with_the_error_beside_the_field(signed_in_only, client, alice, alice_token, data, error):
    client.force_login(alice)
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert error in page_text(response, 400)
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_a_user_sees_only_their_own_tokens(signed_in_only, client, alice, alice_token):
    bob = UserFactory(username="bob")
    bobs, _ = create_api_token(bob, "bob's cron")
    client.force_login(alice)
    page = page_text(client.get(PAGE))
    assert "laptop script" in page
    assert "bob&#x27;s cron" not in page
    assert bobs.token_key not in page


def test_revoking_deletes_the_token_and_it_stops_working(signed_in_only, client, alice, alice_token):
    row, secret = alice_token
    client.force_login(alice)
    response = client.post(f"/account/tokens/{row.token_key}/revoke/", follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Revoked the token &#x27;laptop script&#x27;" in page_text(response)
    assert not ApiToken.objects.exists()
    assert APIClient().get("/api/reports/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401


def test_another_user_s_token_answers_404_like_an_unknown_one(signed_in_only, client, alice):
    bobs, _ = create_api_token(UserFactory(username="bob"), "bob's cron")
    client.force_login(alice)
    theirs = client.post(f"/account/tokens/{bobs.token_key}/revoke/")
    unknown = client.post("/account/tokens/0123456789abcde/revoke/")
    assert theirs.status_code == unknown.status_code == 404
    assert ApiToken.objects.filter(pk=bobs.pk).exists()


def test_revoking_needs_a_post_with_its_csrf_token(signed_in_only, alice, alice_token):
    row, _ = alice_token
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.get(f"/account/tokens/{row.token_key}/revoke/").status_code == 405
    assert strict.post(f"/account/tokens/{row.token_key}/revoke/").status_code == 403
    assert strict.post(PAGE, {"name": "no csrf"}).status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("anonymous", [True, False])
def test_the_tokens_page_needs_a_signed_in_user_even_with_anonymous_access(settings, client, anonymous):
    settings.ALLOW_ANONYMOUS = anonymous
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/tokens/"
