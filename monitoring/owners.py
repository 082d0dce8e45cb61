"""Owners' users: adding a user (created if needed) to an owner, for ``manage.py add_owner_user``.

The admin does the same from an owner's page (its users field); the feed ``store_owners.csv``
creates owners and gives them stores (``monitoring.ingestion``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Field
from django.utils.text import slugify

from monitoring.ingestion.values import OWNER_NAME_MAX_LENGTH, OWNER_SLUG_MAX_LENGTH
from monitoring.models import Owner

# How many existing slugs an "unknown owner" message lists before it stops.
SHOWN_SLUGS = 10


class OwnerUserError(ValueError):
    """A request :func:`add_owner_user` cannot carry out; the message says what to change."""


@dataclass(frozen=True)
class OwnerUserAdded:
    """What :func:`add_owner_user` did: the owner and user, and which of them it created."""

    owner: Owner
    user: AbstractBaseUser
    owner_created: bool
    user_created: bool
    already_a_user: bool
    email_kept: str | None = None  # an existing user's email, when another one was given

    def describe(self) -> list[str]:
        """A sentence per thing done (or found already done), for the command's output."""
        username = self.user.get_username()
        owner = f"{self.owner.name} ({self.owner.slug})"
        lines = []
        if self.owner_created:
            lines.append(f"Created owner {owner}.")
        if self.user_created:
            lines.append(f"Created user {username}.")
        if self.email_kept is not None:
            lines.append(f"User {username} keeps the email {self.email_kept}; --email applies to new users only.")
        if self.already_a_user:
            lines.append(f"{username} is already a user of owner {owner}; nothing changed.")
        else:
            stores = self.owner.stores.count()
            lines.append(
                f"Added {username} to owner {owner}: "
                f"{username} now sees its {stores} store{'' if stores == 1 else 's'}."
            )
        if not self.user.has_usable_password():
            lines.append(f"{username} has no password yet; set one with: manage.py changepassword {username}")
        return lines


def add_owner_user(
    owner_slug: str,
    username: str,
    *,
    email: str | None = None,
    create_owner: str | None = None,
) -> OwnerUserAdded:
    """Make the user ``username`` a user of the owner with slug ``owner_slug`` (or with the slug
    ``slugify(owner_slug)``, as ``store_owners.csv`` finds owners by name): the user is
    created if missing (with ``email``, and an unusable password: set one with ``changepassword``),
    the owner too when ``create_owner`` gives its name. Adding a user twice changes nothing.

    Raises :class:`OwnerUserError` for an unknown owner without ``create_owner``, and for a slug,
    name, username or email that could not be saved.
    """
    owner_slug, username = owner_slug.strip(), username.strip()
    if email is not None:
        email = email.strip()
        _check(validate_email, email, f"--email {email!r} is not an email address")
    with transaction.atomic():
        owner, owner_created = _owner(owner_slug, create_owner)
        user, user_created, email_kept = _user(username, email)
        already_a_user = owner.users.filter(pk=user.pk).exists()
        if not already_a_user:
            owner.users.add(user.pk)
    return OwnerUserAdded(
        owner=owner,
        user=user,
        owner_created=owner_created,
        user_created=user_created,
        already_a_user=already_a_user,
        email_kept=email_kept,
    )


def _owner(slug: str, create_name: str | None) -> tuple[Owner, bool]:
    # As store_owners.csv reads an owner field: "Alpha-Pizza" or "Alpha Pizza" find alpha-pizza.
    owner = Owner.objects.filter(slug=slug).first() or Owner.objects.filter(slug=slugify(slug)).first()
    if owner is not None:
        # An existing owner is used as it is (the command can be repeated with --create-owner).
        return owner, False
    if create_name is None:
        raise OwnerUserError(_unknown_owner(slug))
    name = create_name.strip()
    if not name or len(name) > OWNER_NAME_MAX_LENGTH:
        raise OwnerUserError(f"--create-owner needs the owner's name, 1 to {OWNER_NAME_MAX_LENGTH} characters.")
    if not slug or slug != slugify(slug) or len(slug) > OWNER_SLUG_MAX_LENGTH:
        suggestion = slugify(slug) or slugify(name)
        hint = f", e.g. {suggestion}" if suggestion and len(suggestion) <= OWNER_SLUG_MAX_LENGTH else ""
        raise OwnerUserError(
            f"{slug!r} cannot be a new owner's slug: use up to {OWNER_SLUG_MAX_LENGTH} lower-case letters, "
            f"digits, hyphens and underscores{hint} (store_owners.csv finds an owner by such a slug)."
        )
    return Owner.objects.create(slug=slug, name=name), True


def _unknown_owner(slug: str) -> str:
    slugs = list(Owner.objects.order_by("slug").values_list("slug", flat=True)[: SHOWN_SLUGS + 1])
    if not slugs:
        known = "there are no owners yet"
    elif len(slugs) > SHOWN_SLUGS:
        known = f"owners include {', '.join(slugs[:SHOWN_SLUGS])}, ..."
    else:
        known = f"the owners are {', '.join(slugs)}"
    return (
        f'No owner has the slug {slug!r} ({known}). Create it with --create-owner "Its Name", in the admin '
        "(Owners, Add), or by naming it in store_owners.csv (manage.py load_csvs --owners FILE)."
    )


def _user(username: str, email: str | None) -> tuple[AbstractBaseUser, bool, str | None]:
    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    if user is not None:
        current = getattr(user, User.get_email_field_name(), "") or ""
        if email and not current:
            setattr(user, User.get_email_field_name(), email)
            user.save(update_fields=[User.get_email_field_name()])
            current = email
        return user, False, current if email and current != email else None
    field = User._meta.get_field(User.USERNAME_FIELD)
    assert isinstance(field, Field)  # a concrete field, not a relation
    if not username:
        raise OwnerUserError("The username is empty; give the user's name, e.g. alice.")
    for validator in field.validators:
        _check(validator, username, f"{username!r} cannot be a username")
    user = User(**{User.USERNAME_FIELD: username, User.get_email_field_name(): email or ""})
    # No password travels on the command line (it would stay in the shell's history and the
    # process list): the user gets one with ``manage.py changepassword``.
    user.set_unusable_password()
    user.save()
    return user, True, None


def _check(validator, value: str, what: str) -> None:
    try:
        validator(value)
    except ValidationError as error:
        reasons = " ".join(str(message) for message in error.messages)
        raise OwnerUserError(f"{what}: {reasons}") from None
