"""The admin's channels (secrets never shown, targets checked, "send a test") and deliveries
(read-only, with their attempts)."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Channel, Delivery, DeliveryAttempt
from tests.alerts.factories import ChannelFactory, DeliveryFactory
from tests.alerts.receiver import Receiver
from tests.assertions import absent_from, page_text
from tests.factories import OwnerFactory, StoreFactory

pytestmark = pytest.mark.django_db
CHANNELS = "/admin/alerts/channel/"
DELIVERIES = "/admin/alerts/delivery/"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


@pytest.fixture
def receiver(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def bella(db):
    return OwnerFactory(slug="bella", name="Bella Pizza")


def form(owner, **fields):
    return {
        "owner": owner.pk,
        "kind": "webhook",
        "name": "",
        "target": "https://93.184.215.14/hooks/storemonitor",
        "grace_minutes": "0",
        "notify_incidents": "on",
        "notify_reports": "on",
        "enabled": "on",
        "new_secret": "",
        **fields,
    }


def test_the_channel_list_shows_owner_kind_state_and_never_a_secret_or_token(admin_client, bella):
    ChannelFactory(owner=bella, name="Ops hook", target="https://93.184.215.14/h", secret="do-not-show-me")
    ChannelFactory(owner=bella, kind="apprise", target=SLACK, secret="", failing_since=timezone.now())
    page = page_text(admin_client.get(CHANNELS))
    assert not absent_from(page, "Ops hook", "Apprise URL of bella", "slack://…", "bella", "https://93.184.215.14")
    assert "do-not-show-me" not in page
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in page
    failing = page_text(admin_client.get(CHANNELS, {"failing": "yes"}))
    assert "Apprise URL of bella" in failing
    assert "Ops hook" not in failing


def test_a_webhook_added_without_a_secret_gets_one_shown_once(admin_client, admin_user, bella):
    response = admin_client.post(f"{CHANNELS}add/", form(bella, name="Ops"), follow=True)
    channel = Channel.objects.get()
    assert len(channel.secret) == 43
    assert channel.created_by == admin_user
    page = page_text(response)
    assert f"The signing secret of Ops (shown this once; keep it with the receiver): {channel.secret}" in page
    change = page_text(admin_client.get(f"{CHANNELS}{channel.pk}/change/"))
    assert channel.secret not in change
    assert f"{channel.secret[:4]}… (set)" in change


def test_a_change_without_a_new_secret_keeps_it_and_a_new_one_replaces_it(admin_client, bella):
    channel = ChannelFactory(owner=bella, secret="the old secret", target="https://93.184.215.14/a")
    admin_client.post(f"{CHANNELS}{channel.pk}/change/", form(bella, name="renamed"))
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("renamed", "the old secret")
    admin_client.post(f"{CHANNELS}{channel.pk}/change/", form(bella, new_secret="a new secret"))
    channel.refresh_from_db()
    assert channel.secret == "a new secret"


def test_targets_and_quiet_stores_are_checked(admin_client, bella, settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    other_store = StoreFactory(store_id="9999", owner=OwnerFactory(slug="other"))
    page = page_text(admin_client.post(f"{CHANNELS}add/", form(bella, target="http://169.254.169.254/latest")))
    assert "169.254.169.254 is a loopback, private, link-local or reserved address" in page
    page = page_text(admin_client.post(f"{CHANNELS}add/", form(bella, kind="email", target="nope")))
    assert "&#x27;nope&#x27; is not an email address." in page
    page = page_text(admin_client.post(f"{CHANNELS}add/", form(bella, quiet_stores=[other_store.pk])))
    assert "Not stores of bella: 9999." in page
    page = page_text(
        admin_client.post(f"{CHANNELS}add/", form(bella, kind="email", target="a@b.example", new_secret="x"))
    )
    assert "Only webhooks have a secret (it signs their bodies)." in page
    assert not Channel.objects.exists()


def test_send_a_test_reports_each_channels_result(admin_client, bella, receiver):
    working = ChannelFactory(owner=bella, name="Works", target=receiver.url)
    down = ChannelFactory(owner=bella, name="Down", target="http://127.0.0.1:9/hook")  # discard port: refused
    response = admin_client.post(
        CHANNELS, {"action": "send_test_action", "_selected_action": [working.pk, down.pk]}, follow=True
    )
    page = page_text(response)
    assert "Works: The test notification was delivered (HTTP 200, " in page
    assert "Down: The test notification failed (" in page
    assert "Could not connect to 127.0.0.1" in page
    assert [got.json()["event"] for got in receiver.requests] == ["test"]


def test_deliveries_are_read_only_with_their_attempts(admin_client, bella):
    channel = ChannelFactory(owner=bella, name="Ops")
    delivery = DeliveryFactory(channel=channel, status=Delivery.Status.FAILED, attempts=2, last_error="HTTP 503")
    for number in (1, 2):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=dt.datetime(2023, 1, 25, 12, number, tzinfo=dt.UTC),
            duration_ms=40 + number,
            status_code=503,
            error=f"127.0.0.1 answered HTTP 503 (try {number})",
            worker="host:1",
        )
    listed = page_text(admin_client.get(DELIVERIES, {"status__exact": "failed", "event__exact": "incident.opened"}))
    assert not absent_from(listed, "incident.opened", "Ops", "HTTP 503")
    assert "Add delivery" not in listed
    assert "0 deliveries" in page_text(admin_client.get(DELIVERIES, {"status__exact": "sent"}))
    detail = page_text(admin_client.get(f"{DELIVERIES}{delivery.pk}/change/"))
    assert not absent_from(
        detail, "127.0.0.1 answered HTTP 503 (try 1)", "127.0.0.1 answered HTTP 503 (try 2)", "host:1"
    )
    assert "&quot;event&quot;: &quot;incident.opened&quot;" in detail  # the payload, as JSON
    assert admin_client.post(f"{DELIVERIES}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"{DELIVERIES}add/").status_code == 403
    assert Delivery.objects.filter(pk=delivery.pk).exists()
