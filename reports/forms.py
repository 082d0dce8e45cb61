"""The report parameters (as_of, method, columns) as typed in the pages and the admin."""

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from reports.generation import NoPollsError, ReportTimeError, check_report_time, parse_as_of
from reports.models import COLUMN_SETS, DEFAULT_COLUMNS, METHOD_CHOICES
from reports.uptime import DEFAULT_METHOD, METHODS


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
    method = forms.ChoiceField(
        choices=METHOD_CHOICES,
        required=False,
        initial=DEFAULT_METHOD,
        # The same sentence as the API's (reports.api.serializers).
        error_messages={"invalid_choice": f"“%(value)s” is not a method; choose {' or '.join(METHODS)}."},
    )

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


# What each column set adds, in the dashboard's words.
COLUMNS_LABELS = {
    "basic": "basic: the 7 columns of the assignment",
    "extended": "extended: plus outages, uptime % and evidence polls",
}


class GenerateReportForm(ReportParametersForm):
    """The dashboard's report form: as_of and method, and which columns its CSV has."""

    columns = forms.ChoiceField(
        choices=[(name, COLUMNS_LABELS.get(name, name)) for name in COLUMN_SETS],
        required=False,
        initial=DEFAULT_COLUMNS,
        label="Columns",
        error_messages={"invalid_choice": f"“%(value)s” is not a column set; choose {' or '.join(COLUMN_SETS)}."},
    )

    def clean_columns(self) -> str:
        return self.cleaned_data["columns"] or DEFAULT_COLUMNS
