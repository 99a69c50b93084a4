from __future__ import annotations

from django.contrib import admin

from suppliers.models import SupplierOrder


@admin.register(SupplierOrder)
class SupplierOrderAdmin(admin.ModelAdmin):
    """Read-only: state changes go through the place-and-pay services, never by hand."""

    list_display = ("idempotency_key", "provider", "state", "order", "cost", "account", "created_at")
    list_filter = ("provider", "state", "account")
    search_fields = ("idempotency_key", "external_order_id", "order__number")
    list_select_related = ("order", "account")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
