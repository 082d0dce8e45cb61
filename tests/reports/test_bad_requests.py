"""No request a client can send reaches a 500: the API answers a 4xx JSON sentence, pages an
error page. (The API's answers against its schema are tests/reports/test_api_schema.py.)"""

import io
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from reports.api.parsers import BoundedJSONParser, RequestTooLarge
from reports.api.renderers import JSONRenderer
from reports.models import REPORT_ID, Report, new_report_id
from tests.assertions import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    # A 500 answers with the error page instead of raising in the test, as for a real client.
    return APIClient(raise_request_exception=False)


@pytest.fixture
def pages(settings):
    settings.DEBUG = False  # Django's own error pages, not the debug ones
    return Client(raise_request_exception=False)


@pytest.fixture
def small_limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    return settings


class CountingStream(io.BytesIO):
    """A request body that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def json_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


# --- Bodies and fields over Django's limits ------------------------------------------------


def test_a_body_over_the_upload_limit_is_a_413_in_json(api, small_limits):
    body = json.dumps({"as_of": "x" * 2000})
    error = json_error(api.post("/trigger_report", body, content_type="application/json"), 413)
    assert error == (
        "The request body is larger than the 1,024 bytes the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE); "
        "a report request holds only as_of, method, columns and owner."
    )
    assert not Report.objects.exists()


def test_the_parser_reads_an_oversized_body_no_further_than_the_limit(small_limits):
    stream = CountingStream(b'{"as_of": "' + b"x" * 100_000 + b'"}')
    with pytest.raises(RequestTooLarge):
        BoundedJSONParser().parse(stream, "application/json", {})
    assert stream.bytes_read == 1025


def test_a_declared_length_over_the_limit_is_refused_before_reading(small_limits, rf):
    request = rf.post("/trigger_report", b"{}", content_type="application/json", CONTENT_LENGTH="5000")
    stream = CountingStream(b"{}")
    with pytest.raises(RequestTooLarge):
        BoundedJSONParser().parse(stream, "application/json", {"request": request})
    assert stream.bytes_read == 0


@pytest.mark.parametrize("path", ["/get_report", "/api/reports/"])
def test_too_many_query_fields_are_a_400_in_json(api, small_limits, path):
    query = "&".join(f"field{n}=1" for n in range(11))
    error = json_error(api.get(f"{path}?{query}"), 400)
    assert error == (
        "The request has more than 10 query or form fields (DATA_UPLOAD_MAX_NUMBER_FIELDS): "
        "send only the parameters the endpoint takes."
    )


def test_a_page_post_over_the_upload_limit_is_the_413_page(pages, small_limits, worked_examples):
    page = page_text(pages.post("/reports/generate/", {"as_of": "x" * 2000}), 413)
    assert "<h1>Request too large</h1>" in page
    assert "(1 KB)" in page
    assert not Report.objects.exists()


def test_a_page_post_with_too_many_fields_is_the_400_page(pages, small_limits, worked_examples):
    page = page_text(pages.post("/reports/generate/", {f"field{n}": "1" for n in range(11)}), 400)
    assert "<h1>Bad request</h1>" in page
    assert "Back to the dashboard" in page
    assert not Report.objects.exists()


# --- JSON the parser cannot read -----------------------------------------------------------


def test_deeply_nested_json_is_a_400(api):
    body = "[" * 100_000 + "]" * 100_000
    error = json_error(api.post("/trigger_report", body, content_type="application/json"), 400)
    assert error == "JSON parse error - arrays or objects are nested too deeply to read."


@pytest.mark.parametrize("body", ['{"as_of": "\\ud800"}', '{"\\udfff": 1}', '{"method": ["ok", {"a": "x\\ud83d"}]}'])
def test_a_lone_surrogate_in_a_json_string_is_a_400(api, body):
    error = json_error(api.post("/trigger_report", body, content_type="application/json"), 400)
    assert "a string holds a lone UTF-16 surrogate" in error


def test_a_surrogate_pair_is_ordinary_text(api):
    # "\ud83d\ude00" is one character (an emoji): not a time, and said so.
    body = '{"as_of": "\\ud83d\\ude00"}'
    error = json_error(api.post("/trigger_report", body, content_type="application/json"), 400)
    assert "“\U0001f600” is not a time" in error


def test_a_body_that_is_not_utf8_is_a_400(api):
    error = json_error(api.post("/trigger_report", b'{"as_of": "\xff"}', content_type="application/json"), 400)
    assert error == "JSON parse error - the body is not UTF-8 text (byte 12): send JSON encoded as UTF-8."


def test_the_json_renderer_escapes_text_it_cannot_encode():
    data = {"error": "“\ud800” is not a time"}
    rendered = JSONRenderer().render(data)
    assert json.loads(rendered) == data
    assert JSONRenderer().render({"error": "“ok”"}).decode() == '{"error":"“ok”"}'


# --- Ids that cannot exist -----------------------------------------------------------------


def test_the_report_id_shape_is_the_shape_of_new_report_ids():
    assert all(REPORT_ID.fullmatch(new_report_id()) for _ in range(200))


@pytest.mark.parametrize(
    "path", ["/get_report?report_id=a%00b", "/api/reports/a%00b/", "/api/reports/a%00b/csv", "/get_report?report_id=x"]
)
def test_a_report_id_that_cannot_be_one_is_a_404_without_a_query(api, django_assert_num_queries, path):
    with django_assert_num_queries(0):
        response = api.get(path)
    assert json_error(response, 404).startswith("No report has report_id ")


def test_a_nul_byte_in_a_report_id_is_named_in_the_404(api):
    assert json_error(api.get("/get_report", {"report_id": "a\x00b"}), 404) == "No report has report_id 'a\\x00b'."


def test_a_long_unknown_report_id_is_shortened_in_the_404(api):
    error = json_error(api.get("/get_report", {"report_id": "z" * 5000}), 404)
    assert error == f"No report has report_id '{'z' * 40}…'."


@pytest.mark.parametrize("store_id", ["a%00b", "%20a", "x" * 65])
def test_a_store_id_that_cannot_be_one_is_the_404_page_without_a_query(
    pages, worked_examples, django_assert_num_queries, store_id
):
    with django_assert_num_queries(0):
        response = pages.get(f"/stores/{store_id}/")
    page = page_text(response, 404)
    assert "<h1>No store “" in page


def test_a_nul_byte_in_the_store_search_box_is_a_400_sentence(pages, worked_examples):
    page = page_text(pages.get("/stores/", {"store_id": "a\x00b"}, follow=True), 400)
    assert "A store id holds no control characters (such as NUL, tab or a line break)." in page


def test_an_unknown_api_url_is_a_json_404(pages):
    error = json_error(pages.get("/api/reports/a/b/c/"), 404)
    assert error == "No API endpoint answers /api/reports/a/b/c/: the endpoints are listed at /api/docs/."


# --- Pages of the report list --------------------------------------------------------------


@pytest.mark.parametrize("page", ["", "x", "0", "-1", "1.5", "last"])
def test_a_page_that_is_not_a_page_number_is_a_400(api, page):
    error = json_error(api.get("/api/reports/", {"page": page}), 400)
    assert error == f"Invalid request: page: {page!r} is not a page number: use 1, 2, 3, …."


def test_a_page_past_the_last_is_a_404_that_says_so(api):
    Report.objects.create()
    error = json_error(api.get("/api/reports/", {"page": "2"}), 404)
    assert error == "Page 2 does not exist: the reports fill fewer pages (start at 1, follow next)."


# --- Report times a store page cannot draw -------------------------------------------------


@pytest.mark.parametrize(
    "as_of", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00"]
)
def test_as_of_in_year_1_or_9999_on_a_store_page_is_a_400_page(pages, worked_examples, as_of):
    page = page_text(pages.get("/stores/a/", {"as_of": as_of}), 400)
    assert f"As of (UTC): {as_of.replace('Z', '+00:00')} is " in page
