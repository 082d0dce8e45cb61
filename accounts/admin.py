"""API tokens in the admin (staff): list, search, revoke (delete), and create one for a user."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.forms import TokenLifetime, expiry_days_field
from accounts.models import ApiToken
from accounts.tokens import TokenError, create_api_token


class ApiTokenAddForm(TokenLifetime, forms.ModelForm):
    """A new token: whose, its name, and optionally its lifetime. The token itself is made on save."""

    expires_in_days = expiry_days_field("Empty: the token works until it is revoked (deleted).")

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "token_key", "created", "last_used_at", "expiry"]
    list_select_related = ["user"]
    search_fields = ["name", "token_key", "user__username"]
    readonly_fields = ["user", "name", "token_key", "created", "last_used_at", "expiry"]
    exclude = ["digest"]  # not the token, but nobody needs to read it
    raw_id_fields = ["user"]
    date_hierarchy = "created"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["user", "name", "expires_in_days"]
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a token is created or revoked, never edited

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        try:
            token, secret = create_api_token(obj.user, obj.name, form.expires_in())
        except TokenError as error:  # validated by the form already; a concurrent twin gets here
            raise forms.ValidationError(str(error)) from None
        # The admin goes on with the object it holds (its message, its log, its redirect): give it
        # the row just saved.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        obj._state.db = token._state.db
        self.message_user(
            request,
            f"The new token {token.name!r} for {token.user.get_username()} is: {secret} — copy it now: "
            "it is not stored, and will not be shown again.",
            messages.WARNING,
        )
