"""The staff page: a service's administrator manages the people of their services.

Everything here is scoped to the services where the signed-in user holds MANAGE_SERVICE: a
person who shares none of them does not exist (404); one seen only through a service where
the user has another role is refused (403). An account-wide change (deactivation,
reactivation) also needs every one of the person's services to be the administrator's own,
so that no administrator switches off a colleague of a team they do not run.
"""

from allauth.account.decorators import reauthentication_required
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import MembershipAddForm, MembershipRoleForm, StaffInviteForm
from accounts.models import Membership, Service, User
from accounts.scope import Can, get_scoped_or_404, service_ids

OUTSIDE_YOUR_SERVICES = (
    "This person also works in a service you do not administer, so their account can only "
    "be switched off or on by that service's administrator too. You can remove them from "
    "your own services instead."
)


def _managed_ids(user) -> list[int]:
    ids = service_ids(user, Can.MANAGE_SERVICE)
    if not ids:
        raise PermissionDenied
    return ids


def _staff_member_or_404(user, pk) -> User:
    """A user sharing a service with `user`: 404 if none, 403 without MANAGE_SERVICE there."""
    shared = set(service_ids(user)) & set(
        User.objects.filter(pk=pk).values_list("memberships__service_id", flat=True)
    )
    if not shared:
        raise Http404
    if not shared & set(service_ids(user, Can.MANAGE_SERVICE)):
        raise PermissionDenied
    return User.objects.get(pk=pk)


def _membership_or_404(user, pk) -> Membership:
    return get_scoped_or_404(
        user,
        Membership.objects.select_related("service", "user"),
        can=Can.MANAGE_SERVICE,
        pk=pk,
    )


def _first_message(error: ValidationError) -> str:
    return error.messages[0] if error.messages else "That change could not be made."


@login_required
def staff_list(request):
    ids = _managed_ids(request.user)
    return render(
        request,
        "accounts/staff_list.html",
        {
            "staff": selectors.staff_with_details(ids),
            "services": Service.objects.filter(pk__in=ids),
        },
    )


@login_required
def staff_invite(request):
    ids = _managed_ids(request.user)
    form = StaffInviteForm(request.POST or None, services=Service.objects.filter(pk__in=ids))
    if request.method == "POST" and form.is_valid():
        try:
            user = services.staff_invite(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            services.staff_invitation_send(request=request, user=user)
            messages.success(
                request,
                f"Invitation sent. Its set-password link works for {_valid_days()} days.",
            )
            return redirect("accounts:staff_detail", pk=user.pk)
    return render(request, "accounts/staff_invite.html", {"form": form})


def _valid_days() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)


@login_required
def staff_detail(request, pk):
    return _detail(request, _staff_member_or_404(request.user, pk))


def _detail(request, target: User, *, problem: str = "", add_form=None, role_errors=None):
    """The person's page; after a refused action, the same page with what went wrong."""
    ids = service_ids(request.user, Can.MANAGE_SERVICE)
    here = list(target.memberships.filter(service_id__in=ids).select_related("service"))
    addable = Service.objects.filter(pk__in=ids).exclude(memberships__user=target)
    if add_form is None:
        add_form = MembershipAddForm(services=addable)
    role_errors = role_errors or {}
    return render(
        request,
        "accounts/staff_detail.html",
        {
            "member": target,
            "memberships": [
                (m, MembershipRoleForm(initial={"role": m.role}), role_errors.get(m.pk))
                for m in here
            ],
            "elsewhere": target.memberships.exclude(service_id__in=ids).exists(),
            "has_second_factor": Authenticator.objects.filter(
                user=target, type=Authenticator.Type.TOTP
            ).exists(),
            "add_form": add_form,
            "can_add": add_form.is_bound or addable.exists(),
            "problem": problem,
            "is_self": target.pk == request.user.pk,
            "valid_days": _valid_days(),
        },
    )


@require_POST
@login_required
def staff_end_sessions(request, pk):
    target = _staff_member_or_404(request.user, pk)
    services.user_sessions_end(user=target)
    messages.success(request, "Every session of that account has been ended.")
    return redirect("accounts:staff_list")


