"""The senders of each channel kind against real receivers, the checks of targets, the text of
emails and Apprise messages, and EMAIL_URL."""

import datetime as dt
import json

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import ContentFile

from alerts.models import Channel, Delivery
from alerts.senders import (
    describe,
    send,
    signature,
    validate_apprise_url,
    validate_target,
    validate_webhook_url,
    webhook_body,
)
from reports.models import Report
from storemonitor.env import email_settings_from_url
from tests.alerts.factories import ChannelFactory, DeliveryFactory
from tests.alerts.receiver import Receiver, signature_is_valid

SECRET = "the receiver's shared secret"

OPENED = {
    "event": "incident.opened",
    "owner": "bella",
    "store": {"store_id": "4242", "time_zone": "America/Chicago"},
    "incident": {
        "id": 7,
        "started_at": "2023-01-25T11:00:00Z",
        "started_at_local": "2023-01-25T05:00:00-06:00",
        "ended_at": None,
        "ended_at_local": None,
        "ended_by": None,
        "open": True,
        "duration_minutes": 95.0,
    },
    "as_of": "2023-01-25T12:35:00Z",
    "links": {"store": "http://sm.test/stores/4242/", "incident": "http://sm.test/api/incidents/7/"},
}
CLOSED = {
    **OPENED,
    "event": "incident.closed",
    "incident": {
        **OPENED["incident"],
        "ended_at": "2023-01-26T01:30:00Z",
        "ended_by": "active_poll",
        "open": False,
        "duration_minutes": 870.0,
    },
}


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def private_allowed(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True


def webhook_delivery(url, payload=OPENED, **fields):
    channel = ChannelFactory(kind=Channel.Kind.WEBHOOK, target=url, secret=SECRET)
    return DeliveryFactory(channel=channel, event=payload["event"], payload=payload, **fields)


# --- Webhooks -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_webhook_is_the_payload_signed_with_the_channels_secret(receiver, private_allowed):
    delivery = webhook_delivery(receiver.url)
    result = send(delivery)
    assert (result.ok, result.status_code, result.error) == (True, 200, "")
    [got] = receiver.requests
    assert got.path == "/hooks/storemonitor"
    assert got.body == webhook_body(OPENED)  # the bytes signed are the bytes sent
    assert got.json() == OPENED
    assert signature_is_valid(got.headers, got.body, SECRET)
    assert not signature_is_valid(got.headers, got.body, "another secret")
    assert not signature_is_valid(got.headers, got.body.replace(b"4242", b"4243"), SECRET)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "storemonitor"
    assert got.headers["x-storemonitor-event"] == "incident.opened"
    assert got.headers["x-storemonitor-delivery"] == str(delivery.pk)


def test_the_signature_is_the_hex_hmac_sha256_of_the_body():
    # By hand: printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac key
    assert signature("key", b'{"a":1}') == "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"


@pytest.mark.django_db
def test_an_answer_other_than_2xx_fails_with_its_status_and_what_it_said(receiver, private_allowed):
    receiver.status = 500
    receiver.answer = b"database is down"
    result = send(webhook_delivery(receiver.url))
    assert (result.ok, result.status_code) == (False, 500)
    assert result.error == "127.0.0.1 answered HTTP 500 Internal Server Error: database is down"


@pytest.mark.django_db
def test_a_redirect_is_not_followed(receiver, private_allowed):
    receiver.status = 302
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    result = send(webhook_delivery(receiver.url))
    assert (result.ok, result.status_code) == (False, 302)
    assert "redirects are not followed" in result.error
    assert "'http://169.254.169.254/latest/meta-data/'" in result.error
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_receiver_that_is_down_fails_with_a_sentence(receiver, private_allowed):
    receiver.stop()
    result = send(webhook_delivery(receiver.url))
    assert (result.ok, result.status_code) == (False, None)
    assert result.error.startswith("Could not connect to 127.0.0.1: ")


@pytest.mark.django_db
def test_a_receiver_slower_than_the_timeout_fails(receiver, private_allowed, settings):
    settings.ALERT_SEND_TIMEOUT_SECONDS = 1
    receiver.delay = 1.5
    result = send(webhook_delivery(receiver.url))
    assert (result.ok, result.status_code) == (False, None)
    assert result.error == "127.0.0.1 gave no answer within 1 s (ALERT_SEND_TIMEOUT_SECONDS)."


@pytest.mark.django_db
def test_a_private_target_is_refused_at_send_time_without_a_request(receiver, settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    result = send(webhook_delivery(receiver.url))
    assert not result.ok
    assert result.error.startswith("Not sent: 127.0.0.1 is a loopback, private, link-local or reserved address")
    assert "ALERT_ALLOW_PRIVATE_TARGETS=1" in result.error
    assert receiver.requests == []


# --- Targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT: not on the internet
    ],
)
def test_webhook_urls_inside_the_network_are_refused(url, settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError) as refused:
        validate_webhook_url(url)
    [message] = refused.value.messages
    assert "a loopback, private, link-local or reserved address" in message
    assert message.endswith("Set ALERT_ALLOW_PRIVATE_TARGETS=1 to allow targets inside your network.")


