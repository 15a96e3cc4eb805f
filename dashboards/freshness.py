"""Marks a cohort's figures stale whenever its clinical data changes.

Single saves and deletes arrive as model signals; bulk writes arrive through
accounts.audit.bulk_changes_recorded, which every service function that writes in bulk
already calls for the audit trail. Each change gives the cohort's CohortFigures row a new
random version in the same transaction as the data, so a reader can never store figures
from before a change as if they were after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from accounts.audit import bulk_changes_recorded
from dashboards.models import CohortFigures
from measures.models import Administration, Score
from programmes.models import Attendance, Enrolment, GroupSession

# What the stored and cached figures are made of (sessions: the cached register grid).
WATCHED = (Enrolment, GroupSession, Attendance, Administration, Score)


def new_version() -> int:
    return secrets.randbits(62)


def mark_changed(cohort_ids: Iterable[int]) -> None:
    """Give each cohort's figures a new version (one query), creating rows as needed."""
    ids = sorted({i for i in cohort_ids if i is not None})
    if not ids:
        return
    CohortFigures.objects.bulk_create(
        [CohortFigures(cohort_id=i, version=new_version()) for i in ids],
        update_conflicts=True,
        unique_fields=["cohort"],
        update_fields=["version"],
    )
    refresh_after_commit()


def mark_deleted(cohort_ids: Iterable[int]) -> None:
    """As mark_changed, but only for rows that exist: a cohort being deleted takes its
    figures with it, and a row inserted during that delete would block it."""
    ids = sorted({i for i in cohort_ids if i is not None})
    if ids:
        CohortFigures.objects.filter(cohort_id__in=ids).update(version=new_version())
        refresh_after_commit()


def refresh_after_commit() -> None:
    """Once the change commits, have a worker bring the figures up to date before anyone
    asks for them (dashboards.warm.refresh_changed), so the next view of a dashboard is
    served from current stored figures instead of working them out while somebody waits.

    Registered once per transaction however many changes it makes. Off when
    DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS is None; the minute's background refresh and
    the pages themselves keep every figure correct without it.
    """
    if getattr(settings, "DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS", None) is None:
        return
    from dashboards.warm import queue_refresh

    if not any(func is queue_refresh for _sids, func, _robust in connection.run_on_commit):
        transaction.on_commit(queue_refresh, robust=True)


def _cached(instance: Model, name: str):
    field = instance._meta.get_field(name)
    return getattr(instance, name) if field.is_cached(instance) else None


def cohort_ids_of(instances: Iterable[Model]) -> set[int]:
    """The cohorts the instances belong to: from loaded relations, else one query per kind."""
    cohorts: set[int] = set()
    enrolments: set[int] = set()
    administrations: set[int] = set()
    for obj in instances:
        if isinstance(obj, Enrolment | GroupSession):
            cohorts.add(obj.cohort_id)
        elif isinstance(obj, Attendance):
            session = _cached(obj, "session")
            if session is not None:
                cohorts.add(session.cohort_id)
            else:
                enrolments.add(obj.enrolment_id)
        elif isinstance(obj, Administration):
            enrolment = _cached(obj, "enrolment")
            if enrolment is not None:
                cohorts.add(enrolment.cohort_id)
            else:
                enrolments.add(obj.enrolment_id)
        elif isinstance(obj, Score):
            administration = _cached(obj, "administration")
            enrolment = administration and _cached(administration, "enrolment")
            if enrolment is not None:
                cohorts.add(enrolment.cohort_id)
            else:
                administrations.add(obj.administration_id)
    if administrations:
        cohorts.update(
            Administration.objects.filter(pk__in=administrations).values_list(
                "enrolment__cohort_id", flat=True
            )
        )
    if enrolments:
        cohorts.update(
            Enrolment.objects.filter(pk__in=enrolments).values_list("cohort_id", flat=True)
        )
    return cohorts


def _on_save(sender, instance, **kwargs):
    if kwargs.get("raw"):
        return
    mark_changed(cohort_ids_of([instance]))


def _on_delete(sender, instance, **kwargs):
    mark_deleted(cohort_ids_of([instance]))


def _on_bulk(sender, instances, **kwargs):
    watched = [obj for obj in instances if isinstance(obj, WATCHED)]
    if watched:
        mark_changed(cohort_ids_of(watched))


def connect() -> None:
    for model in WATCHED:
        uid = f"dashboards-{model.__name__}"
        post_save.connect(_on_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_on_delete, sender=model, dispatch_uid=uid)
    bulk_changes_recorded.connect(_on_bulk, dispatch_uid="dashboards")
