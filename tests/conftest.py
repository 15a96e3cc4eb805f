import os

import pytest
from django.conf import settings

from accounts.models import Membership
from tests.factories import MembershipFactory, ServiceFactory


def pytest_configure(config):
    # In CI the suite must run on the production database engine and broker: a silent
    # fall-back to SQLite would prove nothing about PostgreSQL.
    if os.environ.get("CI"):
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            raise pytest.UsageError("CI must set DATABASE_URL to a PostgreSQL database.")
        if not settings.REDIS_URL:
            raise pytest.UsageError("CI must set REDIS_URL.")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the test runner empty the audit table between transactional tests.

    On PostgreSQL the audit table refuses TRUNCATE (accounts migration 0003), and Django
    empties the database with TRUNCATE after each transactional test. Only the test
    database's statement trigger is switched off; UPDATE and DELETE stay refused.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_logentry_no_truncate"
            )


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
