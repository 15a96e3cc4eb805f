"""factory_boy factories for the domain. Defaults make a valid object in its own service.

Personal data is canary data: every name, e-mail address, phone number, NHS number and date
of birth a factory makes carries a recognisable marker, stays valid and is unique, and is
recorded in CANARY_VALUES. The whole-suite log scan (tests/security/canary_plugin.py) fails
the run if any of them reaches the logs.
"""

import datetime
import string

import factory
from factory.django import DjangoModelFactory

from accounts.models import Membership, Service, User
from participants.models import Participant
from programmes.models import Cohort, Enrolment, Programme

# Kind -> every value made so far, for the log scan. Tests that pass their own values are
# not recorded here.
CANARY_VALUES: dict[str, set] = {
    "given name": set(),
    "family name": set(),
    "staff name": set(),
    "email": set(),
    "phone": set(),
    "NHS number": set(),
    "date of birth": set(),
}

# NHS numbers 999 000 0000 upwards are never issued to patients (synthetic and test range).
NHS_NUMBER_PREFIX = "99977"


def _with_check_digit(nine_digits: str) -> str | None:
    """The NHS number's modulus 11 check digit appended, or None when there is none (10)."""
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(nine_digits)) % 11
    if check == 10:
        return None
    return nine_digits + str(check % 11)


_NHS_NUMBERS = [
    number
    for body in range(10_000)
    if (number := _with_check_digit(f"{NHS_NUMBER_PREFIX}{body:04d}")) is not None
]


def _canary(kind: str, value):
    CANARY_VALUES[kind].add(value)
    return value


def _letters(n: int, width: int = 4) -> str:
    """A sequence number as a fixed run of letters (0 -> "aaaa"): names stay letters only."""
    out = ""
    for _ in range(width):
        n, digit = divmod(n, 26)
        out = string.ascii_lowercase[digit] + out
    return out


def canary_given_name(n: int) -> str:
    return _canary("given name", f"Canarygiven{_letters(n)}")


def canary_family_name(n: int) -> str:
    return _canary("family name", f"Canaryzzyzx{_letters(n)}")


def canary_email(n: int) -> str:
    return _canary("email", f"canary.zzyzx+{n}@example.com")


def canary_phone(n: int) -> str:
    """Ofcom's drama range, 07700 900000 to 900999: never a real phone."""
    return _canary("phone", f"+447700900{n % 1000:03d}")


def canary_nhs_number(n: int) -> str:
    """A valid NHS number (mod-11 check digit) starting 99977, in the synthetic range."""
    return _canary("NHS number", _NHS_NUMBERS[n % len(_NHS_NUMBERS)])


def canary_date_of_birth(n: int) -> datetime.date:
    """Born 1931 to 1940."""
    return _canary("date of birth", datetime.date(1931, 1, 1) + datetime.timedelta(days=n % 3650))


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
    first_name = factory.Sequence(lambda n: _canary("staff name", f"Canarystaff{_letters(n)}"))
    last_name = factory.Sequence(lambda n: _canary("staff name", f"Staffcanary{_letters(n)}"))
    email = factory.LazyAttribute(
        lambda o: _canary("email", f"canary.zzyzx.{o.username}@example.nhs.uk")
    )
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
    given_name = factory.Sequence(canary_given_name)
    family_name = factory.Sequence(canary_family_name)
    date_of_birth = factory.Sequence(canary_date_of_birth)
    nhs_number = factory.Sequence(canary_nhs_number)
    email = factory.Sequence(canary_email)
    mobile = factory.Sequence(canary_phone)
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
