"""Reads for questionnaire pages and panels. Each runs a fixed number of queries."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, F, Q, Value, When
from django.utils import timezone

from accounts.scope import Can, scoped
from measures import catalogue
from measures.change import classify
from measures.definitions import NOT_APPLICABLE, Instrument, get_instrument
from measures.models import Administration, ParticipantLink, Response, RiskAlert
from programmes.models import Enrolment, GroupSession

Status = Administration.Status
ALERT_SCOPE = "administration__enrolment__cohort__service"


def _answerable_now(*, today: datetime.date):
    return Q(
        status__in=(Status.OPEN, Status.IN_PROGRESS), opens_on__lte=today, closes_on__gte=today
    ) & ~Q(instrument_code__in=catalogue.STAFF_COMPLETED)


@dataclass(frozen=True)
class PublicService:
    """What a participant's pages show of their service: its public name and phone."""

    public_name: str
    phone: str


# What a participant's own pages read of their administrations (status, window, due order)
# and of their service (its public name and phone; never the participant's details). The
# related values come as columns of the one row, not as related objects.
PARTICIPANT_PAGE_FIELDS = (
    "id",
    "enrolment_id",
    "timepoint_id",
    "instrument_code",
    "due_on",
    "opens_on",
    "closes_on",
    "status",
)


def _for_participant_pages(participant_id: int):
    return (
        Administration.objects.filter(enrolment__participant_id=participant_id)
        .only(*PARTICIPANT_PAGE_FIELDS)
        .annotate(
            week=F("timepoint__week"),
            service_id=F("enrolment__cohort__service_id"),
            service_public_name=F("enrolment__cohort__service__public_name"),
            service_phone=F("enrolment__cohort__service__phone"),
        )
        .order_by("due_on", "week", "id")
    )


def public_service(administration: Administration) -> PublicService:
    """The service of an administration read for a participant's page."""
    return PublicService(administration.service_public_name, administration.service_phone)


def participant_due_now(*, participant_id: int, today: datetime.date | None = None):
    """Administrations a participant can answer online now, in due order, with only what
    the participant's pages and a new link read (status, window, code); two queries at
    most."""
    today = today or timezone.localdate()
    rows = list(_for_participant_pages(participant_id).filter(_answerable_now(today=today)))
    return due_among(rows, today=today)


