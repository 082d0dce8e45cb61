"""An owner's notification channels as people manage them: who may, and the rules every way in
(the API, the Notifications page) applies the same.

- Staff manage every owner's channels; any other signed-in user those of the owners it belongs
  to; nobody else any (not even an anonymous caller while ALLOW_ANONYMOUS is on: a channel sends
  data out, so it is set up by someone known).
- Another owner's channel is answered exactly as an unknown one.
- A webhook without a secret gets one (``alerts.notifications.new_secret``); the secret is shown
  whole once, when it is set, and masked after.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from alerts import delivery
from alerts.models import Channel
from alerts.notifications import new_secret
from monitoring.access import AnyUser, OwnerChoiceError, owners_of
from monitoring.models import Owner, Store

# A week: a longer grace would announce an incident after the store's next week had begun.
MAX_GRACE_MINUTES = 7 * 24 * 60
# How much of a secret the pages and later answers show.
SECRET_SHOWN = 4


def may_manage_channels(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def managed_owners(user: AnyUser) -> QuerySet[Owner]:
    """The owners whose channels ``user`` manages: every owner for staff, its own otherwise."""
    if not may_manage_channels(user):
        return Owner.objects.none()
    if getattr(user, "is_staff", False):
        return Owner.objects.all()
    return owners_of(user)


def managed_channels(user: AnyUser) -> QuerySet[Channel]:
    return Channel.objects.filter(owner__in=managed_owners(user)).select_related("owner")


class NoOwnerToManage(OwnerChoiceError):
    """The user belongs to no owner: nothing it can correct in the request (403)."""


def owner_to_manage(user: AnyUser, slug: str | None) -> Owner:
    """The owner whose channel ``user`` creates: the one named, required from staff and from a
    user of several owners. Raises OwnerChoiceError with a sentence; another owner's slug reads
    exactly as an unknown one."""
    slug = (slug or "").strip()
    owners = managed_owners(user)
    if slug:
        owner = owners.filter(slug=slug).first()
        if owner is None:
            raise OwnerChoiceError(f"No owner has the slug {slug[:100]!r}.")
        return owner
    if getattr(user, "is_staff", False):
        raise OwnerChoiceError("Staff accounts manage every owner's channels: pass owner with the owner's slug.")
    mine = list(owners.order_by("slug"))
    if not mine:
        raise NoOwnerToManage(
            "Your account belongs to no owner, so it has no channels to manage; ask an administrator to add it "
            "to one (manage.py add_owner_user OWNER_SLUG USERNAME)."
        )
    if len(mine) > 1:
        slugs = ", ".join(owner.slug for owner in mine)
        raise OwnerChoiceError(f"Your account belongs to several owners ({slugs}): pass owner with one of them.")
    return mine[0]


def check_target(kind: str, target: str) -> None:
    """The kind's own check of a target (alerts.delivery); raises ValidationError with a sentence."""
    delivery.validate_target(kind, target)


def quiet_stores_of(owner: Owner, store_ids: Iterable[str]) -> list[Store]:
    """The owner's stores of these ids; raises ValidationError naming every id that is not one
    (another owner's store reads exactly as an unknown one)."""
    wanted = list(dict.fromkeys(store_ids))
    found = {store.store_id: store for store in Store.objects.filter(owner=owner, store_id__in=wanted)}
    missing = [store_id for store_id in wanted if store_id not in found]
    if missing:
        shown = ", ".join(repr(store_id[:64]) for store_id in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise ValidationError(f"{owner.slug} has no store with the store_id {shown}{more}.")
    return [found[store_id] for store_id in wanted]


def masked_secret(secret: str) -> str | None:
    """What later answers show of a secret: its first characters, e.g. ``Xy3k…``; None without one."""
    return f"{secret[:SECRET_SHOWN]}…" if secret else None


@dataclass(frozen=True)
class NewChannel:
    """A channel just created, with its whole secret (shown this once)."""

    channel: Channel
    secret: str


def create_channel(
    owner: Owner,
    *,
    kind: str,
    target: str,
    created_by: AnyUser | None = None,
    name: str = "",
    secret: str = "",
    grace_minutes: int = 0,
    quiet_stores: Iterable[Store] = (),
    notify_incidents: bool = True,
    notify_reports: bool = True,
    enabled: bool = True,
) -> NewChannel:
    """Create a channel of ``owner`` (already checked: target, quiet stores); a webhook without a
    secret gets a new one."""
    if kind == Channel.Kind.WEBHOOK and not secret:
        secret = new_secret()
    with transaction.atomic():
        channel = Channel.objects.create(
            owner=owner,
            kind=kind,
            target=target,
            name=name,
            secret=secret if kind == Channel.Kind.WEBHOOK else "",
            grace_minutes=grace_minutes,
            notify_incidents=notify_incidents,
            notify_reports=notify_reports,
            enabled=enabled,
            created_by=created_by if isinstance(created_by, User) else None,
        )
        channel.quiet_stores.set(list(quiet_stores))
    return NewChannel(channel, channel.secret)
