"""Demo data: two services, their staff, participants and cohorts at different stages.

Idempotent: everything is looked up by its natural key first, and a cohort that already
exists is left exactly as it is, so a second run changes nothing. Deterministic: the random
choices come from a fixed seed (dates are relative to the day of the first run).

Other apps add their own demo data by providing `<app>/demo.py` with `seed(stdout)`; those
run after this, in INSTALLED_APPS order (which is the layer order), each in a transaction.
"""

import datetime
import importlib
import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Service, User
from participants.models import Participant
from participants.services import participant_create
from programmes import services
from programmes.models import Attendance, Cohort, Enrolment, GroupSession, Programme
from programmes.selectors import enrolments_open_at

SEED = 20240518

SERVICES = [
    # name, public name, phone (Ofcom's drama ranges: never a real line), reference prefix
    ("Riverside Team", "Riverside Team", "0113 496 0101", "RS"),
    ("Hillside Team", "Hillside Team", "0117 496 0202", "HS"),
]
STAFF = [
    # username suffix, role, first name, last name
    ("clinician-1", Membership.Role.CLINICIAN, "Priya", "Shah"),
    ("clinician-2", Membership.Role.CLINICIAN, "Tom", "Eldridge"),
    ("manager", Membership.Role.MANAGER, "Grace", "Okafor"),
    ("admin", Membership.Role.ADMIN, "Martin", "Hughes"),
]
STAFF_NAMES = {
    "Hillside Team": [
        ("Aisha", "Rahman"),
        ("Owen", "Pritchard"),
        ("Helen", "Doyle"),
        ("Sam", "Lee"),
    ]
}
PASSWORD_WORDS = [
    "heron",
    "lantern",
    "meadow",
    "copper",
    "thistle",
    "harbour",
    "orchard",
    "quarry",
    "willow",
    "granite",
    "saffron",
    "beacon",
    "juniper",
    "kestrel",
    "pebble",
    "marigold",
]
GIVEN_NAMES = [
    "Alex",
    "Jordan",
    "Casey",
    "Morgan",
    "Robin",
    "Jamie",
    "Charlie",
    "Taylor",
    "Rowan",
    "Avery",
    "Quinn",
    "Riley",
    "Sasha",
    "Kai",
    "Elliot",
    "Frankie",
    "Harper",
    "Jude",
    "Logan",
    "Nico",
    "Reese",
    "Skyler",
    "Toni",
    "Ash",
    "Bailey",
    "Drew",
    "Emery",
    "Finley",
    "Hayden",
    "Kendall",
    "Lennon",
    "Marley",
    "Parker",
    "Remy",
    "Sidney",
    "Tatum",
]
FAMILY_NAMES = [
    "Abbott",
    "Barker",
    "Chandler",
    "Dawson",
    "Ellison",
    "Fletcher",
    "Gallagher",
    "Hartley",
    "Ingram",
    "Jennings",
    "Kendrick",
    "Lawson",
    "Mercer",
    "Norwood",
    "Oakley",
    "Pemberton",
    "Quayle",
    "Rowntree",
    "Sheridan",
    "Thornton",
    "Underwood",
    "Vickers",
    "Whitlock",
    "Yardley",
    "Ashworth",
    "Bramley",
    "Caldwell",
    "Denholm",
    "Eastwood",
    "Fairburn",
    "Garside",
    "Holroyd",
    "Illingworth",
    "Kirkbride",
    "Lindley",
    "Moorhouse",
]
NOTE_OPENINGS = [
    "Settling-in round and a short soothing rhythm breathing practice.",
    "Check-in, then a recap of last week's practice.",
    "Opened with a brief grounding exercise.",
    "Group agreed to revisit the group agreements before starting.",
]
NOTE_CLOSINGS = [
    "Members shared what they noticed in their bodies; the group ended with a calm-place practice.",
    "Several members described fears of compassion coming up; these were normalised.",
    "Home practice agreed: five minutes of soothing rhythm breathing each day.",
    "Discussion of how the threat system shows up at home and at work.",
    "Quieter session; facilitators checked in with the group about pacing.",
]
WITHDRAW_REASONS = [
    "Moved out of the area.",
    "Chose to leave: the group was not the right fit at this time.",
    "Started full-time work; the session time no longer fits.",
]
DISCHARGE_REASONS = [
    "Admitted to hospital; to be re-referred when well.",
    "Transferred to another team's care.",
]


@dataclass
class CohortPlan:
    service: str
    programme_key: str
    name: str
    weeks_ago: int  # the first session was this many weeks before today
    size: int
    withdrawn: tuple[int, ...] = ()  # session numbers after which someone withdraws
    discharged: tuple[int, ...] = ()
    dna_run: bool = False  # one participant has missed the last three sessions
    cancel: int | None = None  # a session cancelled for facilitator illness
    venue: str = "Group room 1, Community Mental Health Centre"
    start_time: datetime.time = datetime.time(10, 0)


