from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Staff, services and audit"

    def ready(self):
        from allauth.account.decorators import secure_admin_login
        from allauth.mfa.signals import authentication_failed, authenticator_added
        from auditlog.registry import auditlog
        from django.contrib import admin
        from django.contrib.auth.signals import user_logged_in

        from accounts import checks  # noqa: F401  (registers system checks)
        from accounts.models import Membership, Service, User

        auditlog.register(User, exclude_fields=["password", "last_login"])
        auditlog.register(Service)
        auditlog.register(Membership)
        from accounts.middleware import mark_session_started, record_mfa_on_enrolment

        user_logged_in.connect(mark_session_started, dispatch_uid="accounts_session_started")
        authenticator_added.connect(record_mfa_on_enrolment, dispatch_uid="accounts_mfa_enrolled")
        from allauth.account.signals import password_reset

        from accounts.adapter import on_mfa_failed, verify_address_on_password_reset

        authentication_failed.connect(on_mfa_failed, dispatch_uid="accounts_mfa_lock_notice")
        password_reset.connect(
            verify_address_on_password_reset, dispatch_uid="accounts_reset_verifies_address"
        )
        # Django admin's own password form would open a session without a second factor;
        # send everyone through allauth's sign-in (and its MFA stage) instead.
        admin.site.login = secure_admin_login(admin.site.login)
