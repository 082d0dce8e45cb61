"""The Notifications page: an owner's channels (add, test, enable or disable, delete), recent
deliveries and the scheduled report, for the owner's users and staff; POSTs need the CSRF token,
and hostile input gets the page again with the errors (400), never a 500."""

import datetime as dt
import re
from html import unescape

import pytest
from django.test import Client

from alerts.models import Channel, DeliveryAttempt, ReportSchedule
from tests.alerts.factories import ChannelFactory, DeliveryFactory, IncidentFactory
from tests.alerts.fake_delivery import fake_delivery  # noqa: F401  (a fixture)
from tests.assertions import absent_from, page_text
from tests.factories import OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/storemonitor"


@pytest.fixture
def world(two_owners, settings, fake_delivery):  # noqa: F811
    settings.ALLOW_ANONYMOUS = False
    w = two_owners
    w.channel_a = ChannelFactory(owner=w.owner_a, name="ops hook", target=HOOK, secret="aaaa-never-shown-secret")
    w.channel_b = ChannelFactory(owner=w.owner_b, name="beta hook", target="https://b.example.com/hook")
    return w


def signed_in(user, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_the_page_shows_the_owners_channels_never_their_secrets(world):
    world.channel_a.quiet_stores.add(world.store_a)
    Channel.objects.filter(pk=world.channel_a.pk).update(
        failing_since=dt.datetime(2023, 1, 25, 11, 0, tzinfo=dt.UTC), last_error="HTTP 503 after 4 attempts"
    )
    page = page_text(signed_in(world.user_a).get("/notifications/"))
    assert not absent_from(
        page,
        "Notifications of Alpha Pizza",
        "ops hook",
        HOOK,
        "store-a",
        "failing since 2023-01-25 11:00 UTC",
        "HTTP 503 after 4 attempts",
        "Send a test",
        "Disable",
    )
    assert "aaaa-never-shown-secret" not in page
    assert "beta hook" not in page
    assert "b.example.com" not in page


def test_the_navigation_links_the_page_for_owners_users_and_staff_only(world):
    assert 'href="/notifications/"' in page_text(signed_in(world.user_a).get("/"))
    assert 'href="/notifications/"' in page_text(signed_in(world.staff).get("/"))
    loner = UserFactory(username="loner")
    assert 'href="/notifications/"' not in page_text(signed_in(loner).get("/"))
    refused = page_text(signed_in(loner).get("/notifications/"), 403)
    assert "Your account belongs to no owner" in refused


def test_anonymous_visitors_are_sent_to_sign_in_even_while_anonymous_access_is_on(world, settings):
    settings.ALLOW_ANONYMOUS = True
    response = Client().get("/notifications/")
    assert (response.status_code, response["Location"]) == (302, "/account/login/?next=/notifications/")


def test_staff_choose_the_owner(world):
    staff = signed_in(world.staff)
    first = page_text(staff.get("/notifications/"))
    assert "Notifications of Alpha Pizza" in first  # the first by name
    assert '<option value="beta">Beta Burgers (beta)</option>' in first
    beta = page_text(staff.get("/notifications/?owner=beta"))
    assert "beta hook" in beta
    assert "ops hook" not in beta
    assert "No owner has the slug 'nobody'." in unescape(page_text(staff.get("/notifications/?owner=nobody"), 404))


def test_another_owner_is_not_found_exactly_as_an_unknown_one(world):
    alice = signed_in(world.user_a)
    assert "No owner has the slug 'beta'." in unescape(page_text(alice.get("/notifications/?owner=beta"), 404))
    assert r"No owner has the slug 'a\x00b'." in unescape(page_text(alice.get("/notifications/?owner=a%00b"), 404))


def test_adding_a_webhook_shows_its_secret_once(world):
    response = signed_in(world.user_a).post(
        "/notifications/channels/",
        {
            "owner": "alpha",
            "kind": "webhook",
            "target": "https://new.example.com/h",
            "name": "new",
            "grace_minutes": "10",
            "quiet_stores": "store-a",
            "notify_incidents": "on",
        },
    )
    page = page_text(response)
    channel = Channel.objects.get(owner=world.owner_a, name="new")
    assert (channel.grace_minutes, channel.notify_incidents, channel.notify_reports) == (10, True, False)
    assert [store.store_id for store in channel.quiet_stores.all()] == ["store-a"]
    assert channel.created_by == world.user_a
    assert re.search(rf'<code class="token" id="new-channel-secret-value">{re.escape(channel.secret)}</code>', page)
    assert "Added the channel “new”." in page
    again = page_text(signed_in(world.user_a).get("/notifications/"))
    assert channel.secret not in again


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": "webhook", "target": "ftp://x"}, "“ftp://x” is not a webhook URL"),
        ({"kind": "pager", "target": HOOK}, "“pager” is not a kind of channel"),
        ({"kind": "webhook", "target": ""}, "Give the channel's target"),
        ({"kind": "webhook", "target": HOOK, "grace_minutes": "-5"}, "greater than or equal to 0"),
        ({"kind": "webhook", "target": HOOK, "grace_minutes": "soon"}, "Enter a whole number."),
        (
            {"kind": "webhook", "target": HOOK, "quiet_stores": "store-a, store-b"},
            "alpha has no store with the store_id 'store-b'.",
        ),
        ({"kind": "webhook", "target": "https://x\x00y"}, "Null characters are not allowed."),
    ],
)
def test_a_channel_that_cannot_be_added_shows_the_form_again_with_the_error(world, fields, error):
    response = signed_in(world.user_a).post("/notifications/channels/", {"owner": "alpha", **fields})
    assert error in unescape(page_text(response, 400))
    assert Channel.objects.filter(owner=world.owner_a).count() == 1


