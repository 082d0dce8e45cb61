"""manage.py add_channel: each kind, its options, the secret printed once, the test, and the
refusals as one sentence."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.models import Channel
from tests.alerts.receiver import Receiver, signature_is_valid
from tests.factories import OwnerFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bella(db):
    owner = OwnerFactory(slug="bella")
    StoreFactory(store_id="4242", owner=owner)
    StoreFactory(store_id="4343", owner=owner)
    StoreFactory(store_id="9999", owner=OwnerFactory(slug="other"))
    return owner


@pytest.fixture
def receiver(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True
    running = Receiver()
    yield running
    running.stop()


def add_channel(*args: str) -> str:
    out = StringIO()
    call_command("add_channel", *args, stdout=out)
    return out.getvalue()


def test_a_webhook_without_a_secret_gets_one_printed_once(bella):
    out = add_channel("--owner", "bella", "--webhook", "https://93.184.215.14/hooks/storemonitor")
    channel = Channel.objects.get()
    assert (channel.owner, channel.kind, channel.target) == (
        bella,
        "webhook",
        "https://93.184.215.14/hooks/storemonitor",
    )
    assert len(channel.secret) == 43  # 32 random bytes, URL-safe base64
    assert out == (
        f"Channel {channel.pk} added to bella: webhook webhook of bella.\n"
        f"Its signing secret (shown this once; keep it with the receiver): {channel.secret}\n"
    )


def test_a_webhook_with_its_secret_does_not_print_it(bella):
    out = add_channel("--owner", "bella", "--webhook", "https://93.184.215.14/h", "--secret", "s3cret", "--name", "Ops")
    channel = Channel.objects.get()
    assert (channel.secret, channel.name) == ("s3cret", "Ops")
    assert "s3cret" not in out
    assert out == f"Channel {channel.pk} added to bella: webhook Ops.\n"


def test_an_email_channel_with_its_options(bella):
    add_channel(
        "--owner",
        "bella",
        "--email",
        "ops@bella.example",
        "--grace-minutes",
        "15",
        "--quiet-store",
        "4242",
        "4343",
        "--no-reports",
    )
    channel = Channel.objects.get()
    assert (channel.kind, channel.target, channel.secret, channel.grace_minutes) == (
        "email",
        "ops@bella.example",
        "",
        15,
    )
    assert (channel.notify_incidents, channel.notify_reports) == (True, False)
    assert sorted(channel.quiet_stores.values_list("store_id", flat=True)) == ["4242", "4343"]


def test_an_apprise_channel(bella):
    add_channel(
        "--owner", "bella", "--apprise", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "--no-incidents"
    )
    channel = Channel.objects.get()
    assert (channel.kind, channel.notify_incidents, channel.notify_reports) == ("apprise", False, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "nobody", "--email", "a@b.example"], "No owner has the slug 'nobody': the admin's Owners page"),
        (
            ["--owner", "bella", "--email", "a@b.example", "--quiet-store", "9999"],
            "bella has no store with the store_id '9999'.",
        ),
        (["--owner", "bella", "--email", "not-an-address"], "'not-an-address' is not an email address."),
        (["--owner", "bella", "--webhook", "ftp://93.184.215.14/"], "A webhook URL starts with http:// or https://"),
        (["--owner", "bella", "--webhook", "http://127.0.0.1:8000/"], "127.0.0.1 is a loopback, private, link-local"),
        (["--owner", "bella", "--apprise", "nosuch://x"], "Apprise does not recognise the URL scheme 'nosuch'://"),
        (["--owner", "bella", "--email", "a@b.example", "--secret", "x"], "Only webhooks have a secret"),
        (["--owner", "bella", "--email", "a@b.example", "--grace-minutes", "20000"], "The grace period is 0 to 10080"),
    ],
)
def test_what_cannot_be_added_is_refused_with_a_sentence(bella, settings, args, message):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(CommandError) as refused:
        add_channel(*args)
    assert str(refused.value).startswith(message)
    assert not Channel.objects.exists()


def test_a_negative_grace_or_two_targets_are_argument_errors(bella):
    with pytest.raises(CommandError, match="invalid minutes value: '-5'"):
        add_channel("--owner", "bella", "--email", "a@b.example", "--grace-minutes", "-5")
    with pytest.raises(CommandError, match="not allowed with argument"):
        add_channel("--owner", "bella", "--email", "a@b.example", "--webhook", "https://93.184.215.14/")


def test_test_sends_a_signed_test_and_prints_the_result(bella, receiver):
    out = add_channel("--owner", "bella", "--webhook", receiver.url, "--secret", "shh", "--test")
    [got] = receiver.requests
    assert got.json()["event"] == "test"
    assert signature_is_valid(got.headers, got.body, "shh")
    assert out.splitlines()[-1].startswith("The test notification was delivered (HTTP 200, ")


def test_a_failed_test_says_so_and_keeps_the_channel(bella, receiver):
    receiver.status = 500
    with pytest.raises(CommandError) as failed:
        add_channel("--owner", "bella", "--webhook", receiver.url, "--test")
    channel = Channel.objects.get()
    assert str(failed.value).startswith("The test notification failed (HTTP 500, ")
    assert str(failed.value).endswith(
        f"127.0.0.1 answered HTTP 500 Internal Server Error. The channel is added all the same (id {channel.pk}): "
        "fix the receiver, then send a test from the admin's Channels page."
    )
