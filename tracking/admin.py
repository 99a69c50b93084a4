from __future__ import annotations

from django.contrib import admin

from tracking.models import Shipment, TrackingEvent


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    can_delete = False
    readonly_fields = ("occurred_at", "status", "description", "location")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Read-only: tracking comes from the carrier, never typed in."""

    list_display = ("tracking_number", "carrier", "tracking_status", "order", "last_event_at", "account")
    list_filter = ("tracking_status", "account")
    search_fields = ("tracking_number", "order__number")
    list_select_related = ("order", "account")
    inlines = (TrackingEventInline,)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
