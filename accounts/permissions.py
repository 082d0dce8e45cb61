"""Who may call the API: the one permission every endpoint uses by default."""

from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from monitoring.access import may_use_service

NO_TOKEN = (
    "This API needs a token: send the header Authorization: Token <token> (create one on /account/tokens/ "
    "or with manage.py create_api_token USERNAME)."
)


class SignedInOrAnonymousAllowed(BasePermission):
    """A token or a session, or nothing while ALLOW_ANONYMOUS is on (monitoring.access). A caller
    without credentials gets a 401 naming the header to send."""

    message = NO_TOKEN

    def has_permission(self, request, view) -> bool:
        if may_use_service(request.user):
            return True
        # DRF's own refusal of a caller without credentials drops the permission's message.
        raise NotAuthenticated(NO_TOKEN)
