"""The feeds' push API (POST /api/feeds/<feed>) and the import ledger's (GET /api/imports/).

Views parse and respond: :mod:`monitoring.feed_uploads` receives the body (in chunks, to a
temporary file, hashed on the way) and :func:`monitoring.imports.import_feeds` loads it with the
rules of every other path (one parser, all or nothing, recorded in the ledger). No DRF parser
ever runs here: ``request.data`` would read the whole body into memory.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from accounts.permissions import NO_TOKEN
from monitoring.access import may_assign_owners, may_ingest
from monitoring.feed_uploads import (
    BadBody,
    BodyFormat,
    BodyTooLarge,
    spooled_body,
    too_large_sentence,
    upload_limit_bytes,
)
from monitoring.imports import import_feeds, ledger_entries_of, record_refusal
from monitoring.ingestion import Feed, IngestionError, InvalidRows
from monitoring.ingestion.feeds import SPECS
from monitoring.ingestion.json_feed import JsonProblem, index_of_line
from monitoring.models import Import

MAX_PROBLEMS = 20
CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSON_TYPES = frozenset({"application/json"})

NOT_ALLOWED = (
    "Your account may not push feeds nor read the import ledger: that needs a staff account or the "
    "permission “Can push feeds” (monitoring.ingest_feeds); ask an administrator."
)
OWNERS_NOT_ALLOWED = (
    "Only staff may load the owners feed, since it decides who sees which stores; ask an administrator."
)


# --- access ---


class MayIngest(BasePermission):
    """Signed in (token or session) and ``may_ingest``; the owners feed also ``may_assign_owners``.
    Anonymous callers get the API's 401, whatever ALLOW_ANONYMOUS says."""

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            raise NotAuthenticated(NO_TOKEN)
        if not may_ingest(request.user):
            raise PermissionDenied(NOT_ALLOWED)
        if getattr(view, "feed", None) is Feed.OWNERS and not may_assign_owners(request.user):
            raise PermissionDenied(OWNERS_NOT_ALLOWED)
        return True


# --- the ledger ---


class ImportSerializer(serializers.ModelSerializer):
    requested_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who asked for it (none: a command or a worker)."
    )
    seconds = serializers.FloatField(read_only=True, allow_null=True, help_text="How long it took.")
    url = serializers.SerializerMethodField(help_text="This import in the API.")

    class Meta:
        model = Import
        fields = [
            "id",
            "url",
            "source",
            "name",
            "feed",
            "status",
            "sha256",
            "size_bytes",
            "requested_by",
            "rows_read",
            "rows_inserted",
            "rows_duplicate",
            "rows_skipped",
            "rows_deleted",
            "started_at",
            "finished_at",
            "seconds",
            "summary",
            "error",
        ]
        read_only_fields = fields

    def get_url(self, entry: Import) -> str:
        path = reverse("import-detail", args=[entry.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


def _choice_parameter(name: str, choices: list[str], description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=choices, description=description)


FEED_VALUES = [feed.value for feed in Feed]
LEDGER_FILTERS = {
    "feed": FEED_VALUES,
    "status": list(Import.Status.values),
    "source": list(Import.Source.values),
}
# Not reports.api's "Error": monitoring imports nothing of reports (tests/test_boundaries.py);
# the same shape under a name of its own, as drf-spectacular wants one class per name.
ERROR = inline_serializer("FeedError", {"error": serializers.CharField()})


class ImportPagination(PageNumberPagination):
    """?page=N, N from 1, as the report list pages."""

    invalid_page_message = "Page {page_number} does not exist: the ledger fills fewer pages (start at 1, follow next)."
    last_page_strings = ()  # only numbers: the schema says page is an integer


@extend_schema(tags=["Feeds"])
class ImportViewSet(ReadOnlyModelViewSet):
    """The import ledger, newest first: every load from any path (command, push, folder, retention)."""

    queryset = Import.objects.select_related("requested_by").order_by("-started_at", "-pk")
    serializer_class = ImportSerializer
    pagination_class = ImportPagination
    permission_classes = [MayIngest]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="import_list",
        summary="The import ledger, newest first",
        parameters=[
            _choice_parameter("feed", FEED_VALUES, "Only imports of this feed."),
            _choice_parameter("status", LEDGER_FILTERS["status"], "Only imports in this status."),
            _choice_parameter("source", LEDGER_FILTERS["source"], "Only imports that came in this way."),
        ],
        responses={200: ImportSerializer(many=True), 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        operation_id="import_detail",
        summary="One import of the ledger",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="An import's id.")],
        responses={200: ImportSerializer, 403: ERROR, 404: ERROR},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Import]:
        queryset = self.queryset.all()
        if self.action != "list":
            return queryset
        wrong = {}
        for name, choices in LEDGER_FILTERS.items():
            value = self.request.query_params.get(name)
            if value is None:
                continue
            if value not in choices:
                wrong[name] = [f"{value[:40]!r} is not one of {', '.join(choices)}."]
            else:
                queryset = queryset.filter(**{name: value})
        if wrong:
            raise ValidationError(wrong)
        return queryset


