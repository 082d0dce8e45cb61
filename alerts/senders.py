"""One sender per channel kind, and the checks of a channel's target.

A sender makes one attempt and says what came back (``SendResult``); it never raises for what a
receiver does (a refusal, a timeout, a closed port): retries, claims and the attempt log are
``alerts.delivery``'s. The text of emails and Apprise messages comes from the delivery's payload
(``describe``), the same JSON a webhook receives as its body.

Webhook and Apprise targets that point into this machine or its network (loopback, private,
link-local, reserved addresses) are refused unless ALERT_ALLOW_PRIVATE_TARGETS is on: a channel
is set up by an owner's user, and without the check anyone with an account could make the
workers post to the service's own database port or the cloud's metadata address. The name is
resolved when the channel is saved and again before every send (the name may change what it
points to later); the connection itself resolves once more, so a name made to flip between the
two lookups (DNS rebinding) can slip through: a firewall on the workers' egress is the complete
answer where that matters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from alerts.models import Channel, Delivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Storemonitor-Signature"
USER_AGENT = "storemonitor"
# How much of a refusing receiver's answer is kept in the error (the attempt log, the admin).
ANSWER_SHOWN = 300
# Apprise services whose URL names a host of the owner's choosing (the rest name a service's
# own API, e.g. slack://, tgram://): the private-target rule applies to these.
APPRISE_HOST_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}


@dataclass(frozen=True)
class SendResult:
    """What one attempt got back: ok, the HTTP status (webhooks), and why it failed."""

    ok: bool
    status_code: int | None = None
    error: str = ""


# --- Targets ---------------------------------------------------------------------------------


def validate_target(kind: str, target: str) -> None:
    """The kind's own check of a channel's target; raises ValidationError with a sentence."""
    if kind == Channel.Kind.WEBHOOK:
        validate_webhook_url(target)
    elif kind == Channel.Kind.EMAIL:
        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError(f"{target[:200]!r} is not an email address.") from None
    elif kind == Channel.Kind.APPRISE:
        validate_apprise_url(target)
    else:
        raise ValidationError(f"Unknown channel kind {kind[:50]!r}: use webhook, email or apprise.")


def validate_webhook_url(url: str) -> None:
    """An http(s) URL with a host, not inside this machine's networks unless
    ALERT_ALLOW_PRIVATE_TARGETS; raises ValidationError with a sentence."""
    shown = url[:200]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError(f"{shown!r} is not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"A webhook URL starts with http:// or https:// and names a host; {shown!r} does not.")
    if parts.username or parts.password:
        raise ValidationError("A webhook URL must not hold a user name or password: the signature authenticates it.")
    refusal = private_target_refusal(parts.hostname)
    if refusal:
        raise ValidationError(refusal)


def validate_apprise_url(url: str) -> None:
    """A URL Apprise knows (and, for the services that post to a host of one's choosing, a
    host outside this machine's networks); raises ValidationError with a sentence."""
    service = _apprise_service(url)
    if service is None:
        raise ValidationError(
            f"Apprise does not recognise {_scheme_shown(url)}: see https://github.com/caronc/apprise/wiki for the "
            "URL of each service, e.g. slack://TokenA/TokenB/TokenC or tgram://bottoken/ChatID."
        )
    refusal = _apprise_host_refusal(service)
    if refusal:
        raise ValidationError(refusal)


def private_target_refusal(host: str) -> str | None:
    """Why ``host`` may not be a target (it is, or resolves to, an address inside this machine
    or its network), or None. A name that does not resolve now is no refusal: the send says so,
    and retries."""
    if settings.ALERT_ALLOW_PRIVATE_TARGETS:
        return None
    try:
        addresses = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return None
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    for address in sorted(addresses, key=str):
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            what = f"{host} is" if str(address) == host.strip("[]") else f"{host} resolves to {address}, which is"
            return (
                f"{what} a loopback, private, link-local or reserved address: notifications go to the internet "
                "only. Set ALERT_ALLOW_PRIVATE_TARGETS=1 to allow targets inside your network."
            )
    return None


def _apprise_service(url: str) -> Any:
    import apprise  # here, not at the top: with requests it is a tenth of a second of every command's start

    # Apprise logs why it refuses a URL; the ValidationError says it instead.
    with apprise.LogCapture(level=logging.CRITICAL):
        return apprise.Apprise.instantiate(url)


def _apprise_host_refusal(service: Any) -> str | None:
    schemes = {service.secure_protocol, service.protocol} if hasattr(service, "secure_protocol") else set()
    names = {name for value in schemes for name in ((value,) if isinstance(value, str) else value or ())}
    host = getattr(service, "host", None)
    if host and names & APPRISE_HOST_SCHEMES:
        return private_target_refusal(host)
    return None


def _scheme_shown(url: str) -> str:
    # The scheme only: the rest of an Apprise URL is often a service token.
    scheme, sep, _ = url.partition("://")
    return f"the URL scheme {scheme[:30]!r}://" if sep else "this URL (no scheme://)"


# --- Senders ---------------------------------------------------------------------------------


def send(delivery: Delivery) -> SendResult:
    """One attempt at sending ``delivery`` through its channel's kind."""
    sender = SENDERS.get(delivery.channel.kind)
    if sender is None:
        return SendResult(False, error=f"No sender for channel kind {delivery.channel.kind!r}.")
    return sender(delivery)


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The JSON body of a webhook: serialised once, so the bytes signed are the bytes sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-Storemonitor-Signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(delivery: Delivery) -> SendResult:
    """POST the payload, signed; a 2xx answer is success. Redirects are not followed (the
    target was checked, where a redirect leads was not)."""
    channel = delivery.channel
    url = channel.target
    host = urlsplit(url).hostname or ""
    refusal = private_target_refusal(host)
    if refusal:
        return SendResult(False, error=f"Not sent: {refusal}")
    body = webhook_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Storemonitor-Event": delivery.event,
        "X-Storemonitor-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature(channel.secret, body),
    }
    timeout = settings.ALERT_SEND_TIMEOUT_SECONDS
    import requests  # here, not at the top: only a worker sending a webhook needs it

    try:
        with requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            answer = response.raw.read(ANSWER_SHOWN, decode_content=True).decode("utf-8", "replace").strip()
    except requests.Timeout:
        return SendResult(False, error=f"{host} gave no answer within {timeout} s (ALERT_SEND_TIMEOUT_SECONDS).")
    except requests.ConnectionError as error:
        return SendResult(False, error=f"Could not connect to {host}: {_root_cause(error)}")
    except requests.RequestException as error:
        return SendResult(False, error=f"The request to {host} failed: {_root_cause(error)}")
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, status_code=code)
    if 300 <= code < 400:
        where = response.headers.get("Location", "")[:200]
        return SendResult(
            False,
            status_code=code,
            error=f"{host} answered HTTP {code}, a redirect to {where!r}; redirects are not followed: "
            "give the channel the final URL.",
        )
    said = f": {answer}" if answer else ""
    return SendResult(False, status_code=code, error=f"{host} answered HTTP {code} {response.reason}{said}")


