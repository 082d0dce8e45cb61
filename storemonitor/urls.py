from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "storemonitor administration"
admin.site.site_title = "storemonitor admin"
admin.site.site_url = "/"  # "View site" opens the dashboard

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("reports.api.urls")),
    path("", include("reports.urls")),  # the pages: dashboard and store weeks
]
