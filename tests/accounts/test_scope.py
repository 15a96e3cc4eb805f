import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404

from accounts.models import Membership
from accounts.scope import Can, get_scoped_or_404, scoped
from participants.models import Participant
from tests.factories import MembershipFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


def test_clinician_sees_only_own_service_participants(clinician, service, other_service):
    mine = ParticipantFactory(service=service)
    ParticipantFactory(service=other_service)
    visible = scoped(clinician, Participant.objects.all(), can=Can.VIEW_CLINICAL)
    assert list(visible) == [mine]


def test_other_service_object_is_not_found(clinician, other_service):
    theirs = ParticipantFactory(service=other_service)
    with pytest.raises(Http404):
        get_scoped_or_404(clinician, Participant, can=Can.VIEW_CLINICAL, pk=theirs.pk)


def test_manager_may_look_but_not_change(manager, service):
    participant = ParticipantFactory(service=service)
    assert get_scoped_or_404(manager, Participant, can=Can.VIEW_CLINICAL, pk=participant.pk)
    with pytest.raises(PermissionDenied):
        get_scoped_or_404(manager, Participant, can=Can.CHANGE_CLINICAL, pk=participant.pk)


def test_admin_cannot_read_clinical_records(admin_user, service):
    participant = ParticipantFactory(service=service)
    with pytest.raises(PermissionDenied):
        get_scoped_or_404(admin_user, Participant, can=Can.VIEW_CLINICAL, pk=participant.pk)


def test_inactive_user_sees_nothing(clinician, service):
    ParticipantFactory(service=service)
    clinician.is_active = False
    assert not scoped(clinician, Participant.objects.all(), can=Can.VIEW_CLINICAL).exists()


def test_one_membership_per_user_per_service(clinician, service):
    with pytest.raises(IntegrityError):
        MembershipFactory(user=clinician, service=service, role=Membership.Role.MANAGER)


def test_membership_role_must_be_known(service):
    with pytest.raises(IntegrityError):
        MembershipFactory(service=service, role="superhero")
