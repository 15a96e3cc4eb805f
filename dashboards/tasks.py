"""Celery tasks of the dashboards."""

from celery import shared_task

from dashboards import warm


@shared_task
def refresh_stale_figures() -> dict[str, int]:
    return warm.refresh_stale()


@shared_task
def refresh_changed_figures() -> dict[str, int]:
    return warm.refresh_changed()
