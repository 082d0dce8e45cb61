"""Every read is scoped to the caller's owners: another owner's report or store is a 404 exactly
like an unknown one, and lists, counts, searches and the dashboard hold the caller's objects only."""

import re

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from reports.attention import SUMMARY_VERSION
from reports.models import Report
from tests.assertions import absent_from, page_text
from tests.factories import StatusPollFactory, UserFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
UNKNOWN_REPORT = "A" * 22  # well formed, and nobody's
UNKNOWN_STORE = "store-x"


def summary(*store_ids: str) -> dict:
    """A kept dashboard summary naming these stores as needing attention."""
    entry = {
        "downtime_last_day": 1.0,
        "downtime_last_week": 1.0,
        "uptime_percent_last_day": 50.0,
        "uptime_percent_last_week": 90.0,
        "outages_last_day": 1,
        "outages_last_week": 1,
        "polls_last_day": 2,
        "polls_last_week": 2,
    }
    return {
        "version": SUMMARY_VERSION,
        "as_of": "2023-01-25T12:00:00+00:00",
        "method": "last_known",
        "stores": len(store_ids),
        "limit": 10,
        "attention": [{"store_id": store_id, **entry} for store_id in store_ids],
        "attention_count": len(store_ids),
        "offline_now": [],
        "offline_now_count": 0,
    }


def complete_report(owner, *store_ids: str) -> Report:
    report = Report.objects.create(
        owner=owner, status="Complete", progress=1.0, store_count=len(store_ids), summary=summary(*store_ids)
    )
    report.csv_file.save(f"{report.report_id}.csv", ContentFile(b"store_id\n"), save=False)
    report.outages_file.save(f"{report.report_id}-outages.csv", ContentFile(b"store_id\n"), save=False)
    report.save()
    return report


@pytest.fixture
def world(two_owners, settings):
    """two_owners with polls at every store, a complete report of each owner and one of every store."""
    settings.ALLOW_ANONYMOUS = False
    w = two_owners
    for store in (w.store_a, w.store_b, w.store_none):
        StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 09:00"), status="active")
        StatusPollFactory(store=store, timestamp_utc=at("2023-01-25 11:00"), status="inactive")
    # One more poll of b's, the newest of all: A must never see its time.
    StatusPollFactory(store=w.store_b, timestamp_utc=at("2023-01-25 11:47:13"), status="active")
    w.report_a = complete_report(w.owner_a, "store-a")
    w.report_b = complete_report(w.owner_b, "store-b")
    w.report_all = complete_report(None, "store-a", "store-b", "store-none")
    return w


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def same_but_for(body: bytes, shown: str, instead: str) -> str:
    """A page or JSON body with one id written as another, and CSRF tokens (random) left out."""
    text = body.decode().replace(shown, instead)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


# --- The API ---------------------------------------------------------------------------------

REPORT_URLS = {
    "get_report": lambda report_id: ("/get_report", {"report_id": report_id}),
    "get_report json": lambda report_id: ("/get_report", {"report_id": report_id, "format": "json"}),
    "detail": lambda report_id: (f"/api/reports/{report_id}/", {}),
    "csv": lambda report_id: (f"/api/reports/{report_id}/csv", {}),
    "outages.csv": lambda report_id: (f"/api/reports/{report_id}/outages.csv", {}),
}


@pytest.mark.parametrize("endpoint", REPORT_URLS)
def test_another_owners_report_is_a_404_exactly_like_an_unknown_one(world, endpoint):
    client = api(world.user_a)
    url, query = REPORT_URLS[endpoint](world.report_b.report_id)
    theirs = client.get(url, query)
    unknown = client.get(*REPORT_URLS[endpoint](UNKNOWN_REPORT))
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert theirs.json() == {"error": f"No report has report_id {world.report_b.report_id!r}."}
    assert same_but_for(theirs.content, world.report_b.report_id, UNKNOWN_REPORT) == unknown.content.decode()
    assert theirs.headers.get("Content-Type") == unknown.headers.get("Content-Type")


@pytest.mark.parametrize("endpoint", REPORT_URLS)
def test_the_report_of_every_store_is_a_404_for_an_owners_user(world, endpoint):
    response = api(world.user_a).get(*REPORT_URLS[endpoint](world.report_all.report_id))
    assert response.status_code == 404
    assert response.json() == {"error": f"No report has report_id {world.report_all.report_id!r}."}


@pytest.mark.parametrize("endpoint", REPORT_URLS)
def test_an_owners_user_reads_their_own_report_everywhere(world, endpoint):
    response = api(world.user_a).get(*REPORT_URLS[endpoint](world.report_a.report_id))
    assert response.status_code == 200


