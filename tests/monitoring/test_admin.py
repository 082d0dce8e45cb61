"""The admin's store and poll pages: content, filters, search, and a bounded number of queries."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import stats
from monitoring.models import Owner, StatusPoll, Store
from reports.store_week import store_figures
from tests.assertions import absent_from, page_text
from tests.factories import (
    BusinessHoursFactory,
    OwnerFactory,
    StatusPollFactory,
    StoreFactory,
    TimezoneFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
UTC = dt.UTC
STORES = "/admin/monitoring/store/"
POLLS = "/admin/monitoring/statuspoll/"
# Session, user, COUNT of the page's stores, the page (owners joined), hours of its stores (one
# prefetch), and the owner and time zone filters' choices. The polls list: session, user, its oldest and newest
# poll and its days (date hierarchy), the page with its stores joined, and the total: on
# PostgreSQL the planner's estimate, plus an exact COUNT only when that estimate is small.
STORE_LIST_QUERIES = 7
POLL_LIST_QUERIES = 7


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def stores():
    """Three kinds of store: defaults everywhere, zone and hours with a newest poll inactive,
    and one without polls."""
    plain = StoreFactory(store_id="100")
    StatusPollFactory(store=plain, timestamp_utc=at("2023-01-25 10:00"), status="active")
    hours = StoreFactory(store_id="200")
    TimezoneFactory(store=hours, timezone_str="America/New_York")
    for day in range(5):
        BusinessHoursFactory(store=hours, day_of_week=day, start_time_local=dt.time(9), end_time_local=dt.time(17))
    StatusPollFactory(store=hours, timestamp_utc=at("2023-01-25 09:00"), status="active")
    StatusPollFactory(store=hours, timestamp_utc=at("2023-01-25 11:30"), status="inactive")
    StoreFactory(store_id="300")
    return plain, hours


def add_stores(count, start):
    for n in range(start, start + count):
        store = StoreFactory(store_id=f"9{n:05d}")
        TimezoneFactory(store=store, timezone_str="Asia/Kolkata")
        BusinessHoursFactory(store=store, day_of_week=n % 7)
        StatusPollFactory(store=store, timestamp_utc=at("2023-01-24 00:00") + dt.timedelta(minutes=n))


def squeezed(page):
    """The page with each run of white space as one space: the admin's templates indent freely."""
    return re.sub(r"\s+", " ", page)


def listed_store_ids(response):
    return re.findall(r'<th class="field-store_id"><a href="[^"]+">([^<]+)</a>', response.content.decode())


# --- Stores --------------------------------------------------------------------------------


def test_the_store_list_shows_zone_hours_and_the_newest_poll(admin_client, stores):
    response = admin_client.get(STORES)
    page = page_text(response)
    assert listed_store_ids(response) == ["100", "200", "300"]
    assert not absent_from(
        page,
        # Zones may wrap after a slash in their narrow column.
        'America/<wbr>Chicago <span class="default-zone">(default)</span>',
        "America/<wbr>New_York",
        "24/7",
        "Mon–Fri 09:00–17:00; closed Sat–Sun",
        "2023-01-25 11:30:00",
        "2023-01-25 10:00:00",
        '<td class="field-newest_status">inactive</td>',
        '<td class="field-newest_status">no polls</td>',
    )


def test_the_store_list_runs_the_same_few_queries_for_any_number_of_stores(
    admin_client, stores, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        admin_client.get(STORES)
    add_stores(60, start=0)
    with django_assert_max_num_queries(STORE_LIST_QUERIES):
        response = admin_client.get(STORES)
    assert len(listed_store_ids(response)) == 63
    with CaptureQueriesContext(connection) as many:
        admin_client.get(STORES)
    assert len(many) == len(few)


def test_the_store_list_never_counts_all_stores_beside_the_filtered_ones(admin_client, stores):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(STORES, {"zone": "default"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "WHERE" in counts[0].upper()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"zone": "default"}, ["100", "300"]),
        ({"zone": "America/New_York"}, ["200"]),
        ({"latest_status": "inactive"}, ["200"]),
        ({"latest_status": "active"}, ["100"]),
        ({"latest_status": "none"}, ["300"]),
        ({"q": "20"}, ["200"]),
        ({"o": "-5"}, ["200", "100", "300"]),  # newest poll first (column 5, after the page link)
    ],
)
def test_stores_filter_by_zone_and_latest_status_and_search_by_id(admin_client, stores, query, expected):
    response = admin_client.get(STORES, query)
    assert response.status_code == 200
    assert listed_store_ids(response) == expected


