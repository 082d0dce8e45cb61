"""The report parameters (as_of, method) as typed in the pages and the admin."""

import datetime as dt
from typing import Any

from django import forms

from reports.generation import parse_as_of
from reports.models import METHOD_CHOICES
from reports.uptime import DEFAULT_METHOD


class AsOfField(forms.CharField):
    """ISO 8601 time, UTC when it has no offset; also the feeds' ``2023-01-25 18:13:22 UTC``."""

    def to_python(self, value: Any) -> dt.datetime | None:  # type: ignore[override]  # a time, not text
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            return parse_as_of(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class ReportParametersForm(forms.Form):
    as_of = AsOfField(
        required=False,
        label="As of (UTC)",
        help_text="Default: the newest poll.",
        widget=forms.TextInput(attrs={"placeholder": "newest poll", "autocomplete": "off"}),
    )
    method = forms.ChoiceField(choices=METHOD_CHOICES, required=False, initial=DEFAULT_METHOD)

    def clean_method(self) -> str:
        return self.cleaned_data["method"] or DEFAULT_METHOD

    def errors_as_sentence(self) -> str:
        return " ".join(
            f"{self.fields[name].label or name}: {' '.join(str(error) for error in errors)}"
            for name, errors in self.errors.items()
        )
