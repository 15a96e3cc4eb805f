from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.staff_list, name="staff_list"),
    path("<int:pk>/end-sessions/", views.staff_end_sessions, name="staff_end_sessions"),
    path("audit/", views.audit_list, name="audit_list"),
]