def test_the_zone_filter_lists_the_zones_in_use_and_the_default(admin_client, stores):
    page = admin_client.get(STORES).content.decode()
    assert not absent_from(
        page,
        "?zone=America%2FNew_York",
        "?zone=default",
        "?latest_status=inactive",
        "?latest_status=none",
    )


def test_each_store_in_the_list_links_to_its_page_by_store_id(admin_client, stores):
    page = page_text(admin_client.get(STORES))
    for store_id in ("100", "200", "300"):
        assert f'<td class="field-page_link"><a href="/stores/{store_id}/"' in page


def test_the_store_page_shows_hours_and_zone_inline_the_figures_and_a_link_to_its_week(admin_client, stores):
    _, store = stores
    response = admin_client.get(f"{STORES}{store.pk}/change/")
    page = squeezed(page_text(response))
    assert not absent_from(
        page,
        'class="inline-heading"> Time zone </h2>',
        '<label class="required" for="id_timezone-0-timezone_str">Time zone:</label>',
        'value="America/New_York"',
        'class="inline-heading"> Business hours </h2>',
        '<th class="column-day_of_week required">Day </th>',
        '<th class="column-start_time_local required">Opens (local) </th>',
        '<th class="column-end_time_local required">Closes (local) </th>',
        'type="time" name="business_hours-0-start_time_local" value="09:00:00"',
        "Add another Business hours row",
        "Mon–Fri 09:00–17:00; closed Sat–Sun",  # the hours used, in one line
    )
    # Model-ish words and the admin's "Now" clock buttons are gone.
    assert not [words for words in ("Timezone str", "Start time local", "none: ", "vTimeField") if words in page]
    # Polls at 04:00 and 06:30 New York time, outside the hours: the first one's "active"
    # covers the five sessions of the week (40 h), one of them in the last day.
    assert store_figures("200").row == ["200", "0.00", "8.00", "40.00", "0.00", "0.00", "0.00"]
    assert not absent_from(
        page,
        "<tr><th>last day</th><td>8.00 hours</td><td>0.00 hours</td></tr>",
        "<tr><th>last week</th><td>40.00 hours</td><td>0.00 hours</td></tr>",
        "As of 2023-01-25 11:30:00 UTC (newest poll)",
        'href="/stores/200/"',
    )


def test_a_store_without_polls_says_it_is_not_in_the_report(admin_client, stores):
    store = Store.objects.get(store_id="300")
    page = admin_client.get(f"{STORES}{store.pk}/change/").content.decode()
    assert "No polls in the lookback before 2023-01-25 11:30:00 UTC: not in the report." in page


def test_the_store_page_works_on_an_empty_database(admin_client):
    store = StoreFactory(store_id="lonely")
    page = admin_client.get(f"{STORES}{store.pk}/change/").content.decode()
    assert "The database holds no polls yet" in page


def test_a_store_without_zone_or_hours_shows_the_defaults_the_reports_use(admin_client, stores):
    plain, _ = stores
    page = squeezed(page_text(admin_client.get(f"{STORES}{plain.pk}/change/")))
    assert not absent_from(
        page,
        '<label>Time zone used:</label> <div class="readonly">America/Chicago (default)</div>',
        '<label>Business hours used:</label> <div class="readonly">24/7</div>',
    )


