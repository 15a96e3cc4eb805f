"""Revise one of the shared default programmes: the platform's change, for every service.

Services cannot change the shared programmes (each copies one into its own service), so
this command, run by whoever operates the platform, is the only way to revise them.
"""

from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from programmes import services


def _pairs(values: list[str], label: str) -> dict[int, str]:
    pairs = {}
    for value in values:
        number, sep, text = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise CommandError(f"Give each as {label.upper()}=NAME, not {value!r}.")
        pairs[int(number)] = text
    return pairs


class Command(BaseCommand):
    help = (
        "Make a new version of a shared programme (the defaults every service uses). "
        "Running cohorts keep the version they started with."
    )

    def add_arguments(self, parser):
        parser.add_argument("key", help="The shared programme's key, e.g. cfgp-52.")
        parser.add_argument(
            "--by", required=True, help="Username of the person making the change (audited)."
        )
        parser.add_argument("--name")
        parser.add_argument("--description")
        parser.add_argument(
            "--phase", action="append", default=[], help="ORDER=NAME; may be repeated."
        )
        parser.add_argument(
            "--theme",
            action="append",
            default=[],
            help="WEEK=THEME; may be repeated; an empty THEME removes that week's theme.",
        )

    def handle(self, *args, key, by, name, description, phase, theme, **options):
        phase_names = _pairs(phase, "order")
        themes = _pairs(theme, "week")
        user = get_user_model().objects.filter(username=by, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account has the username {by!r}.")
        try:
            with set_actor(user):
                new = services.shared_programme_revise(
                    key=key,
                    by=user,
                    name=name,
                    description=description,
                    phase_names=phase_names,
                    themes=themes,
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{new.name}: version {new.version} is now current for every service.")
