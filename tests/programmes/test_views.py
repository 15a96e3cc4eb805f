import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from programmes.models import Attendance, Cohort, Enrolment, GroupSession, Programme
from tests.factories import ParticipantFactory, UserFactory
from tests.programmes.conftest import LONDON, START, TODAY, enrol_many, make_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_cohort(other_service, programme):
    return make_cohort(other_service, programme, name="Their group")


@pytest.fixture
def service_programme(service):
    return Programme.objects.create(key="own", name="Our own", service=service)


@pytest.fixture
def other_service_programme(other_service):
    return Programme.objects.create(key="theirs", name="Their own", service=other_service)


def _target(name, cohort):
    """URL arguments for each view, pointing into `cohort`."""
    session = cohort.sessions.get(number=1)
    if name == "enrolment_end":
        return [enrol_many(cohort, 1)[0].pk]
    if name in {"register", "session_move", "session_cancel"}:
        return [session.pk]
    return [cohort.pk]


OBJECT_VIEWS = [
    # name, role allowed, role refused
    ("cohort_detail", "clinician", "admin_user"),
    ("register", "clinician", "manager"),
    ("session_move", "clinician", "manager"),
    ("session_cancel", "clinician", "manager"),
    ("enrol", "clinician", "manager"),
    ("enrolment_end", "clinician", "manager"),
    ("cohort_move_start", "clinician", "manager"),
]


@pytest.mark.parametrize(("name", "allowed", "refused"), OBJECT_VIEWS)
def test_object_views_scope_and_roles(
    request, persona_client, name, allowed, refused, cohort, other_cohort, frozen_today
):
    url = reverse(f"programmes:{name}", args=_target(name, cohort))
    response = persona_client(None).get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))

    assert persona_client(request.getfixturevalue(allowed)).get(url).status_code == 200
    assert persona_client(request.getfixturevalue(refused)).get(url).status_code == 403

    theirs = reverse(f"programmes:{name}", args=_target(name, other_cohort))
    assert persona_client(request.getfixturevalue(allowed)).get(theirs).status_code == 404


def test_manager_sees_the_cohort_page_without_change_links(persona_client, manager, cohort):
    response = persona_client(manager).get(cohort.get_absolute_url())
    assert response.status_code == 200
    assert reverse("programmes:enrol", args=[cohort.pk]).encode() not in response.content


@pytest.mark.parametrize(
    ("name", "allowed", "refused"),
    [("cohort_list", "manager", "admin_user"), ("cohort_create", "clinician", "manager")],
)
def test_list_and_create_need_the_right_role(request, persona_client, name, allowed, refused):
    url = reverse(f"programmes:{name}")
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(request.getfixturevalue(allowed)).get(url).status_code == 200
    assert persona_client(request.getfixturevalue(refused)).get(url).status_code == 403


def test_cohort_list_shows_only_own_service_cohorts(
    persona_client, clinician, cohort, other_cohort
):
    response = persona_client(clinician).get(reverse("programmes:cohort_list"))
    assert cohort.name.encode() in response.content
    assert other_cohort.name.encode() not in response.content


def test_programme_list_is_for_any_member(persona_client, clinician, admin_user):
    url = reverse("programmes:programme_list")
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(clinician).get(url).status_code == 200
    assert b"Compassion Focused Group Psychotherapy" in persona_client(admin_user).get(url).content
    assert persona_client(UserFactory()).get(url).status_code == 403


def test_programme_edit_scope_and_roles(
    persona_client, admin_user, clinician, programme, service_programme, other_service_programme
):
    url = reverse("programmes:programme_edit", args=[programme.pk])
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(admin_user).get(url).status_code == 200
    own = reverse("programmes:programme_edit", args=[service_programme.pk])
    assert persona_client(admin_user).get(own).status_code == 200
    assert persona_client(clinician).get(url).status_code == 403
    theirs = reverse("programmes:programme_edit", args=[other_service_programme.pk])
    assert persona_client(admin_user).get(theirs).status_code == 404


# Happy paths that change something ------------------------------------------------------


