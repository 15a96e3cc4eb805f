"""Subject access requests now belong to participants (participants migration 0002 keeps
the table and its rows); only the model's state leaves accounts here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_auditlog_append_only"),
        ("participants", "0002_subject_access_request_from_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SubjectAccessRequest")],
            database_operations=[],
        ),
    ]
