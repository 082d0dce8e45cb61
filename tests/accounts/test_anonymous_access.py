"""ALLOW_ANONYMOUS off: the API answers 401 without a token, every page sends visitors to sign in.
On: every page says so in a banner."""

import re
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tokens import create_api_token
from reports import urls as page_urls
from reports.api import urls as api_urls
from tests.assertions import page_text

pytestmark = pytest.mark.django_db

BANNER = "Anonymous access is on"


def concrete(route: str) -> str:
    """A URL of a route, each <converter:name> replaced by a value of the right shape."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "store-a" if m.group(1) == "store_id" else "x" * 20, route)


API_URLS = sorted({concrete(str(pattern.pattern)) for pattern in api_urls.urlpatterns})
PAGE_URLS = sorted({concrete(str(pattern.pattern)) for pattern in page_urls.urlpatterns})


def test_every_api_url_is_covered():
    assert {"/trigger_report", "/get_report", "/api/reports/", "/api/schema/", "/api/docs/"} <= set(API_URLS)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", API_URLS)
def test_without_a_token_every_api_url_is_401_with_a_sentence(signed_in_only, two_owners, url, method):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401, (url, response.content[:300])
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": "This API needs a token: send the header Authorization: Token <token> (create one on "
        "/account/tokens/ or with manage.py create_api_token USERNAME)."
    }


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/reports/"])
def test_a_token_or_a_session_opens_the_api_and_its_docs(signed_in_only, two_owners, url):
    _, secret = create_api_token(two_owners.user_a, "docs")
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"Token {secret}").status_code == 200
    browser = Client()
    browser.force_login(two_owners.user_a)
    assert browser.get(url).status_code == 200


def test_a_session_calling_the_api_needs_the_csrf_token_to_post(signed_in_only, two_owners):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(two_owners.user_a)
    response = browser.post("/trigger_report", {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


def test_the_schema_describes_the_token_scheme_and_the_401s(signed_in_only, two_owners):
    _, secret = create_api_token(two_owners.staff, "schema")
    schema = APIClient().get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {secret}").json()
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "Bearer" in scheme["description"]
    operation = schema["paths"]["/trigger_report"]["post"]
    assert {"apiToken": []} in operation["security"]
    assert {} not in operation["security"]  # anonymous access is off
    assert "401" in operation["responses"]
    every = [op for ops in schema["paths"].values() for op in ops.values()]
    assert all("401" in op["responses"] for op in every)


def test_while_anonymous_access_is_on_the_schema_says_no_credentials_will_do(settings):
    settings.ALLOW_ANONYMOUS = True
    schema = APIClient().get("/api/schema/?format=json").json()
    assert {} in schema["paths"]["/get_report"]["get"]["security"]
    # Feeds and the ledger refuse anonymous callers whatever the setting says.
    assert {} not in schema["paths"]["/api/feeds/polls"]["post"]["security"]
    assert {} not in schema["paths"]["/api/imports/"]["get"]["security"]


@pytest.mark.parametrize("url", [*PAGE_URLS, "/stores/?store_id=sto", "/account/tokens/"])
def test_without_sign_in_every_page_redirects_to_the_login_page_with_next(signed_in_only, two_owners, client, url):
    response = client.get(url)
    assert response.status_code == 302, url
    assert response["Location"] == f"/account/login/?next={quote(url, safe='/')}"


def test_the_dashboard_s_report_form_also_redirects_an_anonymous_post(signed_in_only, client):
    response = client.post("/reports/generate/", {})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=")


@pytest.mark.parametrize(("url", "status"), [("/account/login/", 200), ("/favicon.ico", 301)])
def test_the_login_page_and_the_favicon_need_no_sign_in(signed_in_only, client, url, status):
    assert client.get(url).status_code == status


def test_the_admin_keeps_its_own_login_page(signed_in_only, client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/").status_code == 200


def test_a_signed_in_user_sees_the_pages(signed_in_only, two_owners, client):
    client.force_login(two_owners.user_a)
    assert client.get("/").status_code == 200
    assert client.get("/account/tokens/").status_code == 200


def test_the_banner_shows_on_every_page_only_while_anonymous_access_is_on(settings, two_owners, client):
    settings.ALLOW_ANONYMOUS = True
    for url in ["/", "/stores/?store_id=sto", "/account/login/"]:
        assert BANNER in page_text(client.get(url)), url
    assert "sees every store and can trigger reports" in page_text(client.get("/"))
    settings.ALLOW_ANONYMOUS = False
    client.force_login(two_owners.user_a)
    for url in ["/", "/account/tokens/", "/account/login/"]:
        assert BANNER not in client.get(url, follow=True).content.decode(), url


def test_the_dashboard_post_needs_its_csrf_token(signed_in_only, two_owners):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(two_owners.user_a)
    assert strict.post("/reports/generate/", {"method": "exact"}).status_code == 403
    page = strict.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post("/reports/generate/", {"csrfmiddlewaretoken": token})
    assert response.status_code != 403
