"""What the report API reads and writes."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring.access import OwnerChoiceError, report_owner_for, report_stores
from monitoring.models import Store
from reports.generation import NoPollsError, ReportTimeError, check_report_time, columns_sentence, parse_as_of
from reports.models import COLUMN_SETS, COLUMNS_CHOICES, DEFAULT_COLUMNS, METHOD_CHOICES, Report, ReportShard
from reports.uptime import DEFAULT_METHOD, METHODS


class AsOfField(serializers.DateTimeField):
    """A report time, read by ``parse_as_of`` as in the pages and the command (the schema still
    says date-time, which is what clients should send)."""

    def to_internal_value(self, value: object) -> dt.datetime:
        try:
            return parse_as_of(str(value))
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class ReportTimeSerializer(serializers.Serializer):
    """as_of and method, checked as for a report: by the trigger's body and the outage list's query."""

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
        # Names the choices, as generate_report's --method does.
        error_messages={"invalid_choice": f"“{{input}}” is not a method; choose {' or '.join(METHODS)}."},
    )

    def validate(self, attrs):
        checked, stores = self.time_scope(attrs)
        if not checked:
            return attrs
        try:
            check_report_time(attrs.get("as_of"), stores=stores)
        except ReportTimeError as error:
            raise serializers.ValidationError({"as_of": [str(error)]}) from None
        except NoPollsError as error:
            raise serializers.ValidationError(str(error)) from None
        return attrs

    def time_scope(self, attrs) -> tuple[bool, QuerySet[Store] | None]:
        """Whether to check the report time, and against the polls of which stores (None: every
        store): context["stores"], the caller's stores, so the sentences name only their poll times."""
        return True, self.context.get("stores")


class TriggerReportSerializer(ReportTimeSerializer):
    """Optional body of POST /trigger_report."""

    columns = serializers.ChoiceField(
        choices=COLUMNS_CHOICES,  # the model's: one columns enum in the schema
        default=DEFAULT_COLUMNS,
        help_text=f"The CSV's columns (default {DEFAULT_COLUMNS}), in this order: "
        + "; ".join(f"{name}: {', '.join(columns)}" for name, columns in COLUMN_SETS.items())
        + ".",
        error_messages={"invalid_choice": columns_sentence("{input}")},
    )
    owner = serializers.SlugField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=100,  # Owner.slug's
        help_text="Whose stores the report covers, by the owner's slug. A user of one owner may leave it out "
        "(that owner); a user of several must pass one of theirs; staff may leave it out (every store). "
        "An owner the caller does not belong to is refused exactly as an unknown one (400).",
        error_messages={
            "invalid": "An owner's slug holds only letters, digits, hyphens and underscores, like alpha-pizza.",
            "max_length": "No owner has a slug that long (at most {max_length} characters).",
        },
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            raise serializers.ValidationError(
                f"Unknown field(s): {', '.join(unknown)}. The body takes only {_listed(self.fields)}."
            )
        return super().validate(attrs)

    def time_scope(self, attrs) -> tuple[bool, QuerySet[Store] | None]:
        # context["user"]: the caller. The time is checked against the polls of the stores the
        # report would cover; an owner choice that cannot be used is reports.admission's to
        # refuse (403 or 400, with its sentence), so no time check then.
        user = self.context.get("user")
        if user is None:
            return super().time_scope(attrs)
        try:
            owner = report_owner_for(user, attrs.get("owner"))
        except OwnerChoiceError:
            return False, None
        return True, report_stores(owner)


class TriggerReportSchema(OpenApiSerializerExtension):
    """The schema of the trigger body says what ``validate`` enforces: no other fields."""

    target_class = TriggerReportSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class TriggeredSerializer(serializers.Serializer):
    report_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Report.Status.choices)
    existing = serializers.BooleanField(
        required=False,
        help_text="Present (true) when an identical report (same owner, as_of, method and columns) was still "
        "Pending and is handed back instead of queuing another.",
    )


OWNER_HELP = "The slug of the owner whose stores the report covers; null: every store."


