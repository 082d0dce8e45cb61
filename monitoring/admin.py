"""Admin for owners, stores and polls, built to stay fast with 14,000 stores and millions of polls.

No list runs a query per row (related rows are joined or prefetched per page, the newest poll
is a correlated subquery on the (store, time) index) and the polls list never counts its
table: ``show_full_result_count`` is off and its paginator uses the planner's estimate.
"""

from typing import ClassVar

from django import forms
from django.contrib import admin
from django.db.models import Count, F, OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from monitoring.big_tables import EstimatedCountPaginator, ProbedDatetimesQuerySet
from monitoring.hours import summarize_hours
from monitoring.models import BusinessHours, Import, Owner, StatusPoll, Store, Timezone
from monitoring.timezones import DEFAULT_TIMEZONE

DEFAULT_ZONE_LABEL = f"{DEFAULT_TIMEZONE} (default)"


class TimezoneFilter(admin.SimpleListFilter):
    title = "time zone"
    parameter_name = "zone"
    DEFAULT = "default"

    def lookups(self, request, model_admin):
        zones = Timezone.objects.order_by("timezone_str").values_list("timezone_str", flat=True).distinct()
        return [(zone, zone) for zone in zones] + [(self.DEFAULT, DEFAULT_ZONE_LABEL)]

    def queryset(self, request, queryset):
        if self.value() == self.DEFAULT:
            return queryset.filter(timezone__isnull=True)
        if self.value():
            return queryset.filter(timezone__timezone_str=self.value())
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    """Stores of one owner (by slug, so a link to it reads ``?owner=alpha``), or those without one."""

    title = "owner"
    parameter_name = "owner"
    NONE = "none"

    def lookups(self, request, model_admin):
        owners = Owner.objects.order_by("name", "slug").values_list("slug", "name")
        return [*owners, (self.NONE, "no owner")]

    def queryset(self, request, queryset):
        if self.value() == self.NONE:
            return queryset.filter(owner__isnull=True)
        if self.value():
            return queryset.filter(owner__slug=self.value())
        return queryset


class LatestStatusFilter(admin.SimpleListFilter):
    title = "latest status"
    parameter_name = "latest_status"
    NONE = "none"

    def lookups(self, request, model_admin):
        return [(s.value, s.label) for s in StatusPoll.Status] + [(self.NONE, "no polls")]

    def queryset(self, request, queryset):
        if self.value() == self.NONE:
            return queryset.filter(newest_poll_status__isnull=True)
        if self.value() in StatusPoll.Status.values:
            return queryset.filter(newest_poll_status=self.value())
        return queryset


# The admin's labels, not the models' verbose names: those would need a migration.
class TimezoneForm(forms.ModelForm):
    class Meta:
        model = Timezone
        fields = ("timezone_str",)
        labels = {"timezone_str": "Time zone"}
        help_texts = {"timezone_str": "A tz database name, e.g. America/New_York."}


class BusinessHoursForm(forms.ModelForm):
    class Meta:
        model = BusinessHours
        fields = ("day_of_week", "start_time_local", "end_time_local")
        labels = {"day_of_week": "Day", "start_time_local": "Opens (local)", "end_time_local": "Closes (local)"}
        # Plain time inputs: the admin's "Now" clock buttons mean nothing for opening hours.
        widgets = {
            "start_time_local": forms.TimeInput(attrs={"type": "time", "step": 1}, format="%H:%M:%S"),
            "end_time_local": forms.TimeInput(attrs={"type": "time", "step": 1}, format="%H:%M:%S"),
        }


class TimezoneInline(admin.StackedInline):
    model = Timezone
    form = TimezoneForm
    max_num = 1
    extra = 0
    verbose_name = verbose_name_plural = "Time zone"


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    form = BusinessHoursForm
    extra = 0
    verbose_name = "business hours row"  # "Add another Business hours row"
    verbose_name_plural = "Business hours"


def wrappable_zone(name: str) -> str:
    """A zone name that may wrap after its slashes in a narrow column (America/<wbr>Los_Angeles)."""
    return format_html_join(mark_safe("/<wbr>"), "{}", ((part,) for part in name.split("/")))


