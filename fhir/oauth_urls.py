"""Only the token endpoint of django-oauth-toolkit: clients use client credentials, so there
is no authorisation page, and applications are made by administrators in the admin."""

from django.urls import path
from oauth2_provider import views

app_name = "fhir_oauth"

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke_token"),
]
