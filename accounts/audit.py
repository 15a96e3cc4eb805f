"""The audit trail: django-auditlog's LogEntry table, written three ways.

- Saves and deletes of registered models are logged by auditlog itself (each app registers
  its clinical models in AppConfig.ready()); `save_recorded` writes the same entry for a
  save whose row the caller already holds locked, without auditlog reading it again.
- Bulk writes (bulk_create, bulk_update, QuerySet.update) bypass model signals, so service
  functions that use them call `record_bulk_changes` in the same transaction.
- Every view or export of a participant's identifiable data calls `record_access` (or
  `record_view` for one record): auditlog's ACCESS action, one row per participant shown,
  naming the page or export, never the data itself.

The trail is read by role (`CLINICAL_VALUES`): the stored entries keep every value, and the
pages hide identifying and clinical ones from anyone who is not a clinical role in the
record's service.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from auditlog.context import auditlog_value, disable_auditlog
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import pre_save
from django.dispatch import Signal

# Sent by record_bulk_changes with `instances`: the objects just written in bulk, so layers
# above can react to bulk writes as they do to model signals (dashboards marks figures stale).
bulk_changes_recorded = Signal()


def record_view(instance: Model, *, where: str = "Viewed") -> None:
    record_access([instance], where=where)


def record_access(objects: Iterable[Model], *, where: str) -> None:
    """One ACCESS row per object, in one insert, saying where it was shown: "Viewed in the
    cohort dashboard", "Exported in the cohort CSV". Kept in additional_data, which the
    participant's trail prints as the entry's action."""
    _log([(obj, {}) for obj in objects], LogEntry.Action.ACCESS, {"where": where})


def access_where(entry: LogEntry) -> str:
    """How an access entry names the page or export; older entries just say "Viewed"."""
    data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    return str(data.get("where") or "Viewed")


def _context() -> dict:
    try:
        return auditlog_value.get()
    except LookupError:
        return {}


def _actor():
    """The actor of the auditlog context in force, or None outside one.

    auditlog never clears its context variable when a `set_actor` block or a request ends;
    it only disconnects the block's pre_save receiver. So the value is trusted only while
    that receiver is still connected, or a later task would be blamed on the last user.
    """
    context = _context()
    uid = context.get("signal_duid")
    active = any(lookup_key[0] == uid for lookup_key, *_ in pre_save.receivers)
    return context.get("actor") if active else None


def save_recorded(instance: Model, *, before: Model, update_fields: list[str]) -> None:
    """Save `instance`'s `update_fields` with the audit entry auditlog would write, worked out
    from `before` (a copy of the row as the caller read it under its lock) rather than from
    auditlog's own second read of the row. The same diff, entry and actor as auditlog's."""
    with disable_auditlog():
        instance.save(update_fields=update_fields)
    changes = model_instance_diff(
        before,
        instance,
        fields_to_check=update_fields,
        use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
    )
    if changes:
        LogEntry.objects.log_create(instance, action=LogEntry.Action.UPDATE, changes=changes)


def record_bulk_changes(
    *,
    entries: list[tuple[Model, dict[str, list]]],
    action: int = LogEntry.Action.UPDATE,
    actor=None,
) -> None:
    """Log many changes in one query. `entries` is [(instance, {field: [old, new]})].

    `actor` names who made them where the caller knows; otherwise the auditlog context's.
    """
    if not entries:
        return
    _log(entries, action, actor=actor)
    bulk_changes_recorded.send(sender=LogEntry, instances=[obj for obj, _ in entries])


def _log(entries: list[tuple[Model, dict]], action: int, additional_data=None, actor=None) -> None:
    """One LogEntry per (instance, changes) in one insert, by `actor` or the one in force."""
    if not entries:
        return
    actor = actor or _actor()
    actor = actor if getattr(actor, "pk", None) else None
    remote_addr = _context().get("remote_addr") if actor else None
    content_types = ContentType.objects.get_for_models(*{type(obj) for obj, _ in entries})
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=content_types[type(obj)],
                object_pk=str(obj.pk),
                object_id=obj.pk if isinstance(obj.pk, int) else None,
                object_repr=str(obj),
                action=action,
                changes={field: [_text(old), _text(new)] for field, (old, new) in changes.items()},
                changes_text="",
                additional_data=additional_data,
                actor=actor,
                actor_email=getattr(actor, "email", None),
                remote_addr=remote_addr,
            )
            for obj, changes in entries
        ]
    )


def _text(value) -> str:
    return "None" if value is None else str(value)


# Read-time redaction ------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicalValues:
    """Which values in one model's entries only a clinical role of the record's service may
    read. Either `hidden` names them, or `shown` names the only ones everybody may read
    (the safer form for clinical models: a field added later is hidden until named here).
    """

    service: str  # the lookup from the model to its Service
    hidden: frozenset[str] = frozenset()
    shown: frozenset[str] | None = None

    def hides(self, field: str) -> bool:
        return field not in self.shown if self.shown is not None else field in self.hidden


_ENROLMENT = "enrolment__cohort__service"
_ADMINISTRATION = "administration__enrolment__cohort__service"
# Model label -> the values only clinicians and managers of the record's service read in the
# trail. Every other role (administrators) sees who did what to which record and when, and
# which fields changed, with these values hidden. Models not named have nothing identifying
# or clinical in them (programme templates, wording, staff accounts). Foreign keys are kept
# as ids, which identify nobody on their own.
CLINICAL_VALUES: dict[str, ClinicalValues] = {
    "participants.participant": ClinicalValues(
        service="service",
        shown=frozenset(
            {"service", "preferred_channel", "messages_opt_out", "created_at", "updated_at"}
        ),
    ),
    "programmes.enrolment": ClinicalValues(
        service="cohort__service",
        shown=frozenset(
            {"cohort", "participant", "status", "enrolled_on", "ended_on", "created_at"}
        ),
    ),
    # Whether a named person came to a therapy group is clinical.
    "programmes.attendance": ClinicalValues(
        service="session__cohort__service",
        shown=frozenset({"session", "enrolment", "recorded_at", "recorded_by"}),
    ),
    "programmes.groupsession": ClinicalValues(
        service="cohort__service", hidden=frozenset({"group_note"})
    ),
    "measures.administration": ClinicalValues(
        service=_ENROLMENT,
        shown=frozenset(
            {
                "enrolment",
                "timepoint",
                "instrument_code",
                "due_on",
                "opens_on",
                "closes_on",
                "status",
                "source",
                "started_at",
                "completed_at",
                "entered_by",
                "instrument_version",
                "supersedes",
                "voided_at",
                "voided_by",
            }
        ),
    ),
    "measures.response": ClinicalValues(
        service=_ADMINISTRATION,
        shown=frozenset({"administration", "saved_at", "submitted_at"}),
    ),
    "measures.score": ClinicalValues(
        service=_ADMINISTRATION,
        shown=frozenset({"administration", "instrument_version", "computed_at"}),
    ),
    "measures.riskalert": ClinicalValues(
        service=_ADMINISTRATION,
        shown=frozenset({"administration", "raised_at", "acknowledged_at", "acknowledged_by"}),
    ),
    # Who was contacted before a group, and what was said, is clinical.
    "measures.huddlecontact": ClinicalValues(
        service="session__cohort__service",
        shown=frozenset({"session", "enrolment", "recorded_at", "recorded_by"}),
    ),
    "participants.subjectaccessrequest": ClinicalValues(
        service="service", hidden=frozenset({"note"})
    ),
}


# Every other audited model, with why its values are for any role that reads the trail. A
# model registered with auditlog must be in one of the two (tests/security/test_audit_by_role).
NO_CLINICAL_VALUES: dict[str, str] = {
    "accounts.user": "staff accounts, which administrators manage",
    "accounts.service": "the team's own name and phone number",
    "accounts.membership": "staff roles, which administrators manage",
    "programmes.programme": "protocol templates",
    "programmes.phase": "protocol templates",
    "programmes.curriculumweek": "protocol templates",
    "programmes.cohort": "a group's name, place and times; facilitators are staff",
    "measures.timepoint": "protocol templates",
    "measures.instrumentwording": "licensed questionnaire wording",
    "measures.alertdigestsent": "a staff address, a day and a count; names no alert or person",
    "measures.participantlink": "dates a link was made, used and revoked; the hash is not kept",
    "reminders.reminderpolicy": "when messages go",
    "reminders.messagetemplate": "message wording, which never names anyone",
    "reminders.escalation": "record numbers and dates only",
    "fhir.fhirclient": "which service an API client reads; names no participant",
}


def clinical_values_of(content_type: ContentType) -> ClinicalValues | None:
    return CLINICAL_VALUES.get(f"{content_type.app_label}.{content_type.model}")
