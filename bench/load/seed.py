"""Data for the load test, made through the project's own service functions.

    python -m bench.load.seed --out fixture.json   (with the load test's environment)

Two services, each with clinicians and managers and cohorts of the default programme whose
baseline window is open today, so every participant link opens questionnaires. A few older
cohorts have baselines entered on paper, so the dashboards have scores to show. Staff
sessions are written through Django's session engine and marked as having passed the second
factor exactly as tests/conftest.py's sign_in does. Writes the raw tokens and session
cookies to a JSON file the locustfile reads.
"""

import argparse
import datetime
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SERVICES = 2
COHORTS_PER_SERVICE = 10
PER_COHORT = 10  # 2 x 10 x 10 = 200 participants with a link
PAST_COHORTS_PER_SERVICE = 2
CLINICIANS_PER_SERVICE = 7
MANAGERS_PER_SERVICE = 3  # 2 x (7 + 3) = 20 staff
# Baseline opens 21 days before a cohort's start and closes 14 days after it.
START_OFFSETS = range(-6, 14, 2)
PAST_START_WEEKS = 14
SEED = 20261101


def _setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _wording(service) -> None:
    """Placeholder wording for the instruments that ship without theirs, as a service loads."""
    from measures import services
    from measures.catalogue import PLACEHOLDER_LABEL
    from measures.definitions import get_instrument
    from measures.models import Timepoint

    codes = {
        code
        for instruments in Timepoint.objects.values_list("instruments", flat=True)
        for code in instruments
        if not get_instrument(code).ships_wording
    }
    for code in sorted(codes):
        instrument = get_instrument(code)
        values = sorted({v for item in instrument.items for v in item.option_values})
        services.wording_import(
            service=service,
            instrument_code=code,
            items={i.number: f"{PLACEHOLDER_LABEL} (item {i.number})" for i in instrument.items},
            option_labels={value: f"{value} (placeholder)" for value in values},
            instructions=f"{PLACEHOLDER_LABEL}.",
            is_placeholder=True,
        )


def _staff(service, index: int, role, username: str):
    from accounts.demo_mfa import ensure_totp
    from accounts.models import Membership, User

    user = User.objects.create_user(
        username=username,
        email=f"{username}@example.nhs.uk",
        first_name="Load",
        last_name=f"Tester {index}",
        password=None,
    )
    Membership.objects.create(user=user, service=service, role=role)
    ensure_totp(user)
    return user


def _signed_in_cookie(user) -> str:
    """A session that has passed password and second factor, as tests/conftest.py sign_in."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": 0, "username": user.username},
        {"method": "mfa", "at": 0, "type": "totp", "id": 0},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _answers(instrument, rng: random.Random) -> dict[int, object]:
    return {
        item.number: (rng.randint(0, 5) if item.count else rng.choice(list(item.option_values)))
        for item in instrument.items
    }


def _enter_past_baselines(enrolment, entered_by, rng: random.Random) -> int:
    from django.utils import timezone

    from measures import services
    from measures.definitions import get_instrument
    from measures.models import Administration

    count = 0
    rows = Administration.objects.filter(enrolment=enrolment, timepoint__key="baseline")
    for adm in rows:
        services.administration_enter(
            administration=adm,
            answers=_answers(get_instrument(adm.instrument_code), rng),
            entered_by=entered_by,
            completed_at=timezone.now() - datetime.timedelta(weeks=PAST_START_WEEKS),
        )
        count += 1
    return count


def generate() -> dict:
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import Membership, Service
    from measures import links
    from participants.services import participant_create
    from programmes.models import Programme
    from programmes.services import cohort_create, enrolment_create

    rng = random.Random(SEED)
    today = timezone.localdate()
    programme = Programme.objects.get(key="cfgp-52", is_current=True)
    expires = timezone.now() + datetime.timedelta(days=14)
    out = {"participants": [], "staff": [], "cookie_name": settings.SESSION_COOKIE_NAME}
    paper = 0
    for s in range(SERVICES):
        service = Service.objects.create(
            name=f"Load Team {s + 1}", public_name=f"Load Team {s + 1}", phone="0113 496 0000"
        )
        _wording(service)
        clinicians = [
            _staff(service, i, Membership.Role.CLINICIAN, f"load-s{s + 1}-clinician-{i + 1}")
            for i in range(CLINICIANS_PER_SERVICE)
        ]
        managers = [
            _staff(service, i, Membership.Role.MANAGER, f"load-s{s + 1}-manager-{i + 1}")
            for i in range(MANAGERS_PER_SERVICE)
        ]
        starts = [today + datetime.timedelta(days=d) for d in START_OFFSETS]
        past = [
            today - datetime.timedelta(weeks=PAST_START_WEEKS, days=7 * k)
            for k in range(PAST_COHORTS_PER_SERVICE)
        ]
        cohort_ids = []
        number = 0
        for c, start in enumerate(starts + past):
            cohort = cohort_create(
                service=service,
                programme=programme,
                name=f"Load cohort {c + 1}",
                start_date=start,
                start_time=datetime.time(10, 0),
                venue="Room 1",
                capacity=PER_COHORT + 1,
                facilitators=[clinicians[c % len(clinicians)]],
            )
            cohort_ids.append(cohort.pk)
            for _ in range(PER_COHORT):
                number += 1
                participant = participant_create(
                    service=service,
                    reference=f"LS{s + 1}-{number:04d}",
                    given_name=rng.choice(["Alex", "Sam", "Jo", "Robin", "Kai", "Rowan"]),
                    family_name=rng.choice(["Abbott", "Barker", "Dawson", "Mercer", "Oakley"]),
                    email=f"load{s + 1}-{number}@example.com",
                    mobile="+447700900123",
                )
                enrolment = enrolment_create(
                    cohort=cohort, participant=participant, enrolled_on=min(start, today)
                )
                if start in past:
                    paper += _enter_past_baselines(enrolment, clinicians[0], rng)
                else:
                    out["participants"].append(
                        links.link_issue(participant=participant, expires_at=expires)
                    )
            if c == 0 and s == 0:
                # One more, kept out of the run, whose save is profiled afterwards.
                participant = participant_create(
                    service=service,
                    reference="LS-PROFILE",
                    given_name="Pat",
                    family_name="Lee",
                    mobile="+447700900123",
                )
                enrolment_create(cohort=cohort, participant=participant, enrolled_on=today)
                out["reserved"] = links.link_issue(participant=participant, expires_at=expires)
        for user in clinicians + managers:
            out["staff"].append(
                {
                    "username": user.username,
                    "service": service.pk,
                    "cohorts": cohort_ids,
                    "cookie": _signed_in_cookie(user),
                }
            )
    out["paper_entered"] = paper
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    _setup()
    data = generate()
    args.out.write_text(json.dumps(data))
    print(
        f"seeded {len(data['participants'])} participant links, {len(data['staff'])} staff "
        f"sessions, {data['paper_entered']} paper baselines"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
