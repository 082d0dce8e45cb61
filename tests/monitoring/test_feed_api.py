"""The feeds' push API (POST /api/feeds/<feed>): CSV, JSON and gzip bodies loaded through the one
loader, the first 20 problems of a bad body with their lines (JSON: indexes), nothing kept after a
400, the bounds (411, 413, 415), access (401, 403), and re-sends skipped unless forced."""

import datetime as dt
import gzip
import json
import threading

import pytest
from django.contrib.auth.models import Permission
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tokens import create_api_token
from monitoring.feed_uploads import UNCOMPRESSED_FACTOR
from monitoring.imports import content_digest
from monitoring.models import BusinessHours, Import, StatusPoll, Store
from reports import snapshot
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POLLS_CSV = (
    "store_id,status,timestamp_utc\n"
    "1,active,2023-01-25 18:13:22.47922 UTC\n"
    "1,inactive,2023-01-25 19:13:22 UTC\n"
    "2,inactive,2023-01-25 18:13:22 UTC\n"
)
POLLS_JSON = [
    {"store_id": "1", "status": "active", "timestamp_utc": "2023-01-25 18:13:22.47922 UTC"},
    {"store_id": 1, "status": "inactive", "timestamp_utc": "2023-01-25 19:13:22 UTC"},
    {"store_id": "2", "status": "inactive", "timestamp_utc": "2023-01-25 18:13:22 UTC"},
]


def ingester(username: str = "feeder"):
    """A non-staff account given the permission to push feeds (an integration's)."""
    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="ingest_feeds"))
    return user


@pytest.fixture
def client():
    """A client authenticated with a real API token of an ingesting account."""
    _, secret = create_api_token(ingester(), "cron")
    return APIClient(HTTP_AUTHORIZATION=f"Token {secret}")


def push(client, feed: str, body: bytes | str, content_type: str = "text/csv", query: str = "", **extra):
    data = body.encode() if isinstance(body, str) else body
    return client.generic("POST", f"/api/feeds/{feed}{query}", data, content_type=content_type, **extra)


def push_json(client, feed: str, items, query: str = "", **extra):
    return push(client, feed, json.dumps(items), "application/json", query, **extra)


def bad_polls(count: int) -> str:
    return "store_id,status,timestamp_utc\n" + "".join(f"{n},sleeping,2023-01-25 18:13:22 UTC\n" for n in range(count))


# --- bodies that load ---


def test_a_csv_body_is_loaded_and_recorded_in_the_ledger(client):
    response = push(client, "polls", POLLS_CSV)

    assert response.status_code == 201, response.json()
    body = response.json()
    entry = Import.objects.get()
    assert body["id"] == entry.pk
    assert response["Location"] == f"http://testserver/api/imports/{entry.pk}/" == body["url"]
    assert (body["feed"], body["status"], body["source"]) == ("polls", "complete", "api")
    assert (body["rows_read"], body["rows_inserted"], body["rows_duplicate"], body["rows_skipped"]) == (3, 3, 0, 0)
    assert body["summary"] == entry.summary
    assert "3 inserted" in entry.summary
    assert entry.requested_by.username == "feeder"
    assert body["sha256"] == entry.sha256
    assert len(entry.sha256) == 64
    assert entry.size_bytes == len(POLLS_CSV.encode())
    assert StatusPoll.objects.count() == 3
    assert set(Store.objects.values_list("store_id", flat=True)) == {"1", "2"}


def test_a_json_body_loads_the_same_rows_as_the_csv(client):
    response = push_json(client, "polls", POLLS_JSON)

    assert response.status_code == 201, response.json()
    assert (response.json()["rows_read"], response.json()["rows_inserted"]) == (3, 3)
    assert sorted(StatusPoll.objects.values_list("store__store_id", "status")) == [
        ("1", "active"),
        ("1", "inactive"),
        ("2", "inactive"),
    ]


