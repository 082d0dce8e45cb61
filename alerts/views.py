"""(Interface placeholder: the Notifications page.)"""

from django.http import HttpRequest, HttpResponse


def notifications(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
