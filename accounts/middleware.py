"""Pages need a signed-in user unless anonymous access is on."""

from django.contrib.auth.middleware import LoginRequiredMiddleware

from monitoring.access import anonymous_allowed


class SignInRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware (anonymous visitors go to LOGIN_URL with ?next=), but
    only while ALLOW_ANONYMOUS is off, and never for the admin, which has its own login page.

    Exempt already: views marked ``login_not_required`` (the login page, the favicon) and every
    API view (DRF marks them; they answer 401 in JSON themselves). Static files are served before
    any view (WhiteNoise, or runserver's handler).
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if anonymous_allowed():
            return None
        # Before Django's check reads request.user: an exempt view (/healthz, /api/status) then
        # loads no session, so it makes no query and still answers while the database is down.
        if not getattr(view_func, "login_required", True):
            return None
        match = request.resolver_match
        if match is not None and "admin" in match.namespaces:
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
