"""The report API: trigger, poll, download; a store's outages. Views parse and respond;
reports.actions and reports.store_outages work.

Callers authenticate with an API token or a session (settings.REST_FRAMEWORK); without either
they are refused (401) unless ALLOW_ANONYMOUS is on, the assignment's open API (monitoring.access).
Every error is JSON: ``{"error": "sentence"}``.
"""

from collections.abc import Sequence

from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from monitoring.access import AnyUser, scoped_stores, visible_stores
from monitoring.ingestion.values import is_store_id
from monitoring.models import Store
from reports.admission import admit_report
from reports.api.pagination import ReportPagination
from reports.api.parsers import BoundedJSONParser
from reports.api.renderers import JSONRenderer
from reports.api.serializers import (
    ReportCompleteSerializer,
    ReportFailedSerializer,
    ReportProgressSerializer,
    ReportSerializer,
    StoreOutagesQuerySerializer,
    StoreOutagesSerializer,
    TriggeredSerializer,
    TriggerReportSerializer,
)
from reports.generation import NoPollsError
from reports.models import REPORT_ID, Report
from reports.store_outages import store_outages

Status = Report.Status

ERROR = inline_serializer("Error", {"error": serializers.CharField()})
CSV_BODY = OpenApiResponse(OpenApiTypes.STR, description="The report CSV (attachment).")
OUTAGES_CSV_BODY = OpenApiResponse(
    OpenApiTypes.STR,
    description="Every store's outages in the lookback, sorted by store_id then start (attachment): "
    "store_id, start_utc, end_utc, start_local, end_local, minutes.",
)
REPORT_STATE = PolymorphicProxySerializer(
    component_name="ReportState",
    serializers=[ReportProgressSerializer, ReportCompleteSerializer, ReportFailedSerializer],
    resource_type_field_name=None,
)

REPORT_ID_SCHEMA = {"type": "string", "pattern": f"^{REPORT_ID.pattern}$"}
REPORT_ID_IN_PATH = OpenApiParameter("report_id", REPORT_ID_SCHEMA, OpenApiParameter.PATH, description="A report id.")
STORE_ID_IN_PATH = OpenApiParameter(
    "store_id",
    {"type": "string", "minLength": 1, "maxLength": 64},
    OpenApiParameter.PATH,
    description="A store id, as in the feeds.",
)


