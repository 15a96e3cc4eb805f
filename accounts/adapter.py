import logging

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.core.internal import ratelimit
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail

logger = logging.getLogger(__name__)

LOCK_NOTICE_SUBJECT = "Safeground: your account's sign-in is paused"
WRONG_PASSWORDS_BODY = (
    "Someone, perhaps you, has typed the wrong password for your Safeground account too many "
    "times, so signing in to it is paused for {minutes} minutes. Nothing else has changed.\n\n"
    "If it was you, wait and try again. If it was not, tell your Safeground administrator.\n"
)
WRONG_CODES_BODY = (
    "Someone, perhaps you, typed the right password for your Safeground account and then the "
    "wrong security code too many times, so signing in to it is paused for {minutes} minutes.\n\n"
    "If it was not you, someone knows your password: change your password as soon as you can "
    "and tell your Safeground administrator.\n"
)


def client_ip(request) -> str:
    """The address every rate limit counts: allauth's, so that sign-in limits and
    django-ratelimit on participant links agree. X-Forwarded-For is read only when
    ALLAUTH_TRUSTED_PROXY_COUNT says how many proxies in front append to it."""
    return get_adapter().get_client_ip(request)


def _key_rates_exhausted(request, key: str) -> list:
    """The per-account "login_failed" rates that `key` has used up, checked without counting."""
    from allauth.account import app_settings

    exhausted = []
    for rate in ratelimit.parse_rates(app_settings.RATE_LIMITS.get("login_failed")):
        if rate.per != "key":
            continue
        # str(Rate) gives seconds without a unit; this spelling parses back to the same rate
        # and so to the same cache key.
        config = {"login_failed": f"{rate.amount}/{rate.duration}s/key"}
        usage = ratelimit.consume(
            request,
            app="allauth.account",
            action="login_failed",
            config=config,
            key=key,
            dry_run=True,
        )
        if usage is None:
            exhausted.append(rate)
    return exhausted


def notify_if_locked(request, *, user, key: str, body: str) -> None:
    """E-mail the account's holder when `key`'s failures have just locked it, once a lock.

    The notice names neither the address the attempts came from nor anything else the
    holder does not already know, and carries no link (a phishing copy would need one)."""
    exhausted = _key_rates_exhausted(request, key)
    if not exhausted or not user.email:
        return
    seconds = max(rate.duration for rate in exhausted)
    # A sliding window frees one attempt at a time: without this, a slow guesser would
    # bring one e-mail per attempt.
    if not cache.add(f"sign-in-lock-notice:{user.pk}", True, timeout=seconds):
        return
    text = body.format(minutes=round(seconds / 60))
    try:
        send_mail(LOCK_NOTICE_SUBJECT, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:
        # The lock holds whatever happens to the e-mail.
        logger.exception("Could not send a sign-in lock notice to account %s", user.pk)


def on_mfa_failed(sender, request, user, **kwargs):
    """allauth.mfa's authentication_failed: counted per account under this key by
    allauth.mfa.base.internal.flows.check_rate_limit."""
    notify_if_locked(request, user=user, key=f"mfa-auth-user-{user.pk}", body=WRONG_CODES_BODY)


INVITATION_TEMPLATE = "account/email/staff_invitation"


class StaffAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators only: no public sign-up."""

    def is_open_for_signup(self, request):
        return False

    def send_password_reset_mail(self, user, email, context):
        """An invited member of staff (no password set yet) gets allauth's same reset key,
        worded as an invitation: from the administrator's staff page, or if they ask for a
        reset themselves before using the first link."""
        if user.has_usable_password():
            return super().send_password_reset_mail(user, email, context)
        services = sorted(m.service.name for m in user.memberships.select_related("service"))
        context = {
            **context,
            "services": services,
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        return self.send_mail(INVITATION_TEMPLATE, email, context)

    def authentication_failed(self, request, **credentials):
        login = credentials.get("username", "")
        user = get_user_model().objects.filter(username__iexact=login, is_active=True).first()
        if user is None:
            return
        key = self._get_login_attempts_cache_key(request, **credentials)
        notify_if_locked(request, user=user, key=key, body=WRONG_PASSWORDS_BODY)


def verify_address_on_password_reset(sender, request, user, **kwargs):
    """allauth's password_reset receiver: the reset key was opened from the account's own
    address, which proves it. allauth records that address unverified when it makes the key,
    and allauth.mfa refuses to add a second factor while any address is unverified, so an
    invited person (or anyone who reset a password) could otherwise never set one up."""
    from allauth.account.models import EmailAddress

    if user.email:
        EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
