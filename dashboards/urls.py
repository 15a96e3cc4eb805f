from django.urls import path

from dashboards import cohort_views, export_views, service_views

app_name = "dashboards"

urlpatterns = [
    path("", service_views.index, name="index"),
    path("services/<int:pk>/", service_views.service_dashboard, name="service"),
    path(
        "services/<int:pk>/export/<str:variant>/<str:dataset>.<str:fmt>",
        export_views.service_export,
        name="service_export",
    ),
    path("cohorts/<int:pk>/", cohort_views.cohort_dashboard, name="cohort"),
    path(
        "cohorts/<int:pk>/export/<str:variant>/<str:dataset>.<str:fmt>",
        export_views.cohort_export,
        name="cohort_export",
    ),
]