class CsvGone(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "The CSV of this report is no longer stored; trigger a new report."


class OutagesCsvGone(CsvGone):
    default_detail = "The outages CSV of this report is no longer stored; trigger a new report."


class CsvNotReady(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The report has no CSV yet."


class ReportAPIMixin(APIView):
    """What every report endpoint shares: the API's access rule (the settings' defaults), JSON
    bodies, no content negotiation errors."""

    parser_classes: Sequence[type[BaseParser]] = (BoundedJSONParser,)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # Never a 404/406 over ?format= or Accept: answers are JSON or (by choice) the CSV.
        return super().perform_content_negotiation(request, force=True)


class TriggerReportView(ReportAPIMixin):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="trigger_report",
        tags=["Trigger and poll"],  # the docs' groups and their order: SPECTACULAR_SETTINGS["TAGS"]
        summary="Start a report of your stores",
        request=TriggerReportSerializer,
        parameters=[
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                response=[429],
                description="How many seconds to wait before triggering again.",
            )
        ],
        responses={
            202: TriggeredSerializer,
            400: ERROR,
            403: ERROR,
            413: ERROR,
            415: ERROR,
            429: OpenApiResponse(
                ERROR,
                description="Too many triggers (REPORT_TRIGGER_RATE, per user or per IP address), or "
                "MAX_PENDING_REPORTS_PER_OWNER reports of the owner already Pending; the Retry-After header "
                "says how many seconds to wait.",
            ),
            503: ERROR,
        },
        description="Queues the report and answers at once; poll the `Location` (GET /get_report). Staff "
        "reports cover every store (or the `owner` named); an owner's user gets a report of that owner's stores "
        "(a user of several owners names one; another owner's slug is refused like an unknown one, 400; a user "
        "of no owner is refused, 403). An identical report that is still Pending is handed back instead "
        '(`"existing": true`). A time before 2000-01-01, more than a day ahead or with no poll in its '
        "lookback, or a database without polls, is refused with a 400 that says which times have data.",
    )
    def post(self, request):
        body = TriggerReportSerializer(data=request.data, context={"user": request.user})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        admission = admit_report(
            request,
            owner_slug=data.get("owner"),
            as_of=data.get("as_of"),
            method=data["method"],
            columns=data["columns"],
        )
        report = admission.report
        poll = request.build_absolute_uri(f"{reverse('get_report')}?report_id={report.report_id}")
        if admission.existing:
            return Response(
                {"report_id": report.report_id, "status": report.status, "existing": True},
                status=status.HTTP_202_ACCEPTED,
                headers={"Location": poll},
            )
        report.refresh_from_db(fields=["status", "started_at", "error"])
        if report.refused_by_queue:
            return Response(
                {"error": report.error, "report_id": report.report_id, "status": report.status},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(
            {"report_id": report.report_id, "status": Status.PENDING},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": poll},
        )


class GetReportView(ReportAPIMixin):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="get_report",
        tags=["Trigger and poll"],
        summary="Poll a report; the CSV once it is Complete",
        description="Pending or Running: its progress. Complete: the CSV, or with format=json or Accept: "
        "application/json a summary with download_url. Failed: the error. An unknown report_id is a 404, and so "
        "is another owner's report (the same answer).",
        parameters=[
            OpenApiParameter("report_id", REPORT_ID_SCHEMA, required=True, description="From POST /trigger_report."),
            OpenApiParameter(
                "format", str, enum=["csv", "json"], description="Complete reports: json gives a summary."
            ),
        ],
        responses={
            (200, "text/csv"): CSV_BODY,
            (200, "application/json"): REPORT_STATE,
            400: ERROR,
            404: ERROR,
        },
    )
    def get(self, request):
        report = _find_report(_required_report_id(request), request.user)
        wants_json = _wants_json(request)
        headers = {"X-Report-Status": report.status}
        if report.status in (Status.PENDING, Status.RUNNING):
            body = ReportProgressSerializer(report).data
        elif report.status == Status.FAILED:
            body = ReportFailedSerializer(report).data
        elif wants_json:
            body = ReportCompleteSerializer(report, context={"request": request}).data
        else:
            return csv_response(report)
        return Response(body, headers=headers)


@extend_schema(tags=["Browse reports"])
@extend_schema_view(
    list=extend_schema(responses={200: ReportSerializer(many=True), 400: ERROR, 404: ERROR}),
    retrieve=extend_schema(parameters=[REPORT_ID_IN_PATH], responses={200: ReportSerializer, 404: ERROR}),
)
class ReportViewSet(ReportAPIMixin, ReadOnlyModelViewSet):
    """Reports, newest first: the caller's owners' reports (staff: every report); another owner's
    report id is answered exactly as an unknown one (404)."""

    queryset = Report.objects.order_by("-created_at", "-id").select_related("owner").prefetch_related("shards")
    serializer_class = ReportSerializer
    pagination_class = ReportPagination
    lookup_field = "report_id"
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    @extend_schema(
        operation_id="report_csv",
        summary="Download the CSV of a Complete report",
        parameters=[REPORT_ID_IN_PATH],
        responses={(200, "text/csv"): CSV_BODY, 404: ERROR, 409: ERROR, 410: ERROR},
    )
    def csv(self, request, report_id=None):
        report = _find_report(report_id, request.user)
        if report.status != Status.COMPLETE:
            raise CsvNotReady(f"Report {report.report_id} is {report.status}; its CSV exists once it is Complete.")
        return csv_response(report)

    @extend_schema(
        operation_id="report_outages_csv",
        summary="Download every store's outages of a Complete report as CSV",
        description="Written by the report's own run from the same figures: the outages (rule 10) of every "
        "store in the report, over the whole lookback, cut to its start and to as_of. Reports completed "
        "before outages were kept have none (404).",
        parameters=[REPORT_ID_IN_PATH],
        responses={(200, "text/csv"): OUTAGES_CSV_BODY, 404: ERROR, 409: ERROR, 410: ERROR},
    )
    def outages_csv(self, request, report_id=None):
        report = _find_report(report_id, request.user)
        if report.status != Status.COMPLETE:
            raise CsvNotReady(
                f"Report {report.report_id} is {report.status}; its outages CSV exists once it is Complete."
            )
        if not report.outages_file:
            raise NotFound(
                f"Report {report.report_id} was completed before outages were kept, so it has no outages CSV; "
                "trigger a new report to get one."
            )
        return _file_response(report, report.outages_file, f"report-{report.report_id}-outages.csv", OutagesCsvGone)

    def get_queryset(self):
        # The caller's reports only (monitoring.access): the list, and every lookup by id.
        return self.queryset.all().visible_to(self.request.user)  # .all(): never the class attribute itself

    def get_object(self):
        return _find_report(self.kwargs["report_id"], self.request.user)


