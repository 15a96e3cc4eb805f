import importlib
import os

import pytest
from django.conf import settings

from accounts.models import Membership
from tests.factories import MembershipFactory, ServiceFactory

# Every run scans its logs for the canary personal data and tokens it used (--no-canary: off).
pytest_plugins = ["tests.security.canary_plugin"]


def pytest_configure(config):
    # Every persona has a password; the production hasher would cost most of a test's time.
    # Set once for the whole run (not per test through the settings fixture, whose teardown
    # order would then cut across other fixtures' overrides). PBKDF2 stays listed second so a
    # stored production hash still verifies.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    # A change's refresh would be queued to Redis for a worker that no test runs (and one
    # that a worker-starting test might pick up): the tests of it turn it on.
    settings.DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS = None
    # In CI the suite must run on the production database engine and broker: a silent
    # fall-back to SQLite would prove nothing about PostgreSQL.
    if os.environ.get("CI"):
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            raise pytest.UsageError("CI must set DATABASE_URL to a PostgreSQL database.")
        if not settings.REDIS_URL:
            raise pytest.UsageError("CI must set REDIS_URL.")


@pytest.fixture(autouse=True)
def _no_leftover_audit_actor():
    # auditlog's middleware sets its context variable and never resets it, so a service called
    # outside a request after an earlier test's request would see that request's user as the
    # actor of its (rolled back) audit rows.
    from auditlog.context import auditlog_value

    token = auditlog_value.set({})
    yield
    auditlog_value.reset(token)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the test runner empty the audit table between transactional tests.

    On PostgreSQL the audit table refuses TRUNCATE (accounts migration 0003), and Django
    empties the database with TRUNCATE after each transactional test. Only the test
    database's statement trigger is switched off; UPDATE and DELETE stay refused.
    """
    from django.db import connection

    # The migrated database as serialized_rollback puts it back, kept here as well as on the
    # connection: a browser test's code can run in another context (Playwright's), where
    # Django hands out a new connection object without it.
    _SERIALIZED["default"] = getattr(connection, "_test_serialized_contents", None)
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_logentry_no_truncate"
            )


_SERIALIZED: dict[str, str | None] = {}


@pytest.fixture(autouse=True)
def _migrated_defaults(request):
    """A transactional test starts with the migrated database, and its connection knows it
    is to be put back (so the flush after it does not make content types again under new
    ids), whichever connection object this context has."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    from django.db import connection

    if _SERIALIZED.get("default") and not hasattr(connection, "_test_serialized_contents"):
        connection._test_serialized_contents = _SERIALIZED["default"]
    _restore_migrated_defaults()
    yield


def _restore_migrated_defaults() -> None:
    """Put back the rows the data migrations made (content types, the default programmes and
    timepoints) if a flush took them, and forget content-type ids cached from before it."""
    from django.apps import apps
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from programmes.models import Programme

    ContentType.objects.clear_cache()
    if Programme.objects.exists():
        return
    serialized = getattr(connection, "_test_serialized_contents", None) or _SERIALIZED.get(
        "default"
    )
    if serialized:
        # What serialized_rollback itself puts back: every migrated row, with its own ids, so
        # a later serialized_rollback test finds them as it expects. A flush that was not
        # told the rows come back made content types and permissions again under new ids
        # (post_migrate): those go first.
        from django.contrib.auth.models import Permission

        Permission.objects.all().delete()
        ContentType.objects.all().delete()
        connection.creation.deserialize_db_from_string(serialized)
        ContentType.objects.clear_cache()
        return
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
    programmes_defaults = importlib.import_module("programmes.migrations.0002_default_programmes")
    measures_defaults = importlib.import_module("measures.migrations.0002_default_timepoints")
    programmes_defaults.create_defaults(apps, None)
    measures_defaults.create_timepoints(apps, None)
    ContentType.objects.clear_cache()


_DB_FIXTURES = {"_django_db_helper", "transactional_db", "live_server"}
_TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server"}


def pytest_collection_modifyitems(items):
    """Every transactional test (live-server browser tests included) puts back the migrated
    database it found, with every row's own id (serialized_rollback), instead of leaving the
    flush's post_migrate to make content types again under new ids: otherwise a test after
    it (parallel workers take tests in any order) could meet a content-type id cached in the
    process that no longer exists, or a serialized test could find its rows already there."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker is not None else {}
        transactional = kwargs.get("transaction") or _TRANSACTIONAL_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        if transactional and not kwargs.get("serialized_rollback"):
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **kwargs))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Transactional tests (live-server browser tests included) empty every table when they
    end, the data migrations' rows too. Put those back as soon as such a test has been torn
    down, so the next test finds the database as migrated whatever ran before it: in one
    process pytest-django runs transactional tests last, but parallel workers (pytest-xdist)
    take tests in any order."""
    try:
        return (yield)
    finally:
        uses_db = item.get_closest_marker("django_db") is not None
        # After the last test the test database is gone (nothing to put back, and the
        # connection would name the real database again).
        if nextitem is not None and (
            uses_db or _DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            from pytest_django.plugin import blocking_manager_key

            with item.config.stash[blocking_manager_key].unblock():
                _restore_migrated_defaults()


def sign_in(client, user):
    """Sign a staff user in as if they had passed both password and second factor."""
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": 0, "username": user.username},
        {"method": "mfa", "at": 0, "type": "totp", "id": 0},
    ]
    # allauth trusts the records only for the user they were made for.
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


@pytest.fixture
def service(db):
    return ServiceFactory(name="Riverside Team")


@pytest.fixture
def other_service(db):
    return ServiceFactory(name="Hillside Team")


def _member(service, role, username):
    return MembershipFactory(service=service, role=role, user__username=username).user


@pytest.fixture
def clinician(service):
    return _member(service, Membership.Role.CLINICIAN, "clinician")


@pytest.fixture
def other_clinician(other_service):
    return _member(other_service, Membership.Role.CLINICIAN, "other_clinician")


@pytest.fixture
def manager(service):
    return _member(service, Membership.Role.MANAGER, "manager")


@pytest.fixture
def admin_user(service):
    return _member(service, Membership.Role.ADMIN, "service_admin")


@pytest.fixture
def clinician_client(client, clinician):
    return sign_in(client, clinician)


@pytest.fixture
def persona_client(client):
    """Call with a user to get the client signed in as them (or None for anonymous)."""

    def _as(user):
        client.logout()
        if user is not None:
            sign_in(client, user)
        return client

    return _as
