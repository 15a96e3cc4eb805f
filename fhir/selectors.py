"""The rows the FHIR resources are built from: completed, current, counted administrations."""

import datetime

from django.db.models import Prefetch, Q, QuerySet

from measures.models import Administration, Score
from programmes.models import Enrolment


def completed_administrations() -> QuerySet[Administration]:
    """Completed (so neither superseded nor voided) and not of an enrolment entered in error,
    with what the resources need loaded: two queries however many there are."""
    return (
        Administration.objects.filter(
            status=Administration.Status.COMPLETED,
            enrolment__in=Enrolment.objects.counted(),
        )
        .select_related("enrolment", "entered_by", "response")
        .prefetch_related(Prefetch("scores", queryset=Score.objects.order_by("scale")))
        .order_by("completed_at", "pk")
    )


def scores() -> QuerySet[Score]:
    """Scores of completed administrations, with their administration loaded."""
    return (
        Score.objects.filter(
            administration__status=Administration.Status.COMPLETED,
            administration__enrolment__in=Enrolment.objects.counted(),
        )
        .select_related("administration__enrolment", "administration__entered_by")
        .order_by("administration__completed_at", "administration_id", "scale")
    )


def completed_between(
    prefix: str, after: datetime.datetime | None, before: datetime.datetime | None
) -> Q:
    q = Q()
    if after is not None:
        q &= Q(**{f"{prefix}completed_at__gte": after})
    if before is not None:
        q &= Q(**{f"{prefix}completed_at__lt": before})
    return q
