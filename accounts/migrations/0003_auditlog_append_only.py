"""The audit table is append-only: PostgreSQL itself refuses UPDATE, DELETE and TRUNCATE.

SQLite (development only) has no such guard; production runs on PostgreSQL.
A consequence: a staff user who appears in the audit trail cannot be deleted (auditlog
would null the actor); staff accounts are deactivated instead.
"""

from django.db import migrations

FORWARD = [
    """
CREATE OR REPLACE FUNCTION safeground_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    """
CREATE TRIGGER auditlog_logentry_append_only
    BEFORE UPDATE OR DELETE ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION safeground_audit_append_only()
""",
    """
CREATE TRIGGER auditlog_logentry_no_truncate
    BEFORE TRUNCATE ON auditlog_logentry
    FOR EACH STATEMENT EXECUTE FUNCTION safeground_audit_append_only()
""",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS auditlog_logentry_no_truncate ON auditlog_logentry",
    "DROP TRIGGER IF EXISTS auditlog_logentry_append_only ON auditlog_logentry",
    "DROP FUNCTION IF EXISTS safeground_audit_append_only()",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_subject_access_request"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(forward, backward)]
