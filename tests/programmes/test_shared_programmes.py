"""The shared default programmes are read-only to services: a service's administrator copies
one into their service to change it, and only the platform (a management command) revises
the shared defaults."""

import io

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import Membership
from measures.models import Timepoint
from programmes import services
from programmes.models import Programme
from reminders.models import ReminderPolicy
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SHARED_NAME = "Compassion Focused Group Psychotherapy"


@pytest.fixture
def other_admin(other_service):
    return MembershipFactory(service=other_service, role=Membership.Role.ADMIN).user


def timepoints_of(programme):
    return list(
        Timepoint.objects.filter(programme=programme)
        .order_by("key")
        .values_list("key", "week", "opens_days", "closes_days", "instruments")
    )


def copy_url(programme):
    return reverse("programmes:programme_copy", args=[programme.pk])


class TestSharedProgrammesAreReadOnlyToServices:
    def test_the_service_refuses_to_revise_a_shared_programme(self, programme, admin_user):
        with pytest.raises(ValidationError, match="copy"):
            services.programme_revise(programme=programme, by=admin_user, name="Ours now")
        assert Programme.objects.get(key="cfgp-52", is_current=True).pk == programme.pk

    def test_an_administrator_cannot_rename_the_shared_programme(
        self, persona_client, admin_user, programme
    ):
        url = reverse("programmes:programme_edit", args=[programme.pk])
        response = persona_client(admin_user).post(url, {"name": "Renamed by one service"})

        assert response.status_code == 403
        current = Programme.objects.get(key="cfgp-52", is_current=True)
        assert (current.pk, current.version) == (programme.pk, programme.version)
        assert SHARED_NAME in current.name

    def test_the_edit_page_of_a_shared_programme_is_refused(
        self, persona_client, admin_user, programme
    ):
        url = reverse("programmes:programme_edit", args=[programme.pk])
        assert persona_client(admin_user).get(url).status_code == 403

    def test_the_list_offers_a_copy_of_a_shared_programme_not_an_edit(
        self, persona_client, admin_user, programme
    ):
        page = persona_client(admin_user).get(reverse("programmes:programme_list")).content
        assert copy_url(programme).encode() in page
        assert reverse("programmes:programme_edit", args=[programme.pk]).encode() not in page
        assert b"Copy into your service" in page

    def test_clinicians_are_not_offered_a_copy(self, persona_client, clinician, programme):
        page = persona_client(clinician).get(reverse("programmes:programme_list")).content
        assert copy_url(programme).encode() not in page


