from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Staff, services and audit"

    def ready(self):
        from accounts import checks  # noqa: F401  (registers system checks)
