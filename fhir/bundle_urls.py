from django.urls import path

from . import views

app_name = "fhir_bundles"

urlpatterns = [
    path("participants/<int:pk>/", views.participant_bundle, name="participant"),
    path("cohorts/<int:pk>/research/", views.cohort_research_bundle, name="cohort_research"),
]
