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
