"""One account per e-mail address (ignoring case): an invitation's set-password link goes to
the address, so two accounts sharing one would let either holder set the other's password."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_subject_access_request_to_participants"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                condition=models.Q(("email", ""), _negated=True),
                name="user_email_unique_when_set",
            ),
        ),
    ]
