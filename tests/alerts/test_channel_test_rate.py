"""ALERT_TEST_RATE: test sends per user, counted together on the page and the API; past it, a
429 with Retry-After (API) or a message (page), and nothing is sent."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.alerts.factories import ChannelFactory
from tests.alerts.fake_delivery import fake_delivery  # noqa: F401  (a fixture)
from tests.assertions import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(two_owners, settings, fake_delivery):  # noqa: F811
    settings.ALLOW_ANONYMOUS = False
    settings.ALERT_TEST_RATE = "2/hour"
    two_owners.channel = ChannelFactory(owner=two_owners.owner_a, name="ops hook", target="https://a.example.com/h")
    return two_owners


def test_past_the_rate_the_api_answers_429_with_retry_after_and_sends_nothing(world, fake_delivery):  # noqa: F811
    api = APIClient()
    api.force_authenticate(world.user_a)
    url = f"/api/channels/{world.channel.pk}/test"
    assert [api.post(url).status_code for _ in range(2)] == [200, 200]
    refused = api.post(url)
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert refused.json()["error"].startswith(
        "Too many test notifications: at most ALERT_TEST_RATE=2/hour per user. Try again in "
    )
    assert len(fake_delivery.tested) == 2


def test_the_page_and_the_api_count_together_and_the_page_says_why(world, fake_delivery):  # noqa: F811
    api = APIClient()
    api.force_authenticate(world.user_a)
    api.post(f"/api/channels/{world.channel.pk}/test")
    page = Client()
    page.force_login(world.user_a)
    page.post(f"/notifications/channels/{world.channel.pk}/test")
    page.post(f"/notifications/channels/{world.channel.pk}/test")
    assert "Too many test notifications: at most ALERT_TEST_RATE=2/hour per user." in page_text(
        page.get("/notifications/")
    )
    assert len(fake_delivery.tested) == 2


def test_each_user_has_a_rate_of_its_own(world, fake_delivery):  # noqa: F811
    other = ChannelFactory(owner=world.owner_b, target="https://b.example.com/h")
    for user, channel in ((world.user_a, world.channel), (world.user_b, other)):
        api = APIClient()
        api.force_authenticate(user)
        assert [api.post(f"/api/channels/{channel.pk}/test").status_code for _ in range(2)] == [200, 200]
    assert len(fake_delivery.tested) == 4
