"""The demo merchant's hands in ``make run``: what a merchant would click, done for the demo.

The sandbox's shops refund some customers after their parcel left (``refund_rate`` on the demo
shops, sim/channels.py); the customer refund reaches the order center like any other (webhook,
pull) and the order offers "Ask the supplier for a refund" with those lines. In the demo the
merchant takes that offer on its own, for supplier orders whose supplier has a refund API (CJ,
Temu simulated): the request goes through the same service as the form, is sent by the worker,
and the demo suppliers decide and pay it at the demo pace, so the Refund tab moves while one
watches. AliExpress orders (no buyer-side API) are left for the merchant to ask and record.

Only the demo account (``seed_demo``) is touched, only customer refunds of the last
``RECENT`` (an old one that could not be asked is not tried for ever), at most ``BATCH`` a run.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from accounts.models import Account
from orders.enums import RefundReason
from orders.models import CustomerRefund, Refund
from suppliers.forms_refunds import quantity_field, request_initial
from suppliers.services.refunds import (
    RefundAskLine,
    RefundRefused,
    customer_refund_units,
    refund_request,
    refund_room,
    refundable_supplier_orders,
    supplier_has_refund_api,
)
from zopi.management.commands.seed_demo import ACCOUNT_NAME as DEMO_ACCOUNT_NAME

logger = logging.getLogger(__name__)
RECENT = timedelta(minutes=30)
BATCH = 5
NOTE = "Our customer was refunded on the channel for this item ({channel_refund})."


def demo_refunds_ask(*, account: Account | None = None) -> int:
    """Ask the supplier for a refund of each recent customer refund of the demo account (or
    ``account``) whose order has none yet; returns how many were asked."""
    account = account or Account.objects.filter(name=DEMO_ACCOUNT_NAME).first()
    if account is None:
        return 0
    since = timezone.now() - RECENT
    asked_orders = Refund.objects.filter(account=account).values("order_id")
    recent = (
        CustomerRefund.objects.filter(account=account, created_at__gte=since)
        .exclude(order_id__in=asked_orders)
        .select_related("order")
        .order_by("id")[:BATCH]
    )
    asked = 0
    for customer_refund in recent:
        if not customer_refund.is_final:
            continue
        units = customer_refund_units(customer_refund)
        for supplier_order in refundable_supplier_orders(order=customer_refund.order):
            if not supplier_has_refund_api(supplier_order.provider):
                continue
            # The form's own prefill (request_initial): the customer's units, clamped to what is open.
            room = refund_room(supplier_order=supplier_order)
            wanted = {line.supplier_order_line_id: units.get(line.order_line_id, 0) for line in room.lines}
            initial = request_initial(room, wanted)
            lines = [
                RefundAskLine(line.supplier_order_line_id, initial[quantity_field(line)])
                for line in room.lines
                if initial[quantity_field(line)]
            ]
            if not lines:
                continue
            try:
                refund_request(
                    account=account,
                    order_id=customer_refund.order_id,
                    supplier_order_id=supplier_order.pk,
                    lines=lines,
                    amount=initial["amount"],
                    reason=RefundReason.DAMAGED,
                    note=NOTE.format(channel_refund=customer_refund.channel_refund_id),
                )
            except RefundRefused as refused:
                logger.info("demo: no refund asked for order %s: %s", customer_refund.order_id, refused)
                continue
            asked += 1
            break
    return asked
