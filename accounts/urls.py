from django.urls import path

from accounts import staff_views, views

app_name = "accounts"

urlpatterns = [
    path("", staff_views.staff_list, name="staff_list"),
    path("invite/", staff_views.staff_invite, name="staff_invite"),
    path("<int:pk>/", staff_views.staff_detail, name="staff_detail"),
    path("<int:pk>/end-sessions/", staff_views.staff_end_sessions, name="staff_end_sessions"),
    path(
        "<int:pk>/invitation/", staff_views.staff_invitation_resend, name="staff_invitation_resend"
    ),
    path("<int:pk>/memberships/", staff_views.membership_add, name="membership_add"),
    path("memberships/<int:pk>/role/", staff_views.membership_role, name="membership_role"),
    path("memberships/<int:pk>/remove/", staff_views.membership_remove, name="membership_remove"),
    path("<int:pk>/deactivate/", staff_views.staff_deactivate, name="staff_deactivate"),
    path("<int:pk>/reactivate/", staff_views.staff_reactivate, name="staff_reactivate"),
    path(
        "<int:pk>/second-factor/reset/",
        staff_views.staff_reset_second_factor,
        name="staff_reset_second_factor",
    ),
    path("audit/", views.audit_list, name="audit_list"),
]
