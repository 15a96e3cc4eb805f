from django.urls import path

from measures import huddle_views, views

app_name = "measures"

urlpatterns = [
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path(
        "administrations/<int:pk>/enter/",
        views.administration_enter,
        name="administration_enter",
    ),
    path(
        "administrations/<int:pk>/correct/",
        views.administration_correct,
        name="administration_correct",
    ),
    path("administrations/<int:pk>/void/", views.administration_void, name="administration_void"),
    path(
        "participants/<int:pk>/",
        views.participant_questionnaires,
        name="participant_questionnaires",
    ),
    path("participants/<int:pk>/links/new/", views.link_new, name="link_new"),
    path("participants/<int:pk>/links/revoke/", views.links_revoke, name="links_revoke"),
    path("sessions/<int:pk>/huddle/", huddle_views.huddle, name="huddle"),
    path(
        "sessions/<int:pk>/huddle/contact/",
        huddle_views.huddle_contact,
        name="huddle_contact",
    ),
    path("wording/", views.wording_list, name="wording_list"),
    path(
        "wording/<int:service_pk>/<slug:code>/import/",
        views.wording_import,
        name="wording_import",
    ),
]
