"""Subject access requests recorded while they lived in accounts keep their participant and
their audit trail after participants migration 0002 and accounts 0004 move them."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from participants.models import Participant, SubjectAccessRequest

# Schema changes and the audit table's triggers are only exercised for real outside the
# test's own transaction.
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0003_auditlog_append_only"), ("participants", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def old_world():
    """The database as it was before the move, put back to the latest schema afterwards."""
    executor = _migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        ContentType.objects.clear_cache()
        _migrate(_leaves())
        ContentType.objects.clear_cache()


def _an_old_request(old_apps):
    service = old_apps.get_model("accounts", "Service").objects.create(
        name="Old service", phone="0100"
    )
    user_model = old_apps.get_model("accounts", "User")
    requester = user_model.objects.create(username="requester")
    reviewer = user_model.objects.create(username="reviewer")
    participant = old_apps.get_model("participants", "Participant").objects.create(
        service=service, reference="OLD-1", given_name="Ash", family_name="Before"
    )
    sar = old_apps.get_model("accounts", "SubjectAccessRequest").objects.create(
        service=service,
        participant_id=participant.pk,
        status="approved",
        received_on=dt.date(2026, 3, 1),
        note="By letter",
        requested_by=requester,
        reviewed_by=reviewer,
        reviewed_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    old_type, _ = old_apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="accounts", model="subjectaccessrequest"
    )
    entry = old_apps.get_model("auditlog", "LogEntry").objects.create(
        content_type=old_type,
        object_pk=str(sar.pk),
        object_id=sar.pk,
        object_repr=f"Subject access request {sar.pk}",
        action=1,
        changes={"status": ["requested", "approved"]},
        changes_text="",
        actor=reviewer,
    )
    return participant, sar, entry


def test_an_old_request_keeps_its_participant_and_audit_entries(old_world):
    participant, old_sar, old_entry = _an_old_request(old_world)

    _migrate(_leaves())
    ContentType.objects.clear_cache()

    sar = SubjectAccessRequest.objects.select_related("participant").get(pk=old_sar.pk)
    assert sar.participant == Participant.objects.get(pk=participant.pk)
    assert sar.status == SubjectAccessRequest.Status.APPROVED
    assert sar.note == "By letter"
    entry = LogEntry.objects.get(pk=old_entry.pk)
    assert entry.content_type.model_class() is SubjectAccessRequest
    assert list(LogEntry.objects.get_for_object(sar)) == [entry]
    assert ContentType.objects.filter(model="subjectaccessrequest").count() == 1


def test_a_request_whose_participant_is_gone_stops_the_migration(old_world):
    participant, old_sar, _ = _an_old_request(old_world)
    old_world.get_model("accounts", "SubjectAccessRequest").objects.filter(pk=old_sar.pk).update(
        participant_id=participant.pk + 1000
    )

    with pytest.raises(RuntimeError, match=str(old_sar.pk)):
        _migrate(_leaves())
    old_world.get_model("accounts", "SubjectAccessRequest").objects.filter(pk=old_sar.pk).update(
        participant_id=participant.pk
    )
