"""Writes for questionnaires: schedules, answers, submission, scores, risk alerts, wording."""

import copy
import datetime
import logging
from dataclasses import dataclass

from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.audit import record_bulk_changes, save_recorded
from accounts.models import Membership
from measures import catalogue, events
from measures.definitions import apply_wording, get_instrument
from measures.models import (
    Administration,
    AlertDigestSent,
    HuddleContact,
    InstrumentWording,
    Response,
    RiskAlert,
    Score,
    Timepoint,
)
from measures.scoring import ScoreResult, score
from programmes.models import Enrolment
from programmes.selectors import on_register_at
from programmes.services import bank_holiday_name

logger = logging.getLogger(__name__)

Status = Administration.Status
# Not yet begun by anyone: these may be moved or cancelled.
NOT_STARTED = (Status.SCHEDULED, Status.OPEN)
ANSWERABLE = (Status.OPEN, Status.IN_PROGRESS)
ALERT_SUBJECT = "A questionnaire answer needs review in Safeground"
URGENT_ALERT_SUBJECT = "Urgent: a questionnaire answer needs same-day review in Safeground"
DIGEST_SUBJECT = "Open risk alerts in Safeground: daily summary"
ESCALATION_SUBJECT = "A risk alert has not been acknowledged in Safeground"


class AdministrationClosed(Exception):
    """The administration can no longer take answers (window closed, cancelled...)."""


def _windows_changed(enrolment_ids) -> None:
    ids = sorted(set(enrolment_ids))
    if ids:
        events.windows_changed.send(sender=Administration, enrolment_ids=ids)


def _window(start: datetime.date, timepoint: Timepoint):
    due = start + datetime.timedelta(weeks=timepoint.week)
    opens = due + datetime.timedelta(days=timepoint.opens_days)
    closes = due + datetime.timedelta(days=timepoint.closes_days)
    return due, opens, closes


def _status_on(today: datetime.date, opens: datetime.date, closes: datetime.date) -> str:
    if closes < today:
        return Status.MISSED
    if opens <= today:
        return Status.OPEN
    return Status.SCHEDULED


# --------------------------------------------------------------------------- schedules


@transaction.atomic
def administrations_lay_out(*, enrolment: Enrolment, today: datetime.date | None = None) -> int:
    """One administration per (timepoint, instrument) of the cohort's programme.

    Windows already closed are MISSED (never sent); windows open today are OPEN. Rows that
    already exist are left alone, so laying out twice changes nothing.
    """
    today = today or timezone.localdate()
    cohort = enrolment.cohort
    existing = set(
        Administration.objects.filter(enrolment=enrolment).values_list(
            "timepoint_id", "instrument_code"
        )
    )
    new = []
    for timepoint in Timepoint.objects.filter(programme_id=cohort.programme_id):
        due, opens, closes = _window(cohort.start_date, timepoint)
        for code in timepoint.instruments:
            if (timepoint.pk, code) in existing:
                continue
            new.append(
                Administration(
                    enrolment=enrolment,
                    timepoint=timepoint,
                    instrument_code=code,
                    due_on=due,
                    opens_on=opens,
                    closes_on=closes,
                    status=_status_on(today, opens, closes),
                )
            )
    created = Administration.objects.bulk_create(new)
    record_bulk_changes(
        entries=[(adm, {"status": [None, adm.status]}) for adm in created],
        action=LogEntry.Action.CREATE,
    )
    if created:
        _windows_changed([enrolment.pk])
    return len(created)


@transaction.atomic
def administrations_cancel_future(*, enrolment: Enrolment) -> int:
    """Cancel what the participant has not begun; answers already given stay."""
    rows = list(
        Administration.objects.select_for_update()
        .filter(enrolment=enrolment, status__in=NOT_STARTED, started_at__isnull=True)
        .select_related("timepoint")
    )
    for adm in rows:
        adm.status = Status.CANCELLED
    Administration.objects.bulk_update(rows, ["status"])
    record_bulk_changes(entries=[(adm, {"status": ["not started", adm.status]}) for adm in rows])
    # Sent even when nothing was cancelled: the enrolment itself has ended.
    _windows_changed([enrolment.pk])
    return len(rows)


