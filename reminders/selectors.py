from reminders.models import Escalation, Message

HISTORY_LIMIT = 50


def participant_messages(*, participant) -> list[Message]:
    """The latest messages for one person: when, kind, channel, status. Never the body."""
    return list(
        Message.objects.filter(participant=participant)
        .select_related("timepoint")
        .only(
            "id",
            "kind",
            "channel",
            "status",
            "due_at",
            "sent_at",
            "last_error",
            "timepoint__name",
            "participant_id",
        )
        .order_by("-due_at", "-id")[:HISTORY_LIMIT]
    )


def failed_messages(*, service, limit: int = 200) -> list[Message]:
    return list(
        Message.objects.filter(service=service, status=Message.Status.FAILED)
        .select_related("participant", "timepoint")
        .order_by("-due_at", "-id")[:limit]
    )


def open_escalations(*, service, limit: int = 200) -> list[Escalation]:
    return list(
        Escalation.objects.filter(service=service, resolved_at__isnull=True)
        .select_related("enrolment__participant", "enrolment__cohort", "timepoint")
        .order_by("-created_at")[:limit]
    )
