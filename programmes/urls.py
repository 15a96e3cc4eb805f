from django.urls import path

from programmes import views

app_name = "programmes"

urlpatterns = [
    path("", views.programme_list, name="programme_list"),
    path("<int:pk>/edit/", views.programme_edit, name="programme_edit"),
    path("<int:pk>/copy/", views.programme_copy, name="programme_copy"),
    path("cohorts/", views.cohort_list, name="cohort_list"),
    path("cohorts/new/", views.cohort_create, name="cohort_create"),
    path("cohorts/<int:pk>/", views.cohort_detail, name="cohort_detail"),
    path("cohorts/<int:pk>/edit/", views.cohort_edit, name="cohort_edit"),
    path("cohorts/<int:pk>/enrol/", views.enrol, name="enrol"),
    path("cohorts/<int:pk>/move-start/", views.cohort_move_start, name="cohort_move_start"),
    path("cohorts/<int:pk>/make-up/", views.session_make_up, name="session_make_up"),
    path("sessions/<int:pk>/reinstate/", views.session_reinstate, name="session_reinstate"),
    path("sessions/<int:pk>/register/", views.register, name="register"),
    path("sessions/<int:pk>/move/", views.session_move, name="session_move"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path("enrolments/<int:pk>/end/", views.enrolment_end, name="enrolment_end"),
    path("enrolments/<int:pk>/in-error/", views.enrolment_in_error, name="enrolment_in_error"),
]
