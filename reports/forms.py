"""The report parameters (as_of, method) as typed in the pages and the admin."""

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from reports.generation import NoPollsError, ReportTimeError, check_report_time, parse_as_of
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
    """as_of and method of a report to start (or of a store's figures), checked against the polls.

    ``require_polls=False`` lets an empty database through (a page can say so itself); the
    report time is checked all the same.
    """

    as_of = AsOfField(
        required=False,
        label="As of (UTC)",
        help_text="Default: the newest poll.",
        widget=forms.TextInput(attrs={"placeholder": "newest poll", "autocomplete": "off"}),
    )
    method = forms.ChoiceField(choices=METHOD_CHOICES, required=False, initial=DEFAULT_METHOD)

    def __init__(self, *args: Any, require_polls: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.require_polls = require_polls

    def clean_method(self) -> str:
        return self.cleaned_data["method"] or DEFAULT_METHOD

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "as_of" in cleaned:  # absent when the field itself was invalid
            try:
                check_report_time(cleaned["as_of"])
            except ReportTimeError as error:
                self.add_error("as_of", str(error))
            except NoPollsError as error:
                if self.require_polls:
                    self.add_error(None, str(error))
        return cleaned

    def errors_as_sentence(self) -> str:
        return " ".join(
            " ".join(str(error) for error in errors)
            if name == NON_FIELD_ERRORS
            else f"{self.fields[name].label or name}: {' '.join(str(error) for error in errors)}"
            for name, errors in self.errors.items()
        )
