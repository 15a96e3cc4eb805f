"""Subject access pages. Mounted under /staff/subject-access/, where they have always been,
so bookmarks keep working; the pages belong to the participants layer."""

from django.urls import path

from participants import subject_access_views as views

app_name = "subject_access"

urlpatterns = [
    path("", views.sar_list, name="list"),
    path("new/<int:participant_pk>/", views.sar_create, name="create"),
    path("<int:pk>/", views.sar_detail, name="detail"),
    path("<int:pk>/approve/", views.sar_approve, name="approve"),
    path("<int:pk>/release/", views.sar_release, name="release"),
    path("<int:pk>/download.<str:fmt>", views.sar_download, name="download"),
]