@transaction.atomic
def administrations_cancel_live(*, enrolment: Enrolment) -> int:
    """Cancel every questionnaire of an enrolment entered in error that is not completed,
    begun or not: the enrolment never happened, so nothing more is asked or chased. Answers
    already given stay on their rows."""
    rows = list(
        Administration.objects.select_for_update()
        .filter(enrolment=enrolment, status__in=Administration.LIVE_STATUSES)
        .select_related("timepoint")
    )
    entries = [(adm, {"status": [adm.status, Status.CANCELLED]}) for adm in rows]
    for adm in rows:
        adm.status = Status.CANCELLED
    Administration.objects.bulk_update(rows, ["status"])
    record_bulk_changes(entries=entries)
    _windows_changed([enrolment.pk])
    return len(rows)


@transaction.atomic
def administrations_shift(*, cohort, today: datetime.date | None = None) -> int:
    """Recompute the windows of every not-started administration from the cohort's new start."""
    today = today or timezone.localdate()
    rows = list(
        Administration.objects.select_for_update()
        .filter(
            enrolment__cohort=cohort,
            status__in=(*NOT_STARTED, Status.MISSED),
            started_at__isnull=True,
        )
        .select_related("timepoint")
    )
    changed = []
    for adm in rows:
        due, opens, closes = _window(cohort.start_date, adm.timepoint)
        status = _status_on(today, opens, closes)
        if (adm.due_on, adm.opens_on, adm.closes_on, adm.status) == (due, opens, closes, status):
            continue
        before = adm.due_on
        adm.due_on, adm.opens_on, adm.closes_on, adm.status = due, opens, closes, status
        changed.append((adm, {"due_on": [before, due], "status": ["", status]}))
    Administration.objects.bulk_update(
        [adm for adm, _ in changed], ["due_on", "opens_on", "closes_on", "status"]
    )
    record_bulk_changes(entries=changed)
    _windows_changed(adm.enrolment_id for adm, _ in changed)
    return len(changed)


@transaction.atomic
def administrations_open_due(*, today: datetime.date) -> int:
    """Open every scheduled administration whose window includes today. Safe to repeat."""
    rows = list(
        Administration.objects.select_for_update(skip_locked=True)
        .filter(status=Status.SCHEDULED, opens_on__lte=today, closes_on__gte=today)
        .select_related("timepoint")
    )
    Administration.objects.filter(pk__in=[a.pk for a in rows], status=Status.SCHEDULED).update(
        status=Status.OPEN
    )
    record_bulk_changes(entries=[(a, {"status": [a.status, Status.OPEN]}) for a in rows])
    _windows_changed(a.enrolment_id for a in rows)
    return len(rows)


@transaction.atomic
def administrations_expire(*, today: datetime.date) -> int:
    """Expire every live administration whose window closed before today. Safe to repeat."""
    rows = list(
        Administration.objects.select_for_update(skip_locked=True)
        .filter(status__in=Administration.LIVE_STATUSES, closes_on__lt=today)
        .select_related("timepoint")
    )
    Administration.objects.filter(
        pk__in=[a.pk for a in rows], status__in=Administration.LIVE_STATUSES
    ).update(status=Status.EXPIRED)
    record_bulk_changes(entries=[(a, {"status": [a.status, Status.EXPIRED]}) for a in rows])
    _windows_changed(a.enrolment_id for a in rows)
    return len(rows)


@transaction.atomic
def timepoints_copy(*, source, target) -> int:
    """Give a new programme version the timepoints of the version it replaces."""
    have = set(Timepoint.objects.filter(programme=target).values_list("key", flat=True))
    copies = [
        Timepoint(
            programme=target,
            key=tp.key,
            name=tp.name,
            week=tp.week,
            opens_days=tp.opens_days,
            closes_days=tp.closes_days,
            instruments=list(tp.instruments),
            service_use_period=tp.service_use_period,
        )
        for tp in Timepoint.objects.filter(programme=source)
        if tp.key not in have
    ]
    Timepoint.objects.bulk_create(copies)
    return len(copies)


# --------------------------------------------------------------------------- answering


def _clean_for_storage(answers: dict) -> dict[str, object]:
    return {str(number): value for number, value in answers.items()}