def test_a_form_for_another_owner_is_refused(world):
    response = signed_in(world.user_a).post(
        "/notifications/channels/", {"owner": "beta", "kind": "webhook", "target": HOOK}
    )
    assert response.status_code == 404
    assert not Channel.objects.filter(owner=world.owner_b, target=HOOK).exists()


def test_send_a_test_shows_the_result_as_a_message(world, fake_delivery):  # noqa: F811
    alice = signed_in(world.user_a)
    response = alice.post(f"/notifications/channels/{world.channel_a.pk}/test")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/notifications/?owner=alpha#channel-{world.channel_a.pk}",
    )
    assert "Test sent to “ops hook” (HTTP 200) in 12 ms." in page_text(alice.get(response["Location"]))
    fake_delivery.attempt = DeliveryAttempt(number=1, ok=False, status_code=500, error="Internal error", duration_ms=40)
    alice.post(f"/notifications/channels/{world.channel_a.pk}/test")
    assert "The test to “ops hook” failed in 40 ms: HTTP 500: Internal error" in page_text(alice.get("/notifications/"))
    assert fake_delivery.tested == [world.channel_a, world.channel_a]


def test_disable_enable_and_delete(world):
    alice = signed_in(world.user_a)
    url = f"/notifications/channels/{world.channel_a.pk}"
    alice.post(f"{url}/toggle")
    world.channel_a.refresh_from_db()
    assert not world.channel_a.enabled
    alice.post(f"{url}/toggle")
    world.channel_a.refresh_from_db()
    assert world.channel_a.enabled
    response = alice.post(f"{url}/delete")
    assert response.status_code == 302
    assert not Channel.objects.filter(pk=world.channel_a.pk).exists()


def test_another_owners_channel_cannot_be_tested_toggled_or_deleted(world, fake_delivery):  # noqa: F811
    alice = signed_in(world.user_a)
    for action in ("test", "toggle", "delete"):
        assert alice.post(f"/notifications/channels/{world.channel_b.pk}/{action}").status_code == 404
    world.channel_b.refresh_from_db()
    assert world.channel_b.enabled
    assert fake_delivery.tested == []


def test_every_form_needs_the_csrf_token(world):
    alice = signed_in(world.user_a, csrf=True)
    pk = world.channel_a.pk
    for url, data in [
        ("/notifications/channels/", {"owner": "alpha", "kind": "webhook", "target": HOOK}),
        (f"/notifications/channels/{pk}/toggle", {}),
        (f"/notifications/channels/{pk}/delete", {}),
        (f"/notifications/channels/{pk}/test", {}),
        (
            "/notifications/schedule",
            {"owner": "alpha", "frequency": "daily", "local_time": "08:00", "time_zone": "UTC"},
        ),
    ]:
        assert alice.post(url, data).status_code == 403, url
    assert Channel.objects.filter(owner=world.owner_a).count() == 1
    world.channel_a.refresh_from_db()
    assert world.channel_a.enabled
    # With the page's token, the same POST goes through.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page_text(alice.get("/notifications/"))).group(1)
    assert alice.post(f"/notifications/channels/{pk}/toggle", {"csrfmiddlewaretoken": token}).status_code == 302