def test_the_report_json_says_whose_stores_it_covers(world):
    client = api(world.staff)
    assert client.get(f"/api/reports/{world.report_a.report_id}/").json()["owner"] == "alpha"
    assert client.get(f"/api/reports/{world.report_all.report_id}/").json()["owner"] is None
    query = {"report_id": world.report_b.report_id, "format": "json"}
    assert client.get("/get_report", query).json()["owner"] == "beta"
    pending = Report.objects.create(owner=world.owner_a)
    assert client.get("/get_report", {"report_id": pending.report_id}).json()["owner"] == "alpha"
    failed = Report.objects.create(owner=world.owner_b, status="Failed", error="No polls.")
    assert client.get("/get_report", {"report_id": failed.report_id}).json()["owner"] == "beta"


def listed(client) -> list[str]:
    response = client.get("/api/reports/", {"limit": 100})
    assert response.status_code == 200
    return [report["report_id"] for report in response.json()["results"]]


def test_the_reports_list_holds_only_the_callers_owners_reports(world):
    assert listed(api(world.user_a)) == [world.report_a.report_id]
    assert listed(api(world.user_b)) == [world.report_b.report_id]


def test_staff_list_every_report_and_only_staff_see_the_report_of_every_store(world):
    assert set(listed(api(world.staff))) == {r.report_id for r in (world.report_a, world.report_b, world.report_all)}


def test_a_user_of_two_owners_sees_both_owners_reports_and_stores(world):
    both = UserFactory(username="carol")
    world.owner_a.users.add(both)
    world.owner_b.users.add(both)
    assert set(listed(api(both))) == {world.report_a.report_id, world.report_b.report_id}
    for store_id in ("store-a", "store-b"):
        assert api(both).get(f"/api/stores/{store_id}/outages").status_code == 200
    assert api(both).get("/api/stores/store-none/outages").status_code == 404


def test_anonymous_callers_see_everything_while_anonymous_access_is_on(world, settings, client):
    settings.ALLOW_ANONYMOUS = True
    everything = {r.report_id for r in (world.report_a, world.report_b, world.report_all)}
    assert set(listed(api())) == everything
    for report in (world.report_a, world.report_b, world.report_all):
        assert api().get(f"/api/reports/{report.report_id}/csv").status_code == 200
    for store_id in ("store-a", "store-b", "store-none"):
        assert api().get(f"/api/stores/{store_id}/outages").status_code == 200
        assert client.get(f"/stores/{store_id}/").status_code == 200
    page = page_text(client.get("/"))
    assert not absent_from(page, *everything, '<span class="stat-value" id="stat-stores">3</span>')


def test_another_owners_store_outages_are_a_404_exactly_like_an_unknown_store(world):
    client = api(world.user_a)
    theirs = client.get("/api/stores/store-b/outages")
    unknown = client.get(f"/api/stores/{UNKNOWN_STORE}/outages")
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert theirs.json() == {"error": "No store has store_id 'store-b'."}
    assert same_but_for(theirs.content, "store-b", UNKNOWN_STORE) == unknown.content.decode()
    assert client.get("/api/stores/store-none/outages").status_code == 404


def test_a_store_without_owner_is_visible_to_staff_only(world):
    assert api(world.staff).get("/api/stores/store-none/outages").status_code == 200
    assert api(world.user_a).get("/api/stores/store-none/outages").status_code == 404


def test_an_owners_store_outages_default_to_the_newest_poll_of_their_stores(world):
    body = api(world.user_a).get("/api/stores/store-a/outages").json()
    assert body["as_of"] == "2023-01-25T11:00:00Z"  # not b's 11:47:13
    assert api(world.staff).get("/api/stores/store-a/outages").json()["as_of"] == "2023-01-25T11:47:13Z"


