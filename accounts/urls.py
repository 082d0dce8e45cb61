"""The account pages; storemonitor.urls includes them under /account/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tokens/", views.api_tokens, name="api-tokens"),
    path("tokens/<str:token_key>/revoke/", views.revoke_token, name="revoke-api-token"),
]
