"""API tokens at the API: both header schemes, every refusal a 401 with a sentence, hashed storage,
and the last use recorded without a write per request."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.crypto import hash_token

from accounts.models import ApiToken
from accounts.tokens import LAST_USED_RESOLUTION, create_api_token

pytestmark = pytest.mark.django_db

REPORTS = "/api/reports/"


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "BEARER"])
def test_a_token_works_with_either_header_scheme(signed_in_only, api, alice_token, scheme):
    _, secret = alice_token
    response = api.get(REPORTS, HTTP_AUTHORIZATION=f"{scheme} {secret}")
    assert response.status_code == 200, response.content


def test_without_a_token_the_api_answers_401_naming_the_header(signed_in_only, api):
    response = api.get(REPORTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response).startswith("This API needs a token: send the header Authorization: Token <token>")


def test_a_wrong_token_is_401_with_a_sentence(signed_in_only, api, alice_token):
    _, secret = alice_token
    wrong = secret[:-1] + ("0" if secret[-1] != "0" else "1")  # same lookup prefix, other digest
    response = api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {wrong}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response) == (
        "This API token is not valid: it is mistyped, or it was revoked. Check it, or create one on "
        "/account/tokens/ or with manage.py create_api_token USERNAME."
    )


def test_a_revoked_token_is_401(signed_in_only, api, alice_token):
    row, secret = alice_token
    row.delete()
    response = api.get(REPORTS, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert "it was revoked" in error_of(response)


def test_an_expired_token_is_401_saying_when_it_expired(signed_in_only, api, alice):
    row, secret = create_api_token(alice, "short-lived", dt.timedelta(days=1))
    ApiToken.objects.filter(pk=row.pk).update(expiry=dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC))
    response = api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {secret}")
    assert response.status_code == 401
    assert error_of(response).startswith("This API token ('short-lived') expired on 2024-03-01 12:30 UTC: create")
    # Kept (shown as expired on the tokens page) until its owner revokes it.
    assert ApiToken.objects.filter(pk=row.pk).exists()


def test_a_token_with_an_expiry_in_the_future_works(signed_in_only, api, alice):
    _, secret = create_api_token(alice, "a week", dt.timedelta(days=7))
    assert api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {secret}").status_code == 200


def test_a_deactivated_user_s_token_is_401(signed_in_only, api, alice, alice_token):
    alice.is_active = False
    alice.save()
    response = api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {alice_token[1]}")
    assert response.status_code == 401
    assert "deactivated" in error_of(response)


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Bearer ",
        "Token abc def",
        "Token " + "a" * 10_000,
        "Token \x00\x00\x00" + "0" * 61,
        "Token zzzzzzzzzzzzzzzzzzzz",
        "Token caf\xe9",
        "Bearer ' OR 1=1 --",
    ],
)
def test_a_malformed_header_is_401_with_a_sentence_never_a_500(signed_in_only, api, header):
    response = api.get(REPORTS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "token" in error_of(response).lower()


def test_another_scheme_is_not_a_token_and_gets_the_no_token_401(signed_in_only, api):
    response = api.get(REPORTS, HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")
    assert response.status_code == 401
    assert error_of(response).startswith("This API needs a token")


def test_a_bad_token_is_401_even_while_anonymous_access_is_on(settings, api):
    settings.ALLOW_ANONYMOUS = True
    assert api.get(REPORTS).status_code == 200
    response = api.get(REPORTS, HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert response.status_code == 401
    assert "not valid" in error_of(response)


def test_no_column_holds_the_token_and_the_digest_is_knox_s_sha512_of_it(alice_token):
    row, secret = alice_token
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        stored = [str(value) for record in cursor.fetchall() for value in record]
    assert not [value for value in stored if secret in value]
    assert row.digest == hash_token(secret) != secret
    assert len(row.digest) == 128  # SHA-512, hexadecimal
    assert row.token_key == secret[:15]  # the lookup prefix only
    assert len(secret) == 64


def test_the_last_use_is_recorded_at_most_once_a_minute(signed_in_only, api, alice_token):
    row, secret = alice_token
    assert row.last_used_at is None
    before = timezone.now()
    api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {secret}")
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    assert first >= before

    with CaptureQueriesContext(connection) as queries:
        api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {secret}")
    row.refresh_from_db()
    assert row.last_used_at == first
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

    # A minute later, the next request records it again, with one conditional UPDATE.
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - LAST_USED_RESOLUTION)
    with CaptureQueriesContext(connection) as queries:
        api.get(REPORTS, HTTP_AUTHORIZATION=f"Token {secret}")
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert "last_used_at" in updates[0]
    row.refresh_from_db()
    assert row.last_used_at > first


def test_a_token_acts_as_its_user(signed_in_only, api, two_owners):
    _, secret = create_api_token(two_owners.user_a, "ci")
    response = api.get("/api/stores/store-b/outages", HTTP_AUTHORIZATION=f"Token {secret}")
    assert response.status_code == 404  # bob's store: alice's token does not see it