def test_an_outage_query_without_polls_names_only_the_callers_poll_times(world):
    response = api(world.user_a).get("/api/stores/store-a/outages", {"as_of": "2024-06-01T00:00:00Z"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "2023-01-25 11:00:00 UTC" in text
    assert "11:47" not in text


# --- The pages -------------------------------------------------------------------------------


def signed_in(client, user):
    client.force_login(user)
    return client


def test_another_owners_store_page_is_the_unknown_store_404(world, client):
    signed_in(client, world.user_a)
    theirs = client.get("/stores/store-b/")
    unknown = client.get(f"/stores/{UNKNOWN_STORE}/")
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert same_but_for(theirs.content, "store-b", UNKNOWN_STORE) == same_but_for(unknown.content, "", "")
    assert client.get("/stores/store-none/").status_code == 404
    assert client.get("/stores/store-a/").status_code == 200


def test_an_owners_store_page_is_as_of_the_newest_poll_of_their_stores(world, client):
    page = page_text(signed_in(client, world.user_a).get("/stores/store-a/"))
    assert "2023-01-25 11:00" in page
    assert "11:47" not in page


def test_the_store_search_finds_only_the_callers_stores(world, client):
    signed_in(client, world.user_a)
    page = page_text(client.get("/stores/", {"store_id": "store-"}))
    assert re.findall(r'<a class="store-id" href="[^"]+">([^<]+)</a>', page) == ["store-a"]
    assert client.get("/stores/", {"store_id": "store-a"}).url == "/stores/store-a/"


def test_searching_another_owners_whole_store_id_is_answered_like_an_unknown_id(world, client):
    signed_in(client, world.user_a)
    theirs = client.get("/stores/", {"store_id": "store-b"})
    unknown = client.get("/stores/", {"store_id": UNKNOWN_STORE})
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert same_but_for(theirs.content, "store-b", UNKNOWN_STORE) == same_but_for(unknown.content, "", "")


def stat(page: str, name: str) -> str:
    match = re.search(rf'id="stat-{name}">([^<]*)<', page)
    assert match, name
    return match.group(1)


def test_the_dashboard_shows_only_the_callers_stores_counts_and_reports(world, client):
    page = page_text(signed_in(client, world.user_a).get("/"))
    assert (stat(page, "stores"), stat(page, "polls"), stat(page, "newest")) == ("1", "2", "2023-01-25 11:00:00 UTC")
    assert world.report_a.report_id in page
    assert '<span class="stat-label">Your stores</span>' in page
    for hidden in (world.report_b.report_id, world.report_all.report_id, "store-b", "store-none", "11:47"):
        assert hidden not in page, hidden


def test_the_dashboard_summary_of_an_owners_user_comes_from_their_owners_newest_report(world, client):
    # Newer than A's report, and covering A's stores and more: never shown to A.
    complete_report(None, "store-a", "store-b")
    page = page_text(signed_in(client, world.user_a).get("/"))
    assert "From report" in page
    assert re.search(rf'href="/api/reports/{world.report_a.report_id}/"', page)
    assert 'data-store-id="store-a"' in page


def test_the_dashboard_summary_of_staff_comes_from_a_report_of_every_store(world, client):
    complete_report(world.owner_a, "store-a")  # newer, but of one owner
    page = page_text(signed_in(client, world.staff).get("/"))
    assert f'href="/api/reports/{world.report_all.report_id}/"' in page
    assert stat(page, "stores") == "3"
    assert stat(page, "newest") == "2023-01-25 11:47:13 UTC"


def test_the_dashboard_of_a_user_of_two_owners_computes_the_summary_over_both(world, client):
    both = UserFactory(username="carol")
    world.owner_a.users.add(both)
    world.owner_b.users.add(both)
    page = page_text(signed_in(client, both).get("/"))
    assert "Computed now, as of the newest poll (2023-01-25 11:47:13 UTC" in page
    assert stat(page, "stores") == "2"
    assert world.report_a.report_id in page
    assert world.report_b.report_id in page
    assert world.report_all.report_id not in page
    assert "store-none" not in page


def test_the_dashboard_of_a_user_of_no_owner_shows_nothing_and_says_why(world, client):
    page = page_text(signed_in(client, UserFactory(username="dave")).get("/"))
    assert (stat(page, "stores"), stat(page, "polls"), stat(page, "newest")) == ("0", "0", "none yet")
    assert "Your account belongs to no owner" in page
    assert not any(r.report_id in page for r in (world.report_a, world.report_b, world.report_all))


def test_the_admin_lists_whose_stores_each_report_covers_and_filters_by_it(world, client):
    world.staff.is_superuser = True
    world.staff.save()
    signed_in(client, world.staff)
    page = page_text(client.get("/admin/reports/report/"))
    assert not absent_from(page, "Stores of", "Alpha Pizza", "Beta Burgers", "all stores")
    only_alpha = page_text(client.get("/admin/reports/report/", {"stores_of": "alpha"}))
    assert world.report_a.report_id in only_alpha
    assert world.report_b.report_id not in only_alpha
    every = page_text(client.get("/admin/reports/report/", {"stores_of": "all"}))
    assert world.report_all.report_id in every
    assert world.report_a.report_id not in every
    detail = page_text(client.get(f"/admin/reports/report/{world.report_b.pk}/change/"))
    assert "Beta Burgers" in detail


def test_the_admin_stays_staff_only(world, client):
    response = signed_in(client, world.user_a).get("/admin/reports/report/")
    assert response.status_code == 302
    assert "/admin/login/" in response.url