def participant_session_administrations(
    *, participant_id: int, ids, link_id: int
) -> tuple[list[Administration], bool]:
    """The administrations a participant session covers, whatever their status, each with
    its saved answers (`saved_answers`), and whether the session's link is still live
    (neither revoked nor expired): one query, and one more for the link when none is found."""
    live = ParticipantLink.objects.filter(
        pk=link_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    rows = list(
        _for_participant_pages(participant_id)
        .filter(pk__in=ids)
        .annotate(answers_saved=F("response__answers"), link_live=Exists(live))
    )
    if not rows:
        return [], live.exists()
    return rows, rows[0].link_live


def saved_answers(administration: Administration) -> dict:
    """The answers saved so far for an administration read by
    participant_session_administrations."""
    return dict(administration.answers_saved or {})


def due_among(rows, *, today: datetime.date | None = None) -> list[Administration]:
    """Of administrations already read (each with its timepoint's `week` and its cohort's
    `service_id`), those the participant can answer online now, in due order: the rule
    participant_due_now applies in the database (_answerable_now), without reading them
    again (one query for wording where a licence needs it)."""
    today = today or timezone.localdate()
    rows = sorted(
        (
            adm
            for adm in rows
            if adm.status in (Status.OPEN, Status.IN_PROGRESS)
            and adm.opens_on <= today <= adm.closes_on
            and adm.instrument_code not in catalogue.STAFF_COMPLETED
        ),
        key=lambda adm: (adm.due_on, adm.week, adm.pk),
    )
    if not rows:
        return []
    wordings = catalogue.wordings_for(rows[0].service_id, {adm.instrument_code for adm in rows})
    return [adm for adm in rows if catalogue.answerable_online(adm.instrument_code, wordings)]


def window_minutes(*, enrolment_id: int, timepoint_id: int) -> int:
    """About how long a timepoint's questionnaires still to answer online take, in minutes:
    the sum of the estimates their pages show, worked out from their items."""
    return windows_minutes(pairs=[(enrolment_id, timepoint_id)])[(enrolment_id, timepoint_id)]


def windows_minutes(*, pairs) -> dict[tuple[int, int], int]:
    """window_minutes for many (enrolment id, timepoint id) pairs at once, as a batch of
    messages needs: one query, and one for each service's wording where a licence needs it."""
    wanted = set(pairs)
    minutes = dict.fromkeys(wanted, 0)
    rows = [
        row
        for row in Administration.objects.filter(
            enrolment_id__in={e for e, _ in wanted},
            timepoint_id__in={t for _, t in wanted},
            status__in=(Status.OPEN, Status.IN_PROGRESS),
        )
        .exclude(instrument_code__in=catalogue.STAFF_COMPLETED)
        .values_list(
            "enrolment_id", "timepoint_id", "instrument_code", "enrolment__cohort__service_id"
        )
        if (row[0], row[1]) in wanted
    ]
    codes_by_service: dict[int, set[str]] = {}
    for _, _, code, service_id in rows:
        codes_by_service.setdefault(service_id, set()).add(code)
    wordings = {sid: catalogue.wordings_for(sid, codes) for sid, codes in codes_by_service.items()}
    for enrolment_id, timepoint_id, code, service_id in rows:
        if catalogue.answerable_online(code, wordings[service_id]):
            minutes[(enrolment_id, timepoint_id)] += get_instrument(code).minutes
    return {pair: max(1, total) for pair, total in minutes.items()}


def open_alerts_for(user):
    return (
        scoped(
            user,
            RiskAlert.objects.filter(acknowledged_at__isnull=True),
            can=Can.VIEW_CLINICAL,
            via=ALERT_SCOPE,
        )
        .select_related(
            "administration__timepoint",
            "administration__enrolment__participant",
            "administration__enrolment__cohort",
        )
        .order_by(*urgent_first())
    )


def urgent_first() -> tuple:
    """Urgent before review (their codes sort the other way round), then the oldest first."""
    return (
        Case(When(severity=RiskAlert.Severity.URGENT, then=Value(0)), default=Value(1)),
        "raised_at",
        "id",
    )


@dataclass
class AlertDetail:
    """What a clinician needs to act on an alert, worked out in at most four queries."""

    instrument: Instrument
    item_text: str | None
    item_scales: str
    answer: str
    answer_given: bool
    source: str
    completed_on: datetime.date | None
    entered_on: datetime.date
    entered_later: bool
    next_session: GroupSession | None
    facilitators: list


def next_session(cohort, *, today: datetime.date | None = None) -> GroupSession | None:
    """The cohort's next session not yet held: later, or today with no register yet (one query)."""
    today = today or timezone.localdate()
    return (
        GroupSession.objects.filter(cohort=cohort)
        .exclude(status=GroupSession.Status.CANCELLED)
        .filter(Q(date__gt=today) | Q(date=today, register_taken_at__isnull=True))
        .order_by("date", "number")
        .first()
    )


def alert_detail(alert: RiskAlert, *, today: datetime.date | None = None) -> AlertDetail:
    """The item as the participant saw it (wording only where the service may show it)."""
    today = today or timezone.localdate()
    adm = alert.administration
    cohort = adm.enrolment.cohort
    code = adm.instrument_code
    wording = catalogue.wordings_for(cohort.service_id, [code]).get(code)
    instrument = catalogue.instrument_for(code, wording)
    item = instrument.item(alert.item)
    response = Response.objects.filter(administration=adm).first()
    value = (response.answers if response else {}).get(str(alert.item))
    if value is None:
        answer = "Left unanswered"
    elif value == NOT_APPLICABLE:
        answer = "Not applicable"
    else:
        label = next((o.label for o in item.options if o.value == value), None)
        answer = f"{value}" + (f" – {label}" if label else "")
    scales = [s.label for s in instrument.scales if alert.item in s.items]
    item_scales = f"{', '.join(scales) or 'no'} scale{'s' if len(scales) > 1 else ''}"
    if not item.count:
        item_scales += f"; answers {item.min_value} to {item.max_value}"
    completed_on = timezone.localdate(adm.completed_at) if adm.completed_at else None
    entered_on = timezone.localdate(alert.raised_at)
    return AlertDetail(
        instrument=instrument,
        item_text=item.text,
        item_scales=item_scales,
        answer=answer,
        answer_given=value is not None,
        source=adm.get_source_display() if adm.source else "",
        completed_on=completed_on,
        entered_on=entered_on,
        entered_later=completed_on is not None and completed_on != entered_on,
        next_session=next_session(cohort, today=today),
        facilitators=list(cohort.facilitators.order_by("last_name", "first_name")),
    )


# --------------------------------------------------------------------------- trajectory


@dataclass
class TrajectoryPoint:
    timepoint: str
    date: datetime.date
    value: float | None
    band: str
    not_scored_reason: str
    category: str = ""
    recovered: bool | None = None
    source: str = ""
    # An original entry a correction replaced: shown, struck through, in no chart or change.
    superseded: bool = False
    corrected: bool = False


@dataclass
class TrajectoryScale:
    code: str
    instrument: str
    scale: str
    label: str
    higher_is: str
    points: list[TrajectoryPoint] = field(default_factory=list)

    @property
    def chart_id(self) -> str:
        return f"chart-{self.code}-{self.scale}"


CATEGORY_LABELS = {
    "reliable_improvement": "Reliable improvement",
    "reliable_deterioration": "Reliable deterioration",
    "no_reliable_change": "No reliable change",
}


def participant_trajectory(participant) -> list[TrajectoryScale]:
    """Every scored scale across timepoints, with change against the first scored one.

    Two queries: completed administrations (with timepoints) and their scores. Originals
    that a correction superseded are listed beside it, marked, and count in nothing.
    """
    administrations = (
        Administration.objects.filter(
            enrolment__participant=participant,
            status__in=(Status.COMPLETED, Status.SUPERSEDED),
        )
        .exclude(enrolment__status=Enrolment.Status.ENTERED_IN_ERROR)
        .exclude(instrument_code__in=("service_use", "occupation"))
        .select_related("timepoint")
        .prefetch_related("scores")
        .order_by("completed_at", "id")
    )
    by_scale: dict[tuple[str, str], TrajectoryScale] = {}
    for adm in administrations:
        instrument = get_instrument(adm.instrument_code)
        for score in adm.scores.all():
            key = (adm.instrument_code, score.scale)
            try:
                definition = instrument.scale(score.scale)
            except ValueError:
                continue
            entry = by_scale.get(key)
            if entry is None:
                entry = by_scale[key] = TrajectoryScale(
                    code=adm.instrument_code,
                    instrument=instrument.name,
                    scale=score.scale,
                    label=definition.label,
                    higher_is=definition.higher_is,
                )
            band = definition.band_for(score.value) if score.value is not None else None
            entry.points.append(
                TrajectoryPoint(
                    timepoint=adm.timepoint.name,
                    date=timezone.localdate(adm.completed_at),
                    value=score.value,
                    band=band.label if band else "",
                    not_scored_reason=score.not_scored_reason,
                    source=adm.get_source_display(),
                    superseded=adm.status == Status.SUPERSEDED,
                    corrected=adm.supersedes_id is not None,
                )
            )
    for entry in by_scale.values():
        current = [p for p in entry.points if not p.superseded]
        baseline = next((p for p in current if p.value is not None), None)
        for point in current:
            if baseline is None or point is baseline or point.value is None:
                continue
            try:
                change = classify(entry.code, entry.scale, before=baseline.value, after=point.value)
            except ValueError:
                continue  # no RCI recorded for this scale
            point.category = CATEGORY_LABELS[change.category]
            point.recovered = change.recovered
    return list(by_scale.values())


def trajectory_chart_data(scales: list[TrajectoryScale]) -> list[dict]:
    return [
        {
            "id": entry.chart_id,
            "title": f"{entry.instrument}: {entry.label}",
            "labels": [p.timepoint for p in entry.points if not p.superseded],
            "values": [p.value for p in entry.points if not p.superseded],
        }
        for entry in scales
    ]


def participant_links(participant) -> list[ParticipantLink]:
    return list(ParticipantLink.objects.filter(participant=participant)[:10])


def participant_administrations(participant) -> list[Administration]:
    return list(
        Administration.objects.filter(enrolment__participant=participant)
        .exclude(status=Status.CANCELLED)
        .select_related("timepoint")
        .order_by("due_on", "timepoint__week", "id")
    )


# --------------------------------------------------------------------------- cohort


@dataclass
class TimepointCompletion:
    name: str
    due: int
    completed: int
    missed: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.completed / self.due) if self.due else None


