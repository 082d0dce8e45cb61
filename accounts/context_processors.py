"""What every page's template knows about access."""

from django.http import HttpRequest

from monitoring.access import anonymous_allowed


def access(request: HttpRequest) -> dict[str, bool]:
    """``anonymous_access``: whether the anonymous-access banner shows (ALLOW_ANONYMOUS)."""
    return {"anonymous_access": anonymous_allowed()}
