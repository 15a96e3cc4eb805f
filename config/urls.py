from django.contrib import admin
from django.urls import include, path

from dashboards.views import home

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("participants/", include("participants.urls")),
    path("programmes/", include("programmes.urls")),
    path("measures/", include("measures.urls")),
    path("q/", include("measures.participant_urls")),
    path("reminders/", include("reminders.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("staff/subject-access/", include("participants.subject_access_urls")),
    path("staff/", include("accounts.urls")),
    path("fhir/oauth/", include("fhir.oauth_urls")),
    path("fhir/", include("fhir.api_urls")),
    path("fhir-bundles/", include("fhir.bundle_urls")),
]