class StoreOutagesView(ReportAPIMixin):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="store_outages",
        tags=["Stores"],
        summary="A store's outages in the last week, newest first",
        description="The outages (maximal inactive stretches inside one business session) overlapping the "
        "week [as_of - 7 days, as_of), computed like a report of the same as_of and method: each is listed "
        "whole (cut only to the lookback and to as_of), with its times in UTC and in the store's time zone and "
        "the business session it belongs to. as_of and method are checked as for POST /trigger_report; any "
        "other query parameter is a 400. A store without a poll in the lookback has an empty list and a note.",
        parameters=[STORE_ID_IN_PATH, StoreOutagesQuerySerializer],
        responses={200: StoreOutagesSerializer, 400: ERROR, 404: ERROR},
    )
    def get(self, request, store_id):
        stores = _find_store(store_id, request.user)
        query = StoreOutagesQuerySerializer(data=request.query_params, context={"stores": stores})
        query.is_valid(raise_exception=True)
        try:
            listing = store_outages(store_id, **query.validated_data, stores=stores)
        except NoPollsError as error:  # the polls were deleted since the query was checked
            raise ValidationError(str(error)) from None
        return Response(StoreOutagesSerializer(listing).data)


def csv_response(report: Report) -> FileResponse:
    return _file_response(report, report.csv_file, f"report-{report.report_id}.csv", CsvGone)


def _file_response(report: Report, file: FieldFile, filename: str, gone: type[APIException]) -> FileResponse:
    try:
        stream = file.open("rb")
    except (FileNotFoundError, ValueError):
        raise gone() from None
    response = FileResponse(stream, as_attachment=True, filename=filename, content_type="text/csv")
    response["X-Report-Status"] = report.status
    return response


def _find_store(store_id: str, user: AnyUser) -> QuerySet[Store] | None:
    """Check that ``user`` sees the store; returns the stores they see (None: every store, for
    staff and anonymous callers). Another owner's store is answered exactly as an unknown one."""
    # An id that cannot be one (a NUL byte, which PostgreSQL refuses; over 64 characters) is unknown unasked.
    if not (is_store_id(store_id) and visible_stores(user).filter(store_id=store_id).exists()):
        shown = store_id if len(store_id) <= 40 else f"{store_id[:40]}…"
        raise NotFound(f"No store has store_id {shown!r}.")
    return scoped_stores(user)


def _required_report_id(request) -> str:
    report_id = request.query_params.get("report_id", "").strip()
    if not report_id:
        raise ValidationError(
            {"report_id": ["This query parameter is required: GET /get_report?report_id=<id from /trigger_report>."]}
        )
    return report_id


def _find_report(report_id: str, user: AnyUser) -> Report:
    """The report, when ``user`` sees it; another owner's is answered exactly as an unknown one."""
    # An id that cannot be one (e.g. with a NUL byte, which PostgreSQL refuses) is unknown unasked.
    visible = Report.objects.select_related("owner").visible_to(user)
    report = visible.filter(report_id=report_id).first() if REPORT_ID.fullmatch(report_id) else None
    if report is None:
        shown = report_id if len(report_id) <= 40 else f"{report_id[:40]}…"
        raise NotFound(f"No report has report_id {shown!r}.")
    return report


def _wants_json(request) -> bool:
    chosen = request.query_params.get("format")
    if chosen is not None:
        if chosen not in ("csv", "json"):
            raise ValidationError({"format": [f"Unknown format {chosen!r}: use csv (the default) or json."]})
        return chosen == "json"
    return "application/json" in request.headers.get("Accept", "")
