"""Every change to clinical data is in the audit trail, which nothing can rewrite."""

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts.audit import record_bulk_changes, record_view
from participants.models import Participant
from tests.factories import ParticipantFactory

# Models of the clinical apps that are deliberately not audited, each with the reason.
NOT_AUDITED: dict[str, str] = {
    # An operational send queue (tens of thousands of rows a day at scale) whose rows carry
    # their own status history (planned, claimed, sent, failed with times and provider ids);
    # auditing every status step would swamp the trail. Rows staff edit (templates,
    # policies, escalations) are audited.
    "reminders.Message": "send queue with its own status history",
}
CLINICAL_APPS = ("participants", "programmes", "measures", "reminders")


def entries_for(obj):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
    ).order_by("pk")


def test_every_model_of_the_clinical_apps_is_registered_with_auditlog():
    missing = [
        model._meta.label
        for app in CLINICAL_APPS
        for model in apps.get_app_config(app).get_models()
        if not auditlog.contains(model) and model._meta.label not in NOT_AUDITED
    ]
    assert missing == []


def test_the_exclusion_list_names_only_real_models():
    for label in NOT_AUDITED:
        apps.get_model(label)


@pytest.mark.django_db
def test_create_through_the_page_records_who_and_the_new_values(clinician_client, service):
    response = clinician_client.post(
        reverse("participants:participant_create"),
        {
            "service": service.pk,
            "reference": "AUD001",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "preferred_channel": "sms",
            "mobile": "07700 900321",
        },
    )
    assert response.status_code == 302
    participant = Participant.objects.get(reference="AUD001")

    entry = entries_for(participant).get(action=LogEntry.Action.CREATE)

    assert entry.actor.username == "clinician"
    assert entry.timestamp is not None
    assert entry.changes_dict["given_name"] == ["None", "Ada"]


@pytest.mark.django_db
def test_update_through_the_page_records_old_and_new_values(clinician_client, service):
    participant = ParticipantFactory(service=service, given_name="Ada", family_name="Byron")
    data = {
        "service": service.pk,
        "reference": participant.reference,
        "given_name": "Ada",
        "family_name": "King",
        "preferred_channel": "sms",
        "mobile": "07700 900321",
        "email": participant.email,
    }
    response = clinician_client.post(
        reverse("participants:participant_edit", args=[participant.pk]), data
    )
    assert response.status_code == 302

    entry = entries_for(participant).filter(action=LogEntry.Action.UPDATE).last()

    assert entry.actor.username == "clinician"
    assert entry.changes_dict["family_name"] == ["Byron", "King"]


@pytest.mark.django_db
def test_bulk_update_records_one_entry_per_row_with_old_and_new(clinician, service):
    people = ParticipantFactory.create_batch(3, service=service, messages_opt_out=False)
    with set_actor(clinician):
        Participant.objects.filter(pk__in=[p.pk for p in people]).update(messages_opt_out=True)
        record_bulk_changes(entries=[(p, {"messages_opt_out": [False, True]}) for p in people])

    for person in people:
        entry = entries_for(person).filter(action=LogEntry.Action.UPDATE).get()
        assert entry.actor == clinician
        assert entry.changes_dict == {"messages_opt_out": ["False", "True"]}


@pytest.mark.django_db
def test_bulk_changes_after_the_actor_context_ended_name_no_actor(clinician, service):
    person = ParticipantFactory(service=service)
    with set_actor(clinician):
        pass
    record_bulk_changes(entries=[(person, {"messages_opt_out": [False, True]})])
    entry = entries_for(person).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor is None


@pytest.mark.django_db
def test_delete_records_who_and_what_was_deleted(clinician, service):
    participant = ParticipantFactory(service=service, reference="GONE01")
    pk = participant.pk
    with set_actor(clinician):
        participant.delete()

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Participant),
        object_pk=str(pk),
        action=LogEntry.Action.DELETE,
    )
    assert entry.actor == clinician
    assert entry.object_repr == "GONE01"


@pytest.mark.django_db
def test_a_view_is_recorded_without_the_data_itself(clinician, service):
    participant = ParticipantFactory(service=service, given_name="Canaryname")
    with set_actor(clinician):
        record_view(participant)

    entry = entries_for(participant).get(action=LogEntry.Action.ACCESS)
    assert entry.actor == clinician
    assert "Canaryname" not in str(entry.changes) + entry.object_repr


@pytest.mark.django_db
def test_the_participant_page_records_a_view(clinician_client, service):
    participant = ParticipantFactory(service=service)
    clinician_client.get(reverse("participants:participant_detail", args=[participant.pk]))
    assert entries_for(participant).filter(action=LogEntry.Action.ACCESS).exists()


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The append-only trigger exists only on PostgreSQL; CI runs PostgreSQL.",
)


@postgresql_only
@pytest.mark.django_db
def test_the_database_refuses_to_update_an_audit_entry(service):
    participant = ParticipantFactory(service=service)
    entry = entries_for(participant).first()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LogEntry.objects.filter(pk=entry.pk).update(changes_text="rewritten")

    entry.refresh_from_db()
    assert entry.changes_text != "rewritten"


@postgresql_only
@pytest.mark.django_db
def test_the_database_refuses_to_delete_an_audit_entry(service):
    participant = ParticipantFactory(service=service)
    entry = entries_for(participant).first()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM auditlog_logentry WHERE id = %s", [entry.pk])

    assert LogEntry.objects.filter(pk=entry.pk).exists()


@postgresql_only
@pytest.mark.django_db
def test_the_database_refuses_to_truncate_the_audit_table(service):
    ParticipantFactory(service=service)
    with connection.cursor() as cursor:
        # The test runner switches this trigger off to empty the database between
        # transactional tests (tests/conftest.py); here it is back, as in production, until
        # the test's transaction rolls back. Deferred foreign-key checks must run first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE auditlog_logentry ENABLE TRIGGER auditlog_logentry_no_truncate")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE auditlog_logentry CASCADE")
    assert LogEntry.objects.exists()


@postgresql_only
@pytest.mark.django_db
def test_inserting_new_entries_still_works(service):
    before = LogEntry.objects.count()
    ParticipantFactory(service=service)
    assert LogEntry.objects.count() == before + 1


@pytest.mark.django_db
def test_an_update_recorded_from_the_locked_row_matches_auditlogs_own_entry(service, clinician):
    # save_recorded works the entry out from a copy of the row the caller holds locked; it
    # must be the entry auditlog writes when it reads the row again itself.
    import copy

    from accounts.audit import save_recorded

    first, second = (ParticipantFactory(service=service, given_name="Ada") for _ in range(2))
    fields = ["given_name", "preferred_channel", "messages_opt_out"]
    with set_actor(clinician):
        for participant, recorded in ((first, False), (second, True)):
            before = copy.copy(participant)
            participant.given_name, participant.preferred_channel = "Changed", "email"
            participant.messages_opt_out = True
            if recorded:
                save_recorded(participant, before=before, update_fields=fields)
            else:
                participant.save(update_fields=fields)
    own, ours = entries_for(first).last(), entries_for(second).last()
    assert ours.action == own.action == LogEntry.Action.UPDATE
    assert ours.changes == own.changes and set(ours.changes) == set(fields)
    assert ours.actor == own.actor == clinician
    assert ours.remote_addr == own.remote_addr
    assert ours.object_repr == str(second)
    # Nothing recorded twice: auditlog's own receiver stayed out of the recorded save.
    assert entries_for(second).filter(action=LogEntry.Action.UPDATE).count() == 1