def test_adding_a_store_shows_the_form_without_figures(admin_client):
    page = page_text(admin_client.get(f"{STORES}add/"))
    assert 'name="store_id"' in page
    assert not [words for words in ("Report figures", "Time zone used", "Store page:") if words in page]


def test_a_store_is_added_with_its_zone_and_hours_from_plain_time_inputs(admin_client):
    response = admin_client.post(
        f"{STORES}add/",
        {
            "store_id": "0f3a9c1e-5b7d-4e2a-9c8f-1d2e3f4a5b6c",
            "timezone-TOTAL_FORMS": "1",
            "timezone-INITIAL_FORMS": "0",
            "timezone-0-timezone_str": "Asia/Kolkata",
            "business_hours-TOTAL_FORMS": "2",
            "business_hours-INITIAL_FORMS": "0",
            # As browsers send <input type="time">: with or without seconds.
            "business_hours-0-day_of_week": "0",
            "business_hours-0-start_time_local": "09:00",
            "business_hours-0-end_time_local": "23:59:59",
            "business_hours-1-day_of_week": "6",
            "business_hours-1-start_time_local": "10:30:00",
            "business_hours-1-end_time_local": "14:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    store = Store.objects.get(store_id="0f3a9c1e-5b7d-4e2a-9c8f-1d2e3f4a5b6c")
    assert store.timezone_name == "Asia/Kolkata"
    assert [(h.day_of_week, h.start_time_local, h.end_time_local) for h in store.business_hours.all()] == [
        (0, dt.time(9), dt.time(23, 59, 59)),
        (6, dt.time(10, 30), dt.time(14)),
    ]


def test_a_store_id_cannot_be_changed_once_the_store_exists(admin_client, stores):
    _, store = stores
    url = f"{STORES}{store.pk}/change/"
    page = page_text(admin_client.get(url))
    assert 'name="store_id"' not in page
    assert '<div class="readonly">200</div>' in page
    management = {
        "timezone-TOTAL_FORMS": "1",
        "timezone-INITIAL_FORMS": "1",
        "timezone-0-id": str(store.timezone.pk),
        "timezone-0-store": str(store.pk),
        "timezone-0-timezone_str": "America/New_York",
        "business_hours-TOTAL_FORMS": "0",
        "business_hours-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, {"store_id": "999", **management})
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.store_id == "200"


def test_a_store_is_found_by_its_whole_uuid(admin_client, stores):
    uuid = "fffefad8-f538-44f5-a774-3cf2b3b225ba"
    StoreFactory(store_id=uuid)
    StoreFactory(store_id="fffefad8-0000-44f5-a774-3cf2b3b225bb")
    response = admin_client.get(STORES, {"q": uuid})
    assert listed_store_ids(response) == [uuid]


# --- Polls ---------------------------------------------------------------------------------


def test_the_poll_list_shows_newest_first_with_store_ids(admin_client, stores):
    response = admin_client.get(POLLS)
    page = page_text(response)
    rows = re.findall(r'<td class="field-store[^"]*">(?:<a[^>]*>)?([^<]+)', page)
    assert rows == ["200", "100", "200"]
    assert 'id="changelist-filter"' in page
    assert "?status__exact=inactive" in page
    # The date hierarchy starts at the days of the one month the polls fall in.
    assert "timestamp_utc__day=25" in page


def test_the_poll_list_runs_the_same_few_queries_for_any_number_of_polls(
    admin_client, stores, django_assert_max_num_queries
):
    add_stores(60, start=0)
    with django_assert_max_num_queries(POLL_LIST_QUERIES):
        response = admin_client.get(POLLS)
    assert response.status_code == 200
    with django_assert_max_num_queries(POLL_LIST_QUERIES):
        admin_client.get(POLLS, {"timestamp_utc__year": 2023, "timestamp_utc__month": 1, "timestamp_utc__day": 24})


@pytest.mark.postgres
def test_on_postgresql_the_poll_list_does_not_count_a_big_table(admin_client, stores, monkeypatch):
    monkeypatch.setattr(stats, "EXACT_COUNT_BELOW", 0)  # every table counts as big
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(POLLS)
    assert response.status_code == 200
    polls_sql = [q["sql"].upper() for q in queries.captured_queries if "MONITORING_STATUSPOLL" in q["sql"].upper()]
    assert polls_sql
    assert not any("COUNT(" in sql for sql in polls_sql)
    assert not any("SELECT DISTINCT" in sql for sql in polls_sql)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "inactive"}, 1),
        ({"q": "200"}, 2),
        ({"q": " 100 "}, 1),
        ({"q": "20"}, 0),  # exact store ids only
        ({"q": "nope"}, 0),
        ({"timestamp_utc__year": 2023, "timestamp_utc__month": 1, "timestamp_utc__day": 25}, 3),
        ({"timestamp_utc__year": 2023, "timestamp_utc__month": 1, "timestamp_utc__day": 24}, 0),
    ],
)
def test_polls_filter_by_status_and_day_and_search_by_exact_store_id(admin_client, stores, query, expected):
    response = admin_client.get(POLLS, query)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == expected


