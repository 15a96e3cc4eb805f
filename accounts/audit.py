"""The audit trail: django-auditlog's LogEntry table, written three ways.

- Saves and deletes of registered models are logged by auditlog itself (each app registers
  its clinical models in AppConfig.ready()).
- Bulk writes (bulk_create, bulk_update, QuerySet.update) bypass model signals, so service
  functions that use them call `record_bulk_changes` in the same transaction.
- Every view or export of a participant's identifiable data calls `record_view`
  (auditlog's ACCESS action): who and when and which record, never the data itself.
"""

from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from auditlog.signals import accessed
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import pre_save
from django.dispatch import Signal

# Sent by record_bulk_changes with `instances`: the objects just written in bulk, so layers
# above can react to bulk writes as they do to model signals (dashboards marks figures stale).
bulk_changes_recorded = Signal()


def record_view(instance: Model) -> None:
    accessed.send(sender=instance.__class__, instance=instance)


def _actor():
    """The actor of the auditlog context in force, or None outside one.

    auditlog never clears its context variable when a `set_actor` block or a request ends;
    it only disconnects the block's pre_save receiver. So the value is trusted only while
    that receiver is still connected, or a later task would be blamed on the last user.
    """
    try:
        context = auditlog_value.get()
    except LookupError:
        return None
    uid = context.get("signal_duid")
    active = any(lookup_key[0] == uid for lookup_key, *_ in pre_save.receivers)
    return context.get("actor") if active else None


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
    actor = actor or _actor()
    actor = actor if getattr(actor, "pk", None) else None
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
                actor=actor,
                actor_email=getattr(actor, "email", None),
            )
            for obj, changes in entries
        ]
    )
    bulk_changes_recorded.send(sender=LogEntry, instances=[obj for obj, _ in entries])


def _text(value) -> str:
    return "None" if value is None else str(value)
