"""/api/channels/: owners' users manage their owners' channels, staff every owner's; signed in
only; another owner's channel is a 404 like an unknown one; every refusal a 400 sentence."""

import pytest
from rest_framework.test import APIClient

from alerts.models import Channel, DeliveryAttempt
from tests.alerts.factories import ChannelFactory
from tests.alerts.fake_delivery import fake_delivery  # noqa: F401  (a fixture)
from tests.factories import OwnerFactory, StoreFactory

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/storemonitor"


@pytest.fixture
def world(two_owners, settings, fake_delivery):  # noqa: F811
    settings.ALLOW_ANONYMOUS = False
    w = two_owners
    w.channel_b = ChannelFactory(owner=w.owner_b, target="https://b.example.com/hook", secret="bbbb-secret-of-b")
    return w


def client_of(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_a_webhook_is_created_with_a_secret_shown_whole_only_in_the_answer(world):
    response = client_of(world.user_a).post(
        "/api/channels/",
        {"kind": "webhook", "target": HOOK, "name": "ops", "grace_minutes": 5, "quiet_stores": ["store-a"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    channel = Channel.objects.get(pk=body["id"])
    assert response["Location"] == body["url"] == f"http://testserver/api/channels/{channel.pk}/"
    assert (channel.owner, channel.kind, channel.target, channel.name) == (world.owner_a, "webhook", HOOK, "ops")
    assert (channel.grace_minutes, [s.store_id for s in channel.quiet_stores.all()]) == (5, ["store-a"])
    assert channel.created_by == world.user_a
    assert len(channel.secret) >= 40  # new_secret: 32 random bytes, URL-safe
    assert body["secret"] == channel.secret
    assert (body["owner"], body["quiet_stores"], body["enabled"], body["notify_incidents"]) == (
        "alpha",
        ["store-a"],
        True,
        True,
    )
    later = client_of(world.user_a).get(body["url"]).json()
    assert later["secret"] == channel.secret[:4] + "…"


def test_a_secret_given_is_kept_and_other_kinds_have_none(world):
    alice = client_of(world.user_a)
    hook = alice.post("/api/channels/", {"kind": "webhook", "target": HOOK, "secret": "s3cret-s3cret"}, format="json")
    assert hook.json()["secret"] == "s3cret-s3cret"
    email = alice.post("/api/channels/", {"kind": "email", "target": "ops@example.com"}, format="json")
    assert (email.status_code, email.json()["secret"]) == (201, None)
    refused = alice.post("/api/channels/", {"kind": "email", "target": "ops@example.com", "secret": "x"}, format="json")
    assert error_of(refused, 400) == "Invalid request: secret: Only webhooks have a secret."


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (
            {"kind": "pager", "target": HOOK},
            "Invalid request: kind: “pager” is not a kind of channel; choose webhook, email or apprise.",
        ),
        (
            {"kind": "webhook", "target": "ftp://x"},
            "Invalid request: target: “ftp://x” is not a webhook URL: write it like https://example.com/hook.",
        ),
        ({"kind": "email"}, "Invalid request: target: This field is required."),
        (
            {"kind": "webhook", "target": HOOK, "quiet_stores": ["store-a", "store-b", "nope"]},
            "Invalid request: quiet_stores: alpha has no store with the store_id 'store-b', 'nope'.",
        ),
        (
            {"kind": "webhook", "target": HOOK, "grace_minutes": -1},
            "Invalid request: grace_minutes: Ensure this value is greater than or equal to 0.",
        ),
        (
            {"kind": "webhook", "target": HOOK, "colour": "red"},
            "Invalid request: Unknown field(s): colour. The body takes only owner, kind, target, name, secret, "
            "grace_minutes, quiet_stores, notify_incidents, notify_reports and enabled.",
        ),
        ({"kind": "webhook", "target": HOOK, "owner": "beta"}, "Invalid request: owner: No owner has the slug 'beta'."),
    ],
)
def test_a_body_that_cannot_be_used_is_a_400_saying_why(world, body, sentence):
    response = client_of(world.user_a).post("/api/channels/", body, format="json")
    assert error_of(response, 400) == sentence
    assert not Channel.objects.filter(owner=world.owner_a).exists()


def test_staff_and_users_of_several_owners_name_the_owner(world):
    staff = client_of(world.staff)
    missing = staff.post("/api/channels/", {"kind": "webhook", "target": HOOK}, format="json")
    assert error_of(missing, 400) == (
        "Invalid request: owner: Staff accounts manage every owner's channels: pass owner with the owner's slug."
    )
    named = staff.post("/api/channels/", {"kind": "webhook", "target": HOOK, "owner": "beta"}, format="json")
    assert (named.status_code, named.json()["owner"]) == (201, "beta")

    OwnerFactory(slug="gamma", users=[world.user_a])
    alice = client_of(world.user_a)
    several = alice.post("/api/channels/", {"kind": "webhook", "target": HOOK}, format="json")
    assert error_of(several, 400) == (
        "Invalid request: owner: Your account belongs to several owners (alpha, gamma): pass owner with one of them."
    )
    chosen = alice.post("/api/channels/", {"kind": "webhook", "target": HOOK, "owner": "gamma"}, format="json")
    assert chosen.json()["owner"] == "gamma"


def test_a_user_of_no_owner_is_refused_with_a_403(world):
    from tests.factories import UserFactory

    loner = client_of(UserFactory(username="loner"))
    response = loner.post("/api/channels/", {"kind": "webhook", "target": HOOK}, format="json")
    assert error_of(response, 403).startswith("Your account belongs to no owner")
    assert loner.get("/api/channels/").json()["results"] == []


def test_each_user_lists_its_owners_channels_and_staff_every_owners(world):
    mine = ChannelFactory(owner=world.owner_a, kind="email", target="a@example.com", secret="")
    assert [c["id"] for c in client_of(world.user_a).get("/api/channels/").json()["results"]] == [mine.pk]
    assert [c["id"] for c in client_of(world.staff).get("/api/channels/").json()["results"]] == [
        mine.pk,
        world.channel_b.pk,
    ]


def test_another_owners_channel_is_answered_as_an_unknown_one(world, fake_delivery):  # noqa: F811
    alice = client_of(world.user_a)
    pk = world.channel_b.pk
    for response in (
        alice.get(f"/api/channels/{pk}/"),
        alice.patch(f"/api/channels/{pk}/", {"enabled": False}, format="json"),
        alice.delete(f"/api/channels/{pk}/"),
        alice.post(f"/api/channels/{pk}/test"),
    ):
        assert error_of(response, 404) == f"No channel has the id {pk}."
    world.channel_b.refresh_from_db()
    assert world.channel_b.enabled
    assert fake_delivery.tested == []


def test_patch_changes_only_the_fields_given(world):
    bob = client_of(world.user_b)
    url = f"/api/channels/{world.channel_b.pk}/"
    changed = bob.patch(url, {"enabled": False, "grace_minutes": 15, "quiet_stores": ["store-b"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["enabled"], changed.json()["grace_minutes"], changed.json()["quiet_stores"]) == (
        False,
        15,
        ["store-b"],
    )
    channel = Channel.objects.get(pk=world.channel_b.pk)
    assert (channel.target, channel.secret) == ("https://b.example.com/hook", "bbbb-secret-of-b")
    assert changed.json()["secret"] == "bbbb…"
    # A new kind needs its target; an email has no secret.
    assert error_of(bob.patch(url, {"kind": "email"}, format="json"), 400) == (
        "Invalid request: target: Give the target of the new kind with it."
    )
    email = bob.patch(url, {"kind": "email", "target": "b@example.com"}, format="json")
    assert (email.json()["kind"], email.json()["secret"]) == ("email", None)
    assert error_of(bob.patch(url, {"owner": "alpha"}, format="json"), 400) == (
        "Invalid request: owner: A channel stays with its owner: create one for the other owner."
    )
    assert error_of(bob.patch(url, {"target": "nowhere"}, format="json"), 400) == (
        "Invalid request: target: “nowhere” is not an email address."
    )


def test_delete_removes_the_channel(world):
    response = client_of(world.user_b).delete(f"/api/channels/{world.channel_b.pk}/")
    assert response.status_code == 204
    assert not Channel.objects.filter(pk=world.channel_b.pk).exists()


def test_a_test_sends_now_and_answers_what_came_back(world, fake_delivery):  # noqa: F811
    bob = client_of(world.user_b)
    sent = bob.post(f"/api/channels/{world.channel_b.pk}/test")
    assert (sent.status_code, sent.json()) == (200, {"ok": True, "status_code": 200, "error": "", "duration_ms": 12})
    assert fake_delivery.tested == [world.channel_b]
    fake_delivery.attempt = DeliveryAttempt(
        number=1, ok=False, status_code=None, error="Connection refused", duration_ms=3
    )
    failed = bob.post(f"/api/channels/{world.channel_b.pk}/test")
    assert (failed.status_code, failed.json()) == (
        200,
        {"ok": False, "status_code": None, "error": "Connection refused", "duration_ms": 3},
    )


def test_anonymous_callers_are_refused_even_while_anonymous_access_is_on(world, settings):
    settings.ALLOW_ANONYMOUS = True
    anonymous = client_of()
    for response in (
        anonymous.get("/api/channels/"),
        anonymous.post("/api/channels/", {"kind": "webhook", "target": HOOK}, format="json"),
        anonymous.get(f"/api/channels/{world.channel_b.pk}/"),
        anonymous.post(f"/api/channels/{world.channel_b.pk}/test"),
    ):
        assert error_of(response, 401).startswith("This API needs a token")


def test_a_session_caller_needs_the_csrf_token(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.user_a)
    response = client.post("/api/channels/", {"kind": "webhook", "target": HOOK}, format="json")
    assert error_of(response, 403).startswith("CSRF Failed")


def test_quiet_stores_of_another_owner_with_the_same_id_shape_are_refused(world):
    StoreFactory(store_id="store-c", owner=world.owner_b)
    response = client_of(world.user_a).post(
        "/api/channels/", {"kind": "webhook", "target": HOOK, "quiet_stores": ["store-c"]}, format="json"
    )
    assert error_of(response, 400) == "Invalid request: quiet_stores: alpha has no store with the store_id 'store-c'."


def test_the_real_target_check_refuses_with_its_sentence(two_owners, settings):
    # No stand-in here: alerts.delivery.validate_target itself (its own tests cover its rules).
    settings.ALLOW_ANONYMOUS = False
    response = client_of(two_owners.user_a).post(
        "/api/channels/", {"kind": "webhook", "target": "ftp://files.example.com/x"}, format="json"
    )
    assert error_of(response, 400).startswith("Invalid request: target: ")
    assert not Channel.objects.exists()
