"""Demo data for questionnaires, run by seed_demo after the programmes demo.

Loads placeholder wording (clearly labelled as not the licensed text) for the instruments that
ship without wording, so the demo can be answered online end to end; then completes realistic
answers for the demo cohorts' past timepoints, scored through the real score(), so the
participant and dashboard pages have data. Safe to run twice.
"""

import datetime
import random

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Service
from measures import services
from measures.catalogue import PLACEHOLDER_LABEL, STAFF_COMPLETED
from measures.definitions import Instrument, get_instrument
from measures.models import Administration, InstrumentWording, Timepoint
from programmes.models import Enrolment

COMPLETION_RATE = 0.85
# Only these answers in the demo touch a risk item, so a few alerts show and no more.
RISK_SHOWCASE = 2


def seed(stdout) -> None:
    today = timezone.localdate()
    demo_services = list(Service.objects.filter(cohorts__isnull=False).distinct())
    codes = sorted(
        {
            code
            for instruments in Timepoint.objects.values_list("instruments", flat=True)
            for code in instruments
            if not get_instrument(code).ships_wording
        }
    )
    loaded = 0
    for service in demo_services:
        for code in codes:
            loaded += _placeholder_wording(service, get_instrument(code))
    stdout.write(f"Questionnaires: placeholder wording loaded for {loaded} instrument(s).")

    laid_out = 0
    for enrolment in Enrolment.objects.filter(cohort__service__in=demo_services):
        # As if laid out on the day they enrolled, which in the demo is long before today.
        laid_out += services.administrations_lay_out(
            enrolment=enrolment, today=enrolment.enrolled_on
        )
    # Enrolments made by the programmes demo were laid out today, marking their past
    # windows missed; in the story they enrolled on time, so those windows were live.
    Administration.objects.filter(
        enrolment__cohort__service__in=demo_services,
        status=Administration.Status.MISSED,
        closes_on__gte=F("enrolment__enrolled_on"),
    ).update(status=Administration.Status.SCHEDULED)
    completed = _complete_past(demo_services, today)
    services.administrations_open_due(today=today)
    expired = services.administrations_expire(today=today)
    stdout.write(
        f"Questionnaires: {laid_out} scheduled, {completed} completed, {expired} left expired."
    )


def _placeholder_wording(service, instrument: Instrument) -> int:
    existing = InstrumentWording.objects.filter(
        service=service, instrument_code=instrument.code
    ).first()
    if existing is not None:
        return 0
    values = sorted({v for item in instrument.items for v in item.option_values})
    services.wording_import(
        service=service,
        instrument_code=instrument.code,
        items={
            item.number: f"{PLACEHOLDER_LABEL} ({instrument.name} item {item.number})"
            for item in instrument.items
        },
        option_labels={value: f"{value} (placeholder answer)" for value in values},
        instructions=f"{PLACEHOLDER_LABEL}. Choose the answer that fits best.",
        is_placeholder=True,
    )
    return 1


def _item_direction(instrument: Instrument) -> dict[int, bool]:
    """Item number -> True when a higher answer means more distress."""
    worse = {}
    for scale in instrument.scales:
        for number in scale.items:
            reversed_ = bool(scale.reversed and number in scale.reversed.items)
            worse[number] = (scale.higher_is == "worse") != reversed_
    return worse


def _answers(instrument: Instrument, distress: float, rng: random.Random, risk: bool) -> dict:
    if instrument.code == "service_use":
        return {item.number: rng.choice((0, 0, 0, 1, 2)) for item in instrument.items}
    if instrument.code == "occupation":
        return {
            item.number: rng.choice(item.option_values) if item.options else 0
            for item in instrument.items
        }
    direction = _item_direction(instrument)
    risk_items = set(instrument.risk_items)
    answers: dict[int, object] = {}
    for item in instrument.items:
        if item.count:
            answers[item.number] = rng.randint(0, 2)
            continue
        low, high = item.min_value, item.max_value
        level = distress if direction.get(item.number, True) else 1 - distress
        value = round(low + level * (high - low) + rng.uniform(-1, 1))
        value = max(low, min(high, value))
        if item.number in risk_items:
            value = min(high, 2) if risk else low
        answers[item.number] = value
    return answers


def _complete_past(demo_services, today: datetime.date) -> int:
    rows = (
        Administration.objects.filter(
            enrolment__cohort__service__in=demo_services,
            closes_on__lt=today,
            status__in=Administration.LIVE_STATUSES,
        )
        .select_related("timepoint", "enrolment")
        .order_by("enrolment_id", "due_on", "id")
    )
    completed = 0
    risk_left = RISK_SHOWCASE
    for adm in rows:
        rng = random.Random(adm.pk)
        if rng.random() > COMPLETION_RATE and adm.instrument_code not in STAFF_COMPLETED:
            continue
        person = random.Random(adm.enrolment.participant_id)
        start = 0.55 + person.uniform(0, 0.35)
        # Distress falls over the programme for most people, and rises for a few.
        slope = person.choice((0.45, 0.35, 0.25, 0.1, -0.15))
        distress = max(0.0, min(1.0, start - slope * min(adm.timepoint.week, 52) / 52))
        instrument = get_instrument(adm.instrument_code)
        risk = bool(risk_left and instrument.risk_items and adm.timepoint.week > 0)
        answers = _answers(instrument, distress, rng, risk)
        day = min(adm.due_on + datetime.timedelta(days=rng.randint(0, 6)), adm.closes_on)
        when = timezone.make_aware(datetime.datetime.combine(day, datetime.time(19, 30)))
        with transaction.atomic():
            result = services.administration_enter(
                administration=adm,
                answers=answers,
                entered_by=None,
                completed_at=when,
                source=(
                    Administration.Source.STAFF
                    if adm.instrument_code in STAFF_COMPLETED
                    else Administration.Source.ONLINE
                ),
            )
        if result.risk:
            risk_left -= 1
        completed += 1
    return completed