def owner_field() -> serializers.CharField:
    """A report's ``owner``: its slug, or null for a report of every store."""
    # A plain string through the relation (not a SlugRelatedField without a queryset, whose type
    # the schema generator cannot tell); a report without owner gives null (allow_null).
    return serializers.CharField(source="owner.slug", read_only=True, allow_null=True, help_text=OWNER_HELP)


OUTAGES_URL_HELP = (
    "Every store's outages as CSV, once the report is Complete; null before, and for reports completed "
    "before outages were kept."
)


class ReportShardSerializer(serializers.ModelSerializer):
    """One shard of a sharded report: its stores, state and the worker that ran it."""

    worker = serializers.CharField(help_text="host:pid of the worker process of its latest attempt.")
    duration_seconds = serializers.SerializerMethodField(help_text="From its latest start to finish (or to now).")

    class Meta:
        model = ReportShard
        fields = [
            "number",
            "status",
            "first_store_pk",
            "last_store_pk",
            "store_count",
            "attempts",
            "worker",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
        ]

    def get_duration_seconds(self, shard) -> float | None:
        duration = shard.duration
        return None if duration is None else round(duration.total_seconds(), 3)


SHARD_COUNT_HELP = "How many shards its run has: 0 for a report computed in one piece (REPORT_SHARD_STORES)."


class ShardsMixin(serializers.Serializer):
    shard_count = serializers.IntegerField(read_only=True, help_text=SHARD_COUNT_HELP)
    shards = serializers.SerializerMethodField(help_text="Its current run's shards, in store order; [] if none.")

    @extend_schema_field(ReportShardSerializer(many=True))
    def get_shards(self, report) -> Any:
        # The run's shards only: a report run again after its coordinator died has new ones.
        shards = [shard for shard in report.shards.all() if shard.report_attempt == report.attempts]
        return ReportShardSerializer(sorted(shards, key=lambda shard: shard.number), many=True).data


class ReportProgressSerializer(ShardsMixin, serializers.Serializer):
    """A report that is not finished yet."""

    report_id = serializers.CharField()
    status = serializers.ChoiceField(choices=[Report.Status.PENDING, Report.Status.RUNNING])
    progress = serializers.FloatField(help_text="0 to 1")
    owner = owner_field()


class ReportCompleteSerializer(ShardsMixin, serializers.ModelSerializer):
    """A finished report, when JSON is asked for instead of the CSV."""

    # One status per answer, so the schema tells the answers of get_report apart.
    status = serializers.ChoiceField(choices=[Report.Status.COMPLETE])
    download_url = serializers.SerializerMethodField()

    outages_url = serializers.SerializerMethodField(help_text=OUTAGES_URL_HELP)
    owner = owner_field()

    class Meta:
        model = Report
        fields = [
            "report_id",
            "status",
            "download_url",
            "outages_url",
            "store_count",
            "owner",
            "as_of",
            "method",
            "columns",
            "created_at",
            "finished_at",
            "shard_count",
            "shards",
        ]

    def get_download_url(self, report) -> str:
        return csv_url(report, self.context.get("request"))

    def get_outages_url(self, report) -> str | None:
        return outages_url(report, self.context.get("request"))


class ReportFailedSerializer(ShardsMixin, serializers.ModelSerializer):
    """A report that ended without a CSV, with the sentence saying why."""

    status = serializers.ChoiceField(choices=[Report.Status.FAILED])
    owner = owner_field()

    class Meta:
        model = Report
        fields = [
            "report_id",
            "status",
            "error",
            "owner",
            "as_of",
            "method",
            "columns",
            "created_at",
            "finished_at",
            "shard_count",
            "shards",
        ]


