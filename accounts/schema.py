"""How the OpenAPI schema describes API access: the token scheme and every operation's 401."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from monitoring.access import anonymous_allowed

TOKEN_SCHEME_NAME = "apiToken"

UNAUTHENTICATED = {
    "description": "No token while anonymous access is off, or a token that is wrong, revoked or expired, or a "
    'malformed Authorization header: {"error": sentence}. The WWW-Authenticate header names the scheme.',
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    },
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """drf-spectacular's knox extension matches knox's own class only, not subclasses: ours."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = TOKEN_SCHEME_NAME

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API token, sent as `Authorization: Token <token>` (or `Authorization: Bearer "
            "<token>`). Create one on /account/tokens/ or with `manage.py create_api_token USERNAME`.",
        }


# Operations that refuse anonymous callers whatever ALLOW_ANONYMOUS says: data comes in only
# from someone known (monitoring.access.may_ingest), and goes out only to channels someone known
# set up (alerts.owner_channels).
NEVER_ANONYMOUS_TAGS = frozenset({"Feeds", "Channels"})


def document_unauthenticated(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation with a security requirement may answer
    401, and while anonymous access is on, says that no credentials at all will do too (except
    the operations of :data:`NEVER_ANONYMOUS_TAGS`)."""
    anonymous = anonymous_allowed()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not (isinstance(operation, dict) and operation.get("security")):
                continue
            operation.setdefault("responses", {}).setdefault("401", UNAUTHENTICATED)
            never_anonymous = NEVER_ANONYMOUS_TAGS.intersection(operation.get("tags", []))
            if anonymous and not never_anonymous and {} not in operation["security"]:
                operation["security"].append({})
    return result
