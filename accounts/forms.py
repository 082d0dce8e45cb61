"""The tokens page's form."""

import datetime as dt

from django import forms

from accounts.models import TOKEN_NAME_MAX_LENGTH

# A year and a bit is plenty; longer is "never", which is the default anyway.
MAX_EXPIRY_DAYS = 3650


class NewTokenForm(forms.Form):
    """A token to create: its name, and optionally how many days it lives (empty: until revoked)."""

    name = forms.CharField(
        max_length=TOKEN_NAME_MAX_LENGTH,
        strip=True,
        error_messages={"required": "Give the token a name, e.g. what uses it."},
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        label="Expires in (days)",
        help_text="Empty: the token works until you revoke it.",
    )

    def expires_in(self) -> dt.timedelta | None:
        days = self.cleaned_data.get("expires_in_days")
        return dt.timedelta(days=days) if days else None
