"""The huddle before a group session: who on its register needs a word first.

Four reasons, each the rule the rest of the app already uses: an open risk alert; a run of
"did not attend" (programmes.selectors.DNA_RULE); reliable deterioration at the latest
scored timepoint against the first, as on the participant's trajectory (measures.change);
a questionnaire open now and not yet submitted. Read for several sessions at once (the home
page) in a fixed number of queries, whatever the number of sessions or people.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from measures import catalogue
from measures.change import classify
from measures.definitions import get_instrument
from measures.models import Administration, HuddleContact, RiskAlert, Score
from measures.selectors import urgent_first
from programmes.models import Enrolment, GroupSession
from programmes.selectors import DNA_RULE, DNA_RUN_FLAG, dna_runs_before, enrolments_open_at_each

Status = Administration.Status
NOT_OUTCOMES = ("service_use", "occupation")
DETERIORATION_RULE = (
    "Reliable deterioration: the latest scored timepoint is worse than the first by at least "
    "the scale's reliable change index, as on the participant's page."
)


@dataclass
class Deterioration:
    instrument: str
    scale: str
    before: float
    after: float
    timepoint: str
    completed_on: datetime.date


@dataclass
class HuddleRow:
    enrolment: Enrolment
    alerts: list[RiskAlert] = field(default_factory=list)
    dna_run: int = 0
    deteriorations: list[Deterioration] = field(default_factory=list)
    unanswered: list[Administration] = field(default_factory=list)
    contacts: list[HuddleContact] = field(default_factory=list)

    @property
    def dna_flagged(self) -> bool:
        return self.dna_run >= DNA_RUN_FLAG

    @property
    def flagged(self) -> bool:
        return bool(self.alerts or self.dna_flagged or self.deteriorations or self.unanswered)


@dataclass
class Huddle:
    session: GroupSession
    rows: list[HuddleRow]
    dna_rule: str = DNA_RULE
    deterioration_rule: str = DETERIORATION_RULE

    @property
    def flagged(self) -> list[HuddleRow]:
        return [row for row in self.rows if row.flagged]

    @property
    def not_flagged(self) -> list[HuddleRow]:
        return [row for row in self.rows if not row.flagged]

    @property
    def counts(self) -> dict[str, int]:
        """People (not alerts or questionnaires) for each reason, and those contacted."""
        flagged = self.flagged
        return {
            "alerts": sum(1 for r in flagged if r.alerts),
            "dna": sum(1 for r in flagged if r.dna_flagged),
            "deterioration": sum(1 for r in flagged if r.deteriorations),
            "unanswered": sum(1 for r in flagged if r.unanswered),
            "flagged": len(flagged),
            "contacted": sum(1 for r in flagged if r.contacts),
        }


def session_huddle(session: GroupSession, today: datetime.date | None = None) -> Huddle:
    return session_huddles([session], today)[session.pk]


def session_huddles(
    sessions: list[GroupSession], today: datetime.date | None = None
) -> dict[int, Huddle]:
    """Session id -> its huddle, in seven queries for any number of sessions."""
    today = today or timezone.localdate()
    registers = enrolments_open_at_each(sessions)
    runs = dna_runs_before(sessions, today)
    ids = {e.pk for people in registers.values() for e in people}
    alerts = _by_enrolment(
        RiskAlert.objects.filter(acknowledged_at__isnull=True, administration__enrolment__in=ids)
        .select_related("administration__timepoint")
        .order_by(*urgent_first()),
        lambda a: a.administration.enrolment_id,
    )
    unanswered = _by_enrolment(
        Administration.objects.filter(
            enrolment__in=ids,
            status__in=(Status.OPEN, Status.IN_PROGRESS),
            opens_on__lte=today,
            closes_on__gte=today,
        )
        .exclude(instrument_code__in=catalogue.STAFF_COMPLETED)
        .select_related("timepoint")
        .order_by("closes_on", "timepoint__week", "id"),
        lambda adm: adm.enrolment_id,
    )
    contacts = _by_enrolment(
        HuddleContact.objects.filter(session__in=[s.pk for s in sessions], enrolment__in=ids)
        .select_related("recorded_by")
        .order_by("recorded_at", "id"),
        lambda c: (c.session_id, c.enrolment_id),
    )
    for pending in unanswered.values():
        for adm in pending:
            adm.instrument_name = get_instrument(adm.instrument_code).name
    worse = _deteriorations(ids)
    huddles = {}
    for session in sessions:
        rows = [
            HuddleRow(
                enrolment=enrolment,
                alerts=alerts.get(enrolment.pk, []),
                dna_run=runs[session.pk].get(enrolment.pk, 0) if enrolment.is_open else 0,
                deteriorations=worse.get(enrolment.pk, []),
                unanswered=unanswered.get(enrolment.pk, []),
                contacts=contacts.get((session.pk, enrolment.pk), []),
            )
            for enrolment in registers[session.pk]
        ]
        huddles[session.pk] = Huddle(session=session, rows=rows)
    return huddles


def _by_enrolment(queryset, key) -> dict:
    grouped = defaultdict(list)
    for obj in queryset:
        grouped[key(obj)].append(obj)
    return grouped


def _deteriorations(enrolment_ids) -> dict[int, list[Deterioration]]:
    """Each enrolment's scales whose latest score is a reliable deterioration on its first."""
    rows = (
        Score.objects.filter(
            administration__enrolment__in=enrolment_ids,
            administration__status=Status.COMPLETED,
            value__isnull=False,
        )
        .exclude(administration__instrument_code__in=NOT_OUTCOMES)
        .order_by("administration__completed_at", "administration_id")
        .values_list(
            "administration__enrolment_id",
            "administration__instrument_code",
            "scale",
            "value",
            "administration__timepoint__name",
            "administration__completed_at",
        )
    )
    series: dict[tuple, list[tuple]] = defaultdict(list)
    for enrolment_id, code, scale, value, timepoint, completed_at in rows:
        series[(enrolment_id, code, scale)].append((value, timepoint, completed_at))
    found: dict[int, list[Deterioration]] = defaultdict(list)
    for (enrolment_id, code, scale), points in series.items():
        if len(points) < 2:
            continue
        (first, *_), (last, timepoint, completed_at) = points[0], points[-1]
        try:
            change = classify(code, scale, before=first, after=last)
        except ValueError:
            continue  # no reliable change index for this scale
        if change.category != "reliable_deterioration":
            continue
        instrument = get_instrument(code)
        found[enrolment_id].append(
            Deterioration(
                instrument=instrument.name,
                scale=instrument.scale(scale).label,
                before=first,
                after=last,
                timepoint=timepoint,
                completed_on=timezone.localdate(completed_at),
            )
        )
    return found
