from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"

    def ready(self):
        from auditlog.registry import AuditlogModelRegistry, auditlog

        from accounts.models import Service
        from accounts.panels import Panel
        from accounts.scope import Can, user_can
        from dashboards import freshness
        from programmes.panels import cohort_page

        freshness.connect()

        # A service-wide export is recorded against the Service. Only its access records are
        # wanted here; if accounts registers Service itself, that registration serves.
        if not auditlog.contains(Service):
            AuditlogModelRegistry(create=False, update=False, delete=False, m2m=False).register(
                Service
            )

        def cohort_link(request, cohort):
            # No query: the user's roles are already cached on the request's user.
            if not user_can(request.user, Can.VIEW_DASHBOARD, cohort.service_id):
                return None
            return {"cohort_id": cohort.pk}

        cohort_page.register(
            Panel(
                key="dashboards",
                title="Dashboard",
                template="dashboards/panels/cohort.html",
                context=cohort_link,
                order=90,
            )
        )