def send_email(delivery: Delivery) -> SendResult:
    """The payload as a plain-text email through Django's email backend; a report.ready email
    attaches the report's CSV when it has one."""
    title, body = describe(delivery.payload)
    message = EmailMessage(
        subject=title,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.channel.target],
        connection=get_connection(fail_silently=False),
    )
    report = delivery.report
    try:
        if report is not None and report.csv_file:
            with report.csv_file.open("rb") as csv:
                message.attach(f"report-{report.report_id}.csv", csv.read(), "text/csv")
        message.send()
    except Exception as error:  # smtplib, socket and storage errors alike: the attempt failed
        return SendResult(False, error=f"The email to {delivery.channel.target} was not sent: {_root_cause(error)}")
    return SendResult(True)


def send_apprise(delivery: Delivery) -> SendResult:
    """The payload as a title and a body through Apprise; failure when Apprise says so, with
    what it logged."""
    target = delivery.channel.target
    service = _apprise_service(target)
    if service is None:
        return SendResult(False, error=f"Apprise does not recognise {_scheme_shown(target)}.")
    refusal = _apprise_host_refusal(service)
    if refusal:
        return SendResult(False, error=f"Not sent: {refusal}")
    # One attempt within our timeout, unless the URL sets its own (Apprise's cto= / rto=).
    if "cto=" not in target:
        service.socket_connect_timeout = float(settings.ALERT_SEND_TIMEOUT_SECONDS)
    if "rto=" not in target:
        service.socket_read_timeout = float(settings.ALERT_SEND_TIMEOUT_SECONDS)
    title, body = describe(delivery.payload)
    import apprise  # here, not at the top (see _apprise_service)

    notifier = apprise.Apprise()
    notifier.add(service)
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        ok = notifier.notify(body=body, title=title)
    if ok:
        return SendResult(True)
    said = " ".join(captured.getvalue().split())[:ANSWER_SHOWN]
    return SendResult(False, error=f"Apprise could not send to {service.service_name}: {said or 'no reason given.'}")


