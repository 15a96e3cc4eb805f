from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import services
from accounts.models import Membership, Service, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "first_name", "last_name", "is_active", "last_login")
    readonly_fields = ("last_login", "date_joined", "sessions_revoked_at")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Sessions", {"fields": ("sessions_revoked_at",)}),
    )
    actions = ["end_sessions"]

    @admin.action(description="End all sessions of the selected users")
    def end_sessions(self, request, queryset):
        for user in queryset:
            services.user_sessions_end(user=user)
        count = queryset.count()
        self.message_user(request, f"Ended the sessions of {count} users.", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        # Accounts appear in the append-only audit trail; deactivate them instead.
        return False


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "public_name", "phone")
    inlines = [MembershipInline]
