"""Refunds in admin, for support (all accounts): each refund asked of a supplier with its lines,
filters by state, delivery, reason and the order's overdue flag, search by order number and the
supplier's dispute id, money read-only, and "Send again" for failed deliveries; the customer
refunds from the channels, read-only. Here (not in ``orders.admin``) because "Send again" is the
suppliers' service and ``orders`` imports no other app."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Account
from orders.enums import RefundOverdue, RefundSend
from orders.models import CustomerRefund, Refund, RefundLine
from suppliers.services.refunds import RefundRefused, refund_send_retry


class RefundLineInline(admin.TabularInline):
    model = RefundLine
    extra = 0
    can_delete = False
    fields = ("order_line", "supplier_order_line", "quantity")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderOverdueFilter(admin.SimpleListFilter):
    """The order's ``refund_overdue`` flag (the refund sync writes it)."""

    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", _("Overdue (review or money)")),
            *[(value, label) for value, label in RefundOverdue.choices if value],
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        value = self.value()
        if value == "yes":
            return queryset.exclude(order__refund_overdue="")
        if value in (RefundOverdue.REVIEW, RefundOverdue.PAYMENT):
            return queryset.filter(order__refund_overdue=value)
        return queryset


# What support may not change by hand: the money, the keys and everything the supplier said.
MONEY_AND_KEYS = (
    "account", "order", "supplier_order", "amount", "currency", "refunded_amount", "idempotency_key",
    "external_id", "external_status", "dispute_url", "via", "send_state", "send_attempts", "send_error",
    "state", "reason", "note", "evidence", "rejection_reason", "requested_by", "requested_at", "review_due_at",
    "refund_due_at", "decided_at", "refunded_at", "next_sync_at", "claimed_until", "send_claim", "create_sent_at",
    "created_at", "updated_at",
)  # fmt: skip


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = (
        "id", "order_number", "account", "state", "reason", "amount", "currency", "refunded_amount", "via",
        "send_state", "order_overdue", "requested_at", "review_due_at", "refund_due_at",
    )  # fmt: skip
    list_filter = ("state", "via", "send_state", "reason", OrderOverdueFilter, "account")
    search_fields = ("=order__number", "=external_id", "=idempotency_key")
    list_select_related = ("order", "account")
    readonly_fields = MONEY_AND_KEYS
    inlines = (RefundLineInline,)
    actions = ("send_again",)
    show_full_result_count = False

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, refund: Refund) -> str:
        return refund.order.number

    @admin.display(description=_("order overdue"))
    def order_overdue(self, refund: Refund) -> str:
        return (
            str(dict(RefundOverdue.choices).get(refund.order.refund_overdue, "")) if refund.order.refund_overdue else ""
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Refund | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Refund | None = None) -> bool:
        return False  # view only; "Send again" goes through the service

    @admin.action(description=_("Send again (failed deliveries)"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        sent, skipped = 0, 0
        accounts: dict[int, Account] = {}
        for refund_id, account_id in queryset.filter(send_state=RefundSend.FAILED).values_list("id", "account_id"):
            account = accounts.setdefault(account_id, Account.objects.get(pk=account_id))
            try:
                refund_send_retry(account=account, refund_id=refund_id, user=request.user)  # type: ignore[arg-type]
            except RefundRefused:
                skipped += 1
            else:
                sent += 1
        skipped += queryset.exclude(send_state=RefundSend.FAILED).count()
        self.message_user(
            request,
            ngettext("%(n)s request sent again.", "%(n)s requests sent again.", sent) % {"n": sent},
            messages.SUCCESS if sent else messages.WARNING,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)s refund was not waiting to be sent again.",
                    "%(n)s refunds were not waiting to be sent again.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )


@admin.register(CustomerRefund)
class CustomerRefundAdmin(admin.ModelAdmin):
    list_display = ("channel_refund_id", "order_number", "store", "amount", "currency", "status", "refunded_at")
    list_filter = ("store__channel", "account")
    search_fields = ("=order__number", "=channel_refund_id")
    list_select_related = ("order", "store")
    readonly_fields = [field.name for field in CustomerRefund._meta.fields]
    show_full_result_count = False

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, refund: CustomerRefund) -> str:
        return refund.order.number

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CustomerRefund | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CustomerRefund | None = None) -> bool:
        return False