@transaction.atomic
def response_save(*, administration_id: int, answers: dict) -> Response:
    """Store some answers at once (one page), merged over those already given."""
    # Locked so that two saves (the page's script and its button, two tabs) or a save and
    # the send cannot interleave: each merges over the answers the last one stored. The
    # response comes with it (the lock is the administration's only).
    adm = (
        Administration.objects.select_for_update(of=("self",))
        .select_related("timepoint", "enrolment", "response")
        .get(pk=administration_id)
    )
    if adm.status not in ANSWERABLE or adm.closes_on < timezone.localdate():
        raise AdministrationClosed
    before = copy.copy(adm)
    # No race for the response row: every writer of it holds the administration's lock.
    try:
        response = adm.response
    except Response.DoesNotExist:
        # The first answers: the row is written once, with them.
        response = Response.objects.create(administration=adm, answers=_clean_for_storage(answers))
    else:
        saved = copy.copy(response)
        response.answers = {**response.answers, **_clean_for_storage(answers)}
        save_recorded(response, before=saved, update_fields=["answers", "saved_at"])
    if adm.status != Status.IN_PROGRESS:
        adm.status = Status.IN_PROGRESS
        adm.started_at = adm.started_at or timezone.now()
        adm.source = Administration.Source.ONLINE
        save_recorded(adm, before=before, update_fields=["status", "started_at", "source"])
    return response


@dataclass(frozen=True)
class SubmitOutcome:
    administration: Administration
    # False when it had already been submitted (a double post or a second tab).
    submitted: bool


@transaction.atomic
def response_submit(*, administration_id: int, answers: dict | None = None) -> SubmitOutcome:
    """Complete an online administration exactly once: score it and raise its risk alerts.

    `answers` (a last page's) are merged over those already saved first, under the same lock,
    so saving the last page and sending it is one transaction rather than two."""
    # Locked so that a double post, a second tab or the window's expiry cannot complete (or
    # close) it at the same time: exactly one of them scores it.
    adm = (
        Administration.objects.select_for_update(of=("self",))
        .select_related("enrolment__cohort", "timepoint", "response")
        .get(pk=administration_id)
    )
    if adm.status == Status.COMPLETED:
        return SubmitOutcome(adm, submitted=False)
    if adm.status not in ANSWERABLE or adm.closes_on < timezone.localdate():
        raise AdministrationClosed
    # The row as read under the lock, for its audit entry (no second read).
    before = copy.copy(adm)
    # No race for the response row (read with it): every writer of it holds the
    # administration's lock.
    try:
        response = adm.response
    except Response.DoesNotExist:
        response = None
    saved = dict(response.answers) if response else {}
    merged = {**saved, **_clean_for_storage(answers or {})}
    # An instrument that ships its wording needs no look-up of the service's.
    wordings = catalogue.wordings_for(adm.enrolment.cohort.service_id, [adm.instrument_code])
    instrument = catalogue.instrument_for(adm.instrument_code, wordings.get(adm.instrument_code))
    result = score(instrument, merged)
    now = timezone.now()
    if response is None:
        # One page and sent at once: the row is written once, with its answers.
        Response.objects.create(administration=adm, answers=merged, submitted_at=now)
    else:
        saved_row = copy.copy(response)
        response.answers, response.submitted_at = merged, now
        save_recorded(
            response, before=saved_row, update_fields=["answers", "submitted_at", "saved_at"]
        )
    adm.started_at = adm.started_at or now
    _complete(
        adm, result, source=Administration.Source.ONLINE, when=now, entered_by=None, before=before
    )
    return SubmitOutcome(adm, submitted=True)


def _check_completed_on(
    adm: Administration, completed_at: datetime.datetime, outside_window_reason: str
) -> None:
    """The completed date must be a day the person could have filled the form in."""
    day = timezone.localdate(completed_at)
    enrolled_on = adm.enrolment.enrolled_on
    if day > timezone.localdate():
        message = "The date it was completed cannot be in the future."
    elif day < enrolled_on:
        message = (
            f"The date it was completed ({_day(day)}) is before the person was enrolled "
            f"({_day(enrolled_on)}). Check the date on the paper form."
        )
    elif not (adm.opens_on <= day <= adm.closes_on) and not outside_window_reason:
        raise ValidationError(
            {
                "outside_window": [
                    f"{_day(day)} is outside this questionnaire's window "
                    f"({_day(adm.opens_on)} to {_day(adm.closes_on)}). Check the date on the "
                    "paper form; if it is right, tick “Completed outside the window” and "
                    "say why it should still count."
                ]
            },
            code="outside_window",
        )
    else:
        return
    raise ValidationError({"completed_on": [message]}, code="completed_on")


def _day(day: datetime.date) -> str:
    return date_format(day, "j F Y")


