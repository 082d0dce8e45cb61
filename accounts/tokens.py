"""Creating, finding and revoking API tokens: what the tokens page, the admin and the command share."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import TOKEN_NAME_MAX_LENGTH, ApiToken

# last_used_at is written at most this often per token: a busy script does not write every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be created as asked; the message is a sentence saying what to change."""


def create_api_token(user: AbstractBaseUser, name: str, expires_in: dt.timedelta | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``: the saved row and the token itself, which nothing stores.

    ``name`` is required and unique among the user's tokens; without ``expires_in`` the token
    never expires. Raises TokenError with a sentence.
    """
    name = name.strip()
    if not name:
        raise TokenError("Give the token a name, e.g. what uses it.")
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        raise TokenError(f"The token name is longer than {TOKEN_NAME_MAX_LENGTH} characters: shorten it.")
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise TokenError("A token's expiry must be in the future.")
    duplicate = TokenError(
        f"{user.get_username()} already has a token named {name!r}: choose another name, or revoke that one first."
    )
    if ApiToken.objects.filter(user=user, name=name).exists():
        raise duplicate
    try:
        with transaction.atomic():  # a concurrent twin must not break the caller's transaction
            return ApiToken.objects.create(user=user, name=name, expiry=expires_in)
    except IntegrityError:
        raise duplicate from None


def create_api_token_for_username(
    username: str, name: str, expires_in: dt.timedelta | None = None
) -> tuple[ApiToken, str]:
    """``create_api_token`` for the user called ``username``; an unknown one is a TokenError."""
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise TokenError(f"No user has the username {username!r}: create it first (manage.py createsuperuser).")
    return create_api_token(user, name, expires_in)


def default_token_name(username: str) -> str:
    """The command and the time, e.g. "manage.py create_api_token 2024-03-01 12:30:05 UTC", with
    a number after it if the user already has one of that second."""
    name = f"manage.py create_api_token {timezone.now():%Y-%m-%d %H:%M:%S} UTC"
    taken = set(ApiToken.objects.filter(user__username=username, name__startswith=name).values_list("name", flat=True))
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name} ({number})"
    return candidate


def tokens_of(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-created", "name")


def revoke_api_token(user: AbstractBaseUser, token_key: str) -> ApiToken | None:
    """Delete ``user``'s token with this lookup prefix; None when the user has none such (another
    user's token is answered exactly as an unknown one)."""
    token = tokens_of(user).filter(token_key=token_key).first()
    if token is not None:
        token.delete()
    return token


def record_use(token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Set the token's last_used_at to now, unless it was set less than a minute ago: one
    conditional UPDATE, no write at all most of the time. True if it wrote."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    # The condition again in the UPDATE: of requests racing past the check above, one writes.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    written = ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now) == 1
    if written:
        token.last_used_at = now
    return written


def is_expired(token: ApiToken, now: dt.datetime | None = None) -> bool:
    return token.expiry is not None and token.expiry <= (now or timezone.now())
