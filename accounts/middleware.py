import time

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

SESSION_STARTED_KEY = "safeground_started_at"

# Paths a signed-in user may reach before finishing the second factor: signing in and out,
# setting up or using an authenticator. Nothing under them shows participant data.
MFA_EXEMPT_URL_NAMES = (
    "account_login",
    "account_logout",
    "account_reauthenticate",
    "account_inactive",
    "mfa_authenticate",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_index",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_generate_recovery_codes",
)

# Pages a participant reaches from a link: the address is theirs and must not leak onward.
PARTICIPANT_PATH_PREFIXES = ("/q/",)


class SessionLifetimeMiddleware:
    """Ends a staff session 12 hours after sign-in, or when an administrator revoked it.

    Idle expiry is Django's own (SESSION_COOKIE_AGE): every signed-in request marks the
    session to be saved, which pushes its expiry forward (participant sessions, with no user,
    are not saved on every request); a deactivated user is already signed out by the
    authentication backend.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request.session.modified = True
            started = request.session.get(SESSION_STARTED_KEY)
            now = time.time()
            if started is None:
                request.session[SESSION_STARTED_KEY] = now
            else:
                too_old = now - started > settings.SESSION_ABSOLUTE_SECONDS
                revoked = (
                    user.sessions_revoked_at is not None
                    and user.sessions_revoked_at.timestamp() > started
                )
                if too_old or revoked:
                    logout(request)
        return self.get_response(request)


def session_passed_mfa(request) -> bool:
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class MFARequiredMiddleware:
    """No page beyond sign-in is served to a session that has not passed a second factor.

    A user without an authenticator is sent to set one up; a user who has one but whose
    session was opened by password alone (for example before they enrolled, or through a
    route that skipped allauth's MFA stage) must prove it again before going on.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt_paths = None

    def exempt_paths(self) -> tuple[str, ...]:
        if self._exempt_paths is None:
            self._exempt_paths = tuple(reverse(name) for name in MFA_EXEMPT_URL_NAMES)
        return self._exempt_paths

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))
            and request.path not in self.exempt_paths()
            and not session_passed_mfa(request)
        ):
            has_totp = Authenticator.objects.filter(
                user=user, type=Authenticator.Type.TOTP
            ).exists()
            target = reverse("mfa_reauthenticate" if has_totp else "mfa_activate_totp")
            return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class ReferrerPolicyMiddleware:
    """Participant pages send no Referer anywhere, whatever the view set."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(PARTICIPANT_PATH_PREFIXES):
            response["Referrer-Policy"] = "no-referrer"
        return response


class NoStoreMiddleware:
    """Pages may show participant data, so no browser or proxy may keep a copy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # A view's own caching header (admin's never_cache, allauth's) is kept only when it
        # already forbids storing; anything weaker is replaced.
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


def mark_session_started(sender, request, user, **kwargs):
    """user_logged_in receiver: the 12-hour clock and revocations count from sign-in."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_STARTED_KEY] = time.time()


def record_mfa_on_enrolment(sender, request, user, authenticator, **kwargs):
    """authenticator_added receiver: enrolling TOTP means a valid code was just entered."""
    from allauth.account.internal.flows.login import record_authentication

    if request is not None and authenticator.type == Authenticator.Type.TOTP:
        record_authentication(request, user, "mfa", type=authenticator.type, id=authenticator.pk)
