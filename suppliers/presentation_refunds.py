"""What the order center shows about refunds: the row's "Request refund", the drawer's Refunds
section (each refund with its lines, due times, timeline, delivery and the merchant's outcome
form) and the customer refunds from the channel with "Ask the supplier for a refund".

Pure reads of the rows ``orders.selectors.order_get`` / ``order_center_page`` prefetched (the
order's supplier orders, refunds with their lines, customer refunds, events): no query per refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.enums import OrderEventType, RefundReason, RefundSend, RefundState, RefundVia
from orders.models import CustomerRefund, Order, Refund
from suppliers.services.refunds import order_at_refund_point, supplier_order_refundable
from zopi.stored_messages import shown_text

STATE_LABELS = dict(RefundState.choices)
REASON_LABELS = dict(RefundReason.choices)
SEND_LABELS = dict(RefundSend.choices)
# OrderEvent(type=REFUND).parameters["what"] → the timeline's words.
_WHAT = {
    "requested": gettext_lazy("Requested"),
    "sent": gettext_lazy("Sent to the supplier"),
    "send_failed": gettext_lazy("Could not be sent"),
    "retry": gettext_lazy("Sent again"),
    "decided": gettext_lazy("Decision"),
}


def refund_request_offered(order: Order) -> bool:
    """The order is at a point where a refund may be asked (the service's rule, read from the
    prefetched supplier orders; the form re-checks everything)."""
    return order_at_refund_point(order) and any(supplier_order_refundable(so) for so in order.supplier_orders.all())


@dataclass(frozen=True)
class RefundStep:
    at: datetime
    title: str
    detail: str = ""


@dataclass
class RefundCard:
    refund: Refund
    state_label: str
    reason_label: str
    lines: list[tuple[str, int]]
    steps: list[RefundStep]
    review_overdue: bool
    money_overdue: bool
    send_label: str
    can_retry: bool
    can_record: bool
    supplier: str
    outcome_form: Any = None  # the merchant's outcome form (set by the template tag)


def _steps(refund: Refund, events: list[Any]) -> list[RefundStep]:
    steps = []
    for event in events:
        params = event.parameters or {}
        what = str(params.get("what", ""))
        title = str(_WHAT.get(what) or _("Update"))  # an event this version does not know: no raw code shown
        detail = ""
        if what == "decided":
            state = str(params.get("state", ""))
            title = str(STATE_LABELS.get(state) or _WHAT["decided"])  # an unknown state: no raw code
            if params.get("source") == "merchant":
                detail = _("recorded by the merchant")
            if params.get("reason") and state == RefundState.REJECTED:
                detail = f"{detail} · {params['reason']}" if detail else str(params["reason"])
        elif params.get("error"):
            detail = shown_text(params["error"])  # stored in the writer's language
        if event.actor is not None:
            detail = f"{detail} ({event.actor.get_username()})" if detail else event.actor.get_username()
        steps.append(RefundStep(at=event.created_at, title=title, detail=detail))
    if not steps:  # rows older than their events, or written by hand: the refund's own times
        steps.append(RefundStep(at=refund.requested_at, title=str(_WHAT["requested"])))
        if refund.decided_at and refund.state in (RefundState.APPROVED, RefundState.REJECTED, RefundState.REFUNDED):
            steps.append(RefundStep(at=refund.decided_at, title=str(STATE_LABELS[refund.state])))
    return steps


def refund_cards(order: Order, *, now: datetime | None = None) -> list[RefundCard]:
    """The drawer's refunds, oldest first, each with its timeline (its REFUND events, oldest first)."""
    now = now or timezone.now()
    events: dict[int, list[Any]] = {}
    for event in order.events.all():
        if event.type == OrderEventType.REFUND:
            refund_id = (event.parameters or {}).get("refund_id")
            if isinstance(refund_id, int):
                events.setdefault(refund_id, []).append(event)
    providers = {so.pk: so.get_provider_display() for so in order.supplier_orders.all()}
    cards = []
    for refund in order.refunds.all():
        cards.append(
            RefundCard(
                refund=refund,
                state_label=str(STATE_LABELS.get(refund.state, refund.state)),
                reason_label=str(REASON_LABELS.get(refund.reason, refund.reason)),
                lines=[(part.order_line.title, part.quantity) for part in refund.lines.all()],
                steps=_steps(refund, events.get(refund.pk, [])),
                review_overdue=refund.state == RefundState.IN_REVIEW and refund.review_due_at < now,
                money_overdue=refund.state == RefundState.APPROVED
                and refund.refund_due_at is not None
                and refund.refund_due_at < now,
                send_label=str(SEND_LABELS.get(refund.send_state, refund.send_state)),
                can_retry=refund.via == RefundVia.API and refund.send_state == RefundSend.FAILED and refund.is_open,
                can_record=refund.via == RefundVia.MERCHANT and refund.is_open,
                supplier=str(providers.get(refund.supplier_order_id or 0, "")),
            )
        )
    return cards


@dataclass
class CustomerRefundCard:
    refund: CustomerRefund
    lines: list[tuple[str, int, str]]
    ask_url: str
    final: bool = True  # False: pending, failed or cancelled in the channel (not counted, not offered)


def customer_refund_cards(order: Order) -> list[CustomerRefundCard]:
    """The channel's refunds to the customer, with "Ask the supplier" while a refund may be asked."""
    titles = {line.pk: line.title for line in order.lines.all()}
    offered = refund_request_offered(order)
    cards = []
    for customer_refund in order.customer_refunds.all():
        lines = []
        parts = (
            [part for part in customer_refund.lines if isinstance(part, dict)]
            if isinstance(customer_refund.lines, list)
            else []
        )
        for part in parts:
            line_id = part.get("order_line_id")
            title = (titles.get(line_id) if isinstance(line_id, int) else None) or str(
                part.get("channel_line_id") or _("Item")
            )
            quantity = part.get("quantity")
            lines.append((title, quantity if isinstance(quantity, int) else 0, str(part.get("amount") or "")))
        url = ""
        if offered and customer_refund.is_final and any(part.get("order_line_id") for part in parts):
            url = f"{reverse('refunds:request', args=[order.pk])}?customer_refund={customer_refund.pk}"
        cards.append(
            CustomerRefundCard(refund=customer_refund, lines=lines, ask_url=url, final=customer_refund.is_final)
        )
    return cards
