"""The message history section of the participant page."""

from accounts.panels import Panel
from accounts.scope import Can, user_can


def _history(request, participant):
    from reminders.selectors import participant_messages

    if not user_can(request.user, Can.VIEW_CLINICAL, participant.service_id):
        return None
    return {
        "messages_history": participant_messages(participant=participant),
        "can_send_reminder": user_can(request.user, Can.CHANGE_CLINICAL, participant.service_id),
        "participant": participant,
    }


def register() -> None:
    from participants.panels import participant_page

    participant_page.register(
        Panel(
            key="reminders",
            title="Messages",
            template="reminders/panel_history.html",
            context=_history,
            order=60,
        )
    )
