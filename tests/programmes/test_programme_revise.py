import pytest
from django.core.exceptions import ValidationError

from programmes import events
from programmes.models import Programme
from programmes.services import programme_copy, programme_revise
from tests.programmes.conftest import make_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(service, admin_user):
    """A service's own copy of the 52-week programme: only such programmes are revised
    (the shared ones are read-only to services, see test_shared_programmes.py)."""
    shared = Programme.objects.get(key="cfgp-52", is_current=True)
    return programme_copy(programme=shared, service=service, name=shared.name, by=admin_user)


def test_revising_makes_a_new_current_version_and_running_cohorts_keep_theirs(
    service, programme, admin_user
):
    cohort = make_cohort(service, programme)
    seen = []

    def receiver(sender, programme, previous, **kwargs):
        seen.append((previous.pk, programme.pk))

    events.programme_revised.connect(receiver)
    try:
        new = programme_revise(
            programme=programme,
            by=admin_user,
            phase_names={2: "Trauma group"},
            themes={1: "Welcome", 12: ""},
        )
    finally:
        events.programme_revised.disconnect(receiver)

    programme.refresh_from_db()
    assert not programme.is_current
    assert (new.key, new.version, new.is_current, new.created_by) == (
        programme.key,
        2,
        True,
        admin_user,
    )
    assert seen == [(programme.pk, new.pk)]
    assert list(new.phases.values_list("order", "name", "start_week", "weeks")) == [
        (1, "Preparation and Engagement Group", 1, 12),
        (2, "Trauma group", 13, 40),
        (3, "Follow-up", 53, 52),
    ]
    assert new.curriculum.get(week=1).theme == "Welcome"
    assert not new.curriculum.filter(week=12).exists()
    assert new.curriculum.count() == 51
    # The running cohort and its sessions are untouched.
    cohort.refresh_from_db()
    assert cohort.programme_id == programme.pk
    assert cohort.sessions.get(number=1).theme.startswith("Welcome: making the group")
    assert programme.curriculum.get(week=1).theme.startswith("Welcome: making the group")
    # New cohorts use the new version.
    later = make_cohort(service, new, name="Later group")
    assert later.sessions.get(number=1).theme == "Welcome"
    assert later.sessions.get(number=13).phase.name == "Trauma group"


def test_a_revision_that_changes_nothing_is_refused(programme, admin_user):
    with pytest.raises(ValidationError):
        programme_revise(programme=programme, by=admin_user, name=programme.name)
    assert Programme.objects.filter(key=programme.key).count() == 1


def test_only_the_current_version_can_be_revised(programme, admin_user):
    programme_revise(programme=programme, by=admin_user, name="Renamed")
    programme.refresh_from_db()
    with pytest.raises(ValidationError):
        programme_revise(programme=programme, by=admin_user, name="Again")
