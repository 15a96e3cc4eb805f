"""Safeground settings, read only from environment variables.

With nothing set, Safeground runs for development: SQLite in ./data, DEBUG on, a Celery
broker on the local file system, and e-mail and text messages written to ./data/outbox.
SAFEGROUND_ENV=production turns on the production shape and refuses to start without a
secret key and allowed hosts. DATABASE_URL switches to PostgreSQL and REDIS_URL to Redis.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("SAFEGROUND_DATA_DIR", str(BASE_DIR / "data")))

ENVIRONMENT = env_str("SAFEGROUND_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("SAFEGROUND_ENV must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list at least one host in production.")
else:
    # A development-only key: production refuses to start without SECRET_KEY.
    SECRET_KEY = env_str("SECRET_KEY", "development-only-key-never-used-in-production-6b1f")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "auditlog",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "oauth2_provider",
    "accounts",
    "participants",
    "programmes",
    "measures",
    "reminders",
    "dashboards",
    "fhir",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the session middleware, which reads its key from a cookie.
    "config.control_characters.ControlCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.csrf.ParticipantAwareCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.MFARequiredMiddleware",
    "accounts.middleware.ReferrerPolicyMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "accounts.middleware.NoStoreMiddleware",
]

# security.W003 looks for CsrfViewMiddleware by its exact path and so misses the subclass
# above; accounts.checks.csrf_middleware_installed checks for it (or any subclass) instead.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.memberships",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "safeground.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "safeground",
        },
        "ratelimit": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "safeground-rl",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
        # The dashboards' rendered pages and figures: all can be worked out again.
        "dashboards": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "safeground-dash",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dashboards": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
# Participant pages must keep working when Redis is down: count requests in the fail-open
# cache above, and let a request through when the count cannot be read.
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = True

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# Staff accounts are made by administrators; nobody signs themselves up.
ACCOUNT_ADAPTER = "accounts.adapter.StaffAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# A password reset for an address no account has sends nothing: no mail to whoever typed it.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS = {
    # At most 10 wrong passwords, and separately 10 wrong second-factor codes (allauth.mfa
    # counts those under this action too), in 5 minutes for one account. The per-address
    # limit is generous: a whole trust can share one address behind its NAT.
    "login_failed": "100/5m/ip,10/5m/key",
    "login": "300/m/ip",
}
# The client's address for every rate limit: REMOTE_ADDR unless the deployment says how many
# proxies in front of it append to X-Forwarded-For, so a forged header counts for nothing.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
RATELIMIT_IP_META_KEY = "accounts.adapter.client_ip"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Safeground"

# Idle expiry: every signed-in staff request pushes the 30-minute cookie forward (marked by
# accounts.middleware.SessionLifetimeMiddleware, which also enforces the 12-hour limit).
# Participant sessions are not written on every request (measures.participant_views keeps
# their own idle and absolute limits), so a page a participant reads writes nothing.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
PHONENUMBER_DEFAULT_REGION = "GB"

# Content Security Policy: own origin only, scripts by nonce, nothing inline.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Messages to participants. Both default to files under ./data/outbox so nothing leaves
# the machine unless a deployment configures a real provider.
OUTBOX_DIR = DATA_DIR / "outbox"
_email_backend = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
if _email_backend.endswith("filebased.EmailBackend"):
    _email_options = {"file_path": str(OUTBOX_DIR / "email")}
elif _email_backend.endswith("smtp.EmailBackend"):
    _email_options = {
        "host": env_str("EMAIL_HOST"),
        "port": env_int("EMAIL_PORT", 587),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
    }
else:
    _email_options = {}
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@safeground.invalid")
# Where participant links point; unset, the address scripts/run serves on (SAFEGROUND_ADDR).
SITE_URL = env_str("SITE_URL", "http://" + env_str("SAFEGROUND_ADDR", "127.0.0.1:8000"))

# Celery: Redis when REDIS_URL is set, otherwise a broker on the local file system so that
# web, worker and beat run on a bare machine with no other service.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = DATA_DIR / "celery-broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Opens and expires questionnaires, plans messages, sweeps stuck ones, sends what is due.
    "reminders-dispatch-due": {"task": "reminders.tasks.dispatch_due", "schedule": 60.0},
}

# Text messages: GOV.UK Notify when a key and a template (a single ((body)) placeholder) are
# set, otherwise files in ./data/outbox/sms. SMS_BACKEND names any other backend class.
NOTIFY_API_KEY = env_str("NOTIFY_API_KEY", "")
NOTIFY_SMS_TEMPLATE_ID = env_str("NOTIFY_SMS_TEMPLATE_ID", "")
NOTIFY_SMS_SENDER_ID = env_str("NOTIFY_SMS_SENDER_ID", "")
NOTIFY_BASE_URL = env_str("NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")
SMS_OUTBOX_DIR = OUTBOX_DIR / "sms"
SMS_BACKEND = env_str(
    "SMS_BACKEND",
    "reminders.channels.sms.NotifySmsBackend"
    if NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID
    else "reminders.channels.sms.FileSmsBackend",
)
# Production refuses the file backends above (accounts.checks, safeground.E003) unless this
# says the exception is deliberate.
ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION = env_bool(
    "ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION", False
)
# Calls to a provider before a message is marked failed and shown to staff.
REMINDERS_MAX_ATTEMPTS = env_int("REMINDERS_MAX_ATTEMPTS", 5)
# How many due messages one claim takes, and one send task sends.
REMINDERS_BATCH = env_int("REMINDERS_BATCH", 250)
# Provider calls a minute across every worker (GOV.UK Notify allows 3,000 per API key).
# The dispatcher claims at this rate and each provider call waits its turn. 0: no limit.
REMINDERS_SEND_RATE_PER_MINUTE = env_int("REMINDERS_SEND_RATE_PER_MINUTE", 3000)
# Provider calls of one batch in flight at once (threads of the send task, texts and
# e-mails alike; each call still waits its turn at the rate above, and each thread keeps
# one SMTP connection for the batch). One call waits ~50 ms for its answer, so one at a
# time a batch could not pass 20 a second.
REMINDERS_SEND_CONCURRENCY = env_int("REMINDERS_SEND_CONCURRENCY", 4)
# How long one dispatcher run keeps claiming while messages are due (the beat starts one a
# minute; two overlapping runs share the rate and never claim the same row).
REMINDERS_DISPATCH_SECONDS = env_int("REMINDERS_DISPATCH_SECONDS", 55)
# First wait before a message the provider could not take is tried again; doubles each
# time, up to 15 minutes.
REMINDERS_RETRY_SECONDS = env_int("REMINDERS_RETRY_SECONDS", 30)
# A message still "sending" this long after its claim belonged to a worker that died.
REMINDERS_STUCK_SECONDS = env_int("REMINDERS_STUCK_SECONDS", 15 * 60)

# Days after a participant's last enrolment ends before their e-mail and mobile are
# blanked (participants.tasks.retention_blank_contacts). Unset or 0: never.
RETENTION_CONTACT_DAYS = env_int("RETENTION_CONTACT_DAYS", 0)
# Seconds after a change to clinical data commits before a worker brings the dashboards'
# figures and pages up to date (dashboards.warm.refresh_changed); "off" leaves it to the
# minute's refresh below and to the pages themselves.
DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS = (
    None
    if env_str("DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS", "") == "off"
    else env_int("DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS", 2)
)
# Works out the dashboards' figures after data changes, before anyone asks for them.
CELERY_BEAT_SCHEDULE["dashboards-refresh-stale-figures"] = {
    "task": "dashboards.tasks.refresh_stale_figures",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["participants-retention-blank-contacts"] = {
    "task": "participants.tasks.retention_blank_contacts",
    "schedule": 24 * 60 * 60.0,
}
# Completes the active enrolments of cohorts whose last group session is past.
CELERY_BEAT_SCHEDULE["programmes-complete-finished-enrolments"] = {
    "task": "programmes.tasks.complete_finished_enrolments",
    "schedule": 24 * 60 * 60.0,
}

# Working days (weekends and bank holidays skipped) an unacknowledged risk alert waits before
# the service's managers are told; the same daily run sends the facilitators' digest.
RISK_ALERT_ESCALATE_URGENT_DAYS = env_int("RISK_ALERT_ESCALATE_URGENT_DAYS", 1)
RISK_ALERT_ESCALATE_REVIEW_DAYS = env_int("RISK_ALERT_ESCALATE_REVIEW_DAYS", 5)
for _name in ("RISK_ALERT_ESCALATE_URGENT_DAYS", "RISK_ALERT_ESCALATE_REVIEW_DAYS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be 1 or more working days.")
CELERY_BEAT_SCHEDULE["measures-risk-alerts-follow-up"] = {
    "task": "measures.tasks.risk_alerts_follow_up",
    "schedule": crontab(hour=8, minute=0),
}

# The FHIR API: OAuth 2 client credentials only (fhir.models.FhirClient binds each client to
# one service). Tokens are short-lived, and client secrets are stored hashed.
OAUTH2_PROVIDER = {
    "SCOPES": {"system/*.read": "Read the questionnaires and scores of the client's service"},
    "DEFAULT_SCOPES": ["system/*.read"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("FHIR_TOKEN_SECONDS", 15 * 60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": 0,
    # RFC 9700 (the OAuth 2.0 security best practice) throughout: tokens only in the
    # Authorization header (never in a URL, which ends up in logs), stored hashed.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
# Named here because fhir.FhirClient refers to it (the model is swappable).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
# Requests a minute one FHIR client may make (django-ratelimit, in the "ratelimit" cache).
FHIR_API_RATE = env_str("FHIR_API_RATE", "120/m")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Blanks e-mail addresses, phone and NHS numbers and token-like strings in every record.
    "filters": {
        "redact": {"()": "accounts.log_redaction.RedactingFilter"},
        "template_lookup": {"()": "accounts.log_redaction.TemplateLookupFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (a console handler when DEBUG is on, and mail_admins) carry
        # no redacting filter: replace them, so its records reach only the console above.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Django logs the full request line of 4xx responses, which can carry a token.
        "django.request": {"level": "ERROR"},
        # runserver's request lines: through the redacting console, not Python's fallback.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # The OAuth libraries log each token they issue or check at DEBUG.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # A failed variable lookup is logged with the whole template context attached.
        "django.template": {"filters": ["template_lookup"]},
    },
}
