"""The account pages: sign-in (Django's view), the lockout page, and the API tokens page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import NewTokenForm
from accounts.tokens import TokenError, create_api_token, revoke_api_token, tokens_of


def _lockout_terms() -> dict[str, int]:
    return {
        "login_failure_limit": settings.AXES_FAILURE_LIMIT,
        "login_lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }


class SignInView(LoginView):
    """Django's login view; the page also says when wrong passwords lock signing in."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_lockout_terms()}


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: the site's page (429) for a sign-in that is locked out,
    on the pages and in the admin alike."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return render(request, "registration/locked_out.html", {"username": username[:150], **_lockout_terms()}, status=429)


def _signed_in_user(request: HttpRequest) -> AbstractBaseUser:
    user = request.user
    assert isinstance(user, AbstractBaseUser), "the view is login_required"
    return user


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The signed-in user's tokens, and a form to create one. A new token is shown in the answer to
    the POST itself, once: it is never stored, so no later page could show it again."""
    user = _signed_in_user(request)
    form = NewTokenForm(request.POST if request.method == "POST" else None)
    created = secret = None
    if form.is_valid():
        try:
            created, secret = create_api_token(user, form.cleaned_data["name"], form.expires_in())
        except TokenError as error:
            form.add_error("name", str(error))
        else:
            form = NewTokenForm()
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens_of(user), "created": created, "secret": secret, "now": timezone.now()},
        status=status,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_key: str) -> HttpResponse:
    """Revoke (delete) one of the user's own tokens; another user's is a 404, like an unknown one."""
    token = revoke_api_token(_signed_in_user(request), token_key)
    if token is None:
        raise Http404(f"You have no API token {token_key[:20]!r}.")
    messages.success(request, f"Revoked the token {token.name!r} ({token.token_key}…): it no longer works.")
    return redirect("api-tokens")
