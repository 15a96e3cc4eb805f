from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"

    def ready(self):
        from auditlog.registry import AuditlogModelRegistry, auditlog

        from accounts.models import Service

        # A service-wide export is recorded against the Service. Only its access records are
        # wanted here; if accounts registers Service itself, that registration serves.
        if not auditlog.contains(Service):
            AuditlogModelRegistry(create=False, update=False, delete=False, m2m=False).register(
                Service
            )
