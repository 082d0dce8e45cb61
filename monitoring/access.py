"""Who may see which stores: the one place that decides it.

Every view, page, report and admin list asks here. The rules (README, "Access"):

- staff users see every store (and every report);
- any other signed-in user sees the stores of the owners it belongs to, and nothing else; a store
  with no owner is visible to staff only;
- an anonymous caller is refused, unless the ``ALLOW_ANONYMOUS`` setting is on: then it is
  treated as read-and-report on every store (the open API of the assignment; development).

Another owner's store is answered exactly as an unknown one (404 with the same sentence), so
nobody can probe what exists: callers filter with ``visible_stores`` and never look outside it.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import QuerySet

from monitoring.models import Owner, Store

AnyUser = AbstractBaseUser | AnonymousUser


def anonymous_allowed() -> bool:
    """Whether callers without a login or token may use the service (``ALLOW_ANONYMOUS``)."""
    return bool(settings.ALLOW_ANONYMOUS)


def may_use_service(user: AnyUser) -> bool:
    """Signed in (session or token), or anonymous while anonymous access is on."""
    return bool(user.is_authenticated) or anonymous_allowed()


def sees_all_stores(user: AnyUser) -> bool:
    """Staff, or an anonymous caller while anonymous access is on."""
    if user.is_authenticated:
        return bool(getattr(user, "is_staff", False))
    return anonymous_allowed()


def owners_of(user: AnyUser) -> QuerySet[Owner]:
    """The owners whose stores ``user`` sees as theirs (all owners for staff and allowed anonymous)."""
    if sees_all_stores(user):
        return Owner.objects.all()
    if not user.is_authenticated:
        return Owner.objects.none()
    return Owner.objects.filter(users=user.pk)


def visible_stores(user: AnyUser) -> QuerySet[Store]:
    """The stores ``user`` may see: every store, their owners' stores, or none."""
    if sees_all_stores(user):
        return Store.objects.all()
    if not user.is_authenticated:
        return Store.objects.none()
    return Store.objects.filter(owner__users=user.pk)


def scoped_stores(user: AnyUser) -> QuerySet[Store] | None:
    """``visible_stores(user)``, or None when that is every store: callers then keep their
    unfiltered queries, as fast as they are without owners."""
    return None if sees_all_stores(user) else visible_stores(user)


def report_stores(owner: Owner | None) -> QuerySet[Store] | None:
    """The stores a report of ``owner`` covers; None for a report of every store."""
    return None if owner is None else Store.objects.filter(owner=owner)


class OwnerChoiceError(ValueError):
    """The ``owner`` a caller asked for cannot be used; the message is a sentence for them."""


def report_owner_for(user: AnyUser, owner_slug: str | None) -> Owner | None:
    """Which owner's stores a report asked for by ``user`` covers; None means every store.

    Staff and allowed anonymous callers: every store, or the owner named. A user of one owner:
    that owner (naming it is allowed, naming another is not). A user of several: the one named,
    which is required. Raises OwnerChoiceError with a sentence; an owner the user does not
    belong to is answered exactly as an unknown one.
    """
    slug = (owner_slug or "").strip()
    if sees_all_stores(user):
        if not slug:
            return None
        owner = Owner.objects.filter(slug=slug).first()
        if owner is None:
            raise OwnerChoiceError(f"No owner has the slug {slug!r}.")
        return owner
    mine = list(owners_of(user).order_by("slug"))
    if not mine:
        raise OwnerChoiceError(
            "Your account belongs to no owner, so it has no stores to report on; ask an administrator to add it "
            "to one (manage.py add_owner_user OWNER_SLUG USERNAME)."
        )
    if slug:
        for owner in mine:
            if owner.slug == slug:
                return owner
        raise OwnerChoiceError(f"No owner has the slug {slug!r}.")
    if len(mine) > 1:
        slugs = ", ".join(owner.slug for owner in mine)
        raise OwnerChoiceError(f"Your account belongs to several owners ({slugs}): pass owner with one of them.")
    return mine[0]


def may_ingest(user: AnyUser) -> bool:
    """Who may push feeds and read the import ledger: staff, or a signed-in user given the
    ``monitoring.ingest_feeds`` permission (an integration's account). Never an anonymous
    caller, whatever ``ALLOW_ANONYMOUS`` says: data comes in only from someone known."""
    if not isinstance(user, User) or not user.is_active:
        return False
    return user.is_staff or user.has_perm("monitoring.ingest_feeds")


def may_assign_owners(user: AnyUser) -> bool:
    """Who may load the owners feed: staff only, since it decides who sees which stores."""
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))
