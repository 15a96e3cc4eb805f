import datetime
import re
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
    phq9_and_gad7,
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


def test_start_trades_the_token_for_a_session_and_goes_straight_to_the_first_questionnaire(
    client, participant
):
    token = issue(participant)
    response = exchange(client, token)
    assert response.status_code == 302
    core10 = administration(participant.enrolments.get(), "core10")
    assert response["Location"] == reverse("questionnaire:page", args=[core10.pk, 1])
    assert token not in response["Location"]
    session = client.session[SESSION_KEY]
    assert session["participant"] == participant.pk
    assert token not in str(dict(client.session))
    assert "_auth_user_id" not in client.session
    first = client.get(response["Location"]).content.decode()
    assert "How you have been feeling" in first
    assert "10 questions, about 2 minutes" in first
    assert ParticipantLink.objects.get().first_used_at is not None


def test_the_list_names_each_questionnaire_in_plain_words_with_its_length(client, participant):
    exchange(client, issue(participant))
    body = client.get(reverse("questionnaire:home")).content.decode()
    assert "Questionnaire 1" not in body
    assert "How you have been feeling" in body and "10 questions, about 2 minutes" in body
    assert "Stress, worry and low mood" in body and "21 questions, about 4 minutes" in body
    assert "Work, study and what you do" in body and "4 questions, about 1 minute" in body
    assert "About 7 minutes in all" in body


def test_the_start_page_gives_the_time_worked_out_from_the_items(client, participant):
    body = client.get(reverse("questionnaire:landing", args=[issue(participant)])).content
    assert b"3 questionnaires. It takes about 7 minutes in all." in body
    assert b"5 to 15 minutes" not in body


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