def with_newest_poll(queryset):
    """Stores annotated with the time and status of their newest poll (None without polls)."""
    newest = StatusPoll.objects.filter(store=OuterRef("pk")).order_by("-timestamp_utc")
    return queryset.annotate(
        newest_poll_time=Subquery(newest.values("timestamp_utc")[:1]),
        newest_poll_status=Subquery(newest.values("status")[:1]),
    )


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    """Owners with their number of stores and users; an owner's page adds and removes its users
    (store_owners.csv, ``add_owner_user`` and the stores' pages do the same)."""

    list_display = ("name", "slug", "store_count", "user_count")
    ordering = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("users",)
    fields = ("name", "slug", "users", "stores_link")
    readonly_fields = ("stores_link",)
    list_per_page = 100

    class Media:
        css = {"all": ("monitoring/owners_admin.css",)}

    def get_queryset(self, request):
        # Two counts over two joins, which multiply each other's rows: hence distinct. Ordered
        # here too, as a GROUP BY query ignores the model's ordering (the autocomplete pages it).
        return (
            super()
            .get_queryset(request)
            .annotate(store_total=Count("stores", distinct=True), user_total=Count("users", distinct=True))
            .order_by("name", "slug")
        )

    @admin.display(description="stores", ordering="store_total")
    def store_count(self, owner):
        return owner.store_total

    @admin.display(description="users", ordering="user_total")
    def user_count(self, owner):
        return owner.user_total

    @admin.display(description="stores")
    def stores_link(self, owner):
        if owner.pk is None:
            return "None yet: give it stores in store_owners.csv or on the stores' pages."
        url = reverse("admin:monitoring_store_changelist") + f"?owner={owner.slug}"
        count = owner.store_total
        return format_html('<a href="{}">{} store{}</a>', url, count, "" if count == 1 else "s")


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display: tuple[str, ...] = ("store_id", "time_zone", "hours", "newest_poll", "newest_status", "owner_name")
    list_filter = (OwnerFilter, TimezoneFilter, LatestStatusFilter)
    search_fields = ("store_id",)
    list_select_related = ("timezone", "owner")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counts per filter option would scan every store
    list_per_page = 100
    # What the reports use (the defaults when the feeds gave nothing); the inlines edit it.
    # reports.admin adds the store's report figures and its week page.
    fields: ClassVar[tuple[str, ...]] = ("store_id", "owner", "zone_used", "hours_used")
    readonly_fields: ClassVar[tuple[str, ...]] = ("zone_used", "hours_used")
    # Searched by name or slug as one types: a select of thousands of owners would not do.
    autocomplete_fields = ("owner",)
    inlines = (TimezoneInline, BusinessHoursInline)

    class Media:
        css = {"all": ("storemonitor/admin.css", "monitoring/owners_admin.css")}

    def get_fields(self, request, obj=None):
        # A store being added has nothing to show yet but its id (and the inlines).
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [f for f in fields if f not in self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # The feeds know a store by its id: typed when adding, fixed after that.
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if obj is None else ("store_id", *readonly)

    def get_queryset(self, request):
        return with_newest_poll(super().get_queryset(request)).prefetch_related("business_hours")

    @admin.display(description="time zone", ordering="timezone__timezone_str")
    def time_zone(self, store):
        if hasattr(store, "timezone"):
            return wrappable_zone(store.timezone.timezone_str)
        return format_html('{} <span class="default-zone">(default)</span>', wrappable_zone(DEFAULT_TIMEZONE))

    @admin.display(description="business hours")
    def hours(self, store):
        return summarize_hours(
            (h.day_of_week, h.start_time_local, h.end_time_local) for h in store.business_hours.all()
        )

    @admin.display(description="time zone used")
    def zone_used(self, store):
        return store.timezone_name if hasattr(store, "timezone") else DEFAULT_ZONE_LABEL

    @admin.display(description="business hours used")
    def hours_used(self, store):
        return self.hours(store)

    # Stores without polls sort as the oldest on every database (NULLs differ otherwise).
    @admin.display(description="newest poll (UTC)", ordering=F("newest_poll_time").asc(nulls_first=True))
    def newest_poll(self, store):
        moment = store.newest_poll_time
        return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="status", ordering="newest_poll_status")
    def newest_status(self, store):
        return store.newest_poll_status or "no polls"

    # Stores without owner sort first on every database, as above.
    @admin.display(description="owner", ordering=F("owner__name").asc(nulls_first=True))
    def owner_name(self, store):
        if store.owner is None:
            return format_html('<span class="no-owner">{}</span>', "none")
        return format_html('<span title="{}">{}</span>', store.owner.slug, store.owner.name)


@admin.register(StatusPoll)
class StatusPollAdmin(admin.ModelAdmin):
    list_display = ("timestamp_utc", "store", "status")
    list_filter = ("status",)
    date_hierarchy = "timestamp_utc"
    search_fields = ("store__store_id",)  # see get_search_results
    search_help_text = "Exact store_id."
    autocomplete_fields = ("store",)
    list_select_related = ("store",)
    # Newest first through the time index; never a sort of the whole table.
    ordering = ("-timestamp_utc", "-pk")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counts per filter option would scan every poll
    paginator = EstimatedCountPaginator
    list_per_page = 100

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # Lists its date hierarchy's days by index probes instead of a DISTINCT over all polls.
        return ProbedDatetimesQuerySet(model=queryset.model, query=queryset.query, using=queryset.db)

    def get_search_results(self, request, queryset, search_term):
        """Exact store_id: resolved to the store first, so PostgreSQL walks that store's
        (store, time) index instead of the whole time index looking for its polls."""
        store_id = search_term.strip()
        if not store_id:
            return queryset, False
        store_pk = Store.objects.filter(store_id=store_id).values_list("pk", flat=True).first()
        return (queryset.filter(store_id=store_pk) if store_pk else queryset.none()), False


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    """The ledger, read only: rows are written by the loads themselves (monitoring.imports)."""

    list_display = (
        "started_at",
        "source",
        "feed",
        "name",
        "status",
        "rows_read",
        "rows_inserted",
        "rows_duplicate",
        "rows_skipped",
        "rows_deleted",
        "duration",
    )
    list_filter = ("status", "source", "feed", "started_at")
    search_fields = ("name", "sha256")
    search_help_text = "File or request name, or the sha256 of the content."
    list_select_related = ("requested_by",)
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-pk")
    fields = (
        "source",
        "name",
        "feed",
        "status",
        "requested_by",
        "started_at",
        "finished_at",
        "duration",
        "sha256",
        "size_bytes",
        "rows_read",
        "rows_inserted",
        "rows_duplicate",
        "rows_skipped",
        "rows_deleted",
        "summary",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="seconds")
    def duration(self, entry: Import) -> str:
        seconds = entry.seconds
        return "–" if seconds is None else f"{seconds:,.1f}"
