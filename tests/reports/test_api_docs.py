"""The API's documentation lists the assignment's two endpoints (POST /trigger_report, GET /get_report)
first, above the report resources under /api/reports/."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_two_endpoints_of_the_assignment_come_first_in_the_schema(schema):
    assert list(schema["paths"])[:2] == ["/trigger_report", "/get_report"]
    assert all(path.startswith("/api/") for path in list(schema["paths"])[2:])


def test_the_docs_group_them_first_and_every_group_is_declared_with_a_description(schema):
    declared = [tag["name"] for tag in schema["tags"]]
    assert declared == [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]
    assert all(tag["description"] for tag in schema["tags"])
    assigned = {
        (path, method): operation["tags"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert assigned[("/trigger_report", "post")] == assigned[("/get_report", "get")] == [declared[0]]
    assert {tag for tags in assigned.values() for tag in tags} == set(declared)
