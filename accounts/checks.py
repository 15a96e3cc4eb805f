"""System checks for misconfigurations that would put participant data at risk."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def production_shape(app_configs, **kwargs):
    problems = []
    if not settings.PRODUCTION:
        return problems
    if settings.DEBUG:
        problems.append(
            Error("DEBUG is on in production: error pages would show data.", id="safeground.E001")
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning("Production is running on SQLite; set DATABASE_URL.", id="safeground.W001")
        )
    if not settings.REDIS_URL:
        problems.append(
            Warning(
                "REDIS_URL is not set: rate limits are per process and the task broker is "
                "the local file system.",
                id="safeground.W002",
            )
        )
    backend = settings.MAILERS["default"]["BACKEND"]
    if not backend.endswith("smtp.EmailBackend"):
        problems.append(
            Warning("EMAIL_BACKEND would not deliver mail in production.", id="safeground.W003")
        )
    return problems


# Backends that keep messages on this machine instead of delivering them: in production a
# text or e-mail written to a file is a participant's number or address and live link on
# disk, and a message nobody receives.
FILE_MESSAGE_BACKENDS = {
    "EMAIL_BACKEND": ("filebased.EmailBackend", "console.EmailBackend"),
    "SMS_BACKEND": ("FileSmsBackend", "FakeSmsBackend"),
}


@register(Tags.security)
def production_message_backends(app_configs, **kwargs):
    """Not a deploy-only check: migrate and every command that runs the checks refuse too."""
    if not settings.PRODUCTION or settings.ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION:
        return []
    chosen = {
        "EMAIL_BACKEND": settings.MAILERS["default"]["BACKEND"],
        "SMS_BACKEND": settings.SMS_BACKEND,
    }
    return [
        Error(
            f"{name} is {chosen[name]}, which writes messages to files or the console "
            "instead of sending them.",
            hint=(
                "Configure a real provider (EMAIL_BACKEND with EMAIL_HOST; NOTIFY_API_KEY "
                "and NOTIFY_SMS_TEMPLATE_ID, or SMS_BACKEND), or set "
                "ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION=true for a deliberate exception."
            ),
            id="safeground.E003",
        )
        for name, suffixes in FILE_MESSAGE_BACKENDS.items()
        if chosen[name].endswith(suffixes)
    ]


@register(Tags.security)
def csrf_middleware_installed(app_configs, **kwargs):
    """Django's own check (security.W003) knows only the exact class path; settings silence it
    because participant pages use a subclass (config.csrf). This check takes its place."""
    from django.middleware.csrf import CsrfViewMiddleware
    from django.utils.module_loading import import_string

    for path in settings.MIDDLEWARE:
        try:
            if issubclass(import_string(path), CsrfViewMiddleware):
                return []
        except (ImportError, TypeError):
            continue
    return [
        Error(
            "No CSRF middleware (CsrfViewMiddleware or a subclass) is in MIDDLEWARE.",
            id="safeground.E002",
        )
    ]
