from django.urls import path

from reminders import views

app_name = "reminders"

urlpatterns = [
    path("", views.messages_home, name="messages_home"),
    path("wording/", views.wording_home, name="wording_home"),
    path("participants/<int:pk>/send/", views.send_now, name="send_now"),
    path("services/<int:service_id>/", views.service_messages, name="service_messages"),
    path("services/<int:service_id>/wording/", views.message_templates, name="message_templates"),
    path("escalations/<int:pk>/done/", views.escalation_resolve, name="escalation_resolve"),
]
