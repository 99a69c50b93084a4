from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import SupplierOrderState
from orders.models import Order
from suppliers.enums import SupplierProvider


class SupplierOrder(models.Model):
    """An order placed with one supplier for some lines of a customer order.

    Place-and-pay, the supplier account and product links come with the supplier issue;
    these are the fields the order status is derived from.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="supplier_orders")
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=SupplierOrderState.choices, default=SupplierOrderState.PLACING
    )
    # Sent to the supplier (AliExpress out_order_id, CJ orderNumber) so a retry finds, not repeats.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    external_order_id = models.CharField(_("supplier order id"), max_length=64, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    placed_at = models.DateTimeField(_("placed at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("supplier order")
        verbose_name_plural = _("supplier orders")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.external_order_id or self.idempotency_key}"
