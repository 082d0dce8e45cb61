"""API token authentication: ``Authorization: Token <token>`` or ``Authorization: Bearer <token>``."""

from __future__ import annotations

import datetime as dt
import re
from hmac import compare_digest

from django.urls import reverse
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiToken
from accounts.tokens import is_expired, record_use

SCHEMES = (b"token", b"bearer")


def token_shape() -> re.Pattern[str]:
    """What a token knox made looks like: the prefix (none by default), then hexadecimal digits."""
    return re.compile(
        re.escape(knox_settings.TOKEN_PREFIX) + f"[0-9a-f]{{{knox_settings.AUTH_TOKEN_CHARACTER_LENGTH}}}"
    )


def _where_to_get_one() -> str:
    return f"create one on {reverse('api-tokens')} or with manage.py create_api_token USERNAME"


class ApiTokenAuthentication(TokenAuthentication):
    """Knox's token authentication with both header schemes, a sentence for every refusal (401),
    expired tokens kept (shown as expired on the tokens page until revoked) and the token's last
    use recorded at most once a minute.

    A header with another scheme (e.g. Basic) is not ours: the next authentication class, or the
    permission's 401, answers it.
    """

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Token <token>' or 'Bearer <token>': the word, one space, "
                "then the token, which has no spaces."
            )
        return self.authenticate_credentials(parts[1])

    def authenticate_credentials(self, token: bytes) -> tuple[object, ApiToken]:
        # Checked before any query: a NUL byte or non-ASCII text never reaches the database.
        text = token.decode("latin-1")
        found = None
        if token_shape().fullmatch(text):
            digest = hash_token(text)
            for candidate in ApiToken.objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
                "user"
            ):
                if compare_digest(digest, candidate.digest):
                    found = candidate
                    break
        if found is None:
            raise exceptions.AuthenticationFailed(
                f"This API token is not valid: it is mistyped, or it was revoked. Check it, or {_where_to_get_one()}."
            )
        if is_expired(found):
            expiry = found.expiry.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise exceptions.AuthenticationFailed(
                f"This API token ({found.name!r}) expired on {expiry}: {_where_to_get_one()}."
            )
        user, _ = self.validate_user(found)
        record_use(found)
        return user, found

    def validate_user(self, auth_token: ApiToken) -> tuple[object, ApiToken]:
        if not auth_token.user.is_active:
            raise exceptions.AuthenticationFailed(
                "The account this API token belongs to is deactivated; ask an administrator."
            )
        return auth_token.user, auth_token

    def authenticate_header(self, request: Request) -> str:
        return "Token"
