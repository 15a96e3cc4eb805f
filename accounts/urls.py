from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.staff_list, name="staff_list"),
    path("<int:pk>/end-sessions/", views.staff_end_sessions, name="staff_end_sessions"),
    path("audit/", views.audit_list, name="audit_list"),
    path("subject-access/", views.sar_list, name="sar_list"),
    path("subject-access/new/<int:participant_pk>/", views.sar_create, name="sar_create"),
    path("subject-access/<int:pk>/", views.sar_detail, name="sar_detail"),
    path("subject-access/<int:pk>/approve/", views.sar_approve, name="sar_approve"),
    path("subject-access/<int:pk>/release/", views.sar_release, name="sar_release"),
    path(
        "subject-access/<int:pk>/download.<str:fmt>",
        views.sar_download,
        name="sar_download",
    ),
]