def _locked(administration: Administration) -> Administration:
    return (
        Administration.objects.select_for_update(of=("self",))
        .select_related("enrolment__cohort", "timepoint")
        .get(pk=administration.pk)
    )


@transaction.atomic
def administration_enter(
    *,
    administration: Administration,
    answers: dict,
    entered_by,
    completed_at: datetime.datetime,
    source: str = Administration.Source.PAPER,
    outside_window_reason: str = "",
) -> ScoreResult:
    """Record a questionnaire completed on paper (or from records) and score it.

    Its date must be no later than today, not before the enrolment, and inside the
    window unless `outside_window_reason` says why it still counts (ValidationError).
    """
    adm = _locked(administration)
    if adm.status not in (*Administration.LIVE_STATUSES, Status.EXPIRED, Status.MISSED):
        raise AdministrationClosed
    before = copy.copy(adm)
    outside_window_reason = (outside_window_reason or "").strip()
    _check_completed_on(adm, completed_at, outside_window_reason)
    result = score(adm.instrument_code, answers)
    Response.objects.update_or_create(
        administration=adm,
        defaults={"answers": _clean_for_storage(answers), "submitted_at": completed_at},
    )
    adm.started_at = adm.started_at or completed_at
    adm.outside_window_reason = _outside(adm, completed_at, outside_window_reason)
    _complete(adm, result, source=source, when=completed_at, entered_by=entered_by, before=before)
    return result


def _outside(adm, completed_at, reason: str) -> str:
    day = timezone.localdate(completed_at)
    return "" if adm.opens_on <= day <= adm.closes_on else reason[:300]


@transaction.atomic
def administration_correct(
    *,
    administration: Administration,
    answers: dict,
    completed_at: datetime.datetime,
    reason: str,
    by,
    outside_window_reason: str = "",
) -> Administration:
    """Correct a completed questionnaire: a new version with these answers, scored again,
    with the risk rules run again on it; the original stays, marked superseded.

    A risk item the original already raised an alert for is not raised again (that alert
    stands, on the original); any other hit raises and e-mails a new alert. Returns the
    new version. Refuses a voided or superseded original with a ValidationError.
    """
    old = _locked(administration)
    reason = (reason or "").strip()
    correction_allowed(old)
    if not reason:
        raise ValidationError({"reason": ["Say what was wrong with the entry."]})
    outside_window_reason = (outside_window_reason or "").strip()
    _check_completed_on(old, completed_at, outside_window_reason)
    result = score(old.instrument_code, answers)
    already_raised = set(
        RiskAlert.objects.filter(administration=old).values_list("item", flat=True)
    )
    # Superseded first: administration_one_per_timepoint_instrument ignores superseded rows.
    old.status = Status.SUPERSEDED
    old.save(update_fields=["status"])
    new = Administration.objects.create(
        enrolment=old.enrolment,
        timepoint=old.timepoint,
        instrument_code=old.instrument_code,
        due_on=old.due_on,
        opens_on=old.opens_on,
        closes_on=old.closes_on,
        status=Status.IN_PROGRESS,
        started_at=old.started_at,
        supersedes=old,
        change_reason=reason[:300],
        outside_window_reason=_outside(old, completed_at, outside_window_reason),
    )
    Response.objects.create(
        administration=new, answers=_clean_for_storage(answers), submitted_at=completed_at
    )
    _complete(
        new,
        result,
        source=old.source or Administration.Source.PAPER,
        when=completed_at,
        entered_by=by,
        already_raised=already_raised,
    )
    return new


def correction_allowed(old: Administration) -> None:
    """Raise a ValidationError saying why `old` cannot be corrected, if it cannot."""
    if old.status == Status.VOIDED:
        raise ValidationError(
            f"This questionnaire was voided ({old.change_reason}), so it cannot be corrected. "
            "A voided questionnaire stays as it is, in the record.",
            code="voided",
        )
    if old.status == Status.SUPERSEDED:
        raise ValidationError(
            "This version has already been corrected. Correct the current version instead.",
            code="superseded",
        )
    if old.status != Status.COMPLETED:
        raise ValidationError(
            "Only a completed questionnaire can be corrected. Enter its answers instead.",
            code="not_completed",
        )


