"""Celery tasks of the programmes; each calls one service."""

from celery import shared_task
from django.utils import timezone

from programmes import services


@shared_task(name="programmes.tasks.complete_finished_enrolments", ignore_result=True)
def complete_finished_enrolments() -> int:
    """Complete the active enrolments of cohorts whose last group session is past."""
    return services.enrolments_complete_finished(today=timezone.localdate())