def test_the_poll_page_picks_its_store_with_an_autocomplete(admin_client, stores):
    poll = StatusPoll.objects.order_by("pk").first()
    page = admin_client.get(f"{POLLS}{poll.pk}/change/").content.decode()
    assert "admin-autocomplete" in page
    assert "/admin/autocomplete/" in page
    found = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "monitoring", "model_name": "statuspoll", "field_name": "store", "term": "20"},
    )
    assert [item["text"] for item in found.json()["results"]] == ["200"]


def test_the_admin_needs_a_staff_login(client, stores):
    assert client.get(STORES).status_code == 302
    assert client.get(POLLS).status_code == 302


# --- Owners --------------------------------------------------------------------------------

OWNERS = "/admin/monitoring/owner/"


def listed_owner_rows(response):
    """(name, slug, stores, users) per row of the owners list."""
    page = response.content.decode()
    return re.findall(
        r'<th class="field-name"><a href="[^"]+">([^<]+)</a></th>'
        r'<td class="field-slug">([^<]+)</td><td class="field-store_count">(\d+)</td>'
        r'<td class="field-user_count">(\d+)</td>',
        page,
    )


def test_the_owner_list_shows_each_owner_s_slug_and_number_of_stores_and_users(admin_client, two_owners):
    StoreFactory(store_id="store-a2", owner=two_owners.owner_a)
    two_owners.owner_a.users.add(two_owners.staff)
    OwnerFactory(name="Gamma Grill", slug="gamma-grill")

    response = admin_client.get(OWNERS)

    assert listed_owner_rows(response) == [
        ("Alpha Pizza", "alpha", "2", "2"),
        ("Beta Burgers", "beta", "1", "1"),
        ("Gamma Grill", "gamma-grill", "0", "0"),
    ]


@pytest.mark.parametrize(("term", "expected"), [("burg", ["Beta Burgers"]), ("alpha", ["Alpha Pizza"]), ("x", [])])
def test_owners_are_searched_by_name_or_slug(admin_client, two_owners, term, expected):
    response = admin_client.get(OWNERS, {"q": term})

    assert [row[0] for row in listed_owner_rows(response)] == expected


