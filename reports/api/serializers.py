"""What the report API reads and writes."""

import datetime as dt

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from reports.generation import NoPollsError, ReportTimeError, check_report_time, parse_as_of
from reports.models import METHOD_CHOICES, Report
from reports.uptime import DEFAULT_METHOD, METHODS


class AsOfField(serializers.DateTimeField):
    """A report time, read by ``parse_as_of`` as in the pages and the command (the schema still
    says date-time, which is what clients should send)."""

    def to_internal_value(self, value: object) -> dt.datetime:
        try:
            return parse_as_of(str(value))
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class TriggerReportSerializer(serializers.Serializer):
    """Optional body of POST /trigger_report."""

    as_of = AsOfField(
        required=False,
        allow_null=True,
        help_text="Report time, ISO 8601 (UTC when no offset is given). Default: the newest poll. Refused (400) "
        "before 2000-01-01, more than a day ahead, or with no poll in the lookback before it.",
    )
    method = serializers.ChoiceField(
        choices=METHOD_CHOICES,  # the model's: one method enum in the schema
        default=DEFAULT_METHOD,
        help_text=f"How status is extrapolated between polls: {' or '.join(METHODS)} (default {DEFAULT_METHOD}).",
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            raise serializers.ValidationError(
                f"Unknown field(s): {', '.join(unknown)}. The body takes only as_of and method."
            )
        try:
            check_report_time(attrs.get("as_of"))
        except ReportTimeError as error:
            raise serializers.ValidationError({"as_of": [str(error)]}) from None
        except NoPollsError as error:
            raise serializers.ValidationError(str(error)) from None
        return attrs


class TriggerReportSchema(OpenApiSerializerExtension):
    """The schema of the trigger body says what ``validate`` enforces: no other fields."""

    target_class = TriggerReportSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class TriggeredSerializer(serializers.Serializer):
    report_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Report.Status.choices)


class ReportProgressSerializer(serializers.Serializer):
    """A report that is not finished yet."""

    report_id = serializers.CharField()
    status = serializers.ChoiceField(choices=[Report.Status.PENDING, Report.Status.RUNNING])
    progress = serializers.FloatField(help_text="0 to 1")


class ReportCompleteSerializer(serializers.ModelSerializer):
    """A finished report, when JSON is asked for instead of the CSV."""

    # One status per answer, so the schema tells the answers of get_report apart.
    status = serializers.ChoiceField(choices=[Report.Status.COMPLETE])
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = ["report_id", "status", "download_url", "store_count", "as_of", "method", "created_at", "finished_at"]

    def get_download_url(self, report) -> str:
        return csv_url(report, self.context.get("request"))


class ReportFailedSerializer(serializers.ModelSerializer):
    """A report that ended without a CSV, with the sentence saying why."""

    status = serializers.ChoiceField(choices=[Report.Status.FAILED])

    class Meta:
        model = Report
        fields = ["report_id", "status", "error", "as_of", "method", "created_at", "finished_at"]


class ReportSerializer(serializers.ModelSerializer):
    """A report as a resource of /api/reports/."""

    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(help_text="The CSV, once the report is Complete.")
    duration_seconds = serializers.SerializerMethodField(help_text="From start to finish (or to now).")

    class Meta:
        model = Report
        fields = [
            "report_id",
            "url",
            "status",
            "progress",
            "as_of",
            "method",
            "store_count",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "attempts",
            "error",
            "download_url",
        ]

    def get_url(self, report) -> str:
        return _absolute(self.context.get("request"), reverse("report-detail", args=[report.report_id]))

    def get_download_url(self, report) -> str | None:
        if report.status != Report.Status.COMPLETE:
            return None
        return csv_url(report, self.context.get("request"))

    def get_duration_seconds(self, report) -> float | None:
        duration = report.duration
        return None if duration is None else round(duration.total_seconds(), 3)


def csv_url(report: Report, request=None) -> str:
    return _absolute(request, reverse("report-csv", args=[report.report_id]))


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path
