"""The data the authorisation matrix runs against: two services, each with the same set of
objects, and one persona per role.

Each object factory below takes the world and a scope ("own": the service of clinician,
manager and admin; "other": the other clinician's service) and returns the URL kwargs that
point at that scope's object. A new page whose URL takes a new kind of object needs one
entry in OBJECTS.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.apps import apps
from django.utils import timezone

from accounts.models import Membership
from participants.models import SubjectAccessRequest
from tests.factories import MembershipFactory, ParticipantFactory, ServiceFactory, UserFactory

ROLES = (
    "anonymous",
    "participant",
    "clinician",
    "other_clinician",
    "manager",
    "admin",
    "superuser",
)
START = dt.date(2026, 1, 6)  # a Tuesday; the baseline questionnaires are open two days later
NOW = dt.datetime(2026, 1, 8, 10, 0, tzinfo=dt.UTC)


@dataclass
class Side:
    """Everything one service holds."""

    service: object
    clinician: object
    colleague: object  # a second clinician: the staff member other pages act upon
    participant: object = None
    cohort: object = None
    session: object = None
    enrolment: object = None
    administration: object = None
    alert: object = None
    escalation: object = None
    sar: object = None
    token: str = ""
    programme: object = None  # the service's own copy of the shared programme
    extra: dict = field(default_factory=dict)


def _side(name: str) -> Side:
    from measures import links
    from measures import services as measure_services
    from programmes import services as programme_services

    programme_model = apps.get_model("programmes", "Programme")
    administration_model = apps.get_model("measures", "Administration")
    alert_model = apps.get_model("measures", "RiskAlert")
    message_model = apps.get_model("reminders", "Message")
    escalation_model = apps.get_model("reminders", "Escalation")

    service = ServiceFactory(name=name)
    clinician = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    colleague = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    side = Side(service=service, clinician=clinician, colleague=colleague)
    side.cohort = programme_services.cohort_create(
        service=service,
        programme=programme_model.objects.get(key="cfgp-52", is_current=True),
        name=f"{name} cohort",
        start_date=START,
        start_time=dt.time(10, 0),
        venue="Room 1",
        capacity=10,
        facilitators=[clinician],
    )
    side.session = side.cohort.sessions.order_by("date").first()
    side.programme = programme_services.programme_copy(
        programme=side.cohort.programme, service=service, name=f"{name} programme", by=None
    )
    side.participant = ParticipantFactory(service=service)
    side.enrolment = programme_services.enrolment_create(
        cohort=side.cohort, participant=side.participant, enrolled_on=START
    )
    if not administration_model.objects.filter(enrolment=side.enrolment).exists():
        measure_services.administrations_lay_out(enrolment=side.enrolment)
    side.administration = (
        administration_model.objects.filter(
            enrolment=side.enrolment, status=administration_model.Status.OPEN
        )
        .order_by("pk")
        .first()
    )
    side.alert = alert_model.objects.create(
        administration=side.administration, item=9, severity=alert_model.Severity.URGENT
    )
    # Enrolling planned the open window's messages, the facilitators' task among them.
    message = message_model.objects.filter(
        enrolment=side.enrolment,
        timepoint=side.administration.timepoint,
        kind=message_model.Kind.ESCALATION,
    ).first() or message_model.objects.create(
        service=service,
        participant=side.participant,
        enrolment=side.enrolment,
        timepoint=side.administration.timepoint,
        kind=message_model.Kind.ESCALATION,
        channel=message_model.Channel.STAFF,
        due_at=timezone.now(),
    )
    side.escalation = escalation_model.objects.create(
        service=service,
        enrolment=side.enrolment,
        timepoint=side.administration.timepoint,
        message=message,
    )
    # Released already, so that its downloads are a page and not a refusal.
    side.sar = SubjectAccessRequest.objects.create(
        service=service,
        participant=side.participant,
        received_on=START,
        requested_by=colleague,
        reviewed_by=clinician,
        reviewed_at=timezone.now(),
        status=SubjectAccessRequest.Status.RELEASED,
        released_at=timezone.now(),
    )
    side.token = links.link_issue(
        participant=side.participant, expires_at=timezone.now() + dt.timedelta(days=14)
    )
    return side


@dataclass
class World:
    own: Side
    other: Side
    personas: dict  # role name -> User, or None for anonymous and the participant

    def side(self, scope: str) -> Side:
        return self.other if scope == "other" else self.own


def build_world() -> World:
    own = _side("Riverside Team")
    other = _side("Hillside Team")
    manager = MembershipFactory(service=own.service, role=Membership.Role.MANAGER).user
    admin = MembershipFactory(service=own.service, role=Membership.Role.ADMIN).user
    superuser = UserFactory(is_staff=True, is_superuser=True)
    superuser.save()
    personas = {
        "anonymous": None,
        "participant": None,
        "clinician": own.clinician,
        "other_clinician": other.clinician,
        "manager": manager,
        "admin": admin,
        "superuser": superuser,
    }
    return World(own=own, other=other, personas=personas)


def _licensed_code() -> str:
    from measures.definitions import all_instruments

    return next(i.code for i in all_instruments() if not i.ships_wording)


# Objects every service shares (one scope only: there is no "other service's" copy).
SHARED_OBJECTS = {"shared_programme"}

# Object kind -> (world, scope) -> URL kwargs.
OBJECTS = {
    "participant": lambda w, s: {"pk": w.side(s).participant.pk},
    "participant_pk": lambda w, s: {"participant_pk": w.side(s).participant.pk},
    "cohort": lambda w, s: {"pk": w.side(s).cohort.pk},
    "session": lambda w, s: {"pk": w.side(s).session.pk},
    "enrolment": lambda w, s: {"pk": w.side(s).enrolment.pk},
    "administration": lambda w, s: {"pk": w.side(s).administration.pk},
    "questionnaire_page": lambda w, s: {"pk": w.side(s).administration.pk, "number": 1},
    "alert": lambda w, s: {"pk": w.side(s).alert.pk},
    "escalation": lambda w, s: {"pk": w.side(s).escalation.pk},
    "service": lambda w, s: {"pk": w.side(s).service.pk},
    "service_id": lambda w, s: {"service_id": w.side(s).service.pk},
    "wording": lambda w, s: {"service_pk": w.side(s).service.pk, "code": _licensed_code()},
    "staff_member": lambda w, s: {"pk": w.side(s).colleague.pk},
    "staff_membership": lambda w, s: {"pk": w.side(s).colleague.memberships.get().pk},
    "sar": lambda w, s: {"pk": w.side(s).sar.pk},
    "token": lambda w, s: {"token": w.side(s).token},
    "programme": lambda w, s: {"pk": w.side(s).programme.pk},
    # Shared by every service (the default programmes): one scope only.
    "shared_programme": lambda w, s: {
        "pk": apps.get_model("programmes", "Programme")
        .objects.get(key="cfgp-52", is_current=True)
        .pk
    },
}
