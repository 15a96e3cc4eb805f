from django.apps import AppConfig


class ProgrammesConfig(AppConfig):
    name = "programmes"

    def ready(self):
        from auditlog.registry import auditlog

        from accounts.panels import Panel
        from accounts.scope import Can, user_can
        from participants.panels import participant_page
        from participants.retention import finished
        from programmes import models
        from programmes.selectors import participant_history, participants_finished_before

        for model in (
            models.Programme,
            models.Phase,
            models.CurriculumWeek,
            models.Cohort,
            models.GroupSession,
            models.Enrolment,
            models.Attendance,
        ):
            auditlog.register(
                model, m2m_fields={"facilitators"} if model is models.Cohort else None
            )

        # participants cannot import programmes, so programmes adds its section here.
        participant_page.register(
            Panel(
                key="programmes.enrolments",
                title="Enrolments and attendance",
                template="programmes/panels/participant_enrolments.html",
                context=lambda request, participant: {
                    "history": participant_history(participant),
                    "can_change": user_can(
                        request.user, Can.CHANGE_CLINICAL, participant.service_id
                    ),
                },
                order=10,
            )
        )
        # Retention blanks contact details only once programmes says the person has finished.
        finished.register("programmes.enrolments", participants_finished_before)
