"""With Redis unreachable, a participant can still open their link, answer and submit."""

import pytest
from django.core.cache import caches
from django.urls import reverse

from measures.models import Administration
from tests.questionnaires.conftest import administration, answer_all, exchange, issue

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:6399/0"  # nothing listens here


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    caches._settings = None  # re-read CACHES for the override
    yield
    caches._settings = None


def test_participant_answers_and_submits_while_the_rate_limit_store_is_down(
    client, participant, redis_down
):
    assert type(caches["ratelimit"]).__name__ == "FailOpenRedisCache"
    token = issue(participant)
    assert client.get(reverse("questionnaire:landing", args=[token])).status_code == 200
    assert exchange(client, token).status_code == 302
    adm = administration(participant.enrolments.get(), "core10")
    answer_all(client, adm, value=1)
    response = client.post(reverse("questionnaire:submit", args=[adm.pk]))
    assert response.status_code == 302
    adm.refresh_from_db()
    assert adm.status == Administration.Status.COMPLETED
    assert adm.scores.filter(scale="total").exists()