def test_the_recent_deliveries_are_listed(world):
    incident = IncidentFactory(store=world.store_a)
    DeliveryFactory(channel=world.channel_a, incident=incident, status="failed", attempts=5, last_error="HTTP 502")
    DeliveryFactory(channel=world.channel_b, incident=IncidentFactory(store=world.store_b))
    page = page_text(signed_in(world.user_a).get("/notifications/"))
    deliveries = page[page.index('id="deliveries-table"') :]
    assert not absent_from(deliveries, "incident.opened", "store-a", "failed", "<td>5</td>", "HTTP 502")
    assert "store-b" not in deliveries


def test_the_scheduled_report_is_saved_with_its_next_run(world, monkeypatch):
    monkeypatch.setattr("alerts.schedules.timezone.now", lambda: dt.datetime(2024, 3, 6, 12, 0, tzinfo=dt.UTC))
    alice = signed_in(world.user_a)
    response = alice.post(
        "/notifications/schedule",
        {
            "owner": "alpha",
            "enabled": "on",
            "frequency": "weekly",
            "weekday": "0",
            "local_time": "08:30",
            "time_zone": "Europe/Berlin",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/notifications/?owner=alpha#schedule")
    schedule = ReportSchedule.objects.get(owner=world.owner_a)
    assert (schedule.frequency, schedule.weekday, schedule.local_time) == ("weekly", 0, dt.time(8, 30))
    # Wednesday 6 March 2024, 12:00 UTC: the next Monday 08:30 in Berlin (CET, UTC+1) is 07:30 UTC on the 11th.
    assert schedule.next_run_at == dt.datetime(2024, 3, 11, 7, 30, tzinfo=dt.UTC)
    page = page_text(alice.get(response["Location"]))
    assert "Scheduled report saved: the next one is" in page
    assert 'value="Europe/Berlin"' in page  # the form shows the saved schedule


def test_switching_the_schedule_off_clears_its_next_run(world):
    ReportSchedule.objects.create(owner=world.owner_a, next_run_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    signed_in(world.user_a).post(
        "/notifications/schedule", {"owner": "alpha", "frequency": "daily", "local_time": "08:00", "time_zone": "UTC"}
    )
    schedule = ReportSchedule.objects.get(owner=world.owner_a)
    assert (schedule.enabled, schedule.next_run_at) == (False, None)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"frequency": "hourly"}, "“hourly” is not a frequency: choose daily or weekly."),
        ({"frequency": "weekly"}, "A weekly report needs its weekday"),
        ({"weekday": "9", "frequency": "weekly"}, "“9” is not a day of the week"),
        ({"local_time": "25:99"}, "Write the time as HH:MM on a 24-hour clock, e.g. 08:00."),
        ({"local_time": "08:00:30"}, "has seconds"),
        ({"time_zone": "Mars/Olympus"}, "is not a time zone of the tz database"),
        ({"time_zone": "x" * 65}, "Ensure this value has at most 64 characters"),
        ({"time_zone": "UTC\x00"}, "Null characters are not allowed."),
    ],
)
def test_a_schedule_that_cannot_be_saved_shows_the_form_again_with_the_error(world, fields, error):
    data = {
        "owner": "alpha",
        "enabled": "on",
        "frequency": "daily",
        "local_time": "08:00",
        "time_zone": "UTC",
        **fields,
    }
    response = signed_in(world.user_a).post("/notifications/schedule", data)
    assert error in unescape(page_text(response, 400))
    assert not ReportSchedule.objects.filter(owner=world.owner_a).exists()


def test_a_user_of_several_owners_chooses_one(world):
    OwnerFactory(name="Gamma Grill", slug="gamma", users=[world.user_a])
    page = page_text(signed_in(world.user_a).get("/notifications/?owner=gamma"))
    assert "Notifications of Gamma Grill" in page
    assert '<option value="alpha">Alpha Pizza (alpha)</option>' in page


def test_an_owner_without_a_schedule_sees_the_form_not_ticked(world):
    page = signed_in(world.user_a).get("/notifications/").content.decode()
    box = re.search(r'<input type="checkbox" name="enabled"[^>]*>', page).group(0)
    assert "checked" not in box
    ReportSchedule.objects.create(owner=world.owner_a, enabled=True)
    page = signed_in(world.user_a).get("/notifications/").content.decode()
    assert "checked" in re.search(r'<input type="checkbox" name="enabled"[^>]*>', page).group(0)
