"""Site-administrator views of questionnaire rows. Answers and tokens are never shown here."""

from django.contrib import admin

from measures.models import Administration, InstrumentWording, ParticipantLink, RiskAlert, Timepoint


@admin.register(Timepoint)
class TimepointAdmin(admin.ModelAdmin):
    list_display = ["name", "programme", "week", "opens_days", "closes_days"]
    list_filter = ["programme"]


@admin.register(InstrumentWording)
class InstrumentWordingAdmin(admin.ModelAdmin):
    list_display = ["instrument_code", "service", "is_placeholder", "imported_at", "imported_by"]
    list_filter = ["instrument_code", "is_placeholder"]
    readonly_fields = ["imported_at", "imported_by"]


@admin.register(Administration)
class AdministrationAdmin(admin.ModelAdmin):
    list_display = ["id", "instrument_code", "timepoint", "status", "opens_on", "closes_on"]
    list_filter = ["status", "instrument_code"]
    list_select_related = ["timepoint"]
    raw_id_fields = ["enrolment", "entered_by"]
    readonly_fields = ["started_at", "completed_at", "instrument_version", "diagnosis"]


@admin.register(RiskAlert)
class RiskAlertAdmin(admin.ModelAdmin):
    list_display = ["id", "severity", "item", "raised_at", "acknowledged_at"]
    list_filter = ["severity"]
    raw_id_fields = ["administration", "acknowledged_by"]


@admin.register(ParticipantLink)
class ParticipantLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "expires_at", "revoked_at", "first_used_at"]
    exclude = ["token_hash"]
    raw_id_fields = ["participant", "revoked_by"]
    readonly_fields = ["created_at", "first_used_at", "last_used_at"]
