"""Support's view of every account's orders. Read-only: changes go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Account
from orders.enums import RefundOverdue
from orders.models import Order, OrderEvent, OrderLine, Refund
from orders.services import order_recompute_status, orders_set_archived


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("title", "variant_title", "sku", "quantity", "unit_price", "channel_line_id")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "type", "parameters", "actor")
    readonly_fields = fields
    ordering = ("-created_at", "-id")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("state", "reason", "amount", "requested_at", "review_due_at", "refund_due_at", "decided_at")
    readonly_fields = fields


class StalledFilter(admin.SimpleListFilter):
    """The daily tracking job's warning (``Order.stalled``). The reasons are tracking's
    (``tracking.enums.StalledReason``, which orders does not import): a tracking test keeps the two
    lists equal."""

    title = _("stalled")
    parameter_name = "stalled"
    REASONS = (
        ("no_tracking", _("No tracking number since payment")),
        ("no_event", _("No tracking update in transit")),
    )

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Stalled (any reason)")), *self.REASONS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "yes":
            return queryset.exclude(stalled="")
        if value in dict(self.REASONS):
            return queryset.filter(stalled=value)
        return queryset


class RefundOverdueFilter(admin.SimpleListFilter):
    """The refund sync's flag (``Order.refund_overdue``): the supplier is late on a review or money."""

    title = _("refund overdue")
    parameter_name = "refund_overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", _("Overdue (review or money)")),
            *[(value, label) for value, label in RefundOverdue.choices if value],
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "yes":
            return queryset.exclude(refund_overdue="")
        if value in (RefundOverdue.REVIEW, RefundOverdue.PAYMENT):
            return queryset.filter(refund_overdue=value)
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "number", "account", "store", "channel", "status", "sub_status", "stalled", "archived", "total", "placed_at"
    )  # fmt: skip
    list_filter = (
        "status", "sub_status", StalledFilter, RefundOverdueFilter, "channel", "archived", "store", "account"
    )  # fmt: skip
    search_fields = ("=number", "customer_email", "customer_name", "channel_order_id", "shipments__tracking_number")
    list_select_related = ("account", "store")
    date_hierarchy = "placed_at"
    show_full_result_count = False  # exact counts of a million rows on every page are slow
    inlines = (OrderLineInline, RefundInline, OrderEventInline)
    actions = ("archive_orders", "restore_orders", "recompute_status")
    readonly_fields = [field.name for field in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        # View only: a "Save" would still write the row (updated_at) and log a change.
        # The actions below go through the services and need no change permission.
        return False

    def _set_archived(self, request: HttpRequest, queryset: QuerySet[Order], archived: bool) -> None:
        changed = 0
        by_account: dict[int, list[int]] = {}
        for order_id, account_id in queryset.values_list("id", "account_id"):
            by_account.setdefault(account_id, []).append(order_id)
        for account_id, order_ids in by_account.items():
            account = Account.objects.get(pk=account_id)
            changed += orders_set_archived(account=account, order_ids=order_ids, archived=archived, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, ngettext("%(n)s order changed.", "%(n)s orders changed.", changed) % {"n": changed})

    @admin.action(description=_("Archive selected orders"))
    def archive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._set_archived(request, queryset, archived=True)

    @admin.action(description=_("Restore selected orders"))
    def restore_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._set_archived(request, queryset, archived=False)

    @admin.action(description=_("Recompute status from facts"))
    def recompute_status(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order_id in queryset.values_list("id", flat=True):
            order_recompute_status(order_id=order_id, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Statuses recomputed."), messages.SUCCESS)
