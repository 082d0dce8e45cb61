"""Signing in and out on the pages, and what the header says about it."""

import pytest
from django.test import Client

from tests.accounts.conftest import PASSWORD
from tests.assertions import absent_from, page_text

pytestmark = pytest.mark.django_db


def test_signing_in_goes_to_next_and_the_header_names_the_user(signed_in_only, client, alice):
    response = client.post("/account/login/", {"username": "alice", "password": PASSWORD, "next": "/stores/"})
    assert response.status_code == 302
    assert response["Location"] == "/stores/"
    page = page_text(client.get("/"))
    assert not absent_from(
        page,
        "Signed in as <strong>alice</strong>",
        '<a href="/account/tokens/">API tokens</a>',
        '<form class="sign-out" method="post" action="/account/logout/">',
    )
    assert ">Sign in</a>" not in page


def test_signing_in_without_next_opens_the_dashboard(signed_in_only, client, alice):
    response = client.post("/account/login/", {"username": "alice", "password": PASSWORD})
    assert response["Location"] == "/"


def test_next_cannot_send_the_user_to_another_site(signed_in_only, client, alice):
    response = client.post(
        "/account/login/", {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_a_wrong_password_gets_the_form_again_with_a_sentence(signed_in_only, client, alice):
    response = client.post("/account/login/", {"username": "alice", "password": "wrong"})
    page = page_text(response)
    assert "Please enter a correct username and password." in page
    assert 'class="form-error"' in page
    assert "_auth_user_id" not in client.session


def test_the_login_page_uses_the_site_s_layout(signed_in_only, client):
    page = page_text(client.get("/account/login/?next=/stores/"))
    assert not absent_from(
        page,
        "<title>Sign in · storemonitor</title>",
        "storemonitor/site.css",
        'name="next" value="/stores/"',
        "csrfmiddlewaretoken",
        "After 5 wrong passwords in a row",
    )


def test_signing_out_is_a_post_and_returns_to_the_login_page(signed_in_only, client, alice):
    client.force_login(alice)
    assert client.get("/account/logout/").status_code == 405
    response = client.post("/account/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/account/login/"
    assert client.get("/")["Location"] == "/account/login/?next=/"


def test_signing_out_needs_the_csrf_token(signed_in_only, alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/account/logout/").status_code == 403
    assert strict.get("/").status_code == 200  # still signed in


def test_signed_out_the_header_offers_sign_in(settings, client):
    settings.ALLOW_ANONYMOUS = True
    page = page_text(client.get("/"))
    assert '<a href="/account/login/">Sign in</a>' in page
    assert "Signed in as" not in page


def test_the_header_links_the_admin_for_staff_but_not_for_an_owners_user(client, two_owners):
    client.force_login(two_owners.user_a)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(two_owners.staff)
    assert 'href="/admin/"' in client.get("/").content.decode()
