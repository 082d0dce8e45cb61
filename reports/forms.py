"""The report parameters (as_of, method, columns, owner) as typed in the pages and the admin."""

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import QuerySet

from monitoring.access import AnyUser, OwnerChoiceError, owners_of, report_owner_for, report_stores, sees_all_stores
from monitoring.models import Owner, Store
from reports.admission import Admission, admit_report
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

    def __init__(self, *args: Any, require_polls: bool = True, stores: QuerySet[Store] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.require_polls = require_polls
        # The caller's stores (None: every store): only their polls count, and the sentences
        # name only their poll times (monitoring.access.scoped_stores).
        self.stores = stores
        self.check_time = True

    def clean_method(self) -> str:
        return self.cleaned_data["method"] or DEFAULT_METHOD

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "as_of" in cleaned and self.check_time:  # absent when the field itself was invalid
            try:
                check_report_time(cleaned["as_of"], stores=self.stores)
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
    """The dashboard's and the admin's report form: as_of and method, which columns its CSV has,
    and whose stores it covers when ``user`` may choose (``owner``, an owner's slug).

    Staff and allowed anonymous callers choose "All stores" (the default) or any owner; a user of
    several owners chooses one of theirs; a user of one owner (or none) gets no choice, and
    ``reports.admission`` decides. Without ``user`` the form has no owner field.
    """

    columns = forms.ChoiceField(
        choices=[(name, COLUMNS_LABELS.get(name, name)) for name in COLUMN_SETS],
        required=False,
        initial=DEFAULT_COLUMNS,
        label="Columns",
        error_messages={"invalid_choice": f"“%(value)s” is not a column set; choose {' or '.join(COLUMN_SETS)}."},
    )

    def __init__(self, *args: Any, user: AnyUser | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        choices = owner_choices(user) if user is not None else []
        if user is not None and choices:
            self.fields["owner"] = forms.ChoiceField(
                choices=choices,
                required=not sees_all_stores(user),
                label="Stores",
                # The API's sentence (monitoring.access.report_owner_for): another owner's slug
                # reads exactly as an unknown one.
                error_messages={
                    "invalid_choice": "No owner has the slug “%(value)s”.",
                    "required": "Choose whose stores the report covers.",
                },
            )

    def clean_columns(self) -> str:
        return self.cleaned_data["columns"] or DEFAULT_COLUMNS

    def admit(self, request) -> Admission:
        """The report this (valid) form asks for, through ``reports.admission.admit_report``: the
        dashboard's and the admin's one way in. Raises ReportRefused as admit_report does."""
        return admit_report(
            request,
            owner_slug=self.cleaned_data.get("owner"),
            as_of=self.cleaned_data["as_of"],
            method=self.cleaned_data["method"],
            columns=self.cleaned_data["columns"],
        )

    def clean(self) -> dict[str, Any]:
        # The report time is checked against the polls of the stores the report would cover, so
        # the sentences name only those stores' poll times. A choice of owner that cannot be used
        # is reports.admission's to refuse (with its own status): no time check then.
        if self.user is not None:
            try:
                owner = report_owner_for(self.user, self.cleaned_data.get("owner"))
            except OwnerChoiceError:
                self.check_time = False
            else:
                self.stores = report_stores(owner)
        return super().clean()


def owner_choices(user: AnyUser) -> list[tuple[str, str]]:
    """The owner choices ``user`` is offered: "All stores" and every owner for staff and allowed
    anonymous callers (none while there is no owner), the user's owners when it has several, none
    otherwise."""
    if sees_all_stores(user):
        owners = [(o.slug, o.name) for o in Owner.objects.order_by("name", "slug")]
        # Without owners every report is of all stores: nothing to choose.
        return [("", "All stores"), *owners] if owners else []
    mine = [(o.slug, o.name) for o in owners_of(user).order_by("name", "slug")]
    return mine if len(mine) > 1 else []
