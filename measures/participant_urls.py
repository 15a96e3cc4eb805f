"""Pages participants reach from the link in a message. No staff sign-in here."""

from django.urls import path  # noqa: F401

app_name = "questionnaire"

urlpatterns: list = []
