from django.urls import path

from participants import views

app_name = "participants"

urlpatterns = [
    path("", views.participant_list, name="participant_list"),
    path("new/", views.participant_create_view, name="participant_create"),
    path("<int:pk>/", views.participant_detail, name="participant_detail"),
    path("<int:pk>/edit/", views.participant_edit, name="participant_edit"),
]