def test_clinician_creates_a_cohort_and_its_sessions(persona_client, clinician, programme):
    response = persona_client(clinician).post(
        reverse("programmes:cohort_create"),
        {
            "service": clinician.memberships.get().service_id,
            "programme": programme.pk,
            "name": "Tuesday group",
            "weekday": "1",
            "start_date": "2026-01-06",
            "start_time": "13:30",
            "venue": "Room 1",
            "capacity": "9",
            "facilitators": [clinician.pk],
        },
    )
    cohort = Cohort.objects.get(name="Tuesday group")
    assert response.status_code == 302 and response.url == cohort.get_absolute_url()
    assert cohort.sessions.count() == 52
    assert cohort.start_time == datetime.time(13, 30)
    assert list(cohort.facilitators.all()) == [clinician]


def test_start_date_on_the_wrong_weekday_is_a_form_error(persona_client, clinician, programme):
    response = persona_client(clinician).post(
        reverse("programmes:cohort_create"),
        {
            "service": clinician.memberships.get().service_id,
            "programme": programme.pk,
            "name": "Tuesday group",
            "weekday": "1",
            "start_date": "2026-01-07",
            "start_time": "13:30",
            "venue": "Room 1",
            "capacity": "9",
        },
    )
    assert response.status_code == 200
    assert "is a Wednesday, not a Tuesday" in response.content.decode()
    assert not Cohort.objects.exists()


def test_register_post_records_everyone_then_updates(
    persona_client, clinician, cohort, frozen_today
):
    enrolments = enrol_many(cohort, 3)
    session = cohort.sessions.get(date=TODAY)
    url = reverse("programmes:register", args=[session.pk])
    client = persona_client(clinician)
    page = client.get(url)
    assert page.status_code == 200
    for enrolment in enrolments:
        assert escape(enrolment.participant.full_name).encode() in page.content
    data = {f"status_{e.pk}": "present" for e in enrolments} | {"group_note": "Breathing"}
    assert client.post(url, data).status_code == 302
    assert Attendance.objects.filter(session=session, status="present").count() == 3
    data[f"status_{enrolments[0].pk}"] = "dna"
    assert client.post(url, data).status_code == 302
    assert Attendance.objects.filter(session=session).count() == 3
    assert session.attendance.get(enrolment=enrolments[0]).status == "dna"


def test_register_posted_for_a_withdrawn_participant_is_a_form_error(
    persona_client, clinician, cohort, frozen_today
):
    stays, leaves = enrol_many(cohort, 2)
    leaves.status, leaves.ended_on, leaves.end_reason = "withdrawn", START, "Moved away"
    leaves.save()
    session = cohort.sessions.get(date=TODAY)
    response = persona_client(clinician).post(
        reverse("programmes:register", args=[session.pk]),
        {f"status_{stays.pk}": "present", f"status_{leaves.pk}": "present", "group_note": ""},
    )
    assert response.status_code == 200
    assert "not enrolled at this session" in response.content.decode()
    assert not Attendance.objects.exists()


def test_register_with_a_missing_status_is_a_form_error(
    persona_client, clinician, cohort, frozen_today
):
    first, _second = enrol_many(cohort, 2)
    session = cohort.sessions.get(date=TODAY)
    response = persona_client(clinician).post(
        reverse("programmes:register", args=[session.pk]), {f"status_{first.pk}": "present"}
    )
    assert response.status_code == 200
    assert "Choose a status." in response.content.decode()


def test_moving_a_session_onto_another_sessions_date_is_a_form_error(
    persona_client, clinician, cohort
):
    first, second = cohort.sessions.order_by("number")[:2]
    response = persona_client(clinician).post(
        reverse("programmes:session_move", args=[first.pk]),
        {"new_date": second.date.isoformat(), "reason": "Room booked"},
    )
    assert response.status_code == 200
    assert "Session 2 of this cohort is already on 12 January 2026" in response.content.decode()


def test_clinician_moves_and_cancels_sessions(persona_client, clinician, cohort):
    client = persona_client(clinician)
    easter = cohort.sessions.get(date=datetime.date(2026, 4, 6))
    response = client.post(
        reverse("programmes:session_move", args=[easter.pk]),
        {"new_date": "2026-04-08", "start_time": "14:00", "reason": "Bank holiday"},
    )
    assert response.status_code == 302
    easter.refresh_from_db()
    assert (easter.date, easter.start_time, easter.status) == (
        datetime.date(2026, 4, 8),
        datetime.time(14),
        GroupSession.Status.MOVED,
    )
    last = cohort.sessions.get(number=52)
    assert (
        client.post(
            reverse("programmes:session_cancel", args=[last.pk]), {"reason": "Christmas"}
        ).status_code
        == 302
    )
    last.refresh_from_db()
    assert last.status == GroupSession.Status.CANCELLED