def test_a_questionnaire_of_up_to_25_items_is_one_page(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    response = client.get(reverse("questionnaire:page", args=[adm.pk, 1]))
    body = response.content.decode()
    assert body.count("<fieldset") == body.count("<legend") == 21
    assert "<progress" not in body
    assert 'for="item-8-0"' in body
    assert client.get(reverse("questionnaire:page", args=[adm.pk, 2])).status_code == 404


def test_numbers_are_shown_where_the_instructions_refer_to_them(client, participant):
    exchange(client, issue(participant))
    enrolment = participant.enrolments.get()
    dass = client.get(
        reverse("questionnaire:page", args=[administration(enrolment, "dass21").pk, 1])
    )
    assert "choose a number 0, 1, 2 or 3" in dass.content.decode()
    assert 'for="item-1-0">0 – Did not apply to me at all</label>' in dass.content.decode()
    core = client.get(
        reverse("questionnaire:page", args=[administration(enrolment, "core10").pk, 1])
    )
    assert 'for="item-1-0">Not at all</label>' in core.content.decode()


def test_every_item_offers_rather_not_answer_and_it_counts_as_missing(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    body = client.get(reverse("questionnaire:page", args=[adm.pk, 1])).content.decode()
    assert body.count("I&#x27;d rather not answer") == 21
    data = {f"item_{n}": "1" for n in range(1, 21)} | {"item_21": "skip"}
    client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    adm.refresh_from_db()
    assert adm.status == "completed"
    assert Response.objects.get(administration=adm).answers["21"] is None
    # Depression (item 21 missing) is prorated under DASS-21's rule; the skipped risk item
    # raises the "risk item left unanswered" review alert (MEASURES.md).
    assert Score.objects.get(administration=adm, scale="depression").value == 14.0
    alert = adm.risk_alerts.get()
    assert (alert.item, alert.severity) == (21, "review")


def test_a_calm_warning_comes_before_a_sensitive_item(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    body = client.get(reverse("questionnaire:page", args=[adm.pk, 1])).content.decode()
    warning = body.index('id="sensitive-warning"')
    assert body.index('id="item-5"') < warning < body.index('id="item-6"')
    assert "You can skip it" in body
    assert body.count('class="q-sensitive"') == 1


def test_resume_goes_to_the_questionnaire_with_its_answers_shown(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    client.post(reverse("questionnaire:page", args=[adm.pk, 1]), {"item_1": "2", "autosave": "1"})
    response = client.get(reverse("questionnaire:resume", args=[adm.pk]))
    assert response["Location"] == reverse("questionnaire:page", args=[adm.pk, 1])
    assert 'id="item-1-2" value="2" checked' in client.get(response["Location"]).content.decode()


def test_a_dropped_session_resumes_from_a_new_link_on_another_device_with_answers_kept(
    participant,
):
    phone = Client()
    exchange(phone, issue(participant))
    adm = administration(participant.enrolments.get(), "dass21")
    page = reverse("questionnaire:page", args=[adm.pk, 1])
    for n in range(1, 15):
        # Saved one at a time as they are chosen, by the page's script.
        phone.post(page, {f"item_{n}": "3" if n < 8 else "1", "autosave": "1"})
    saved = dict(Response.objects.get(administration=adm).answers)
    assert saved == {str(n): 3 for n in range(1, 8)} | {str(n): 1 for n in range(8, 15)}

    laptop = Client()
    exchange(laptop, issue(participant))
    response = laptop.get(reverse("questionnaire:resume", args=[adm.pk]))
    assert response["Location"] == page
    back = laptop.get(page)
    assert 'id="item-1-3" value="3" checked' in back.content.decode()
    assert 'id="item-15-0" value="0" checked' not in back.content.decode()
    assert Response.objects.get(administration=adm).answers == saved


def test_an_autosave_saves_without_moving_on_or_sending(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    data = {f"item_{n}": "1" for n in range(1, 11)} | {"autosave": "1"}
    response = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    assert response.status_code == 204
    adm.refresh_from_db()
    assert adm.status == "in_progress"
    assert len(Response.objects.get(administration=adm).answers) == 10


def test_take_a_break_saves_ends_the_session_and_says_how_to_come_back(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    data = {"item_1": "2", "action": "break"}
    body = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data).content.decode()
    assert "Your answers are saved" in body
    assert "open the link in your text or email again" in body
    assert Response.objects.get(administration=adm).answers == {"1": 2}
    assert SESSION_KEY not in client.session


def test_a_page_with_an_unanswered_item_goes_to_a_check_page_naming_it(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    data = {f"item_{n}": "1" for n in range(1, 11) if n != 7}
    response = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    assert response["Location"] == reverse("questionnaire:check", args=[adm.pk])
    body = client.get(response["Location"]).content.decode()
    assert "1 question has no answer" in body
    assert 'id="missing-7"' in body
    assert reverse("questionnaire:page", args=[adm.pk, 1]) + "#item-7" in body
    assert Response.objects.get(administration=adm).answers == {
        str(n): 1 for n in range(1, 11) if n != 7
    }
    adm.refresh_from_db()
    assert adm.status == "in_progress"
    # "Send as it is": item 7 counts as missing, within CORE-10's rule of one.
    sent = client.post(reverse("questionnaire:submit", args=[adm.pk]))
    adm.refresh_from_db()
    assert adm.status == "completed"
    dass = administration(participant.enrolments.get(), "dass21")
    assert sent["Location"] == reverse("questionnaire:page", args=[dass.pk, 1])


def test_an_answer_outside_the_options_is_refused_on_the_page(client, participant):
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    data = {f"item_{n}": "1" for n in range(1, 11)} | {"item_3": "9"}
    response = client.post(reverse("questionnaire:page", args=[adm.pk, 1]), data)
    assert "Choose one of the answers." in response.content.decode()
    assert "3" not in Response.objects.get(administration=adm).answers


def test_saving_a_complete_page_sends_it_and_goes_on_to_the_next_then_thanks(client, participant):
    exchange(client, issue(participant))
    enrolment = participant.enrolments.get()
    adm = administration(enrolment, "dass21")
    response = answer_page(client, adm, 1, value=2)
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
    assert Response.objects.get(administration=adm).submitted_at is not None

    core10 = administration(enrolment, "core10")
    assert response["Location"] == reverse("questionnaire:page", args=[core10.pk, 1])
    next_page = client.get(response["Location"]).content.decode()
    assert "1 of 3 done. Next: How you have been feeling (about 2 minutes)." in next_page
    answer_page(client, core10, 1, value=1)
    occupation = administration(enrolment, "occupation")
    last = answer_page(client, occupation, 1, value=1)
    assert last["Location"] == reverse("questionnaire:done", args=[occupation.pk])
    body = client.get(last["Location"]).content.decode()
    assert "That is everything for now" in body
    assert "999" in body
    assert "option 2" in body
    assert "116 123" in body
    assert "not watched" in body


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


def test_unknown_tokens_are_rate_limited_per_address_without_logging_the_token(
    client, participant, caplog
):
    statuses = [
        client.get(reverse("questionnaire:landing", args=[f"guess-{n}"])).status_code
        for n in range(31)
    ]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
    assert "wait" in client.get(reverse("questionnaire:landing", args=["guess"])).content.decode()
    assert client.post(reverse("questionnaire:start"), {"token": "guess"}).status_code == 429
    assert "rate limit" in caplog.text
    assert "guess-" not in caplog.text


def test_a_valid_token_is_never_refused_because_its_address_is_over_the_limit(
    client, participant, caplog
):
    for n in range(40):
        client.get(reverse("questionnaire:landing", args=[f"guess-{n}"]))
    token = issue(participant)
    assert client.get(reverse("questionnaire:landing", args=[token])).status_code == 200
    assert exchange(client, token).status_code == 302
    assert token not in caplog.text


def test_the_limit_counts_the_client_behind_trusted_proxies_never_a_forged_header(
    client, participant, settings
):
    def guesses(forwarded, count=30):
        return [
            client.get(
                reverse("questionnaire:landing", args=[f"g{n}"]), HTTP_X_FORWARDED_FOR=forwarded
            ).status_code
            for n in range(count)
        ][-1]

    # Untrusted (the default): a header naming other addresses changes nothing.
    assert guesses("203.0.113.1") == 404
    assert guesses("203.0.113.2", count=1) == 429
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    # Behind one trusted proxy, each household is counted on its own.
    assert guesses("198.51.100.7") == 404
    assert guesses("198.51.100.7", count=1) == 429
    assert guesses("198.51.100.8", count=1) == 404


def test_a_revoked_or_expired_link_ends_the_session_opened_from_it(client, participant, frozen):
    token = issue(participant, days=1)
    exchange(client, token)
    adm = administration(participant.enrolments.get(), "core10")
    page = reverse("questionnaire:page", args=[adm.pk, 1])
    assert client.get(page).status_code == 200
    links.link_revoke(link=ParticipantLink.objects.get(token_hash=token_hash(token)))
    response = client.post(page, {"item_1": "1"})
    assert b"Please open your link again" in response.content
    assert not Response.objects.filter(administration=adm).exists()
    assert SESSION_KEY not in client.session

    other = Client()
    soon = timezone.now() + datetime.timedelta(minutes=10)
    exchange(other, links.link_issue(participant=participant, expires_at=soon))
    assert other.get(page).status_code == 200
    frozen.shift(datetime.timedelta(minutes=11))  # expired; the session is not yet idle
    assert b"Please open your link again" in other.get(page).content


def test_participant_pages_do_not_write_the_session_on_every_request(client, participant):
    from django.contrib.sessions.models import Session

    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "core10")
    key = client.session.session_key
    before = Session.objects.get(pk=key).session_data
    client.get(reverse("questionnaire:page", args=[adm.pk, 1]))
    client.get(reverse("questionnaire:home"))
    assert Session.objects.get(pk=key).session_data == before


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
    page = reverse("questionnaire:page", args=[adm.pk, 1])
    client.post(page, {f"item_{n}": "1" for n in range(1, 8)} | {"autosave": "1"})
    # Past midnight on the closing day (the session itself is still young).
    Administration.objects.filter(pk=adm.pk).update(
        opens_on=datetime.date(2025, 12, 1), closes_on=datetime.date(2026, 1, 8)
    )
    frozen.move_to(datetime.datetime(2026, 1, 9, 0, 5, tzinfo=datetime.UTC))
    response = answer_page(client, adm, 1)
    assert b"This questionnaire has closed" in response.content
    assert set(Response.objects.get(administration=adm).answers) == {str(n) for n in range(1, 8)}


# Pinned: the link, Start, then for each questionnaire its page and its save (which sends
# it and goes straight on), and the thank-you page. It was 18 before one page an instrument.
PHQ9_GAD7_REQUESTS = 7


def test_phq9_and_gad7_take_seven_requests_from_the_link_to_the_thank_you_page(client, participant):
    phq9, gad7 = phq9_and_gad7(participant.enrolments.get())
    token = issue(participant)
    requests = []

    def go(method, url, data=None):
        requests.append(url)
        return getattr(client, method)(url, data or {})

    go("get", reverse("questionnaire:landing", args=[token]))
    response = go("post", reverse("questionnaire:start"), {"token": token})
    while response.status_code == 302:
        location = response["Location"]
        response = go("get", location)
        if "/page/" in location:
            names = set(re.findall(r'name="(item_\d+)"', response.content.decode()))
            response = go("post", location, dict.fromkeys(names, "0"))
    body = response.content.decode()
    assert "Thank you" in body and "That is everything for now" in body
    assert len(requests) == PHQ9_GAD7_REQUESTS, requests
    for adm in (phq9, gad7):
        adm.refresh_from_db()
        assert adm.status == "completed"
    assert Score.objects.filter(administration__in=[phq9, gad7]).count() == 2


def test_going_on_to_the_next_says_how_many_are_done_and_how_long_the_next_takes(
    client, participant
):
    phq9, gad7 = phq9_and_gad7(participant.enrolments.get())
    exchange(client, issue(participant))
    response = answer_page(client, phq9, 1, value=0)
    assert response["Location"] == reverse("questionnaire:page", args=[gad7.pk, 1])
    body = client.get(response["Location"]).content.decode()
    assert "1 of 2 done. Next: Worry and anxiety (about 2 minutes)." in body
    assert "<h1" in body and "Worry and anxiety</h1>" in body