SENDERS: dict[str, Callable[[Delivery], SendResult]] = {
    Channel.Kind.WEBHOOK: send_webhook,
    Channel.Kind.EMAIL: send_email,
    Channel.Kind.APPRISE: send_apprise,
}


def _root_cause(error: BaseException) -> str:
    """The innermost reason of a wrapped error (requests wraps urllib3 wraps socket), as a sentence."""
    while error.__context__ is not None and not str(error):
        error = error.__context__
    text = str(error) or type(error).__name__
    return text if text.endswith(".") else f"{text}."


# --- Text of emails and Apprise messages -----------------------------------------------------


def describe(payload: dict[str, Any]) -> tuple[str, str]:
    """A title and a plain-text body for a payload: the store, local and UTC times, the
    duration and the links."""
    event = payload.get("event")
    links = payload.get("links") or {}
    if event in (Delivery.Event.INCIDENT_OPENED, Delivery.Event.INCIDENT_CLOSED):
        title, lines = _describe_incident(payload)
    elif event == Delivery.Event.REPORT_READY:
        report = payload.get("report") or {}
        count = report.get("store_count")
        stores = "" if count is None else f" ({count} store{'' if count == 1 else 's'})"
        title = f"Your storemonitor report is ready{stores}"
        lines = [
            f"The scheduled report {report.get('report_id')} is ready{stores}.",
            f"Data as of: {_when(report.get('as_of'), 'UTC')}.",
            f"Columns: {report.get('columns')}.",
        ]
    else:
        title = "storemonitor test notification"
        lines = [str(payload.get("message") or "A test notification from storemonitor.")]
    if links:
        lines += ["", *(f"{name.capitalize()}: {url}" for name, url in links.items())]
    return title, "\n".join(lines) + "\n"


def _describe_incident(payload: dict[str, Any]) -> tuple[str, list[str]]:
    store = payload.get("store") or {}
    incident = payload.get("incident") or {}
    store_id = store.get("store_id")
    zone = store.get("time_zone") or "UTC"
    started = _when(incident.get("started_at"), zone)
    minutes = incident.get("duration_minutes")
    if payload.get("event") == Delivery.Event.INCIDENT_OPENED:
        title = f"Store {store_id} is offline during business hours"
        lines = [f"Store {store_id} has been offline since {started}."]
        if minutes is not None:
            lines.append(f"Still offline at {_when(payload.get('as_of'), zone)}: {_duration(minutes)} so far.")
        return title, lines
    ended_by = str(incident.get("ended_by") or "")
    how = {
        "active_poll": "an active poll came in",
        "session_closed": "its business hours ended",
        "retracted": "later data showed it was never offline",
    }.get(ended_by, "it ended")
    lasted = "" if minutes is None else f" after {_duration(minutes)}"
    title = f"Store {store_id} is back{lasted}"
    if ended_by == "session_closed":
        title = f"Store {store_id}: its business hours ended while offline{lasted}"
    elif ended_by == "retracted":
        title = f"Store {store_id} was not offline after all"
    lines = [
        f"Store {store_id} was offline from {started}",
        f"until {_when(incident.get('ended_at'), zone)} ({how}).",
    ]
    if minutes is not None:
        lines.append(f"Duration: {_duration(minutes)}.")
    return title, lines


def _when(utc_text: str | None, zone: str) -> str:
    """``2023-01-25 05:00 America/Chicago (11:00 UTC)`` from an ISO UTC time."""
    if not utc_text:
        return "unknown"
    moment = dt.datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    utc = moment.astimezone(dt.UTC)
    if zone == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    local = moment.astimezone(ZoneInfo(zone))
    same_day = local.date() == utc.date()
    return (
        f"{local:%Y-%m-%d %H:%M} {zone} ({utc:%H:%M} UTC)"
        if same_day
        else f"{local:%Y-%m-%d %H:%M} {zone} ({utc:%Y-%m-%d %H:%M} UTC)"
    )


def _duration(minutes: float) -> str:
    """``1 h 5 min`` (whole minutes; under one, ``less than a minute``)."""
    whole = int(minutes)
    if whole < 1:
        return "less than a minute"
    hours, rest = divmod(whole, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``time.monotonic()`` was ``started``."""
    return max(0, round((time.monotonic() - started) * 1000))
