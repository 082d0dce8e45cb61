from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from reports.status import ServiceStatusView, healthz

admin.site.site_header = "storemonitor administration"
admin.site.site_title = "storemonitor admin"
admin.site.site_url = "/"  # "View site" opens the dashboard


@login_not_required
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): send them to the static one."""
    return HttpResponsePermanentRedirect(static("storemonitor/favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon),
    # Liveness, for load balancers: no sign-in, no database (reports.status).
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("account/", include("accounts.urls")),  # sign-in, sign-out, API tokens
    path("", include("reports.api.urls")),
    path("", include("monitoring.urls")),  # feeds' push API, import ledger (after the reports' in the schema)
    path("", include("alerts.urls")),  # incidents, notification channels, the Notifications page
    # Data freshness, database and queue, for monitors: anyone may ask (reports.status).
    path("api/status", ServiceStatusView.as_view(), name="service-status"),
    path("", include("reports.urls")),  # the pages: dashboard and store weeks
]

# Bad requests the pages cannot catch themselves (a body over the upload limit, too many
# fields) get the site's error page; the API answers those in JSON (reports.api.errors).
handler400 = "reports.views.bad_request"
# A URL nothing answers: the site's 404 page, or JSON under /api/.
handler404 = "reports.views.page_not_found"