@transaction.atomic
def administration_void(*, administration: Administration, reason: str, by) -> Administration:
    """Void a completed questionnaire: it stays, with its answers, scores and reason, and
    counts in no figure. A voided questionnaire cannot be corrected."""
    adm = _locked(administration)
    reason = (reason or "").strip()
    if adm.status == Status.VOIDED:
        raise ValidationError("This questionnaire has already been voided.", code="voided")
    if adm.status != Status.COMPLETED:
        raise ValidationError(
            "Only a completed questionnaire (its current version) can be voided.",
            code="not_completed",
        )
    if not reason:
        raise ValidationError({"reason": ["Say why this questionnaire should not count."]})
    adm.status = Status.VOIDED
    adm.change_reason = reason[:300]
    adm.voided_at = timezone.now()
    adm.voided_by = by
    adm.save(update_fields=["status", "change_reason", "voided_at", "voided_by"])
    _windows_changed([adm.enrolment_id])
    return adm


COMPLETION_FIELDS = [
    "status",
    "source",
    "started_at",
    "completed_at",
    "entered_by",
    "instrument_version",
    "diagnosis",
    "outside_window_reason",
]


def _complete(
    adm,
    result: ScoreResult,
    *,
    source,
    when,
    entered_by,
    already_raised=frozenset(),
    before: Administration | None = None,
) -> None:
    """`before`, when given, is the row as the caller read it under its lock: the audit
    entry is worked out from it instead of from a second read."""
    adm.status = Status.COMPLETED
    adm.source = source
    adm.completed_at = when
    adm.entered_by = entered_by
    adm.instrument_version = result.version
    adm.diagnosis = result.diagnosis or ""
    if before is None:
        adm.save(update_fields=COMPLETION_FIELDS)
    else:
        save_recorded(adm, before=before, update_fields=COMPLETION_FIELDS)
    scores = Score.objects.bulk_create(
        [
            Score(
                administration=adm,
                scale=scale,
                value=value,
                band=result.bands.get(scale) or "",
                not_scored_reason=result.not_scored.get(scale, "")[:200],
                instrument_version=result.version,
            )
            for scale, value in result.scales.items()
        ]
    )
    record_bulk_changes(
        entries=[(s, {"value": [None, s.value]}) for s in scores], action=LogEntry.Action.CREATE
    )
    # Only the last questionnaire of a window changes its messages (none left to chase).
    still_to_answer = (
        Administration.objects.filter(
            enrolment_id=adm.enrolment_id,
            timepoint_id=adm.timepoint_id,
            status__in=Administration.LIVE_STATUSES,
        )
        .exclude(instrument_code__in=catalogue.STAFF_COMPLETED)
        .exists()
    )
    if not still_to_answer:
        _windows_changed([adm.enrolment_id])
    alerts = [
        RiskAlert.objects.create(administration=adm, item=hit.item, severity=hit.severity)
        for hit in result.risk
        if hit.item not in already_raised
    ]
    if alerts:
        alert_ids = [alert.pk for alert in alerts]
        transaction.on_commit(lambda: risk_alerts_notify(alert_ids=alert_ids))


# --------------------------------------------------------------------------- risk alerts


