from django.contrib import admin

from participants.models import SubjectAccessRequest


@admin.register(SubjectAccessRequest)
class SubjectAccessRequestAdmin(admin.ModelAdmin):
    """Read-only here: requests move only through the two-clinician pages."""

    list_display = ("pk", "service", "status", "received_on", "requested_by", "reviewed_by")
    list_filter = ("status", "service")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
