"""Query budgets: the same number of queries however much history a participant has."""

import datetime

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.panels import Panel
from measures import panels, services
from measures.models import Administration
from tests.factories import EnrolmentFactory
from tests.questionnaires.conftest import START, exchange, issue

pytestmark = pytest.mark.django_db

TIMEPOINTS = ["baseline", "week12", "week32", "week52", "week104"]


def _participant_with_history(cohort, completed: int):
    # Enrolled at assessment, before the group, so that baseline forms from then count.
    enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=START - datetime.timedelta(days=14))
    services.administrations_lay_out(enrolment=enrolment)
    for index, key in enumerate(TIMEPOINTS[:completed]):
        for code in ("core10", "dass21"):
            adm = Administration.objects.get(
                enrolment=enrolment, timepoint__key=key, instrument_code=code
            )
            count = 10 if code == "core10" else 21
            services.administration_enter(
                administration=adm,
                answers=dict.fromkeys(range(1, count + 1), max(0, 3 - index)),
                entered_by=None,
                completed_at=timezone.now() - datetime.timedelta(days=10 - index),
                outside_window_reason="Returned late",
            )
    return enrolment.participant


# Pinned on purpose: a change here means a page grew a query per row or lost one.
PANEL_QUERIES = 3  # completed administrations, their scores, open alerts


@pytest.mark.parametrize("completed", [1, 5])
def test_trajectory_panel_runs_the_same_queries_for_1_and_5_timepoints(
    completed, cohort, clinician, frozen, django_assert_num_queries
):
    participant = _participant_with_history(cohort, completed)
    request = RequestFactory().get("/")
    request.user = clinician
    clinician._safeground_roles = {cohort.service_id: "clinician"}
    with django_assert_num_queries(PANEL_QUERIES):
        context = panels.participant_panel(request, participant)
        html = render_to_string(
            "measures/panels/participant.html",
            {
                "panel": {
                    "panel": Panel("measures", "Questionnaires", "", panels.participant_panel),
                    **context,
                },
                "csp_nonce": "n",
            },
        )
    # Four scales (core10 total and three DASS-21 scales), each with one row per timepoint.
    assert len(context["scales"]) == 4
    assert all(len(scale.points) == completed for scale in context["scales"])
    assert html.count("<canvas") == 4
    assert 'id="trajectory-data"' in html
    if completed == 5:
        assert "Reliable improvement" in html


# Every page reads the session, then the session's administrations (with their service,
# saved answers, and whether the link is still live) in one query; no page writes the
# session back (it is saved only when it changes).
PARTICIPANT_PAGE_QUERIES = {
    "home": 2,  # what is due and the service come from the session's administrations
    "page_get": 2,
    # + the save: the lock with the response, the response written once (its first
    # answers), the status change, their audit rows worked out from the locked rows, and
    # one write marking the cohort's dashboard figures out of date (dashboards.freshness)
    "autosave": 10,
    "check": 2,
    # + the last page saved and sent in one transaction: the lock with the response, the
    # response with the page's answers merged, scoring (completion, scores, audit rows
    # worked out from the locked rows, two writes marking the dashboard figures out of date,
    # whether anything is left at this timepoint, re-planning its messages); what is left
    # to answer comes from the administrations already read, and no wording is read for an
    # instrument that ships its own
    "page_post_sends": 14,
    "done": 2,  # what is left is worked out from the session's administrations
}


@pytest.mark.parametrize("completed", [1, 5])
def test_participant_pages_run_the_same_queries_whatever_the_history(
    completed, cohort, frozen, client, django_assert_num_queries
):
    participant = _participant_with_history(cohort, completed)
    # The baseline core10 and dass21 are complete, so occupation is the one left to answer.
    adm = Administration.objects.get(
        enrolment__participant=participant, timepoint__key="baseline", instrument_code="occupation"
    )
    exchange(client, issue(participant))
    page = reverse("questionnaire:page", args=[adm.pk, 1])
    answers = {f"item_{n}": "1" for n in range(1, 5)}
    steps = [
        ("home", lambda: client.get(reverse("questionnaire:home"))),
        ("page_get", lambda: client.get(page)),
        ("autosave", lambda: client.post(page, {"item_1": "1", "autosave": "1"})),
        ("check", lambda: client.get(reverse("questionnaire:check", args=[adm.pk]))),
        ("page_post_sends", lambda: client.post(page, answers)),
        ("done", lambda: client.get(reverse("questionnaire:done", args=[adm.pk]))),
    ]
    for name, step in steps:
        with django_assert_num_queries(PARTICIPANT_PAGE_QUERIES[name]):
            response = step()
        assert response.status_code in (200, 204, 302), name
    assert Administration.objects.get(pk=adm.pk).status == "completed"


@pytest.mark.parametrize("corrections", [1, 4])
def test_trajectory_panel_runs_the_same_queries_however_many_corrections(
    corrections, cohort, clinician, frozen, django_assert_num_queries
):
    participant = _participant_with_history(cohort, 1)
    adm = Administration.objects.get(
        enrolment__participant=participant, timepoint__key="baseline", instrument_code="core10"
    )
    for n in range(corrections):
        adm = services.administration_correct(
            administration=adm,
            answers=dict.fromkeys(range(1, 11), n % 4),
            completed_at=adm.completed_at,
            reason=f"Correction {n + 1}",
            by=clinician,
        )
    request = RequestFactory().get("/")
    request.user = clinician
    clinician._safeground_roles = {cohort.service_id: "clinician"}
    with django_assert_num_queries(PANEL_QUERIES):
        context = panels.participant_panel(request, participant)
    core10 = next(scale for scale in context["scales"] if scale.code == "core10")
    assert [p.superseded for p in core10.points] == [True] * corrections + [False]


# Opening the link: the link with its service, what is due, the service's wording of the
# licensed ones due (their length). Starting: the same, the one-statement first and last
# use, and the new session: is its key free, then its insert in a savepoint, with no second
# write (a one-page first questionnaire carries on at its page, so its answers are not read).
LINK_QUERIES = {"landing": 3, "start": 8}


@pytest.mark.parametrize("completed", [1, 5])
def test_opening_a_link_and_starting_run_the_same_few_queries_whatever_the_history(
    completed, cohort, frozen, client, django_assert_num_queries
):
    participant = _participant_with_history(cohort, completed)
    token = issue(participant)
    with django_assert_num_queries(LINK_QUERIES["landing"]):
        assert client.get(reverse("questionnaire:landing", args=[token])).status_code == 200
    with django_assert_num_queries(LINK_QUERIES["start"]):
        response = client.post(reverse("questionnaire:start"), {"token": token})
    assert response.status_code == 302 and "/page/" in response["Location"]
