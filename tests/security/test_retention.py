"""Contact details are blanked a set time after a participant's last enrolment ended."""

import datetime as dt
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from participants.models import Participant
from participants.services import REMOVED, participant_contacts_blank
from participants.tasks import retention_blank_contacts
from programmes.models import Enrolment
from tests.factories import EnrolmentFactory, ParticipantFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2027, 6, 1)


def ended(service, *, days_ago, status=Enrolment.Status.DISCHARGED, participant=None):
    kwargs = {"participant": participant} if participant else {}
    ended_on = TODAY - dt.timedelta(days=days_ago)
    return EnrolmentFactory(
        cohort__service=service,
        status=status,
        enrolled_on=ended_on - dt.timedelta(days=300),
        ended_on=ended_on,
        **kwargs,
    )


def test_contacts_are_blanked_after_the_period(service):
    enrolment = ended(service, days_ago=366)

    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 1

    person = Participant.objects.get(pk=enrolment.participant_id)
    assert person.email == "" and str(person.mobile) == ""


def test_contacts_are_kept_within_the_period(service):
    enrolment = ended(service, days_ago=365)
    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 0
    assert Participant.objects.get(pk=enrolment.participant_id).email


def test_one_open_enrolment_keeps_the_contacts(service):
    old = ended(service, days_ago=900)
    EnrolmentFactory(participant=old.participant, cohort__service=service)
    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 0


def test_a_recent_second_ending_keeps_the_contacts(service):
    old = ended(service, days_ago=900)
    ended(service, days_ago=10, participant=old.participant, status=Enrolment.Status.WITHDRAWN)
    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 0


def test_someone_never_enrolled_is_not_touched(service):
    ParticipantFactory(service=service)
    assert participant_contacts_blank(older_than_days=1, today=TODAY) == 0


def test_blanking_is_audited_without_the_old_values(service):
    enrolment = ended(service, days_ago=400)
    email = enrolment.participant.email

    participant_contacts_blank(older_than_days=365, today=TODAY)

    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Participant),
        object_pk=str(enrolment.participant_id),
        action=LogEntry.Action.UPDATE,
    ).last()
    assert entry.changes_dict == {"email": [REMOVED, ""], "mobile": [REMOVED, ""]}
    assert email not in str(entry.changes)


def test_a_second_run_changes_nothing(service):
    ended(service, days_ago=400)
    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 1
    assert participant_contacts_blank(older_than_days=365, today=TODAY) == 0


def test_task_is_off_by_default(service, settings):
    settings.RETENTION_CONTACT_DAYS = 0
    ended(service, days_ago=5000)
    assert retention_blank_contacts() == 0
    assert Participant.objects.exclude(email="").count() == 1


def test_task_uses_the_configured_period(service, settings):
    settings.RETENTION_CONTACT_DAYS = 30
    ended(service, days_ago=5000)
    assert retention_blank_contacts() == 1


def test_setting_is_off_unless_the_environment_sets_it():
    from config.settings import RETENTION_CONTACT_DAYS

    assert RETENTION_CONTACT_DAYS == 0


def test_command_is_off_by_default_and_takes_days(service, settings):
    settings.RETENTION_CONTACT_DAYS = 0
    ended(service, days_ago=5000)
    out = StringIO()
    call_command("retention_blank_contacts", stdout=out)
    assert "off" in out.getvalue()
    call_command("retention_blank_contacts", "--days", "365", stdout=out)
    assert "for 1 participants" in out.getvalue()
