"""Support's view of supplier orders, placements, rules and exchange rates.

Supplier orders are read-only: their state moves only through the place-and-pay services. The one
action is "Ask the supplier now", which runs the same reconciliation beat runs.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from suppliers import admin_refunds  # noqa: F401 - registers Refund and CustomerRefund (support's refunds)
from suppliers.models import (
    IN_FLIGHT_STATES,
    AutoOrderRule,
    ExchangeRate,
    PlacementBatch,
    PlacementResult,
    ProductLink,
    SourceAccount,
    SupplierAttempt,
    SupplierMessage,
    SupplierOrder,
    SupplierOrderLine,
    SupplierOrderTransition,
)
from suppliers.services.payment import BY_HAND, supplier_orders_rearm

CURRENCY = re.compile(r"^[A-Z]{3}$")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SupplierOrderLineInline(ReadOnlyInline):
    model = SupplierOrderLine
    fields = ("order_line", "supplier_product_id", "supplier_sku", "shipping_method", "quantity", "unit_cost")
    readonly_fields = fields


class SupplierOrderTransitionInline(ReadOnlyInline):
    model = SupplierOrderTransition
    fields = ("at", "from_state", "to_state", "note", "actor", "rule")
    readonly_fields = fields


class NeedsSupport(admin.SimpleListFilter):
    title = _("needs support")
    parameter_name = "needs_support"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("by_hand", str(_("Reconcile by hand"))), ("in_flight", str(_("Call in flight")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SupplierOrder]) -> QuerySet[SupplierOrder]:
        if self.value() == "by_hand":
            return queryset.filter(failure_code=BY_HAND)
        if self.value() == "in_flight":
            return queryset.filter(state__in=IN_FLIGHT_STATES)
        return queryset


@admin.register(SupplierOrder)
class SupplierOrderAdmin(admin.ModelAdmin):
    """Read-only: state changes go through the place-and-pay services, never by hand."""

    list_display = (
        "idempotency_key",
        "provider",
        "state",
        "order",
        "external_order_id",
        "cost",
        "currency",
        "failure_code",
        "account",
        "created_at",
    )
    list_filter = (NeedsSupport, "provider", "state", "account")
    search_fields = ("=idempotency_key", "external_order_id", "order__number", "tracking_number")
    list_select_related = ("order", "account")
    inlines = (SupplierOrderLineInline, SupplierOrderTransitionInline)
    actions = ("ask_the_supplier",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Ask the supplier now (calls in flight, those left for support included)"))
    def ask_the_supplier(self, request: HttpRequest, queryset: QuerySet[SupplierOrder]) -> None:
        from suppliers.tasks import reconcile_supplier_order  # the task module imports the services

        rearmed = supplier_orders_rearm(supplier_order_ids=list(queryset.values_list("pk", flat=True)[:200]))
        for supplier_order_id in rearmed:
            reconcile_supplier_order.delay(supplier_order_id)
        self.message_user(
            request,
            ngettext(
                "%(count)d supplier order will be asked about within a minute.",
                "%(count)d supplier orders will be asked about within a minute.",
                len(rearmed),
            )
            % {"count": len(rearmed)},
            messages.INFO,
        )


class PlacementResultInline(ReadOnlyInline):
    model = PlacementResult
    fields = ("order", "outcome", "message", "finished_at")
    readonly_fields = fields


@admin.register(PlacementBatch)
class PlacementBatchAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "account",
        "created_by",
        "total",
        "done",
        "succeeded",
        "failed",
        "created_at",
        "finished_at",
    )
    list_filter = ("account",)
    readonly_fields = (
        "public_id",
        "account",
        "created_by",
        "pay",
        "total",
        "done",
        "succeeded",
        "failed",
        "finished_at",
    )
    inlines = (PlacementResultInline,)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AutoOrderRule)
class AutoOrderRuleAdmin(admin.ModelAdmin):
    """Support may turn a rule off for a merchant; the conditions are the merchant's to set."""

    list_display = ("store", "account", "enabled", "place", "pay", "hold_minutes", "updated_at")
    list_filter = ("enabled", "account")
    fields = (
        "account",
        "store",
        "enabled",
        "place",
        "pay",
        "hold_minutes",
        "max_order_total",
        "min_margin",
        "countries",
    )
    readonly_fields = ("account", "store", "place", "pay", "hold_minutes", "max_order_total", "min_margin", "countries")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ("from_currency", "to_currency", "rate", "source", "as_of")

    def _currency(self, name: str) -> str:
        value = str(self.cleaned_data[name]).strip().upper()
        if not CURRENCY.match(value):
            raise forms.ValidationError(_("A currency is three letters (USD, EUR, BRL)."))
        return value

    def clean_from_currency(self) -> str:
        return self._currency("from_currency")

    def clean_to_currency(self) -> str:
        return self._currency("to_currency")

    def clean_rate(self) -> Any:
        rate = self.cleaned_data["rate"]
        if rate is None or rate <= 0:
            raise forms.ValidationError(_("A rate is a positive number."))
        return rate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates turning a supplier's currency into a store's for the margin (kept by support)."""

    form = ExchangeRateForm

    list_display = ("from_currency", "to_currency", "rate", "source", "as_of")
    search_fields = ("from_currency", "to_currency")


@admin.register(SupplierMessage)
class SupplierMessageAdmin(admin.ModelAdmin):
    list_display = ("provider", "delivery_key", "state", "received_at", "processed_at", "error")
    list_filter = ("provider", "state")
    exclude = ("body",)
    readonly_fields = ("provider", "delivery_key", "headers", "state", "error", "received_at", "processed_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProductLink)
class ProductLinkAdmin(admin.ModelAdmin):
    """For support: find a tenant's link, see why it is flagged. Merchants edit links on /links/."""

    list_display = ("__str__", "account", "store", "provider", "supplier_product_id", "unit_cost", "unavailable_at")
    list_filter = ("provider", ("unavailable_at", admin.EmptyFieldListFilter), "account")
    search_fields = ("sku", "title", "channel_product_id", "channel_variant_id", "supplier_product_id", "supplier_sku")
    list_select_related = ("account", "store")
    raw_id_fields = ("account", "store")
    readonly_fields = ("created_at", "updated_at")


@admin.register(SourceAccount)
class SourceAccountAdmin(admin.ModelAdmin):
    """Read-only, for support: health and history of supplier accounts, never their secrets."""

    list_display = ("name", "provider", "status", "account", "external_id", "token_expires_at", "last_call_at")
    list_filter = ("provider", "status")
    search_fields = ("name", "external_id", "account__name")
    list_select_related = ("account",)
    # ``credentials_token`` (the encrypted tokens and API key) is never listed nor shown.
    fields = (
        "account",
        "provider",
        "name",
        "external_id",
        "base_url",
        "status",
        "payment_mode",
        "token_expires_at",
        "refresh_expires_at",
        "token_refreshed_at",
        "token_refreshing_until",
        "last_call_at",
        "last_error",
        "balance",
        "balance_currency",
        "balance_checked_at",
        "connected_at",
        "replaced_by",
        "replaced_at",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SupplierAttempt)
class SupplierAttemptAdmin(admin.ModelAdmin):
    """Read-only: every outbound supplier attempt (no query string, no body)."""

    list_display = ("created_at", "provider", "method", "path", "status", "duration_ms", "source_account")
    list_filter = ("provider", "status")
    list_select_related = ("source_account",)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
