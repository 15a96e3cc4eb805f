import time

from django.conf import settings
from django.contrib.auth import logout

SESSION_STARTED_KEY = "safeground_started_at"


class SessionLifetimeMiddleware:
    """Ends a staff session 12 hours after sign-in, or when an administrator revoked it.

    Idle expiry is Django's own (SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST);
    a deactivated user is already signed out by the authentication backend.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
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


class NoStoreMiddleware:
    """Pages may show participant data, so no browser or proxy may keep a copy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
