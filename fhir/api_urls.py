from django.urls import path, re_path

from . import api

app_name = "fhir_api"

urlpatterns = [
    path("metadata", api.metadata, name="metadata"),
    path("Observation", api.observation_search, name="observation_search"),
    path("QuestionnaireResponse", api.response_search, name="response_search"),
    path("Questionnaire/<str:qid>", api.questionnaire_read, name="questionnaire_read"),
    re_path(r"^.*$", api.not_supported, name="not_supported"),
]