def test_the_owner_list_runs_the_same_few_queries_for_any_number_of_owners(
    admin_client, two_owners, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        admin_client.get(OWNERS)
    for _ in range(30):
        owner = OwnerFactory(users=[UserFactory()])
        StoreFactory(owner=owner)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(OWNERS)
    assert len(listed_owner_rows(response)) == 32
    assert len(many) == len(few)


def test_a_new_owner_s_slug_is_filled_in_from_its_name_and_its_users_are_picked_side_by_side(admin_client):
    page = page_text(admin_client.get(f"{OWNERS}add/"))

    assert not absent_from(
        page,
        "admin/js/prepopulate.js",
        # The admin's script fills the slug from the name as it is typed (JSON in an attribute).
        "&quot;id&quot;: &quot;#id_slug&quot;",
        "&quot;dependency_ids&quot;: [&quot;#id_name&quot;]",
        'class="selectfilter"',  # filter_horizontal: available and chosen users side by side
        'name="users"',
    )


def test_staff_add_an_owner_with_its_users_from_the_owner_page(admin_client, two_owners):
    response = admin_client.post(
        f"{OWNERS}add/", {"name": "Gamma Grill", "slug": "gamma-grill", "users": [two_owners.user_b.pk]}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    gamma = Owner.objects.get(slug="gamma-grill")
    assert (gamma.name, list(gamma.users.all())) == ("Gamma Grill", [two_owners.user_b])


def test_staff_add_a_user_to_an_existing_owner_from_its_page(admin_client, two_owners):
    url = f"{OWNERS}{two_owners.owner_a.pk}/change/"
    page = page_text(admin_client.get(url))
    assert '<a href="/admin/monitoring/store/?owner=alpha">1 store</a>' in page

    response = admin_client.post(
        url, {"name": "Alpha Pizza", "slug": "alpha", "users": [two_owners.user_a.pk, two_owners.user_b.pk]}
    )

    assert response.status_code == 302
    assert set(two_owners.owner_a.users.all()) == {two_owners.user_a, two_owners.user_b}
    assert set(two_owners.user_b.owners.all()) == {two_owners.owner_a, two_owners.owner_b}


def test_the_store_list_shows_each_store_s_owner_and_filters_by_owner(admin_client, two_owners):
    response = admin_client.get(STORES)
    page = squeezed(page_text(response))
    assert not absent_from(
        page,
        '<td class="field-owner_name"><span title="alpha">Alpha Pizza</span></td>',
        '<td class="field-owner_name"><span title="beta">Beta Burgers</span></td>',
        '<td class="field-owner_name"><span class="no-owner">none</span></td>',
        "?owner=alpha",
        "?owner=none",
    )
    assert listed_store_ids(admin_client.get(STORES, {"owner": "alpha"})) == ["store-a"]
    assert listed_store_ids(admin_client.get(STORES, {"owner": "none"})) == ["store-none"]
    assert listed_store_ids(admin_client.get(STORES, {"o": "-7"})) == ["store-b", "store-a", "store-none"]


def test_staff_set_and_take_away_a_store_s_owner_on_its_page_with_an_autocomplete(admin_client, two_owners):
    store = two_owners.store_none
    url = f"{STORES}{store.pk}/change/"
    page = page_text(admin_client.get(url))
    assert 'name="owner"' in page
    assert "admin-autocomplete" in page
    found = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "monitoring", "model_name": "store", "field_name": "owner", "term": "burg"},
    )
    assert [item["text"] for item in found.json()["results"]] == ["Beta Burgers"]
    inlines = {
        "timezone-TOTAL_FORMS": "0",
        "timezone-INITIAL_FORMS": "0",
        "business_hours-TOTAL_FORMS": "0",
        "business_hours-INITIAL_FORMS": "0",
    }

    assert admin_client.post(url, {"owner": str(two_owners.owner_b.pk), **inlines}).status_code == 302
    store.refresh_from_db()
    assert store.owner == two_owners.owner_b

    assert admin_client.post(url, {"owner": "", **inlines}).status_code == 302
    store.refresh_from_db()
    assert store.owner is None


def test_a_store_is_added_with_its_owner(admin_client, two_owners):
    response = admin_client.post(
        f"{STORES}add/",
        {
            "store_id": "store-new",
            "owner": str(two_owners.owner_a.pk),
            "timezone-TOTAL_FORMS": "0",
            "timezone-INITIAL_FORMS": "0",
            "business_hours-TOTAL_FORMS": "0",
            "business_hours-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Store.objects.get(store_id="store-new").owner == two_owners.owner_a


def test_the_owner_admin_needs_a_staff_login(client, two_owners):
    client.force_login(two_owners.user_a)
    assert client.get(OWNERS).status_code == 302
