"""Links to the FHIR bundles on the participant and cohort pages (no query)."""

from accounts.panels import Panel
from accounts.scope import Can, user_can
from participants.panels import participant_page
from programmes.panels import cohort_page


def participant_panel(request, participant):
    if not user_can(request.user, Can.EXPORT_IDENTIFIABLE, participant.service_id):
        return None
    return {"participant": participant}


def cohort_panel(request, cohort):
    if not user_can(request.user, Can.EXPORT_RESEARCH, cohort.service_id):
        return None
    return {"cohort": cohort}


def register():
    participant_page.register(
        Panel(
            key="fhir",
            title="Record for other systems (FHIR)",
            template="fhir/panels/participant.html",
            context=participant_panel,
            order=90,
        )
    )
    cohort_page.register(
        Panel(
            key="fhir",
            title="Research data (FHIR)",
            template="fhir/panels/cohort.html",
            context=cohort_panel,
            order=90,
        )
    )
