"""Writes for staff accounts: invitations, roles, memberships, deactivation, second factors.

Every change is audited: saves and deletes of User and Membership by auditlog itself (with
the request's user as actor), the rest (an invitation sent, a second factor reset) through
accounts.audit.record_bulk_changes. Refusals raise ValidationError with a message for the
person at the screen.
"""

from allauth.account.internal.flows.password_reset import request_password_reset
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import record_bulk_changes
from accounts.models import Membership, Service, User

Role = Membership.Role

EMAIL_IN_USE = "An account already uses this e-mail address."
USERNAME_IN_USE = "An account already uses this username."
LAST_ADMIN = (
    "{service} would have no administrator left. Make someone else its administrator first."
)


@transaction.atomic
def user_sessions_end(*, user: User) -> User:
    """End every session `user` has open now (SessionLifetimeMiddleware enforces it)."""
    user.sessions_revoked_at = timezone.now()
    user.save(update_fields=["sessions_revoked_at"])
    return user


@transaction.atomic
def staff_invite(
    *,
    email: str,
    username: str,
    first_name: str,
    last_name: str,
    service: Service,
    role: str,
) -> User:
    """An account with no usable password yet ("invited") and its first membership. The
    set-password link goes separately (`staff_invitation_send`), once this has committed."""
    email = email.strip()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": EMAIL_IN_USE})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": USERNAME_IN_USE})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    try:
        # Two administrators inviting the same address at once: the checks above both pass,
        # and the named constraints (user_email_unique_when_set, username's) stop the second.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationError({"email": EMAIL_IN_USE}) from None
    Membership.objects.create(user=user, service=service, role=role)
    return user


@transaction.atomic
def staff_invitation_send(*, request, user: User) -> None:
    """E-mail `user` a set-password link: allauth's own password-reset key (its token
    generator, its from-key page), worded as an invitation by StaffAccountAdapter. The key
    stops working once a password is set, and after PASSWORD_RESET_TIMEOUT."""
    if not user.is_active:
        raise ValidationError("This account is deactivated: reactivate it first.")
    if user.has_usable_password():
        raise ValidationError(
            "This person has already set a password. They can use "
            "“Forgotten your password?” on the sign-in page."
        )
    request_password_reset(request, user.email, [user], None)
    record_bulk_changes(entries=[(user, {"invitation": ["", "set-password link sent"]})])


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles offered."})
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN:
        _refuse_if_last_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_add(*, user: User, service: Service, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles offered."})
    if Membership.objects.filter(user=user, service=service).exists():
        raise ValidationError({"service": "They are already a member of this service."})
    try:
        with transaction.atomic():  # a second click racing the first: membership_one_per_service
            return Membership.objects.create(user=user, service=service, role=role)
    except IntegrityError:
        raise ValidationError({"service": "They are already a member of this service."}) from None


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if not Membership.objects.filter(user_id=membership.user_id).exclude(pk=membership.pk).exists():
        raise ValidationError(
            "This is their only service. Deactivate the account instead, so that it keeps "
            "its place in the audit trail and can be reactivated."
        )
    if membership.role == Role.ADMIN:
        _refuse_if_last_admin(membership)
    membership.delete()


@transaction.atomic
def user_deactivate(*, user: User, by: User) -> User:
    """No sign-in from now on, and every open session ends at once (the same revocation as
    "End sessions"; the authentication backend also refuses inactive accounts)."""
    if user.pk == by.pk:
        raise ValidationError("You cannot deactivate your own account. Ask another administrator.")
    if not user.is_active:
        raise ValidationError("This account is already deactivated.")
    for membership in user.memberships.filter(role=Role.ADMIN).select_related("service"):
        _refuse_if_last_admin(membership)
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user_sessions_end(user=user)


@transaction.atomic
def user_reactivate(*, user: User) -> User:
    """Sign-in works again; sessions from before the deactivation stay ended."""
    if user.is_active:
        raise ValidationError("This account is already active.")
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


@transaction.atomic
def second_factor_reset(*, user: User) -> int:
    """Remove every authenticator (TOTP and recovery codes) and end `user`'s sessions: at
    their next sign-in MFARequiredMiddleware has them set up a new one. Returns how many
    authenticators went."""
    authenticators = list(Authenticator.objects.filter(user=user))
    if not any(a.type == Authenticator.Type.TOTP for a in authenticators):
        raise ValidationError("This person has no second factor set up: nothing to reset.")
    Authenticator.objects.filter(pk__in=[a.pk for a in authenticators]).delete()
    user_sessions_end(user=user)
    record_bulk_changes(entries=[(user, {"second factor": ["set up", "reset"]})])
    return len(authenticators)


def _refuse_if_last_admin(membership: Membership) -> None:
    # Two administrators demoting or removing each other at the same moment would each see
    # the other still there and both go ahead, leaving the service with none. Locking the
    # service's administrator rows makes the second wait for the first and count again.
    admins = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(service_id=membership.service_id, role=Role.ADMIN, user__is_active=True)
        .values_list("pk", flat=True)
    )
    if [pk for pk in admins if pk != membership.pk] == []:
        raise ValidationError(LAST_ADMIN.format(service=membership.service.name))
