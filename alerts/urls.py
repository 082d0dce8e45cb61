"""The alerts' API and pages; storemonitor.urls includes them at the root."""

from django.urls import path

from alerts import api, views

urlpatterns = [
    path("api/incidents/", api.IncidentListView.as_view(), name="incident-list"),
    path("api/incidents/<int:pk>/", api.IncidentDetailView.as_view(), name="incident-detail"),
    path("api/channels/", api.ChannelListView.as_view(), name="channel-list"),
    path("api/channels/<int:pk>/", api.ChannelDetailView.as_view(), name="channel-detail"),
    path("api/channels/<int:pk>/test", api.ChannelTestView.as_view(), name="channel-test"),
    path("notifications/", views.notifications, name="notifications"),
]