def test_clinician_moves_the_start_date_after_seeing_the_calendar(
    persona_client, clinician, cohort
):
    client = persona_client(clinician)
    url = reverse("programmes:cohort_move_start", args=[cohort.pk])
    with time_machine.travel(datetime.datetime(2025, 12, 15, 9, 0, tzinfo=LONDON), tick=False):
        preview = client.post(url, {"new_start_date": "2026-01-12"})
    assert preview.status_code == 200
    assert cohort.sessions.get(number=1).date == START
    proposed = {name: f.initial for name, f in preview.context["form"].fields.items()}
    with time_machine.travel(datetime.datetime(2025, 12, 15, 9, 0, tzinfo=LONDON), tick=False):
        response = client.post(url, proposed | {"new_start_date": "2026-01-12", "confirm": "yes"})
    assert response.status_code == 302
    assert cohort.sessions.get(number=1).date == datetime.date(2026, 1, 12)


def test_clinician_enrols_and_capacity_and_duplicates_are_form_errors(
    persona_client, clinician, service, programme
):
    cohort = make_cohort(service, programme, capacity=1)
    first, second = ParticipantFactory(service=service), ParticipantFactory(service=service)
    client = persona_client(clinician)
    url = reverse("programmes:enrol", args=[cohort.pk])
    assert (
        client.post(url, {"participant": first.pk, "enrolled_on": "2026-01-05"}).status_code == 302
    )
    duplicate = client.post(url, {"participant": first.pk, "enrolled_on": "2026-01-05"})
    assert duplicate.status_code == 200
    assert "already enrolled" in duplicate.content.decode()
    full = client.post(url, {"participant": second.pk, "enrolled_on": "2026-01-05"})
    assert full.status_code == 200
    assert "This cohort is full: 1 of 1 places are taken" in full.content.decode()
    assert cohort.enrolments.count() == 1


def test_participant_of_another_service_is_not_offered_for_enrolment(
    persona_client, clinician, cohort, other_service
):
    outsider = ParticipantFactory(service=other_service)
    response = persona_client(clinician).post(
        reverse("programmes:enrol", args=[cohort.pk]),
        {"participant": outsider.pk, "enrolled_on": "2026-01-05"},
    )
    assert response.status_code == 200
    assert not Enrolment.objects.exists()


def test_clinician_withdraws_a_participant_with_a_reason(persona_client, clinician, cohort):
    (enrolment,) = enrol_many(cohort, 1)
    url = reverse("programmes:enrolment_end", args=[enrolment.pk])
    client = persona_client(clinician)
    missing = client.post(url, {"status": "withdrawn", "ended_on": "2026-02-02", "reason": ""})
    assert missing.status_code == 200
    assert "Give a reason" in missing.content.decode()
    response = client.post(
        url, {"status": "withdrawn", "ended_on": "2026-02-02", "reason": "Moved area"}
    )
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.end_reason) == ("withdrawn", "Moved area")


def test_admin_edits_a_programme_into_a_new_version(persona_client, admin_user, programme):
    client = persona_client(admin_user)
    url = reverse("programmes:programme_edit", args=[programme.pk])
    form = client.get(url).context["form"]
    data = {name: field.initial for name, field in form.fields.items()}
    data["week_5"] = "Safe place imagery, outdoors"
    data["phase_2"] = "Trauma group"
    assert client.post(url, data).status_code == 302
    new = Programme.objects.get(key=programme.key, is_current=True)
    assert new.version == 2
    assert new.curriculum.get(week=5).theme == "Safe place imagery, outdoors"
    assert new.phases.get(order=2).name == "Trauma group"
    programme.refresh_from_db()
    assert not programme.is_current


def test_cohort_page_shows_calendar_enrolled_and_rule(persona_client, clinician, cohort):
    (enrolment,) = enrol_many(cohort, 1)
    response = persona_client(clinician).get(cohort.get_absolute_url())
    content = response.content.decode()
    assert "Bank holiday: Easter Monday" in content
    assert enrolment.participant.full_name in content
    assert "Cancelled sessions are skipped" in content
    assert content.count("<tr") >= 52