class ReportSerializer(ShardsMixin, serializers.ModelSerializer):
    """A report as a resource of /api/reports/."""

    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(help_text="The CSV, once the report is Complete.")
    outages_url = serializers.SerializerMethodField(help_text=OUTAGES_URL_HELP)
    duration_seconds = serializers.SerializerMethodField(help_text="From start to finish (or to now).")
    owner = owner_field()

    class Meta:
        model = Report
        fields = [
            "report_id",
            "url",
            "status",
            "progress",
            "owner",
            "as_of",
            "method",
            "columns",
            "store_count",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "attempts",
            "error",
            "download_url",
            "outages_url",
            "shard_count",
            "shards",
        ]

    def get_url(self, report) -> str:
        return _absolute(self.context.get("request"), reverse("report-detail", args=[report.report_id]))

    def get_download_url(self, report) -> str | None:
        if report.status != Report.Status.COMPLETE:
            return None
        return csv_url(report, self.context.get("request"))

    def get_outages_url(self, report) -> str | None:
        return outages_url(report, self.context.get("request"))

    def get_duration_seconds(self, report) -> float | None:
        duration = report.duration
        return None if duration is None else round(duration.total_seconds(), 3)


def csv_url(report: Report, request=None) -> str:
    return _absolute(request, reverse("report-csv", args=[report.report_id]))


def outages_url(report: Report, request=None) -> str | None:
    """Where the report's outages CSV is; None until it is Complete and for reports completed
    before outages were kept."""
    if report.status != Report.Status.COMPLETE or not report.outages_file:
        return None
    return _absolute(request, reverse("report-outages-csv", args=[report.report_id]))


def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- A store's outages ----------------------------------------------------------------------


class StoreOutagesQuerySerializer(ReportTimeSerializer):
    """The query of GET /api/stores/<store_id>/outages: as_of and method, as for a report, and no
    other parameter (each is named in the 400, with the errors of the two)."""

    def to_internal_value(self, data):
        takes = f"the outage list takes only {_listed(self.fields)}"
        unknown = {}
        for name in data:
            if name in self.fields:
                continue
            shown = name if len(name) <= 40 else f"{name[:40]}…"
            if name == "columns":
                # A report's parameter, asked of the list: say where it belongs.
                unknown[shown] = [
                    f"Not a parameter here: columns chooses a report's CSV columns (POST /trigger_report); {takes}."
                ]
            else:
                unknown[shown] = [f"Unknown query parameter: {takes}."]
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as error:
            field_errors = error.detail if isinstance(error.detail, dict) else {"non_field_errors": error.detail}
            raise serializers.ValidationError({**unknown, **field_errors}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return values


class IntervalSerializer(serializers.Serializer):
    start_utc = serializers.CharField(help_text="ISO 8601 in UTC, e.g. 2023-01-25T11:15:00Z.")
    end_utc = serializers.CharField()
    start_local = serializers.CharField(help_text="ISO 8601 in the store's time zone, with its offset.")
    end_local = serializers.CharField()


class SessionSerializer(IntervalSerializer):
    """The business session holding the outage (rule 5), as the calculator holds it: cut to the
    lookback's start and to a day after as_of."""


class OutageSerializer(IntervalSerializer):
    """An outage (rule 10): a maximal inactive stretch inside one business session, cut to the lookback
    and to as_of."""

    minutes = serializers.FloatField(help_text="end - start in minutes, 2 decimals.")
    started_before_week = serializers.BooleanField(
        help_text="It began before as_of - 7 days; start and end are still its own, not cut to the week."
    )
    ongoing = serializers.BooleanField(help_text="The store is still inactive at as_of: the outage is cut there.")
    session = SessionSerializer()


class StoreOutagesSerializer(serializers.Serializer):
    """A store's outages overlapping the last week [as_of - 7 days, as_of), newest first."""

    store_id = serializers.CharField()
    as_of = serializers.CharField(help_text="The report time, ISO 8601 in UTC (given, or the newest poll).")
    method = serializers.ChoiceField(choices=METHOD_CHOICES)
    time_zone = serializers.CharField(help_text="The store's time zone (America/Chicago when it has none).")
    week_start = serializers.CharField(help_text="as_of - 7 days, ISO 8601 in UTC.")
    outages = OutageSerializer(many=True)
    note = serializers.CharField(
        allow_null=True,
        help_text="Why the list is empty when the store has no poll in the lookback (it is then not in the "
        "report); null otherwise.",
    )
