"""Subject access requests move from accounts to participants, with a real foreign key.

The table and every row stay: the model's state moves here naming the old table, the bare
participant id becomes a foreign key to the participant (same column, now constrained),
and the table takes this app's name. The content type is renamed rather than replaced, so
the audit entries already written about requests (which may not be updated: accounts
migration 0003) resolve to the model in its new place. accounts 0004 drops the old state.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

OLD_TABLE = "accounts_subjectaccessrequest"


def refuse_requests_without_participant(apps, schema_editor):
    """A request whose participant was deleted (possible while the link was a bare id)
    would break the new constraint halfway; stop first, naming the rows to look at."""
    request_model = apps.get_model("participants", "SubjectAccessRequest")
    participant_model = apps.get_model("participants", "Participant")
    orphans = list(
        request_model.objects.exclude(
            participant__in=participant_model.objects.values("pk")
        ).values_list("pk", flat=True)
    )
    if orphans:
        raise RuntimeError(
            f"Subject access requests {orphans} name participants that no longer exist. "
            "Restore those participants (or decide what to keep) before migrating."
        )


def rename_content_type(old_app, new_app):
    def rename(apps, schema_editor):
        content_type_model = apps.get_model("contenttypes", "ContentType")
        log_entry_model = apps.get_model("auditlog", "LogEntry")
        types = content_type_model.objects.using(schema_editor.connection.alias)
        old = types.filter(app_label=old_app, model="subjectaccessrequest").first()
        if old is None:
            return  # a fresh database: post_migrate makes the new one
        new = types.filter(app_label=new_app, model="subjectaccessrequest").first()
        if new is not None:
            # Made by a post_migrate in between. Audit entries may not be repointed, so
            # the old type, which they point at, keeps its place under the new name.
            if log_entry_model.objects.filter(content_type=new).exists():
                raise RuntimeError(
                    f"Audit entries point at both {old_app} and {new_app} subject access "
                    "request types; they cannot be merged in an append-only trail."
                )
            new.delete()
        old.app_label = new_app
        old.save(update_fields=["app_label"])

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_auditlog_append_only"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("participants", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SubjectAccessRequest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "participant",
                            models.PositiveBigIntegerField(db_column="participant_id"),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    (
                                        "requested",
                                        "Requested: waiting for a second clinician's review",
                                    ),
                                    ("approved", "Approved: ready to release"),
                                    ("released", "Released"),
                                ],
                                default="requested",
                                max_length=20,
                            ),
                        ),
                        (
                            "received_on",
                            models.DateField(
                                help_text="The day the participant's request arrived."
                            ),
                        ),
                        (
                            "note",
                            models.TextField(
                                blank=True,
                                help_text="How the request arrived and how identity was checked.",
                            ),
                        ),
                        ("requested_at", models.DateTimeField(auto_now_add=True)),
                        ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                        ("released_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "requested_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "reviewed_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "service",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.service",
                            ),
                        ),
                    ],
                    options={
                        "db_table": OLD_TABLE,
                        "ordering": ["-requested_at"],
                        "indexes": [
                            models.Index(
                                fields=["service", "participant"],
                                name="sar_service_participant",
                            )
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("status__in", ["requested", "approved", "released"])
                                ),
                                name="sar_status_known",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("reviewed_by__isnull", True),
                                    models.Q(
                                        ("reviewed_by", models.F("requested_by")), _negated=True
                                    ),
                                    _connector="OR",
                                ),
                                name="sar_reviewer_not_requester",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("status", "requested"),
                                    models.Q(
                                        ("reviewed_at__isnull", False),
                                        ("reviewed_by__isnull", False),
                                    ),
                                    _connector="OR",
                                ),
                                name="sar_reviewed_before_release",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("status", "released"), _negated=True),
                                    ("released_at__isnull", False),
                                    _connector="OR",
                                ),
                                name="sar_released_has_time",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(refuse_requests_without_participant, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="subjectaccessrequest",
            name="participant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="participants.participant",
            ),
        ),
        migrations.AlterModelTable(name="subjectaccessrequest", table=None),
        migrations.RunPython(
            rename_content_type("accounts", "participants"),
            rename_content_type("participants", "accounts"),
        ),
    ]