@require_POST
@login_required
def staff_invitation_resend(request, pk):
    target = _staff_member_or_404(request.user, pk)
    try:
        services.staff_invitation_send(request=request, user=target)
    except ValidationError as error:
        return _detail(request, target, problem=_first_message(error))
    messages.success(request, f"A new set-password link has gone, for {_valid_days()} days.")
    return redirect("accounts:staff_detail", pk=target.pk)


@require_POST
@login_required
def membership_role(request, pk):
    membership = _membership_or_404(request.user, pk)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        return _detail(
            request,
            membership.user,
            problem="Choose one of the roles offered.",
            role_errors={membership.pk: "Choose one of the roles offered."},
        )
    try:
        services.membership_role_change(membership=membership, role=form.cleaned_data["role"])
    except ValidationError as error:
        message = _first_message(error)
        return _detail(
            request, membership.user, problem=message, role_errors={membership.pk: message}
        )
    messages.success(request, "Role changed.")
    if membership.user_id == request.user.pk:
        return redirect("home")  # their own role: this page may no longer be theirs
    return redirect("accounts:staff_detail", pk=membership.user_id)


@require_POST
@login_required
def membership_add(request, pk):
    target = _staff_member_or_404(request.user, pk)
    ids = service_ids(request.user, Can.MANAGE_SERVICE)
    addable = Service.objects.filter(pk__in=ids).exclude(memberships__user=target)
    form = MembershipAddForm(request.POST, services=addable)
    if form.is_valid():
        try:
            services.membership_add(user=target, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Membership added.")
            return redirect("accounts:staff_detail", pk=target.pk)
    return _detail(
        request, target, problem="The membership was not added: see below.", add_form=form
    )


@require_POST
@login_required
def membership_remove(request, pk):
    membership = _membership_or_404(request.user, pk)
    target = membership.user
    try:
        services.membership_remove(membership=membership)
    except ValidationError as error:
        return _detail(request, target, problem=_first_message(error))
    messages.success(request, "Membership removed.")
    if target.pk == request.user.pk:
        return redirect("home")
    if target.memberships.filter(service_id__in=service_ids(request.user)).exists():
        return redirect("accounts:staff_detail", pk=target.pk)
    return redirect("accounts:staff_list")


def _all_services_managed(request, target: User) -> bool:
    mine = set(service_ids(request.user, Can.MANAGE_SERVICE))
    return set(target.memberships.values_list("service_id", flat=True)) <= mine


@require_POST
@login_required
def staff_deactivate(request, pk):
    target = _staff_member_or_404(request.user, pk)
    if not _all_services_managed(request, target):
        return _detail(request, target, problem=OUTSIDE_YOUR_SERVICES)
    try:
        services.user_deactivate(user=target, by=request.user)
    except ValidationError as error:
        return _detail(request, target, problem=_first_message(error))
    messages.success(request, "Account deactivated. Every session it had open has ended.")
    return redirect("accounts:staff_detail", pk=target.pk)


@require_POST
@login_required
def staff_reactivate(request, pk):
    target = _staff_member_or_404(request.user, pk)
    if not _all_services_managed(request, target):
        return _detail(request, target, problem=OUTSIDE_YOUR_SERVICES)
    try:
        services.user_reactivate(user=target)
    except ValidationError as error:
        return _detail(request, target, problem=_first_message(error))
    messages.success(request, "Account reactivated. They can sign in again.")
    return redirect("accounts:staff_detail", pk=target.pk)


@require_POST
@login_required
def staff_reset_second_factor(request, pk):
    # Scope first, so a stranger's account is a 404 and not a password prompt.
    return _reset_second_factor(request, _staff_member_or_404(request.user, pk))


@reauthentication_required
def _reset_second_factor(request, target: User):
    """Only after the administrator has just proved it is them (allauth's reauthentication:
    their password again, then this request resumes)."""
    try:
        services.second_factor_reset(user=target)
    except ValidationError as error:
        return _detail(request, target, problem=_first_message(error))
    messages.success(
        request,
        "Second factor reset and sessions ended. They will set up a new one when they next "
        "sign in.",
    )
    return redirect("accounts:staff_detail", pk=target.pk)
