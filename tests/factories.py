"""factory_boy factories for the domain. Defaults make a valid object in its own service."""

import datetime

import factory
from factory.django import DjangoModelFactory

from accounts.models import Membership, Service, User
from participants.models import Participant
from programmes.models import Cohort, Enrolment, Programme


class ServiceFactory(DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    public_name = "Your NHS team"
    phone = "0113 496 0000"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.nhs.uk")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    service = factory.SubFactory(ServiceFactory)
    role = Membership.Role.CLINICIAN


class ParticipantFactory(DjangoModelFactory):
    class Meta:
        model = Participant

    service = factory.SubFactory(ServiceFactory)
    reference = factory.Sequence(lambda n: f"REF{n:05d}")
    given_name = factory.Faker("first_name", locale="en_GB")
    family_name = factory.Faker("last_name", locale="en_GB")
    email = factory.Sequence(lambda n: f"participant{n}@example.com")
    mobile = "+447700900123"
    preferred_channel = Participant.Channel.SMS


def default_programme() -> Programme:
    return Programme.objects.get(key="cfgp-52", is_current=True)


class CohortFactory(DjangoModelFactory):
    """A cohort row only; use programmes.services.cohort_create to lay out sessions."""

    class Meta:
        model = Cohort

    service = factory.SubFactory(ServiceFactory)
    programme = factory.LazyFunction(default_programme)
    name = factory.Sequence(lambda n: f"Cohort {n}")
    start_date = datetime.date(2026, 1, 6)
    weekday = factory.LazyAttribute(lambda o: o.start_date.weekday())
    start_time = datetime.time(10, 0)
    venue = "Room 2, Community Mental Health Centre"
    capacity = 10


class EnrolmentFactory(DjangoModelFactory):
    class Meta:
        model = Enrolment

    cohort = factory.SubFactory(CohortFactory)
    participant = factory.SubFactory(
        ParticipantFactory, service=factory.SelfAttribute("..cohort.service")
    )
    status = Enrolment.Status.ACTIVE
    enrolled_on = factory.LazyAttribute(lambda o: o.cohort.start_date)
