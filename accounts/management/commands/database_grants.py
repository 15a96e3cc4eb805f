"""Grants the runtime database role what the web, worker and beat processes need, and no more.

Production uses two PostgreSQL roles (README, "Database roles"): the owner, which runs
`migrate` and so owns every table, and the runtime role the processes connect as. Only a
table's owner may ALTER it, drop or disable its triggers, so the runtime role cannot switch
off the audit table's append-only triggers (accounts migration 0003); on top of that it is
given no UPDATE, DELETE or TRUNCATE there at all, and may only read the migration history.

Run as the owner after every `migrate` (it is idempotent): new tables get the grants through
the default privileges it sets, and the audit table's limits are applied again.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

AUDIT_TABLE = "auditlog_logentry"
MIGRATIONS_TABLE = "django_migrations"

GRANTS = [
    "GRANT USAGE ON SCHEMA public TO {runtime}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {runtime}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {runtime}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
    "GRANT USAGE, SELECT ON SEQUENCES TO {runtime}",
    # Append-only: rows are added, read, never changed or removed.
    "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {runtime}",
    # Schema changes are the owner's: the runtime role only reads what has been applied.
    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {migrations} FROM {runtime}",
    "REVOKE CREATE ON SCHEMA public FROM {runtime}",
]


class Command(BaseCommand):
    help = (
        "Grant the runtime role (the one the web, worker and beat processes connect as) "
        "ordinary access to Safeground's tables, and no way to change or remove audit "
        "entries. Run as the owner role, after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("runtime_role", help="The runtime role's name.")

    def handle(self, *args, runtime_role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles apply to PostgreSQL only.")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = %s", [runtime_role]
            )
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"There is no role named {runtime_role}.")
            owner, runtime_is_superuser = found
            if runtime_is_superuser:
                raise CommandError(f"{runtime_role} is a superuser: no grant can limit it.")
            if owner == runtime_role:
                raise CommandError("Run this as the owner role, not as the runtime role.")
            names = {
                "runtime": sql.Identifier(runtime_role),
                "owner": sql.Identifier(owner),
                "audit": sql.Identifier(AUDIT_TABLE),
                "migrations": sql.Identifier(MIGRATIONS_TABLE),
            }
            with transaction.atomic():
                for statement in GRANTS:
                    cursor.execute(
                        sql.SQL(statement).format(**names).as_string(connection.connection)
                    )
        self.stdout.write(
            f"{runtime_role} may read and write Safeground's tables; the audit trail is "
            "append-only to it."
        )