COHORTS = [
    CohortPlan(
        "Riverside Team",
        "cfgp-52",
        "Riverside trauma group (started this year)",
        weeks_ago=19,
        size=9,
        withdrawn=(6,),
        discharged=(15,),
        dna_run=True,
        cancel=10,
    ),
    CohortPlan(
        "Riverside Team",
        "cfgp-52",
        "Riverside group (finished, in follow-up)",
        weeks_ago=60,
        size=10,
        withdrawn=(4, 23),
        discharged=(31,),
        cancel=40,
        start_time=datetime.time(13, 30),
    ),
    CohortPlan(
        "Hillside Team",
        "cfgp-52",
        "Hillside preparation group",
        weeks_ago=11,  # session 12 today: the end-of-preparation questionnaires are open
        size=8,
        withdrawn=(2,),
        venue="Meeting room B, Hillside Resource Centre",
    ),
    CohortPlan(
        "Hillside Team",
        "peg-usual-care",
        "Hillside preparation then usual care",
        weeks_ago=8,
        size=8,
        discharged=(5,),
        venue="Meeting room B, Hillside Resource Centre",
        start_time=datetime.time(14, 0),
    ),
]


def nhs_test_number(rng: random.Random) -> str:
    """A checksum-valid number in the 999 range the NHS keeps for testing."""
    while True:
        digits = [9, 9, 9] + [rng.randrange(10) for _ in range(6)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


class Command(BaseCommand):
    help = "Load demo services, staff, participants and cohorts. Safe to run more than once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-apps",
            action="store_true",
            help="Only this command's own data; do not run other apps' demo.py.",
        )

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                "seed_demo makes accounts with printed passwords: not in production."
            )
        self.rng = random.Random(SEED)
        self.numbers: dict[str, int] = {}
        self.today = timezone.localdate()
        with transaction.atomic():
            accounts = self._staff()
            self._programmes_exist()
            for plan in COHORTS:
                self._cohort(plan)
        if not options["skip_apps"]:
            self._run_app_hooks()
        self._print_accounts(accounts)

    # Staff ------------------------------------------------------------------------------

    def _staff(self) -> list[tuple[str, str, str, str]]:
        accounts = []
        for name, public_name, phone, _prefix in SERVICES:
            service, _ = Service.objects.get_or_create(
                name=name, defaults={"public_name": public_name, "phone": phone}
            )
            slug = name.split()[0].lower()
            for index, (suffix, role, first, last) in enumerate(STAFF):
                if name in STAFF_NAMES:
                    first, last = STAFF_NAMES[name][index]
                username = f"{slug}-{suffix}"
                password = self._password()
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User.objects.create_user(
                        username=username,
                        password=password,
                        first_name=first,
                        last_name=last,
                        email=f"{username}@example.org",
                    )
                Membership.objects.get_or_create(
                    user=user, service=service, defaults={"role": role}
                )
                accounts.append((username, Membership.Role(role).label, name, password))
        return accounts

    def _password(self) -> str:
        words = self.rng.sample(PASSWORD_WORDS, 3)
        return "-".join(w.capitalize() for w in words) + f"-{self.rng.randrange(10, 99)}"

    def _programmes_exist(self) -> None:
        for key in ("cfgp-52", "peg-usual-care"):
            if not Programme.objects.filter(key=key, is_current=True).exists():
                raise CommandError(f"The default programme {key!r} is missing: run migrate.")

    # Cohorts ----------------------------------------------------------------------------

    def _cohort(self, plan: CohortPlan) -> None:
        service = Service.objects.get(name=plan.service)
        prefix = next(p for n, _, _, p in SERVICES if n == plan.service)
        # Participants first, whatever happens to the cohort, so the random stream (and so
        # everything after it) is the same on every run.
        people = [self._participant(service, prefix) for _ in range(plan.size)]
        rng = random.Random(f"{SEED}-{plan.name}")
        if Cohort.objects.filter(service=service, name=plan.name).exists():
            self.stdout.write(f"Cohort exists, left as it is: {plan.name}")
            return

        weekday = self.today.weekday() if self.today.weekday() < 5 else 2
        start = self.today - datetime.timedelta(days=(self.today.weekday() - weekday) % 7)
        start -= datetime.timedelta(weeks=plan.weeks_ago)
        facilitators = list(
            User.objects.filter(
                memberships__service=service, memberships__role=Membership.Role.CLINICIAN
            ).order_by("username")
        )
        cohort = services.cohort_create(
            service=service,
            programme=Programme.objects.get(key=plan.programme_key, is_current=True),
            name=plan.name,
            start_date=start,
            start_time=plan.start_time,
            venue=plan.venue,
            capacity=10,
            facilitators=facilitators,
        )
        self._bank_holidays(cohort)
        if plan.cancel:
            session = cohort.sessions.get(number=plan.cancel)
            if session.status != GroupSession.Status.CANCELLED:
                services.session_cancel(session=session, reason="Facilitator illness.")

        enrolments = [
            services.enrolment_create(
                cohort=cohort, participant=person, enrolled_on=start - datetime.timedelta(days=7)
            )
            for person in people
        ]
        sessions = list(cohort.sessions.filter(date__lt=self.today).order_by("date"))
        self._drop_outs(plan, enrolments, sessions, rng)
        self._registers(plan, cohort, enrolments, sessions, facilitators[0], rng)
        self.stdout.write(
            f"Cohort created: {plan.name} ({len(enrolments)} enrolled, "
            f"{len(sessions)} registers taken)"
        )

    def _participant(self, service: Service, prefix: str) -> Participant:
        rng = self.rng
        self.numbers[prefix] = number = self.numbers.get(prefix, 0) + 1
        given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
        reference = f"{prefix}-{number:04d}"
        born = datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(42 * 365))
        nhs = nhs_test_number(rng) if rng.random() < 0.8 else ""
        by_email = rng.random() < 0.3
        opt_out = rng.random() < 0.08
        mobile = f"07700 900{rng.randrange(1000):03d}"
        existing = Participant.objects.filter(service=service, reference=reference).first()
        if existing is not None:
            return existing
        return participant_create(
            service=service,
            reference=reference,
            given_name=given,
            family_name=family,
            date_of_birth=born,
            nhs_number=nhs if not Participant.objects.filter(nhs_number=nhs).exists() else "",
            email=f"{given}.{family}.{number}@example.org".lower(),
            mobile=mobile,
            preferred_channel=Participant.Channel.EMAIL if by_email else Participant.Channel.SMS,
            messages_opt_out=opt_out,
        )

    def _bank_holidays(self, cohort: Cohort) -> None:
        """Move each bank-holiday session to the next weekday, or cancel it if that is taken."""
        taken = set(cohort.sessions.values_list("date", flat=True))
        for session in cohort.sessions.exclude(bank_holiday="").order_by("number"):
            next_day = session.date + datetime.timedelta(days=1)
            free = next_day not in taken and not services.bank_holiday_name(next_day)
            if next_day.weekday() < 5 and free:
                services.session_move(
                    session=session,
                    new_date=next_day,
                    reason=f"{session.bank_holiday}: moved to the next day.",
                )
                taken.add(next_day)
            else:
                services.session_cancel(session=session, reason=f"{session.bank_holiday}.")

    def _drop_outs(self, plan, enrolments, sessions, rng) -> None:
        held = [s for s in sessions if s.status != GroupSession.Status.CANCELLED]
        leaving = len(plan.withdrawn) + len(plan.discharged)
        leavers = list(enrolments[len(enrolments) - leaving :]) if leaving else []
        for after, status, reasons in [
            *((n, Enrolment.Status.WITHDRAWN, WITHDRAW_REASONS) for n in plan.withdrawn),
            *((n, Enrolment.Status.DISCHARGED, DISCHARGE_REASONS) for n in plan.discharged),
        ]:
            last = next((s for s in held if s.number >= after), None)
            if last is None or not leavers:
                continue
            services.enrolment_end(
                enrolment=leavers.pop(0),
                status=status,
                ended_on=last.date + datetime.timedelta(days=2),
                reason=rng.choice(reasons),
            )

    def _registers(self, plan, cohort, enrolments, sessions, clinician, rng) -> None:
        reliability = {e.pk: rng.uniform(0.65, 0.97) for e in enrolments}
        held = [s for s in sessions if s.status != GroupSession.Status.CANCELLED]
        # The first enrolment still open misses the last three sessions, to show the flag.
        drifting = enrolments[0].pk if plan.dna_run else None
        for index, session in enumerate(held):
            statuses = {}
            for enrolment in enrolments_open_at(session):
                if enrolment.pk == drifting and index >= len(held) - 3:
                    statuses[enrolment.pk] = Attendance.Status.DNA
                elif rng.random() < reliability[enrolment.pk]:
                    statuses[enrolment.pk] = rng.choices(
                        [Attendance.Status.PRESENT, Attendance.Status.LATE, "left_early"],
                        weights=[85, 10, 5],
                    )[0]
                else:
                    statuses[enrolment.pk] = rng.choice(
                        [Attendance.Status.APOLOGIES, Attendance.Status.DNA]
                    )
            theme = session.theme.split(":")[0] if session.theme else "the session's theme"
            note = " ".join(
                [
                    rng.choice(NOTE_OPENINGS),
                    f"Main work: {theme.lower()}.",
                    rng.choice(NOTE_CLOSINGS),
                ]
            )
            services.attendance_record(
                session=session, statuses=statuses, group_note=note, by=clinician
            )

    # Other apps -------------------------------------------------------------------------

    def _run_app_hooks(self) -> None:
        base = Path(settings.BASE_DIR).resolve()
        for config in apps.get_app_configs():
            if config.name == "programmes" or base not in Path(config.path).resolve().parents:
                continue
            module_name = f"{config.name}.demo"
            if importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            with transaction.atomic():
                module.seed(self.stdout)

    def _print_accounts(self, accounts) -> None:
        self.stdout.write("")
        self.stdout.write(
            "Demo staff accounts (passwords as first set; unchanged if edited since):"
        )
        self.stdout.write(f"  {'username':<24}{'role':<18}{'service':<18}password")
        for username, role, service, password in accounts:
            self.stdout.write(f"  {username:<24}{role:<18}{service:<18}{password}")
