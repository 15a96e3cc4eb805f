from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from accounts.audit import record_access
from accounts.models import Service
from accounts.scope import Can, get_scoped_or_404, require, service_ids, user_can
from participants.models import Participant
from reminders import selectors, services, wording
from reminders.forms import MessageTemplateForm
from reminders.models import Escalation, MessageTemplate
from reminders.outcomes import WhenRequested

SEND_NOW_RATE_PER_USER = "20/h"
SEND_NOW_RATE_PER_PARTICIPANT = "3/d"


def _service_or_404(user, service_id: int, can: Can) -> Service:
    if service_id not in service_ids(user):
        raise Http404
    require(user, can, service_id)
    return get_object_or_404(Service, pk=service_id)


@login_required
@require_POST
def send_now(request, pk):
    participant = get_scoped_or_404(request.user, Participant, can=Can.CHANGE_CLINICAL, pk=pk)
    back = redirect("participants:participant_detail", pk=participant.pk)
    limited = is_ratelimited(
        request,
        group="reminders.send_now.user",
        key="user",
        rate=SEND_NOW_RATE_PER_USER,
        increment=True,
    ) or is_ratelimited(
        request,
        group="reminders.send_now.participant",
        key=lambda group, req: str(participant.pk),
        rate=SEND_NOW_RATE_PER_PARTICIPANT,
        increment=True,
    )
    if limited:
        messages.error(
            request, "Too many reminders have been asked for just now. Please try again later."
        )
        return back
    try:
        result = services.reminder_request(
            participant=participant, requested_by=request.user, now=timezone.now()
        )
    except services.ReminderRefused as refusal:
        messages.error(request, str(refusal))
        return back
    when = timezone.localtime(result.due_at).strftime("%H:%M on %-d %B")
    if result.reason == WhenRequested.NOW:
        messages.success(request, "The reminder will go out within a few minutes.")
    elif result.reason == WhenRequested.QUIET_HOURS:
        messages.info(
            request,
            f"No messages go out between 20:00 and 09:00, so the reminder will go at {when}.",
        )
    else:
        messages.info(
            request,
            f"This person has already had a message today, so the reminder will go at {when}.",
        )
    return back


@login_required
def service_messages(request, service_id):
    service = _service_or_404(request.user, service_id, Can.VIEW_CLINICAL)
    failed = selectors.failed_messages(service=service)
    escalations = selectors.open_escalations(service=service)
    people = {m.participant for m in failed} | {e.enrolment.participant for e in escalations}
    record_access(people, where="Viewed on the service's messages page")
    return render(
        request,
        "reminders/service_messages.html",
        {
            "service": service,
            "failed": failed,
            "escalations": escalations,
            "can_resolve": user_can(request.user, Can.CHANGE_CLINICAL, service.pk),
        },
    )


@login_required
@require_POST
def escalation_resolve(request, pk):
    escalation = get_scoped_or_404(request.user, Escalation, can=Can.CHANGE_CLINICAL, pk=pk)
    services.escalation_resolve(escalation=escalation, resolved_by=request.user)
    messages.success(request, "Marked as followed up.")
    return redirect("reminders:service_messages", service_id=escalation.service_id)


TEMPLATE_KEYS = [
    (kind, kind_label, channel, channel_label)
    for kind, kind_label in MessageTemplate.Kind.choices
    for channel, channel_label in MessageTemplate.Channel.choices
]


@login_required
def message_templates(request, service_id):
    service = _service_or_404(request.user, service_id, Can.MANAGE_SERVICE)
    saved = {(t.kind, t.channel): t for t in MessageTemplate.objects.filter(service=service)}
    posted_key = None
    posted = None
    if request.method == "POST":
        known = {f"{kind}-{channel}": (kind, channel) for kind, _, channel, _ in TEMPLATE_KEYS}
        posted_key = known.get(request.POST.get("which", ""))
        if posted_key is None:
            messages.error(request, "That form was not recognised; nothing was saved.")
            return redirect("reminders:message_templates", service_id=service.pk)
        kind, channel = posted_key
        if "reset" in request.POST:
            services.message_template_reset(service=service, kind=kind, channel=channel)
            messages.success(request, "The wording is back to the default.")
            return redirect("reminders:message_templates", service_id=service.pk)
        posted = MessageTemplateForm(request.POST, kind=kind, channel=channel)
        if posted.is_valid():
            services.message_template_save(
                service=service,
                kind=kind,
                channel=channel,
                updated_by=request.user,
                **posted.cleaned_data,
            )
            messages.success(request, "Wording saved.")
            return redirect("reminders:message_templates", service_id=service.pk)
    forms = []
    for kind, kind_label, channel, channel_label in TEMPLATE_KEYS:
        key = (kind, channel)
        if key == posted_key:
            form = posted
        else:
            row = saved.get(key)
            subject, body = (row.subject, row.body) if row else wording.DEFAULTS[key]
            form = MessageTemplateForm(
                kind=kind, channel=channel, initial={"subject": subject, "body": body}
            )
        forms.append(
            {
                "title": f"{kind_label}: {channel_label.lower()}",
                "id": f"{kind}-{channel}",
                "form": form,
                "customised": key in saved,
            }
        )
    return render(request, "reminders/message_templates.html", {"service": service, "forms": forms})


def _first_service(user, can: Can) -> int:
    ids = sorted(service_ids(user, can))
    if not ids:
        raise PermissionDenied
    return ids[0]


@login_required
def messages_home(request):
    """The nav's "Messages" link: the service page of the user's (first) service."""
    service_id = _first_service(request.user, Can.VIEW_CLINICAL)
    return redirect("reminders:service_messages", service_id=service_id)


@login_required
def wording_home(request):
    service_id = _first_service(request.user, Can.MANAGE_SERVICE)
    return redirect("reminders:message_templates", service_id=service_id)
