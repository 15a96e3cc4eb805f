"""Two administrators stepping down at the same moment cannot leave a service with none."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from accounts import services
from accounts.models import Membership
from tests.factories import MembershipFactory, ServiceFactory

Role = Membership.Role


@pytest.mark.django_db(transaction=True)
def test_the_second_of_two_simultaneous_step_downs_is_refused():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    service = ServiceFactory(name="Riverside Team")
    first = MembershipFactory(service=service, role=Role.ADMIN)
    second = MembershipFactory(service=service, role=Role.ADMIN)
    first_done, release, outcome = threading.Event(), threading.Event(), {}

    def step_down_first():
        try:
            with transaction.atomic():  # holds its locks until released
                services.membership_role_change(membership=first, role=Role.CLINICIAN)
                first_done.set()
                release.wait(10)
        finally:
            connection.close()

    def step_down_second():
        try:
            services.membership_role_change(
                membership=Membership.objects.get(pk=second.pk), role=Role.CLINICIAN
            )
            outcome["second"] = "changed"
        except ValidationError as error:
            outcome["second"] = error.messages[0]
        finally:
            connection.close()

    one = threading.Thread(target=step_down_first)
    one.start()
    assert first_done.wait(10)
    two = threading.Thread(target=step_down_second)
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second step-down should wait for the first's lock"
    release.set()
    one.join(10)
    two.join(10)

    assert "would have no administrator left" in outcome["second"]
    roles = dict(Membership.objects.filter(service=service).values_list("pk", "role"))
    assert roles == {first.pk: Role.CLINICIAN, second.pk: Role.ADMIN}
