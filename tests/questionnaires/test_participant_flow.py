import datetime
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from measures import links, services
from measures.definitions import get_instrument
from measures.links import token_hash
from measures.models import Administration, ParticipantLink, Response, Score
from measures.participant_views import SESSION_KEY
from tests.questionnaires.conftest import (
    administration,
    answer_all,
    answer_page,
    exchange,
    issue,
)

pytestmark = pytest.mark.django_db


def test_only_the_hash_of_a_link_token_is_stored(participant):
    token = issue(participant)
    link = ParticipantLink.objects.get()
    assert len(token) >= 43
    assert link.token_hash == token_hash(token)
    assert token not in link.token_hash


def test_opening_a_link_changes_nothing_and_offers_a_start_button(client, participant):
    token = issue(participant)
    response = client.get(reverse("questionnaire:landing", args=[token]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'action="/q/start/"' in body
    assert f'name="token" value="{token}"' in body
    link = ParticipantLink.objects.get()
    assert link.first_used_at is None
    assert SESSION_KEY not in client.session
    assert Administration.objects.filter(status="in_progress").count() == 0


def test_start_trades_the_token_for_a_session_and_an_address_without_it(client, participant):
    token = issue(participant)
    response = exchange(client, token)
    assert response.status_code == 302
    assert response["Location"] == reverse("questionnaire:home")
    assert token not in response["Location"]
    session = client.session[SESSION_KEY]
    assert session["participant"] == participant.pk
    assert token not in str(dict(client.session))
    assert "_auth_user_id" not in client.session
    home = client.get(response["Location"])
    assert home.status_code == 200
    assert b"Questionnaire 1" in home.content
    assert ParticipantLink.objects.get().first_used_at is not None


def test_every_participant_page_sends_no_referrer_and_is_not_cached(client, participant):
    token = issue(participant)
    pages = [client.get(reverse("questionnaire:landing", args=[token]))]
    pages.append(exchange(client, token))
    adm = administration(participant.enrolments.get(), "core10")
    pages.append(client.get(reverse("questionnaire:home")))
    pages.append(client.get(reverse("questionnaire:page", args=[adm.pk, 1])))
    pages.append(client.get(reverse("questionnaire:landing", args=["unknown-token"])))
    for response in pages:
        assert response["Referrer-Policy"] == "no-referrer"
        assert response["Cache-Control"] == "no-store"


def test_questionnaires_without_wording_and_staff_ones_are_not_offered(client, participant):
    exchange(client, issue(participant))
    offered = set(
        Administration.objects.filter(
            pk__in=client.session[SESSION_KEY]["administrations"]
        ).values_list("instrument_code", flat=True)
    )
    assert offered == {"core10", "dass21", "occupation"}


def test_a_long_questionnaire_is_split_into_pages_with_progress(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    response = client.get(reverse("questionnaire:page", args=[adm.pk, 2]))
    body = response.content.decode()
    assert "Page 2 of 3" in body
    assert '<progress id="progress" value="2" max="3"' in body
    assert body.count("<fieldset") == get_instrument("dass21").items_per_page
    assert body.count("<legend") == get_instrument("dass21").items_per_page
    assert 'for="item-8-0"' in body


def test_resume_goes_to_the_first_unanswered_page(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    response = answer_page(client, adm, 1, value=2)
    assert response["Location"] == reverse("questionnaire:page", args=[adm.pk, 2])
    response = client.get(reverse("questionnaire:resume", args=[adm.pk]))
    assert response["Location"] == reverse("questionnaire:page", args=[adm.pk, 2])


def test_a_dropped_session_resumes_from_a_new_link_on_another_device_with_answers_kept(
    participant,
):
    phone = Client()
    exchange(phone, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    answer_page(phone, adm, 1, value=3)
    answer_page(phone, adm, 2, value=1)
    saved = dict(Response.objects.get(administration=adm).answers)
    assert saved == {str(n): 3 for n in range(1, 8)} | {str(n): 1 for n in range(8, 15)}

    laptop = Client()
    exchange(laptop, issue(participant))
    response = laptop.get(reverse("questionnaire:resume", args=[adm.pk]))
    assert response["Location"] == reverse("questionnaire:page", args=[adm.pk, 3])
    back = laptop.get(reverse("questionnaire:page", args=[adm.pk, 1]))
    assert 'id="item-1-3" value="3" checked' in back.content.decode()
    assert Response.objects.get(administration=adm).answers == saved


def test_back_goes_to_the_previous_page_with_answers_shown(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    answer_page(client, adm, 1, value=2)
    page2 = client.get(reverse("questionnaire:page", args=[adm.pk, 2])).content.decode()
    back = reverse("questionnaire:page", args=[adm.pk, 1])
    assert f'href="{back}" class="q-back" id="back-link"' in page2
    page1 = client.get(back).content.decode()
    assert 'id="item-7-2" value="2" checked' in page1


def test_a_page_with_a_missing_answer_keeps_the_rest_and_lists_the_error(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    data = {f"item_{n}": "1" for n in range(1, 7)}
    response = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error-summary"' in body
    assert 'href="#item-7-0"' in body
    assert 'aria-describedby="item-7-error"' in body
    assert Response.objects.get(administration=adm).answers == {str(n): 1 for n in range(1, 7)}


def test_an_answer_outside_the_options_is_refused_on_the_page(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    data = {f"item_{n}": "1" for n in range(1, 11)} | {"item_3": "9"}
    response = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    assert "Choose one of the answers." in response.content.decode()
    assert "3" not in Response.objects.get(administration=adm).answers


def test_submit_scores_with_the_instrument_version_and_thanks_with_crisis_routes(
    client, participant
):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    answer_all(client, adm, value=2)
    check = client.get(reverse("questionnaire:check", args=[adm.pk]))
    assert b'id="submit-button"' in check.content
    response = client.post(reverse("questionnaire:submit", args=[adm.pk]), follow=True)
    body = response.content.decode()
    adm.refresh_from_db()
    assert adm.status == "completed"
    assert adm.source == "online"
    assert adm.completed_at is not None
    version = get_instrument("dass21").version
    assert adm.instrument_version == version
    scores = {s.scale: s for s in Score.objects.filter(administration=adm)}
    assert set(scores) == {"depression", "anxiety", "stress"}
    assert {s.value for s in scores.values()} == {28.0}  # seven items at 2, times 2
    assert {s.instrument_version for s in scores.values()} == {version}
    assert "999" in body
    assert "option 2" in body
    assert "116 123" in body
    assert "not watched" in body
    assert Response.objects.get(administration=adm).submitted_at is not None


def test_submitting_twice_completes_once(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    answer_all(client, adm, value=0)
    first = client.post(reverse("questionnaire:submit", args=[adm.pk]))
    second = client.post(reverse("questionnaire:submit", args=[adm.pk]))
    assert first["Location"] == second["Location"] == reverse("questionnaire:done", args=[adm.pk])
    assert client.get(second["Location"]).status_code == 200
    assert Score.objects.filter(administration=adm).count() == 1
    assert services.response_submit(administration_id=adm.pk).submitted is False


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite has no row locks (select_for_update is a no-op); run on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_tabs_submitting_at_once_complete_once(participant):
    adm = administration(participant.enrolments.get(), "core10")
    services.response_save(administration_id=adm.pk, answers=dict.fromkeys(range(1, 11), 1))
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def submit():
        try:
            barrier.wait()
            outcomes.append(services.response_submit(administration_id=adm.pk).submitted)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == [False, True]
    assert Score.objects.filter(administration=adm).count() == 1


def _calm_page(client, token):
    response = client.get(reverse("questionnaire:landing", args=[token]))
    started = client.post(reverse("questionnaire:start"), {"token": token})
    return response, started


def test_unknown_expired_revoked_and_completed_links_get_the_same_page(client, participant, frozen):
    enrolment = participant.enrolments.get()
    expired = links.link_issue(
        participant=participant, expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    revoked = issue(participant)
    links.link_revoke(link=ParticipantLink.objects.get(token_hash=token_hash(revoked)))
    results = {
        "expired": _calm_page(client, expired),
        "revoked": _calm_page(client, revoked),
    }
    # Completed: nothing left to answer online.
    completed = issue(participant)
    for code in ("core10", "dass21", "occupation"):
        adm = administration(enrolment, code)
        adm.status = "completed"
        adm.completed_at = timezone.now()
        adm.save()
    results["completed"] = _calm_page(client, completed)

    bodies = set()
    for name, (get, post) in results.items():
        assert get.status_code == post.status_code == 404, name
        bodies.add(get.content)
        bodies.add(post.content)
    assert len(bodies) == 1
    assert participant.service.phone.encode() in bodies.pop()

    unknown_get, unknown_post = _calm_page(client, "x" * 43)
    assert unknown_get.status_code == unknown_post.status_code == 404
    assert unknown_get.content == unknown_post.content
    assert b"This link is not available" in unknown_get.content
    assert SESSION_KEY not in client.session


def test_token_pages_are_rate_limited_per_address_without_logging_the_token(
    client, participant, caplog
):
    token = issue(participant)
    statuses = [
        client.get(reverse("questionnaire:landing", args=[token])).status_code for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    assert "wait" in client.get(reverse("questionnaire:landing", args=[token])).content.decode()
    assert token not in caplog.text
    assert "rate limit" in caplog.text


def test_pages_without_a_participant_session_ask_to_open_the_link_again(client, participant):
    adm = administration(participant.enrolments.get(), "core10")
    response = client.get(reverse("questionnaire:page", args=[adm.pk, 1]))
    assert b"Please open your link again" in response.content
    assert client.post(reverse("questionnaire:submit", args=[adm.pk])).status_code == 200
    assert Administration.objects.get(pk=adm.pk).status == "open"


def test_a_participant_cannot_open_someone_elses_questionnaire(client, participant, cohort):
    from tests.factories import EnrolmentFactory

    other = EnrolmentFactory(cohort=cohort, enrolled_on=cohort.start_date)
    services.administrations_lay_out(enrolment=other)
    exchange(client, issue(participant))
    theirs = administration(other, "core10")
    assert client.get(reverse("questionnaire:page", args=[theirs.pk, 1])).status_code == 404
    assert client.post(reverse("questionnaire:submit", args=[theirs.pk])).status_code == 404


def test_a_window_that_closes_mid_way_shows_a_calm_closed_page(client, participant, frozen):
    frozen.move_to(datetime.datetime(2026, 1, 8, 23, 50, tzinfo=datetime.UTC))
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    answer_page(client, adm, 1)
    # Past midnight on the closing day (the session itself is still young).
    Administration.objects.filter(pk=adm.pk).update(
        opens_on=datetime.date(2025, 12, 1), closes_on=datetime.date(2026, 1, 8)
    )
    frozen.move_to(datetime.datetime(2026, 1, 9, 0, 5, tzinfo=datetime.UTC))
    response = answer_page(client, adm, 2)
    assert b"This questionnaire has closed" in response.content
    assert set(Response.objects.get(administration=adm).answers) == {str(n) for n in range(1, 8)}
