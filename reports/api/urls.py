"""URLs of the report API; storemonitor.urls includes them at the root."""

from django.urls import path

from accounts.api_docs import DocsView, SchemaView
from reports.api.views import GetReportView, ReportViewSet, StoreOutagesView, TriggerReportView

report_list = ReportViewSet.as_view({"get": "list"})
report_detail = ReportViewSet.as_view({"get": "retrieve"})
report_csv = ReportViewSet.as_view({"get": "csv"})
report_outages_csv = ReportViewSet.as_view({"get": "outages_csv"})

urlpatterns = [
    # The two endpoints of the assignment, with and without the trailing slash (a POST cannot
    # follow APPEND_SLASH's redirect). The schema lists the slash-less form only.
    path("trigger_report", TriggerReportView.as_view(), name="trigger_report"),
    path("trigger_report/", TriggerReportView.as_view()),
    path("get_report", GetReportView.as_view(), name="get_report"),
    path("get_report/", GetReportView.as_view()),
    path("api/reports/", report_list, name="report-list"),
    path("api/reports/<str:report_id>/", report_detail, name="report-detail"),
    path("api/reports/<str:report_id>/csv", report_csv, name="report-csv"),
    path("api/reports/<str:report_id>/outages.csv", report_outages_csv, name="report-outages-csv"),
    path("api/stores/<str:store_id>/outages", StoreOutagesView.as_view(), name="store-outages"),
    path("api/stores/<str:store_id>/outages/", StoreOutagesView.as_view()),
    path("api/schema/", SchemaView.as_view(), name="schema"),  # access as the API (accounts.api_docs)
    # Swagger UI only: drf-spectacular's ReDoc page loads web fonts from Google, and the
    # service must work offline.
    path("api/docs/", DocsView.as_view(url_name="schema"), name="api-docs"),
]
