"""Celery tasks for questionnaires: each takes nothing or ids and calls a service."""

from celery import shared_task

from measures import services


@shared_task(name="measures.tasks.risk_alerts_follow_up", ignore_result=True)
def risk_alerts_follow_up() -> dict:
    """Daily: the facilitators' digest of open alerts, then escalation of overdue ones."""
    return services.risk_alerts_follow_up()
