import pytest


@pytest.fixture(autouse=True)
def _no_stale_audit_actor():
    # auditlog's middleware sets its ContextVar and never resets it, so an earlier test's
    # request would otherwise leave its (rolled back) user as the actor of bulk audit rows.
    from auditlog.context import auditlog_value

    auditlog_value.set({})


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every persona has a password; the production hasher costs most of a test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
