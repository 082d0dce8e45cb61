"""JSON errors for every API view: ``{"error": "sentence"}``, plus ``"fields"`` for bad input."""

import logging

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


def json_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: DRF's status codes and headers, with our JSON body."""
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
