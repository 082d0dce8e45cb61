"""JSON errors for every API view: ``{"error": "sentence"}``, plus ``"fields"`` for bad input."""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from reports.api.parsers import too_large

log = logging.getLogger(__name__)


def json_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: DRF's status codes and headers, with our JSON body."""
    exc = client_error(exc) or exc
    response = exception_handler(exc, context)
    if response is None:
        # An unexpected error: still JSON for API clients; the traceback goes to the log.
        log.error("API error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {"error": "The server failed to answer this request; the error is in its log."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _describe(response.data), "fields": response.data}
    elif isinstance(exc, exceptions.MethodNotAllowed):
        view = context.get("view")
        allowed = ", ".join(view.allowed_methods) if view is not None else ""
        response.data = {"error": f"{exc.detail} Allowed: {allowed}."}
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        response.data = {"error": f"{exc.detail} Send JSON, with Content-Type: application/json."}
    else:
        detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        response.data = {"error": str(detail)}
    return response


def client_error(exc: Exception) -> exceptions.APIException | None:
    """The API error for what Django refuses in a request it reads (a body over the upload limit,
    too many fields, other suspicious input), which DRF alone would answer with a 500."""
    if isinstance(exc, RequestDataTooBig):
        return too_large()
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ParseError(
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} query or form fields "
            "(DATA_UPLOAD_MAX_NUMBER_FIELDS): send only the parameters the endpoint takes."
        )
    if isinstance(exc, SuspiciousOperation | BadRequest):
        log.warning("API request refused: %s", exc)
        return exceptions.ParseError("The server could not read this request; send it as the API documentation shows.")
    return None


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def api_not_found(request: HttpRequest) -> JsonResponse:
    """The API's 404 for a URL that no endpoint answers (Django's handler404 sends API paths here)."""
    return JsonResponse(
        {"error": f"No API endpoint answers {request.path[:200]}: the endpoints are listed at {reverse('api-docs')}."},
        status=404,
        json_dumps_params={"separators": (",", ":")},  # as compact as DRF's answers
    )


def _describe(errors) -> str:
    """One sentence naming each field and what is wrong with it."""
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors}
    parts = []
    for name, messages in errors.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        text = text.rstrip(".")
        parts.append(text if name == "non_field_errors" else f"{name}: {text}")
    return "Invalid request: " + "; ".join(parts) + "."
