"""Sections measures adds to the participant and cohort pages (fixed query counts)."""

from accounts.panels import Panel
from accounts.scope import Can, user_can
from measures import selectors
from participants.panels import participant_page
from programmes.panels import cohort_page, session_page


def participant_panel(request, participant):
    if not user_can(request.user, Can.VIEW_CLINICAL, participant.service_id):
        return None
    scales = selectors.participant_trajectory(participant)
    return {
        "participant": participant,
        "scales": scales,
        "chart_data": selectors.trajectory_chart_data(scales),
        "open_alerts": list(
            selectors.RiskAlert.objects.filter(
                administration__enrolment__participant=participant,
                acknowledged_at__isnull=True,
            ).select_related("administration__timepoint")
        ),
    }


def cohort_panel(request, cohort):
    if not user_can(request.user, Can.VIEW_CLINICAL, cohort.service_id):
        return None
    return {
        "cohort": cohort,
        "completion": selectors.cohort_completion(cohort),
        "open_alerts": selectors.cohort_open_alerts(cohort),
        "next_session": selectors.next_session(cohort),
    }


def session_panel(request, session):
    """A link from the register to the session's huddle; no query."""
    if not user_can(request.user, Can.VIEW_CLINICAL, session.cohort.service_id):
        return None
    return {"session": session}


def register():
    participant_page.register(
        Panel(
            key="measures",
            title="Questionnaires and change",
            template="measures/panels/participant.html",
            context=participant_panel,
            order=50,
        )
    )
    session_page.register(
        Panel(
            key="huddle",
            title="Huddle",
            template="measures/panels/session_huddle.html",
            context=session_panel,
            order=10,
        )
    )
    cohort_page.register(
        Panel(
            key="measures",
            title="Questionnaires and risk alerts",
            template="measures/panels/cohort.html",
            context=cohort_panel,
            order=50,
        )
    )
