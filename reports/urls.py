"""The server-rendered pages; storemonitor.urls includes them at the root."""

from django.urls import path

from reports import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("reports/generate/", views.generate_report, name="generate-report"),
    path("stores/", views.find_store, name="find-store"),
    path("stores/<str:store_id>/", views.store_page, name="store-week"),
]