class TestCopyIntoAService:
    def test_an_administrator_copies_a_shared_programme_with_everything_attached(
        self, persona_client, admin_user, service, programme
    ):
        ReminderPolicy.objects.create(programme=programme, first_reminder_days=2)
        client = persona_client(admin_user)
        assert client.get(copy_url(programme)).status_code == 200

        response = client.post(
            copy_url(programme), {"service": service.pk, "name": "Riverside's programme"}
        )

        copy = Programme.objects.get(service=service)
        assert response.status_code == 302
        assert response.url == reverse("programmes:programme_edit", args=[copy.pk])
        assert (copy.name, copy.version, copy.is_current) == ("Riverside's programme", 1, True)
        assert copy.key != programme.key
        assert list(copy.phases.values_list("order", "name", "kind", "start_week", "weeks")) == (
            list(programme.phases.values_list("order", "name", "kind", "start_week", "weeks"))
        )
        assert list(copy.curriculum.values_list("week", "theme")) == list(
            programme.curriculum.values_list("week", "theme")
        )
        assert timepoints_of(copy) == timepoints_of(programme) != []
        assert ReminderPolicy.objects.get(programme=copy).first_reminder_days == 2
        created = LogEntry.objects.get_for_object(copy).get(action=LogEntry.Action.CREATE)
        assert created.actor == admin_user
        phase_entries = LogEntry.objects.filter(
            content_type__model="phase",
            object_id__in=copy.phases.values("pk"),
            action=LogEntry.Action.CREATE,
        )
        assert [e.actor for e in phase_entries] == [admin_user] * copy.phases.count()

    def test_the_copy_is_edited_in_versions_and_the_shared_one_stays_as_it_was(
        self, persona_client, admin_user, service, other_service, programme
    ):
        copy = services.programme_copy(
            programme=programme, service=service, name="Ours", by=admin_user
        )
        ReminderPolicy.objects.create(programme=copy, second_reminder_days=9)
        response = persona_client(admin_user).post(
            reverse("programmes:programme_edit", args=[copy.pk]),
            {"name": "Ours, revised", "description": "", "phase_1": "PEG"}
            | {f"phase_{p.order}": p.name for p in copy.phases.exclude(order=1)}
            | {f"week_{w.week}": w.theme for w in copy.curriculum.all()},
        )

        assert response.status_code == 302
        revised = Programme.objects.get(key=copy.key, is_current=True)
        assert (revised.version, revised.service, revised.name) == (2, service, "Ours, revised")
        assert revised.phases.get(order=1).name == "PEG"
        assert timepoints_of(revised) == timepoints_of(programme)
        assert ReminderPolicy.objects.get(programme=revised).second_reminder_days == 9
        shared = Programme.objects.get(key="cfgp-52", is_current=True)
        assert shared.pk == programme.pk
        assert shared.phases.get(order=1).name == programme.phases.get(order=1).name
        # Another service neither sees the copy nor is offered it for a new cohort.
        visible = services_visible_to(other_service)
        assert copy.key not in visible and "cfgp-52" in visible

    def test_the_copy_goes_only_into_a_service_the_user_administers(
        self, persona_client, admin_user, other_service, programme
    ):
        response = persona_client(admin_user).post(
            copy_url(programme), {"service": other_service.pk, "name": "Theirs"}
        )
        assert response.status_code == 200
        assert not Programme.objects.filter(service=other_service).exists()

    def test_a_second_copy_into_the_same_service_is_a_form_error(
        self, persona_client, admin_user, service, programme
    ):
        services.programme_copy(programme=programme, service=service, name="Ours", by=admin_user)
        response = persona_client(admin_user).post(
            copy_url(programme), {"service": service.pk, "name": "Ours again"}
        )
        assert response.status_code == 200
        assert b"already has a copy" in response.content
        assert Programme.objects.filter(service=service).count() == 1

    def test_roles_and_scope(
        self, persona_client, admin_user, other_admin, clinician, manager, other_service, programme
    ):
        assert persona_client(None).get(copy_url(programme)).status_code == 302
        assert persona_client(clinician).get(copy_url(programme)).status_code == 403
        assert persona_client(manager).get(copy_url(programme)).status_code == 403
        # Only shared programmes are copied; another service's own programme does not exist
        # for this administrator.
        theirs = services.programme_copy(
            programme=programme, service=other_service, name="T", by=None
        )
        assert persona_client(admin_user).get(copy_url(theirs)).status_code == 404
        edit_theirs = reverse("programmes:programme_edit", args=[theirs.pk])
        assert persona_client(admin_user).get(edit_theirs).status_code == 404
        assert persona_client(other_admin).get(edit_theirs).status_code == 200
        assert persona_client(clinician).get(edit_theirs).status_code == 404


def services_visible_to(service) -> set[str]:
    from programmes.selectors import programmes_visible_to

    user = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    return set(programmes_visible_to(user).filter(is_current=True).values_list("key", flat=True))


class TestPlatformRevision:
    def test_the_command_revises_a_shared_programme_with_its_timepoints(self, programme):
        ReminderPolicy.objects.create(programme=programme, first_reminder_days=4)
        platform = UserFactory(username="platform-lead")

        call_command(
            "revise_shared_programme",
            "cfgp-52",
            "--by=platform-lead",
            "--name=Compassion Focused Group Psychotherapy, 2027",
            "--phase=2=Trauma group",
            "--theme=1=Welcome",
            stdout=io.StringIO(),
        )

        new = Programme.objects.get(key="cfgp-52", is_current=True)
        assert (new.version, new.service, new.created_by) == (programme.version + 1, None, platform)
        assert new.phases.get(order=2).name == "Trauma group"
        assert new.curriculum.get(week=1).theme == "Welcome"
        assert timepoints_of(new) == timepoints_of(programme)
        assert ReminderPolicy.objects.get(programme=new).first_reminder_days == 4
        created = LogEntry.objects.get_for_object(new).get(action=LogEntry.Action.CREATE)
        assert created.actor == platform

    def test_the_command_revises_only_shared_programmes(self, service, programme):
        copy = services.programme_copy(programme=programme, service=service, name="O", by=None)
        UserFactory(username="platform-lead")
        with pytest.raises(CommandError, match="No shared programme"):
            call_command("revise_shared_programme", copy.key, "--name=X", "--by=platform-lead")
        with pytest.raises(CommandError, match="No shared programme"):
            call_command("revise_shared_programme", "no-such", "--name=X", "--by=platform-lead")
        assert Programme.objects.get(key=copy.key, is_current=True).name == "O"

    def test_a_bad_phase_argument_is_a_clear_error(self, programme):
        with pytest.raises(CommandError, match="ORDER=NAME"):
            call_command(
                "revise_shared_programme", "cfgp-52", "--phase=Trauma group", "--by=nobody"
            )
