"""Pages participants reach from the link in a message. No staff sign-in here."""

from django.urls import path

from measures import participant_views as views

app_name = "questionnaire"

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("a/<int:pk>/", views.resume, name="resume"),
    path("a/<int:pk>/page/<int:number>/", views.page, name="page"),
    path("a/<int:pk>/check/", views.check, name="check"),
    path("a/<int:pk>/submit/", views.submit, name="submit"),
    path("a/<int:pk>/done/", views.done, name="done"),
    # Last, so the fixed addresses above are never read as tokens.
    path("<str:token>", views.landing, name="landing"),
]