def test_json_keys_may_be_the_csv_headers_aliases_and_values_numbers_or_null(client):
    response = push_json(
        client,
        "hours",
        [
            {"store_id": 7, "dayOfWeek": 0, "start_time_local": "09:00:00", "end_time_local": "17:00:00"},
            {"store_id": "7", "day": 1, "start_time_local": "10:00:00", "end_time_local": "18:00:00"},
        ],
    )

    assert response.status_code == 201, response.json()
    assert sorted(BusinessHours.objects.values_list("day_of_week", flat=True)) == [0, 1]


@pytest.mark.parametrize("declared", [True, False], ids=["content-encoding", "magic-bytes"])
def test_a_gzip_csv_body_is_the_same_content_as_the_plain_one(client, declared):
    compressed = gzip.compress(POLLS_CSV.encode())
    extra = {"HTTP_CONTENT_ENCODING": "gzip"} if declared else {}

    gzipped = push(client, "polls", compressed, **extra)
    plain = push(client, "polls", POLLS_CSV)

    assert gzipped.status_code == 201, gzipped.json()
    assert gzipped.json()["rows_inserted"] == 3
    first, second = Import.objects.order_by("pk")
    assert first.sha256 == second.sha256  # of the uncompressed content
    assert first.size_bytes == len(compressed)  # as sent
    assert plain.status_code == 200
    assert plain.json()["status"] == "skipped"


