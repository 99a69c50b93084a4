"""Support's view of every account's parcels. Read-only: tracking comes from the carrier, never typed in."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tracking.enums import StalledReason
from tracking.models import Shipment, ShipmentOrder, TrackingEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ("occurred_at", "status", "provider_sub_status", "description", "location")
    readonly_fields = fields
    ordering = ("-occurred_at", "-id")


class ShipmentOrderInline(ReadOnlyInline):
    """The other orders the same number was given for (a shared number)."""

    model = ShipmentOrder
    fields = ("order", "supplier_order", "lines", "created_at")
    readonly_fields = fields


class OrderStalledFilter(admin.SimpleListFilter):
    """The parcel's order carries the daily job's stalled warning (any reason, or one)."""

    title = _("order stalled")
    parameter_name = "stalled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        reasons = [(value, label) for value, label in StalledReason.choices if value]
        return [("yes", _("Stalled (any reason)")), *reasons]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "yes":
            return queryset.exclude(order__stalled=StalledReason.NONE)
        if value in StalledReason.values and value:
            return queryset.filter(order__stalled=value)
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = (
        "tracking_number",
        "carrier",
        "sub_status",
        "tracking_status",
        "provider_status",
        "provider_sub_status",
        "registration_state",
        "shared_number",
        "order",
        "last_event_at",
        "account",
    )
    list_filter = (
        "registration_state",
        "sub_status",
        "tracking_status",
        "shared_number",
        OrderStalledFilter,
        "account",
    )
    search_fields = ("=tracking_number", "=order__number")
    list_select_related = ("order", "account")
    show_full_result_count = False  # exact counts of every parcel on every page are slow
    readonly_fields = [field.name for field in Shipment._meta.fields]
    inlines = (TrackingEventInline, ShipmentOrderInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Shipment | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Shipment | None = None) -> bool:
        return False
