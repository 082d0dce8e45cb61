"""The API's schema and docs page behind the API's access rule, refusing in JSON like every endpoint.

drf-spectacular's views render with their own renderers (YAML, an HTML template), which would
turn a 401 into YAML or a broken page; their permission is SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"].
"""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.views import APIView

from accounts import schema  # noqa: F401  (registers the token's security scheme with drf-spectacular)
from reports.api.renderers import JSONRenderer


class JsonErrorsMixin(APIView):
    """Errors (4xx, 5xx) are rendered as JSON whatever the view's own renderers are."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400 and getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON with ?format=json)."""


class DocsView(JsonErrorsMixin, SpectacularSwaggerView):
    """The Swagger UI page of the schema."""
