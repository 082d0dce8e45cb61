"""The dashboard's store search: a whole id opens the store's page, part of one lists the stores."""

import re
import uuid

import pytest

from tests.assertions import absent_from, page_text
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db
UUIDS = [str(uuid.UUID(int=0xFFFEFAD8F53844F5A7743CF2B3B225BA - n * 7919)) for n in range(3)]


@pytest.fixture
def stores():
    for store_id in [*UUIDS, "8139926242460185114", "8139926242460185999", "Shop-North", "shop-south"]:
        StoreFactory(store_id=store_id)


def matches(page):
    return re.findall(r'<li><a class="store-id" href="([^"]+)">([^<]+)</a></li>', page)


def test_a_whole_id_opens_the_stores_page(client, stores):
    response = client.get("/stores/", {"store_id": f" {UUIDS[1]} "})
    assert (response.status_code, response.url) == (302, f"/stores/{UUIDS[1]}/")


def test_part_of_an_id_lists_the_stores_whose_id_contains_it_in_any_case(client, stores):
    page = page_text(client.get("/stores/", {"store_id": "SHOP"}))
    assert matches(page) == [("/stores/Shop-North/", "Shop-North"), ("/stores/shop-south/", "shop-south")]
    assert "2 stores, by store id." in page
    assert 'value="SHOP"' in page  # the search box again, with what was typed


def test_part_of_a_uuid_finds_it(client, stores):
    # The three UUIDs differ in their last group only.
    page = page_text(client.get("/stores/", {"store_id": UUIDS[2][-8:].upper()}))
    assert matches(page) == [(f"/stores/{UUIDS[2]}/", UUIDS[2])]
    across_a_dash = page_text(client.get("/stores/", {"store_id": "F538-44F5"}))
    assert [store_id for _, store_id in matches(across_a_dash)] == sorted(UUIDS)


def test_the_common_start_of_two_ids_lists_both_in_order(client, stores):
    page = page_text(client.get("/stores/", {"store_id": "8139926242460185"}))
    assert [store_id for _, store_id in matches(page)] == ["8139926242460185114", "8139926242460185999"]


def test_at_most_twenty_are_listed_with_a_sentence_saying_so(client):
    for n in range(25):
        StoreFactory(store_id=f"branch-{n:02d}")
    page = page_text(client.get("/stores/", {"store_id": "branch"}))
    assert [store_id for _, store_id in matches(page)] == [f"branch-{n:02d}" for n in range(20)]
    assert "The first 20 by store id; type more of the id to narrow them down." in page


def test_no_match_is_the_friendly_404_saying_so(client, stores):
    page = page_text(client.get("/stores/", {"store_id": "nowhere"}), 404)
    assert not absent_from(page, "<h1>No store “nowhere”</h1>", "No store id contains “nowhere” either (in any case).")


def test_too_short_a_part_asks_for_three_characters(client, stores):
    page = page_text(client.get("/stores/", {"store_id": "sh"}), 404)
    assert "To search by part of an id, type at least 3 characters of it." in page
    assert matches(page) == []


def test_a_short_whole_id_still_opens_its_page(client):
    StoreFactory(store_id="7")
    assert client.get("/stores/", {"store_id": "7"}).url == "/stores/7/"


def test_like_wildcards_are_taken_literally(client, stores):
    StoreFactory(store_id="50%_off")
    page = page_text(client.get("/stores/", {"store_id": "%_o"}))
    assert [store_id for _, store_id in matches(page)] == ["50%_off"]
    assert page_text(client.get("/stores/", {"store_id": "___"}), 404)


def test_an_id_with_a_slash_is_listed_without_a_link(client):
    StoreFactory(store_id="north/1")
    page = page_text(client.get("/stores/", {"store_id": "north"}))
    assert '<li><span class="store-id" title="An id with a slash has no page">north/1</span></li>' in page


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc\x00def", "A store id holds no control characters (such as NUL, tab or a line break)."),
        ("tab\there", "A store id holds no control characters"),
        ("x" * 10_000, "That is 10,000 characters; a store id has at most 64."),
    ],
    ids=["NUL", "tab", "very long"],
)
def test_hostile_input_is_a_400_sentence(client, stores, text, words):
    page = page_text(client.get("/stores/", {"store_id": text}), 400)
    assert words in page
    assert "Traceback" not in page