def test_a_gzip_json_body_is_loaded(client):
    response = push(
        client,
        "polls",
        gzip.compress(json.dumps(POLLS_JSON).encode()),
        "application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 201, response.json()
    assert StatusPoll.objects.count() == 3


def test_the_digest_computed_while_receiving_is_the_ledgers_digest_of_the_file(client, tmp_path):
    push(client, "polls", gzip.compress(POLLS_CSV.encode()))

    (tmp_path / "store_status.csv").write_text(POLLS_CSV)
    assert Import.objects.get().sha256 == content_digest(tmp_path / "store_status.csv").sha256


def test_each_feed_has_its_endpoint_with_and_without_the_trailing_slash(client):
    staff = APIClient()
    staff.force_authenticate(UserFactory(username="boss", is_staff=True))
    assert push(client, "timezones/", "store_id,timezone_str\n1,America/Chicago\n").status_code == 201
    assert push(client, "hours", "store_id,day,start_time_local,end_time_local\n1,0,09:00,17:00\n").status_code == 201
    assert push(staff, "owners/", "store_id,owner\n1,Acme Pizza\n").status_code == 201
    assert Store.objects.get(store_id="1").owner.slug == "acme-pizza"
    assert sorted(Import.objects.values_list("feed", flat=True)) == ["hours", "owners", "timezones"]


def test_the_body_is_read_as_a_stream_never_whole(client, monkeypatch):
    def refuse(request):
        raise AssertionError("request.body was read")

    monkeypatch.setattr(WSGIRequest, "body", property(refuse), raising=False)

    assert push(client, "polls", POLLS_CSV).status_code == 201
    assert push_json(client, "polls", POLLS_JSON, "?force=1").status_code == 201


def test_the_temporary_file_is_removed_after_the_load(client, settings):
    push(client, "polls", POLLS_CSV)
    push(client, "polls", bad_polls(2))

    assert list((settings.VAR_DIR / "uploads").iterdir()) == []


# --- re-sends ---


def test_sending_the_same_body_again_changes_nothing_unless_forced(client):
    push(client, "polls", POLLS_CSV)

    again = push(client, "polls", POLLS_CSV)
    assert again.status_code == 200
    assert again.json()["status"] == "skipped"
    assert f"import #{Import.objects.order_by('pk').first().pk}" in again.json()["summary"]
    assert StatusPoll.objects.count() == 3

    forced = push(client, "polls", POLLS_CSV, query="?force=1")
    assert forced.status_code == 201
    assert (forced.json()["rows_read"], forced.json()["rows_inserted"], forced.json()["rows_duplicate"]) == (3, 0, 3)
    assert StatusPoll.objects.count() == 3
    assert list(Import.objects.order_by("pk").values_list("status", flat=True)) == ["complete", "skipped", "complete"]


def test_skip_invalid_loads_the_good_rows_and_counts_the_bad(client):
    body = POLLS_CSV + "3,sleeping,2023-01-25 18:13:22 UTC\n"

    response = push(client, "polls", body, query="?skip_invalid=1")

    assert response.status_code == 201, response.json()
    assert (response.json()["rows_inserted"], response.json()["rows_skipped"]) == (3, 1)


# --- bad bodies: 400 with the problems, nothing kept ---


def test_a_body_with_25_bad_rows_lists_the_first_20_and_keeps_nothing(client):
    response = push(client, "polls", POLLS_CSV + bad_polls(25).split("\n", 1)[1])

    assert response.status_code == 400
    body = response.json()
    assert "20 problems" in body["error"]
    assert "nothing was loaded" in body["error"]
    assert [problem["line"] for problem in body["problems"]] == list(range(5, 25))
    assert {problem["field"] for problem in body["problems"]} == {"status"}
    assert "sleeping" in body["problems"][0]["message"]
    assert not body["problems"][0]["message"].startswith("request body")  # the sentence without its place
    assert StatusPoll.objects.count() == 0
    assert Store.objects.count() == 0
    entry = Import.objects.get()
    assert entry.status == "failed"
    assert body["import"]["id"] == entry.pk
    assert "request body line 5, field status" in entry.error


def test_a_missing_column_is_one_problem_on_the_header_line(client):
    response = push(client, "polls", "store_id,timestamp_utc\n1,2023-01-25 18:13:22 UTC\n")

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert (problem["line"], problem["field"]) == (1, "status")
    assert "no status column" in problem["message"]
    assert Import.objects.get().status == "failed"


def test_json_problems_name_the_objects_index(client):
    items = [*POLLS_JSON, {"store_id": "4", "status": "sleeping", "timestamp_utc": "2023-01-25 18:13:22 UTC"}]
    items.append({"store_id": "5", "status": "active", "timestamp_utc": "yesterday"})

    response = push_json(client, "polls", items)

    assert response.status_code == 400
    problems = response.json()["problems"]
    assert [(p["index"], p["line"], p["field"]) for p in problems] == [(3, 3, "status"), (4, 4, "timestamp_utc")]
    assert StatusPoll.objects.count() == 0
    first, second = Import.objects.get().error.splitlines()  # the ledger names objects too
    assert first.startswith("JSON request body, object 3, field status: 'sleeping' is not a status")
    assert second.startswith("JSON request body, object 4, field timestamp_utc: ")


@pytest.mark.parametrize(
    ("items", "index", "field", "words"),
    [
        ([{"store_id": "1", "status": "active"}], 0, "timestamp_utc", "no timestamp_utc key"),
        ([{**POLLS_JSON[0], "colour": "red"}], 0, "colour", "no key 'colour'"),
        ([POLLS_JSON[0], {**POLLS_JSON[1], "status": True}], 1, "status", "true or false"),
        ([{**POLLS_JSON[0], "status": {"value": "active"}}], 0, "status", "an object"),
        ([{**POLLS_JSON[0], "store_id": [1, 2]}], 0, "store_id", "a list"),
        ([{**POLLS_JSON[0], "status": "active\ninactive"}], 0, "status", "line break"),
        ([POLLS_JSON[0], "1,active,2023-01-25 18:13:22 UTC"], 1, None, "not an object"),
        ({"store_id": "1"}, None, None, "not a list"),
    ],
    ids=["missing", "unknown", "boolean", "object", "list", "line-break", "not-an-object", "top-level"],
)
def test_json_that_cannot_be_feed_rows_is_refused_with_index_and_key(client, items, index, field, words):
    response = push_json(client, "polls", items)

    assert response.status_code == 400
    problem = response.json()["problems"][0]
    assert (problem["index"], problem["field"]) == (index, field)
    assert words in problem["message"]
    assert StatusPoll.objects.count() == 0
    entry = Import.objects.get()
    assert entry.status == "failed"
    assert words in entry.error
    if index is not None:
        assert f"object {index}" in entry.error


def test_invalid_json_is_refused_with_where_it_broke(client):
    text = json.dumps(POLLS_JSON)[:-30]

    response = push(client, "polls", text, "application/json")

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["index"] == 2
    assert "not valid JSON" in problem["message"]


def test_many_json_problems_stop_at_20(client):
    response = push_json(client, "polls", [{"store_id": str(n), "status": "active"} for n in range(40)])

    assert response.status_code == 400
    assert [p["index"] for p in response.json()["problems"]] == list(range(20))


def test_an_empty_body_is_a_400_sentence(client):
    response = push(client, "polls", b"", CONTENT_LENGTH="0")  # the test client sends none for no data

    assert response.status_code == 400
    assert "empty" in response.json()["error"]
    # Refused before any load, still on record: every attempt to bring data in is in the ledger.
    entry = Import.objects.get()
    assert (entry.status, entry.source, entry.feed) == ("failed", "api", "polls")
    assert "empty" in entry.error
    assert response.json()["import"]["id"] == entry.pk


def test_a_damaged_gzip_body_is_a_400(client):
    broken = bytearray(gzip.compress(POLLS_CSV.encode() * 50))
    broken[len(broken) // 2] ^= 0xFF

    cut = push(client, "polls", gzip.compress(POLLS_CSV.encode())[:-12])
    damaged = push(client, "polls", bytes(broken))
    not_gzip = push(client, "polls", POLLS_CSV, HTTP_CONTENT_ENCODING="gzip")

    assert cut.status_code == damaged.status_code == not_gzip.status_code == 400
    assert "cut off" in cut.json()["error"]
    assert "damaged" in damaged.json()["error"] or "cut off" in damaged.json()["error"]
    assert "not gzip" in not_gzip.json()["error"]
    assert StatusPoll.objects.count() == 0


# --- bounds: 411, 413, 415 ---


def test_a_content_length_over_the_limit_is_refused_before_reading(client, settings):
    settings.MAX_FEED_UPLOAD_MB = 1
    big = b"x" * (1024 * 1024 + 1)

    response = push(client, "polls", big)
    lying = push(client, "polls", b"short", CONTENT_LENGTH=str(50 * 1024 * 1024))  # the test client reads no further

    assert response.status_code == lying.status_code == 413
    assert "1 MB" in response.json()["error"]
    assert "MAX_FEED_UPLOAD_MB" in response.json()["error"]
    assert not Import.objects.exists()


def test_a_gzip_body_expanding_past_the_bound_stops_with_413(client, settings):
    settings.MAX_FEED_UPLOAD_MB = 1
    bomb = gzip.compress(b"0" * (UNCOMPRESSED_FACTOR * 1024 * 1024 + 10))
    assert len(bomb) < 1024 * 1024

    response = push(client, "polls", bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert "expands to more than 20 MB" in response.json()["error"]
    assert not Import.objects.exists()


def test_a_body_without_content_length_is_a_411(client):
    response = push(client, "polls", POLLS_CSV, CONTENT_LENGTH="")
    chunked = push(client, "polls", POLLS_CSV, HTTP_TRANSFER_ENCODING="chunked")

    assert response.status_code == chunked.status_code == 411
    assert "Content-Length" in response.json()["error"]


@pytest.mark.parametrize(
    ("content_type", "extra", "words"),
    [
        ("text/plain", {}, "Content-Type 'text/plain'"),
        ("multipart/form-data; boundary=x", {}, "multipart/form-data"),
        ("text/csv", {"HTTP_CONTENT_ENCODING": "br"}, "Content-Encoding 'br'"),
    ],
)
def test_other_content_types_and_encodings_are_a_415_sentence(client, content_type, extra, words):
    response = push(client, "polls", POLLS_CSV, content_type, **extra)

    assert response.status_code == 415
    assert words in response.json()["error"]
    assert "text/csv" in response.json()["error"] or "gzip" in response.json()["error"]


# --- access ---


def test_an_anonymous_push_is_a_401_naming_the_token_header(settings):
    settings.ALLOW_ANONYMOUS = True  # still refused: data comes in only from someone known

    response = push(APIClient(), "polls", POLLS_CSV)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "Authorization: Token" in response.json()["error"]


def test_a_user_without_the_permission_gets_a_403_sentence():
    client = APIClient()
    client.force_authenticate(UserFactory(username="reader"))

    response = push(client, "polls", POLLS_CSV)

    assert response.status_code == 403
    assert "Can push feeds" in response.json()["error"]
    assert not Import.objects.exists()


def test_only_staff_may_push_the_owners_feed(client):
    response = push(client, "owners", "store_id,owner\n1,acme\n")

    assert response.status_code == 403
    assert "Only staff" in response.json()["error"]
    assert not Import.objects.exists()


def test_a_session_push_needs_the_csrf_token():
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="boss", is_staff=True))

    response = push(client, "polls", POLLS_CSV)

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


# --- a push while a report reads its snapshot ---


@pytest.mark.slow  # a transactional test: the flush after it takes seconds
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_report_reading_during_a_push_sees_all_of_before_never_half(monkeypatch):
    """The snapshot's read pauses between the polls and the hours; polls and hours are pushed and
    committed meanwhile. The paused read still sees the old hours (one REPEATABLE READ snapshot),
    and a read after the pushes sees all of the new data."""
    _, secret = create_api_token(ingester(), "cron")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {secret}")
    assert push(client, "polls", POLLS_CSV).status_code == 201
    assert push(client, "hours", "store_id,day,start_time_local,end_time_local\n1,0,09:00,17:00\n").status_code == 201

    polls_read = threading.Event()
    pushed = threading.Event()
    read_polls = snapshot.read_polls

    def read_polls_then_wait(polls):
        columns = read_polls(polls)
        if threading.current_thread().name == "report":
            polls_read.set()
            assert pushed.wait(20), "the pushes did not finish while the report's read was open"
        return columns

    monkeypatch.setattr(snapshot, "read_polls", read_polls_then_wait)
    as_of = dt.datetime(2023, 1, 25, 20, 0, tzinfo=dt.UTC)
    seen = {}

    def report():
        try:
            seen["during"] = snapshot.read_snapshot(as_of, dt.timedelta(days=7)).feeds
        finally:
            connection.close()

    reader = threading.Thread(target=report, name="report")
    reader.start()
    assert polls_read.wait(20)
    new_polls = "store_id,status,timestamp_utc\n3,active,2023-01-25 18:30:00 UTC\n4,active,2023-01-25 18:40:00 UTC\n"
    new_hours = "store_id,day,start_time_local,end_time_local\n1,0,10:00,12:00\n1,1,10:00,12:00\n3,0,08:00,20:00\n"
    assert push(client, "polls", new_polls).status_code == 201
    assert push(client, "hours", new_hours).status_code == 201
    pushed.set()
    reader.join(30)

    during = seen["during"]
    after = snapshot.read_snapshot(as_of, dt.timedelta(days=7)).feeds
    assert (len(during.store_ids), len(during.poll_time_us), len(during.hours_day)) == (2, 3, 1)
    assert during.hours_start_us.tolist() == [9 * 3600 * 10**6]
    assert (len(after.store_ids), len(after.poll_time_us), len(after.hours_day)) == (4, 5, 3)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'[{"store_id": "\xff"}]', "invalid bytes in UTF8"),
        (b"[] []", "trailing garbage"),
        (b"   ", "premature EOF"),
        (b"[NaN]", "invalid char"),
    ],
    ids=["not-utf8", "two-values", "blank", "nan"],
)
def test_bodies_that_are_not_json_say_what_the_parser_found(client, body, words):
    response = push(client, "polls", body, "application/json")

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["message"].startswith("the body is not valid JSON")
    assert words in problem["message"]
    assert "\\n" not in problem["message"]


def test_a_gzip_body_of_several_members_is_read_whole(client):
    header, *rows = POLLS_CSV.splitlines(keepends=True)
    body = gzip.compress((header + rows[0]).encode()) + gzip.compress("".join(rows[1:]).encode())

    response = push(client, "polls", body)

    assert response.status_code == 201, response.json()
    assert response.json()["rows_inserted"] == 3


def test_an_empty_json_list_loads_nothing_and_says_so(client):
    response = push_json(client, "polls", [])

    assert response.status_code == 201, response.json()
    assert (response.json()["rows_read"], response.json()["rows_inserted"]) == (0, 0)
