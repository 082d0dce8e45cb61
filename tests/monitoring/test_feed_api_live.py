"""The push API over real HTTP (Django's live server, urllib and http.client): a token's CSV,
gzip and JSON pushes, an idempotent re-send, the 400 list, 401 and 403 without the right token,
and a 413 answered from the Content-Length alone, before any body."""

import gzip
import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission

from accounts.tokens import create_api_token
from monitoring.models import Import, StatusPoll
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POLLS_CSV = (
    "store_id,status,timestamp_utc\n"
    "1,active,2023-01-25 18:13:22.47922 UTC\n"
    "1,inactive,2023-01-25 19:13:22 UTC\n"
    "2,inactive,2023-01-25 18:13:22 UTC\n"
)


@pytest.fixture
def token():
    user = UserFactory(username="feeder")
    user.user_permissions.add(Permission.objects.get(codename="ingest_feeds"))
    _, secret = create_api_token(user, "cron")
    return secret


def post(url: str, body: bytes, token: str, **headers: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "text/csv", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_a_csv_push_with_a_token_loads_and_points_at_the_ledger(live_server, token):
    status, headers, body = post(f"{live_server.url}/api/feeds/polls", POLLS_CSV.encode(), token)

    assert status == 201, body
    assert headers["Location"] == f"{live_server.url}/api/imports/{body['id']}/"
    assert body["rows_inserted"] == 3
    assert StatusPoll.objects.count() == 3

    with urllib.request.urlopen(
        urllib.request.Request(headers["Location"], headers={"Authorization": f"Token {token}"}), timeout=30
    ) as response:
        assert json.loads(response.read())["status"] == "complete"


def test_a_gzip_push_over_http(live_server, token):
    status, _, body = post(
        f"{live_server.url}/api/feeds/polls/", gzip.compress(POLLS_CSV.encode()), token, **{"Content-Encoding": "gzip"}
    )

    assert status == 201, body
    assert Import.objects.get().size_bytes < len(POLLS_CSV)


def test_a_json_push_and_its_resend_over_http(live_server, token):
    rows = [{"store_id": "7", "status": "active", "timestamp_utc": "2023-01-25 18:13:22 UTC"}]
    body = json.dumps(rows).encode()
    url = f"{live_server.url}/api/feeds/polls"

    first = post(url, body, token, **{"Content-Type": "application/json"})
    again = post(url, body, token, **{"Content-Type": "application/json"})

    assert first[0] == 201, first[2]
    assert (again[0], again[2]["status"]) == (200, "skipped")  # re-sending adds nothing
    assert StatusPoll.objects.count() == 1
    assert list(Import.objects.order_by("pk").values_list("status", flat=True)) == ["complete", "skipped"]


def test_no_token_or_a_token_without_the_right_is_refused_over_http(live_server):
    _, reader_token = create_api_token(UserFactory(username="reader"), "read only")
    url = f"{live_server.url}/api/feeds/polls"

    anonymous = urllib.request.Request(
        url, data=POLLS_CSV.encode(), method="POST", headers={"Content-Type": "text/csv"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=30)
    status, _, body = post(url, POLLS_CSV.encode(), reader_token)

    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"] == "Token"
    assert (status, "Can push feeds" in body["error"]) == (403, True)
    assert StatusPoll.objects.count() == 0


def test_a_bad_body_lists_its_problems_over_http(live_server, token):
    bad = POLLS_CSV + "".join(f"{n},sleeping,2023-01-25 18:13:22 UTC\n" for n in range(25))

    status, _, body = post(f"{live_server.url}/api/feeds/polls", bad.encode(), token)

    assert status == 400
    assert [problem["line"] for problem in body["problems"]] == list(range(5, 25))
    assert StatusPoll.objects.count() == 0


def test_a_content_length_over_the_limit_is_answered_before_the_body_is_sent(live_server, token):
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest("POST", "/api/feeds/polls")
    connection.putheader("Authorization", f"Token {token}")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(500 * 1024 * 1024))
    connection.endheaders()  # and not a byte of the 500 MB

    response = connection.getresponse()  # would time out if the server waited for the body

    assert response.status == 413
    assert "MAX_FEED_UPLOAD_MB" in json.loads(response.read())["error"]
    connection.close()
    assert not Import.objects.exists()