# --- the push ---


class LengthRequired(APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = (
        "The request has no Content-Length: send the body with its length (not chunked); "
        "a large feed can be sent compressed (Content-Encoding: gzip)."
    )


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class UnsupportedBody(APIException):
    # Not DRF's UnsupportedMediaType: the API's error handler words that one for JSON bodies only.
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


PROBLEM = inline_serializer(
    "FeedProblem",
    {
        "line": serializers.IntegerField(
            allow_null=True,
            help_text="CSV: the line of the body (the header is line 1). JSON: the index of the object in the "
            "list (0-based), as `index`.",
        ),
        "index": serializers.IntegerField(
            required=False, allow_null=True, help_text="JSON bodies only: the object's index in the list (0-based)."
        ),
        "field": serializers.CharField(allow_null=True, help_text="The column (CSV) or key (JSON)."),
        "message": serializers.CharField(help_text="What is wrong, as a sentence."),
    },
)
FEED_REFUSED = inline_serializer(
    "FeedRefused",
    {
        "error": serializers.CharField(),
        "problems": serializers.ListField(child=PROBLEM),
        "import": ImportSerializer(required=False, help_text="The ledger's row of the refused load (Failed)."),
    },
)
CSV_EXAMPLE = {
    Feed.POLLS: "store_id,status,timestamp_utc\n8419537941919820732,active,2024-10-09 12:00:00.000000 UTC\n",
    Feed.HOURS: "store_id,dayOfWeek,start_time_local,end_time_local\n8419537941919820732,0,10:00:00,22:00:00\n",
    Feed.TIMEZONES: "store_id,timezone_str\n8419537941919820732,America/Chicago\n",
    Feed.OWNERS: "store_id,owner\n8419537941919820732,acme\n",
}


def _json_example(feed: Feed) -> list[dict[str, str]]:
    header, row = CSV_EXAMPLE[feed].splitlines()
    return [dict(zip(header.split(","), row.split(","), strict=True))]


def _push_schema(feed: Feed):
    columns = ", ".join(column.name for column in SPECS[feed].columns)
    return extend_schema(
        operation_id=f"push_{feed.value}",
        tags=["Feeds"],
        summary=f"Load a {feed.value} feed (CSV or JSON)",
        description=(
            f"The body is the {feed.value} feed as `text/csv` (header {columns}; `Content-Encoding: gzip` or a "
            "gzip body allowed), or `application/json`: a list of objects with those keys (the CSV header's "
            "aliases too), values strings, numbers or null. Checked and loaded like `manage.py load_csvs` in one "
            "transaction: any problem and nothing is kept (400, the first 20 problems; for JSON each problem's "
            "`line` is the object's index in the list, also given as `index`). The same content imported "
            "completely before is not read again (200, status skipped) unless `force=1`. The body may have at "
            "most MAX_FEED_UPLOAD_MB megabytes as sent (413) and needs a Content-Length (411). Needs a staff "
            "account or the permission monitoring.ingest_feeds"
            + (" (owners: staff only)." if feed is Feed.OWNERS else ".")
        ),
        parameters=[
            OpenApiParameter("skip_invalid", bool, description="Skip malformed rows instead of refusing the body."),
            OpenApiParameter("force", bool, description="Load even if the same content was imported completely."),
        ],
        request={
            "text/csv": OpenApiTypes.STR,
            "application/json": {
                "type": "array",
                "items": {
                    "type": "object",
                    # The CSV header's aliases are keys too (dayOfWeek for day), hence no
                    # additionalProperties: false; a key of neither is refused (400).
                    "properties": {
                        column.name: {
                            "type": "string",
                            "nullable": True,
                            "description": "A string, a number (written as JSON writes it) or null (empty).",
                        }
                        for column in SPECS[feed].columns
                    },
                },
            },
        },
        examples=[
            OpenApiExample("CSV", value=CSV_EXAMPLE[feed], media_type="text/csv", request_only=True),
            OpenApiExample("JSON", value=_json_example(feed), media_type="application/json", request_only=True),
        ],
        responses={
            201: OpenApiResponse(ImportSerializer, description="Loaded; `Location` is the import in the ledger."),
            200: OpenApiResponse(ImportSerializer, description="The same content was already imported: skipped."),
            400: FEED_REFUSED,
            403: ERROR,
            411: ERROR,
            413: ERROR,
            415: ERROR,
        },
    )


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _media_type(request: Request) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def body_format_of(request: Request) -> BodyFormat:
    media_type = _media_type(request)
    if media_type in CSV_TYPES:
        return BodyFormat.CSV
    if media_type in JSON_TYPES:
        return BodyFormat.JSON
    shown = f"Content-Type {media_type[:80]!r}" if media_type else "no Content-Type"
    raise UnsupportedBody(
        f"The request has {shown}: send the feed as text/csv (optionally with Content-Encoding: gzip) or as "
        "application/json (a list of objects)."
    )


def gzip_declared(request: Request) -> bool:
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return False
    if encoding in ("gzip", "x-gzip"):
        return True
    raise UnsupportedBody(f"The request has Content-Encoding {encoding[:40]!r}: send the body plain or as gzip.")


def declared_length(request: Request) -> int:
    """The body's Content-Length; 411 without one (a chunked body reaches a WSGI application empty)."""
    text = request.META.get("CONTENT_LENGTH", "")
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() or not text.strip():
        raise LengthRequired()
    try:
        return int(text)
    except ValueError:
        raise LengthRequired() from None


def problem_json(line: int | None, field: str | None, message: str, body_format: BodyFormat) -> dict[str, Any]:
    if body_format is BodyFormat.JSON:
        index = index_of_line(line)
        return {"line": index, "index": index, "field": field, "message": message}
    return {"line": line, "field": field, "message": message}


def _problems_of(error: IngestionError) -> list[IngestionError]:
    return error.problems if isinstance(error, InvalidRows) else [error]


def _json_problem_text(name: str, problem: IngestionError) -> str:
    """A problem of a JSON body as the ledger says it: the object's index, not a CSV line."""
    index = index_of_line(problem.line)
    where = name + (f", object {index}" if index is not None else "")
    where += f", field {problem.field}" if problem.field else ""
    return f"{where}: {problem.problem}"


def _where_in_json(problem: JsonProblem) -> str:
    """``object 3, field status: `` for the ledger's error text (nothing for the body as a whole)."""
    where = [f"object {problem.index}"] if problem.index is not None else []
    where += [f"field {problem.field}"] if problem.field else []
    return f"{', '.join(where)}: " if where else ""


def _json_problem(problem: JsonProblem) -> dict[str, Any]:
    return {"line": problem.index, "index": problem.index, "field": problem.field, "message": problem.message}


class FeedPushView(APIView):
    """POST a feed's body; a subclass per feed (below) says which."""

    feed: Feed
    parser_classes = ()  # never parse: monitoring.feed_uploads reads the stream in chunks
    renderer_classes = [JSONRenderer]
    permission_classes = [MayIngest]

    def post(self, request: Request) -> Response:
        body_format = body_format_of(request)
        compressed = gzip_declared(request)
        if declared_length(request) > upload_limit_bytes():
            raise PayloadTooLarge(too_large_sentence())  # before a byte of the body is read
        name = "request body" if body_format is BodyFormat.CSV else "JSON request body"
        try:
            # request._request.read: Django's stream, bounded by Content-Length; DRF's own would
            # parse the body whole.
            with spooled_body(
                request._request.read,
                feed=self.feed,
                body_format=body_format,
                gzip_declared=compressed,
                max_problems=MAX_PROBLEMS,
            ) as body:
                outcome = import_feeds(
                    {self.feed: body.path},
                    source=Import.Source.API,
                    names={self.feed: name},
                    digests={self.feed: body.digest},
                    requested_by=request.user,
                    force=_flag(request, "force"),
                    skip_invalid=_flag(request, "skip_invalid"),
                    max_problems=MAX_PROBLEMS,
                )
        except BodyTooLarge as error:
            raise PayloadTooLarge(str(error)) from None
        except BadBody as error:
            problems = [_json_problem(problem) for problem in error.problems]
            details = "".join(f"\n{_where_in_json(problem)}{problem.message}" for problem in error.problems)
            entry = record_refusal(
                source=Import.Source.API,
                name=name,
                feed=self.feed.value,
                error=f"{error}{details}",
                requested_by=request.user,
            )
            return Response(
                {
                    "error": str(error),
                    "problems": problems,
                    "import": ImportSerializer(entry, context={"request": request}).data,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        except IngestionError as error:
            failed = next(iter(ledger_entries_of(error)), None)
            if failed is not None and body_format is BodyFormat.JSON:
                # The reader counted lines of the CSV the body became; the sender knows objects.
                failed.error = "\n".join(_json_problem_text(name, problem) for problem in _problems_of(error))
                failed.save(update_fields=["error"])
            return self._refused(request, error, body_format, failed)
        entry = outcome.imports[0]
        data = ImportSerializer(entry, context={"request": request}).data
        loaded = entry.status == Import.Status.COMPLETE
        return Response(
            data,
            status=status.HTTP_201_CREATED if loaded else status.HTTP_200_OK,
            headers={"Location": data["url"]},
        )

    def _refused(
        self, request: Request, error: IngestionError, body_format: BodyFormat, entry: Import | None
    ) -> Response:
        problems = _problems_of(error)
        count = len(problems)
        first = "" if count < MAX_PROBLEMS else f", the first {MAX_PROBLEMS} listed"
        body: dict[str, Any] = {
            "error": f"The {self.feed.value} feed cannot be loaded "
            f"({count} problem{'' if count == 1 else 's'}{first}); nothing was loaded: "
            "fix them and send it again, or pass skip_invalid=1 to skip malformed rows.",
            "problems": [problem_json(p.line, p.field, p.problem, body_format) for p in problems],
        }
        if entry is not None:
            body["import"] = ImportSerializer(entry, context={"request": request}).data
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


# One class per feed, each with its own operation in the schema.


@extend_schema_view(post=_push_schema(Feed.POLLS))
class PollsPushView(FeedPushView):
    feed = Feed.POLLS


@extend_schema_view(post=_push_schema(Feed.HOURS))
class HoursPushView(FeedPushView):
    feed = Feed.HOURS


@extend_schema_view(post=_push_schema(Feed.TIMEZONES))
class TimezonesPushView(FeedPushView):
    feed = Feed.TIMEZONES


@extend_schema_view(post=_push_schema(Feed.OWNERS))
class OwnersPushView(FeedPushView):
    feed = Feed.OWNERS


PUSH_VIEWS: dict[Feed, type[FeedPushView]] = {
    view.feed: view for view in (PollsPushView, HoursPushView, TimezonesPushView, OwnersPushView)
}