def cohort_completion(cohort) -> list[TimepointCompletion]:
    """Questionnaire completion per timepoint for a cohort (one query)."""
    rows = (
        Administration.objects.filter(enrolment__cohort=cohort)
        .exclude(status__in=(Status.CANCELLED, Status.SUPERSEDED))
        .exclude(enrolment__status=Enrolment.Status.ENTERED_IN_ERROR)
        .values("timepoint__name", "timepoint__week")
        .annotate(
            due=Count("id", filter=~Q(status=Status.SCHEDULED)),
            completed=Count("id", filter=Q(status=Status.COMPLETED)),
            missed=Count("id", filter=Q(status__in=(Status.EXPIRED, Status.MISSED))),
        )
        .order_by("timepoint__week")
    )
    merged: dict[str, TimepointCompletion] = defaultdict(lambda: TimepointCompletion("", 0, 0, 0))
    for row in rows:
        entry = merged[row["timepoint__name"]]
        entry.name = row["timepoint__name"]
        entry.due += row["due"]
        entry.completed += row["completed"]
        entry.missed += row["missed"]
    return list(merged.values())


def cohort_open_alerts(cohort) -> list[RiskAlert]:
    return list(
        RiskAlert.objects.filter(
            administration__enrolment__cohort=cohort, acknowledged_at__isnull=True
        )
        .select_related("administration__timepoint", "administration__enrolment__participant")
        .order_by(*urgent_first())
    )
