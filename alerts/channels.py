"""Adding a channel from a script or the command line (``manage.py add_channel``): the owner
named by its slug, quiet stores by their store ids, every check of the API and the page
(``alerts.owner_channels``) applied the same."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from alerts.models import Channel, DeliveryAttempt
from alerts.owner_channels import MAX_GRACE_MINUTES, NewChannel, check_target, create_channel, quiet_stores_of
from monitoring.models import Owner


class ChannelError(ValueError):
    """The channel cannot be added as asked; the message is a sentence saying what to fix."""


def add_channel(
    owner_slug: str,
    *,
    kind: str,
    target: str,
    secret: str = "",
    name: str = "",
    grace_minutes: int = 0,
    quiet_store_ids: Iterable[str] = (),
    notify_incidents: bool = True,
    notify_reports: bool = True,
) -> NewChannel:
    """Create a channel of the owner ``owner_slug``; a webhook without ``secret`` gets a new
    one (``NewChannel.secret``, to show once). Raises ChannelError with a sentence."""
    owner = Owner.objects.filter(slug=owner_slug).first()
    if owner is None:
        raise ChannelError(f"No owner has the slug {owner_slug[:100]!r}: the admin's Owners page lists them.")
    if kind not in Channel.Kind.values:
        raise ChannelError(f"Unknown channel kind {kind[:50]!r}: use webhook, email or apprise.")
    if secret and kind != Channel.Kind.WEBHOOK:
        raise ChannelError("Only webhooks have a secret (it signs their bodies); leave it out for email and apprise.")
    if not 0 <= grace_minutes <= MAX_GRACE_MINUTES:
        raise ChannelError(f"The grace period is 0 to {MAX_GRACE_MINUTES} minutes (a week); {grace_minutes} is not.")
    target = target.strip()
    try:
        check_target(kind, target)
        quiet_stores = quiet_stores_of(owner, quiet_store_ids)
    except ValidationError as error:
        raise ChannelError(" ".join(error.messages)) from error
    return create_channel(
        owner,
        kind=kind,
        target=target,
        name=name.strip(),
        secret=secret,
        grace_minutes=grace_minutes,
        quiet_stores=quiet_stores,
        notify_incidents=notify_incidents,
        notify_reports=notify_reports,
    )


def describe_test(attempt: DeliveryAttempt) -> str:
    """A test's outcome in one sentence, e.g. ``The test notification was delivered (HTTP 200, 35 ms).``"""
    details = f"{attempt.duration_ms} ms"
    if attempt.status_code:
        details = f"HTTP {attempt.status_code}, {details}"
    if attempt.ok:
        return f"The test notification was delivered ({details})."
    error = attempt.error.rstrip()
    return f"The test notification failed ({details}): {error}{'' if error.endswith(('.', '?', '!')) else '.'}"