def test_a_name_is_refused_for_the_address_it_resolves_to(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError, match=r"localhost resolves to 127\.0\.0\.1, which is a loopback"):
        validate_webhook_url("https://localhost/hook")


def test_private_targets_are_allowed_when_the_setting_says_so(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True
    validate_webhook_url("http://127.0.0.1:8000/hook")
    validate_webhook_url("http://10.1.2.3/hook")


def test_a_public_address_is_accepted(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    validate_webhook_url("https://93.184.215.14/hooks/storemonitor")  # no request is made: only the check


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://93.184.215.14/hook", "A webhook URL starts with http:// or https:// and names a host; "),
        ("https:///hook", "A webhook URL starts with http:// or https:// and names a host; "),
        ("hooks.example.com/x", "A webhook URL starts with http:// or https:// and names a host; "),
        ("https://93.184.215.14:port/x", "'https://93.184.215.14:port/x' is not a URL."),
        ("https://me:pw@93.184.215.14/x", "A webhook URL must not hold a user name or password"),
    ],
)
def test_a_webhook_url_that_is_not_one_is_refused_with_a_sentence(url, message):
    with pytest.raises(ValidationError) as refused:
        validate_webhook_url(url)
    assert refused.value.messages[0].startswith(message)


def test_validate_target_checks_each_kind(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    validate_target("email", "owner@example.com")
    with pytest.raises(ValidationError, match="'owner@' is not an email address."):
        validate_target("email", "owner@")
    with pytest.raises(ValidationError, match="loopback"):
        validate_target("webhook", "http://127.0.0.1/hook")
    validate_target("apprise", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ")
    with pytest.raises(ValidationError, match="Unknown channel kind 'sms'"):
        validate_target("sms", "+15550100")


def test_an_apprise_url_it_does_not_know_is_refused_without_echoing_tokens():
    with pytest.raises(ValidationError) as refused:
        validate_apprise_url("nosuchservice://secret-token@host")
    [message] = refused.value.messages
    assert message.startswith("Apprise does not recognise the URL scheme 'nosuchservice'://")
    assert "secret-token" not in message


def test_an_apprise_url_posting_to_a_private_host_is_refused(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError, match="127.0.0.1 is a loopback"):
        validate_apprise_url("json://127.0.0.1:9/")
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True
    validate_apprise_url("json://127.0.0.1:9/")


# --- Email --------------------------------------------------------------------------------


@pytest.fixture
def locmem(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "alerts@storemonitor.test"
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db
def test_an_incident_email_has_the_store_local_and_utc_times_duration_and_links(locmem):
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, target="owner@example.com", secret="")
    result = send(DeliveryFactory(channel=channel, event="incident.closed", payload=CLOSED))
    assert result.ok
    [message] = mail.outbox
    assert message.to == ["owner@example.com"]
    assert message.from_email == "alerts@storemonitor.test"
    assert message.subject == "Store 4242 is back after 14 h 30 min"
    assert message.body == (
        "Store 4242 was offline from 2023-01-25 05:00 America/Chicago (11:00 UTC)\n"
        "until 2023-01-25 19:30 America/Chicago (2023-01-26 01:30 UTC) (an active poll came in).\n"
        "Duration: 14 h 30 min.\n"
        "\n"
        "Store: http://sm.test/stores/4242/\n"
        "Incident: http://sm.test/api/incidents/7/\n"
    )
    assert message.attachments == []


@pytest.mark.django_db
def test_a_report_ready_email_attaches_the_reports_csv(locmem):
    report = Report.objects.create(status="Complete", store_count=2, as_of=dt.datetime(2023, 1, 25, 12, tzinfo=dt.UTC))
    report.csv_file.save("report.csv", ContentFile(b"store_id,uptime_last_hour\n1,60\n2,0\n"))
    payload = {
        "event": "report.ready",
        "owner": "bella",
        "report": {
            "report_id": report.report_id,
            "as_of": "2023-01-25T12:00:00Z",
            "columns": "extended",
            "store_count": 2,
        },
        "links": {"csv": f"http://sm.test/api/reports/{report.report_id}/csv"},
    }
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, target="owner@example.com", secret="")
    delivery = Delivery.objects.create(channel=channel, event="report.ready", report=report, payload=payload)
    assert send(delivery).ok
    [message] = mail.outbox
    assert message.subject == "Your storemonitor report is ready (2 stores)"
    assert f"Csv: http://sm.test/api/reports/{report.report_id}/csv\n" in message.body
    assert "Data as of: 2023-01-25 12:00 UTC." in message.body
    assert message.attachments == [
        (f"report-{report.report_id}.csv", "store_id,uptime_last_hour\n1,60\n2,0\n", "text/csv")
    ]


@pytest.mark.django_db
def test_an_email_the_server_refuses_fails_with_a_sentence(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # discard: nothing listens
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, target="owner@example.com", secret="")
    result = send(DeliveryFactory(channel=channel, payload=OPENED))
    assert not result.ok
    assert result.error.startswith("The email to owner@example.com was not sent: ")


def test_the_texts_of_each_event():
    assert describe(OPENED) == (
        "Store 4242 is offline during business hours",
        "Store 4242 has been offline since 2023-01-25 05:00 America/Chicago (11:00 UTC).\n"
        "Still offline at 2023-01-25 06:35 America/Chicago (12:35 UTC): 1 h 35 min so far.\n"
        "\n"
        "Store: http://sm.test/stores/4242/\n"
        "Incident: http://sm.test/api/incidents/7/\n",
    )
    at_closing = {**CLOSED, "incident": {**CLOSED["incident"], "ended_by": "session_closed", "duration_minutes": 45.0}}
    assert describe(at_closing)[0] == "Store 4242: its business hours ended while offline after 45 min"
    retracted = {**CLOSED, "incident": {**CLOSED["incident"], "ended_by": "retracted"}}
    assert describe(retracted)[0] == "Store 4242 was not offline after all"
    test = {"event": "test", "message": "A test notification from storemonitor to hooks.", "links": {}}
    assert describe(test) == ("storemonitor test notification", "A test notification from storemonitor to hooks.\n")


# --- Apprise ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_apprise_posts_the_title_and_body_to_a_json_url(receiver, private_allowed):
    channel = ChannelFactory(kind=Channel.Kind.APPRISE, target=f"json://127.0.0.1:{receiver.port}/alerts", secret="")
    result = send(DeliveryFactory(channel=channel, payload=OPENED))
    assert (result.ok, result.error) == (True, "")
    [got] = receiver.requests
    assert got.path == "/alerts"
    sent = got.json()
    assert sent["title"] == "Store 4242 is offline during business hours"
    assert sent["message"] == describe(OPENED)[1].rstrip()  # Apprise trims the last newline


@pytest.mark.django_db
def test_apprise_failing_says_what_apprise_logged(receiver, private_allowed):
    receiver.status = 500
    channel = ChannelFactory(kind=Channel.Kind.APPRISE, target=f"json://127.0.0.1:{receiver.port}/", secret="")
    result = send(DeliveryFactory(channel=channel, payload=OPENED))
    assert not result.ok
    assert result.error.startswith("Apprise could not send to JSON: ")
    assert "500" in result.error


# --- EMAIL_URL ----------------------------------------------------------------------------


def test_an_smtp_email_url_gives_djangosemail_settings_from_url():
    assert email_settings_from_url("smtp://alerts%40shop.test:p%40ss@mail.shop.test:2525?tls=1") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.shop.test",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "alerts@shop.test",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
    }
    assert email_settings_from_url("smtps://u:p@mail.shop.test")["EMAIL_PORT"] == 465
    assert email_settings_from_url("smtp://mail.shop.test?ssl=1")["EMAIL_USE_SSL"] is True
    assert email_settings_from_url("smtp://mail.shop.test")["EMAIL_PORT"] == 25


def test_console_and_locmem_email_urls():
    assert email_settings_from_url("console:") == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    assert email_settings_from_url("locmem://") == {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}


def test_an_email_url_of_another_kind_is_refused_with_a_sentence():
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_URL=imap:… is not an email URL: use smtp://"):
        email_settings_from_url("imap://mail.shop.test")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL has a port that is not a number."):
        email_settings_from_url("smtp://mail.shop.test:abc")


def test_webhook_body_is_compact_json():
    assert webhook_body({"event": "test", "n": 1}) == b'{"event":"test","n":1}'
    assert json.loads(webhook_body(OPENED)) == OPENED