def _alert_recipients(cohort) -> list[str]:
    emails = [u.email for u in cohort.facilitators.filter(is_active=True) if u.email]
    if emails:
        return emails
    # No facilitator named yet: the service's clinicians, so an alert never goes nowhere.
    return list(
        Membership.objects.filter(
            service_id=cohort.service_id,
            role=Membership.Role.CLINICIAN,
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def _severity_in_words(severity: str) -> str:
    if severity == RiskAlert.Severity.URGENT:
        return "Urgent: review it today (same-day review)."
    return "Review: look at it soon; it is not marked for same-day review."


def _site_url(name: str, *args) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=args)


def _how_to_open(url: str) -> str:
    return (
        "To open it, sign in to Safeground and choose Risk alerts in the menu, "
        f"or go to {url} (you will be asked to sign in first)."
    )


def _send(subject: str, body: str, recipients: list[str], what: str) -> bool:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        # The alert stays open on the alert list whatever happens to the e-mail.
        logger.exception("Could not e-mail %s", what)
        return False
    return True


def risk_alerts_notify(*, alert_ids: list[int]) -> None:
    """E-mail the cohort's facilitators. The message names nobody: only a link to the alert."""
    alerts = RiskAlert.objects.filter(pk__in=alert_ids).select_related(
        "administration__enrolment__cohort"
    )
    for alert in alerts:
        recipients = _alert_recipients(alert.administration.enrolment.cohort)
        if not recipients:
            logger.error("Risk alert %s has no one to notify", alert.pk)
            continue
        urgent = alert.severity == RiskAlert.Severity.URGENT
        subject = URGENT_ALERT_SUBJECT if urgent else ALERT_SUBJECT
        days = escalation_working_days(alert.severity)
        body = (
            "A questionnaire answer has raised a risk alert in Safeground.\n\n"
            f"How urgent: {_severity_in_words(alert.severity)}\n\n"
            f"{_how_to_open(_site_url('measures:alert_detail', alert.pk))}\n\n"
            "Acknowledge it with a note once it has been reviewed. Until then it is repeated "
            "in a daily summary, and after "
            f"{days} working day{'s' if days != 1 else ''} the service's manager is told.\n"
        )
        _send(subject, body, recipients, f"risk alert {alert.pk}")


@transaction.atomic
def risk_alert_acknowledge(*, alert: RiskAlert, user, note: str) -> RiskAlert:
    alert = RiskAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.acknowledgement_note = note.strip()
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    return alert


@transaction.atomic
def huddle_contact_record(*, session, enrolment, note: str, by) -> HuddleContact:
    """Record that someone flagged for a session's huddle was contacted (audited by
    auditlog). The person must be on that session's register."""
    if enrolment.cohort_id != session.cohort_id or not on_register_at(enrolment, session.date):
        raise ValidationError({"enrolment": "That person is not on this session's register."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Write a note saying who was contacted and how."})
    return HuddleContact.objects.create(
        session=session, enrolment=enrolment, note=note, recorded_by=by
    )


def escalation_working_days(severity: str) -> int:
    if severity == RiskAlert.Severity.URGENT:
        return settings.RISK_ALERT_ESCALATE_URGENT_DAYS
    return settings.RISK_ALERT_ESCALATE_REVIEW_DAYS


def _is_working_day(day: datetime.date) -> bool:
    return day.weekday() < 5 and not bank_holiday_name(day)


def working_days_after(day: datetime.date, count: int) -> datetime.date:
    """The date `count` working days after `day`: weekends and bank holidays do not count."""
    while count > 0:
        day += datetime.timedelta(days=1)
        if _is_working_day(day):
            count -= 1
    return day


def _latest_raised_day_due(today: datetime.date, count: int) -> datetime.date:
    """The latest day an alert could be raised and be `count` working days old by today."""
    day = today
    while working_days_after(day, count) > today:
        day -= datetime.timedelta(days=1)
    return day


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _service_managers(service_id: int) -> list[str]:
    return list(
        Membership.objects.filter(
            service_id=service_id, role=Membership.Role.MANAGER, user__is_active=True
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def risk_alerts_digest(*, now: datetime.datetime | None = None) -> int:
    """E-mail each facilitator how many of their cohorts' alerts are still open; no detail.

    Returns the number of e-mails sent. One e-mail per person a day, however many cohorts
    and however many times the daily run goes: each digest is recorded (AlertDigestSent)
    before it is sent, and a digest that could not be sent gives its record back.
    """
    today = timezone.localdate(now or timezone.now())
    open_alerts = RiskAlert.objects.filter(acknowledged_at__isnull=True).select_related(
        "administration__enrolment__cohort"
    )
    counts: dict[str, dict[str, int]] = {}
    recipients_by_cohort: dict[int, list[str]] = {}
    for alert in open_alerts:
        cohort = alert.administration.enrolment.cohort
        if cohort.pk not in recipients_by_cohort:
            recipients_by_cohort[cohort.pk] = _alert_recipients(cohort)
        for email in recipients_by_cohort[cohort.pk]:
            tally = counts.setdefault(email, {"urgent": 0, "review": 0})
            tally[alert.severity] += 1
    url = _site_url("measures:alert_list")
    sent = 0
    for email, tally in counts.items():
        total = tally["urgent"] + tally["review"]
        record = _digest_claim(recipient=email, day=today, open_alerts=total)
        if record is None:
            continue  # already sent today
        body = (
            f"{total} risk alert{'s are' if total != 1 else ' is'} still open in Safeground "
            "for your groups, not yet acknowledged:\n\n"
            f"Urgent (same-day review): {tally['urgent']}\n"
            f"Review: {tally['review']}\n\n"
            f"{_how_to_open(url)}\n\n"
            "Acknowledge each one with a note once it has been reviewed.\n"
        )
        if _send(DIGEST_SUBJECT, body, [email], "the risk alert digest"):
            sent += 1
        else:
            # Not sent: the next run today may try again.
            record.delete()
    return sent


def _digest_claim(*, recipient: str, day: datetime.date, open_alerts: int):
    """Record today's digest for `recipient` before sending it; None if one is recorded.

    Two overlapping daily runs (a beat tick and the management command) both reach here for
    the same person: the unique constraint alert_digest_once_a_day_per_recipient makes the
    second insert wait for the first to commit and then fail, so only one run sends.
    """
    try:
        with transaction.atomic():
            return AlertDigestSent.objects.create(
                recipient=recipient, sent_on=day, open_alerts=open_alerts
            )
    except IntegrityError:
        return None


def risk_alerts_escalate(*, now: datetime.datetime | None = None) -> int:
    """Tell the service's managers about alerts still open past their working-day limit.

    Each alert is escalated once: the claim and its escalated_at commit together, and an
    e-mail that could not be sent gives the claim back for the next run. Returns how many
    alerts were escalated.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        due = Q()
        for severity in RiskAlert.Severity.values:
            raised_by = _latest_raised_day_due(today, escalation_working_days(severity))
            due |= Q(severity=severity, raised_at__lt=_start_of(raised_by + datetime.timedelta(1)))
        # Two overlapping runs (a beat tick and the management command) must not both e-mail
        # the managers: each claims only rows no other run holds, and escalated_at is set
        # before the transaction that claimed it commits.
        claimed = list(
            RiskAlert.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(due, acknowledged_at__isnull=True, escalated_at__isnull=True)
            .select_related("administration__enrolment__cohort")
        )
        ready = []
        for alert in claimed:
            managers = _service_managers(alert.administration.enrolment.cohort.service_id)
            if not managers:
                logger.error("Risk alert %s has no service manager to escalate to", alert.pk)
                continue
            ready.append((alert, managers))
        RiskAlert.objects.filter(pk__in=[alert.pk for alert, _ in ready]).update(escalated_at=now)
        record_bulk_changes(entries=[(a, {"escalated_at": [None, now]}) for a, _ in ready])
        transaction.on_commit(lambda: _escalations_send(ready))
    return len(ready)


def _escalations_send(ready) -> None:
    for alert, managers in ready:
        days = escalation_working_days(alert.severity)
        raised = timezone.localtime(alert.raised_at)
        body = (
            "A risk alert raised by a questionnaire answer has not been acknowledged within "
            f"{days} working day{'s' if days != 1 else ''}.\n\n"
            f"How urgent: {_severity_in_words(alert.severity)}\n"
            f"Raised: {date_format(raised, 'l j F Y, H:i')}\n\n"
            f"{_how_to_open(_site_url('measures:alert_detail', alert.pk))}\n\n"
            "Please make sure a clinician reviews it and acknowledges it with a note.\n"
        )
        if not _send(ESCALATION_SUBJECT, body, managers, f"the escalation of alert {alert.pk}"):
            with transaction.atomic():
                RiskAlert.objects.filter(pk=alert.pk).update(escalated_at=None)
                record_bulk_changes(entries=[(alert, {"escalated_at": ["not sent", None]})])


def risk_alerts_follow_up(*, now: datetime.datetime | None = None) -> dict:
    """The daily run: the facilitators' digest, then escalation of overdue alerts."""
    now = now or timezone.now()
    return {"digests": risk_alerts_digest(now=now), "escalated": risk_alerts_escalate(now=now)}


# --------------------------------------------------------------------------- wording


@transaction.atomic
def wording_import(
    *,
    service,
    instrument_code: str,
    items: dict,
    option_labels: dict | None = None,
    instructions: str = "",
    imported_by=None,
    is_placeholder: bool = False,
) -> InstrumentWording:
    """Store a service's licensed wording after checking it covers every item and no more.

    Raises ValueError with a message naming the problem (missing or unknown items).
    """
    instrument = get_instrument(instrument_code)
    merged = apply_wording(
        instrument, items, option_labels=option_labels or None, instructions=instructions or None
    )
    wording, _ = InstrumentWording.objects.update_or_create(
        service=service,
        instrument_code=instrument_code,
        defaults={
            "items": {str(item.number): item.text for item in merged.items},
            "option_labels": {str(k): str(v).strip() for k, v in (option_labels or {}).items()},
            "instructions": (instructions or "").strip(),
            "imported_by": imported_by,
            "is_placeholder": is_placeholder,
        },
    )
    return wording
