"""Production's two PostgreSQL roles (README, "Database roles"): the owner runs migrations,
the runtime role runs Safeground and cannot change, remove or unguard audit entries.

The roles are made inside the test's transaction, with names of their own, and vanish with
its rollback; the tables are handed to the owner the same way.
"""

import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import Membership
from participants.models import Participant
from tests.factories import MembershipFactory, ParticipantFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="database roles are PostgreSQL's (set DATABASE_URL)",
    ),
]


def _sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def _refused(statement) -> str:
    try:
        with transaction.atomic():
            _sql(statement)
    except DatabaseError as error:
        return str(error)
    return ""


@pytest.fixture
def roles():
    suffix = uuid.uuid4().hex[:12]
    owner, runtime = f"sg_test_owner_{suffix}", f"sg_test_runtime_{suffix}"
    _sql(f'CREATE ROLE "{owner}" NOLOGIN')
    _sql(f'CREATE ROLE "{runtime}" NOLOGIN')
    for (table,) in _sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        _sql(f'ALTER TABLE "{table}" OWNER TO "{owner}"')
    _sql(f'GRANT CREATE, USAGE ON SCHEMA public TO "{owner}"')
    # As production: the owner grants, after migrate.
    _sql(f'SET ROLE "{owner}"')
    call_command("database_grants", runtime)
    _sql(f'SET ROLE "{runtime}"')
    yield owner, runtime
    _sql("RESET ROLE")


def test_the_runtime_role_cannot_unguard_or_remove_audit_entries(roles):
    participant = ParticipantFactory()  # written as the runtime role, with its audit entry
    assert _sql("SELECT count(*) FROM auditlog_logentry")[0][0] >= 1
    assert "must be owner" in _refused(
        "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_logentry_append_only"
    )
    assert "must be owner" in _refused("ALTER TABLE auditlog_logentry DISABLE TRIGGER ALL")
    assert "must be owner" in _refused("ALTER TABLE auditlog_logentry ADD COLUMN x int")
    assert "must be owner" in _refused(
        "DROP TRIGGER auditlog_logentry_append_only ON auditlog_logentry"
    )
    assert "permission denied" in _refused("DELETE FROM auditlog_logentry")
    assert "permission denied" in _refused("TRUNCATE auditlog_logentry")
    assert "permission denied" in _refused("UPDATE auditlog_logentry SET changes_text = ''")
    assert "must be owner" in _refused("DROP TABLE auditlog_logentry")
    assert "permission denied" in _refused(
        "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())"
    )
    assert "permission denied" in _refused("CREATE TABLE sg_test_scratch (x int)")
    assert Participant.objects.filter(pk=participant.pk).exists()


def test_the_runtime_role_does_ordinary_work(roles):
    membership = MembershipFactory(role=Membership.Role.CLINICIAN)
    participant = ParticipantFactory(service=membership.service)
    before = _sql("SELECT count(*) FROM auditlog_logentry")[0][0]
    participant.given_name = "Changed"
    participant.save()
    assert _sql("SELECT count(*) FROM auditlog_logentry")[0][0] == before + 1
    membership.delete()
    assert _sql("SELECT count(*) FROM django_migrations")[0][0] > 0


def test_the_owner_role_keeps_the_audit_table(roles):
    owner, _runtime = roles
    ParticipantFactory()
    _sql(f'SET ROLE "{owner}"')
    # The owner may change the table (migrations need to); the triggers still refuse
    # deletes, even to the owner.
    assert _refused("COMMENT ON TABLE auditlog_logentry IS 'append-only'") == ""
    assert "append-only" in _refused("DELETE FROM auditlog_logentry")


def test_the_grants_refuse_a_superuser_runtime_role():
    from django.core.management.base import CommandError

    superuser = _sql("SELECT current_user")[0][0]
    with pytest.raises(CommandError, match="superuser"):
        call_command("database_grants", superuser)
