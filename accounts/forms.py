"""The tokens page's form, and the token lifetime it shares with the admin's."""

import datetime as dt

from django import forms

from accounts.models import TOKEN_NAME_MAX_LENGTH

# A year and a bit is plenty; longer is "never", which is the default anyway.
MAX_EXPIRY_DAYS = 3650


def expiry_days_field(help_text: str) -> forms.IntegerField:
    """How many days a new token lives, optional (empty: until it is revoked)."""
    return forms.IntegerField(
        required=False, min_value=1, max_value=MAX_EXPIRY_DAYS, label="Expires in (days)", help_text=help_text
    )


class TokenLifetime:
    """For a form with an ``expires_in_days`` field (``expiry_days_field``)."""

    cleaned_data: dict

    def expires_in(self) -> dt.timedelta | None:
        days = self.cleaned_data.get("expires_in_days")
        return dt.timedelta(days=days) if days else None


class NewTokenForm(TokenLifetime, forms.Form):
    """A token to create: its name, and optionally how many days it lives (empty: until revoked)."""

    name = forms.CharField(
        max_length=TOKEN_NAME_MAX_LENGTH,
        strip=True,
        error_messages={"required": "Give the token a name, e.g. what uses it."},
    )
    expires_in_days = expiry_days_field("Empty: the token works until you revoke it.")
