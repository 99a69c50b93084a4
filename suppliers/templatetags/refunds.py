"""Template tags the order center's templates use for refunds (``{% load refunds %}``): the
row's "Request refund" and the drawer's Refunds section (``suppliers.presentation_refunds``)."""

from __future__ import annotations

from typing import Any

from django import template

from orders.models import Order
from suppliers import presentation_refunds as presentation
from suppliers.forms_refunds import RefundOutcomeForm

register = template.Library()


@register.filter
def refund_request_offered(order: Order) -> bool:
    """The row's and the drawer's "Request refund" (no query: the supplier orders are prefetched)."""
    return presentation.refund_request_offered(order)


@register.filter
def https_url(value: object) -> str:
    """``value`` when it is an https:// link, else "" (stored links are hostile: a
    ``javascript:`` or ``http:`` one is never made an href)."""
    text = value.strip() if isinstance(value, str) else ""
    return text if text.lower().startswith("https://") and not any(c.isspace() for c in text) else ""


@register.inclusion_tag("suppliers/_refunds_panel.html", takes_context=True)
def refunds_panel(context: dict[str, Any], order: Order) -> dict[str, Any]:
    """The drawer's refunds and customer refunds. A merchant's outcome form sent back with its
    errors (``outcome_form`` for ``outcome_refund_id``) is shown on its refund."""
    cards = presentation.refund_cards(order)
    bound = context.get("outcome_form")
    for card in cards:
        if card.can_record:
            card.outcome_form = (
                bound
                if bound is not None and context.get("outcome_refund_id") == card.refund.pk
                else RefundOutcomeForm(asked=card.refund.amount, auto_id=f"r{card.refund.pk}-%s")
            )
    return {
        "order": order,
        "cards": cards,
        "customer_refunds": presentation.customer_refund_cards(order),
        "offered": presentation.refund_request_offered(order),
        "refund_refused": context.get("refund_refused", ""),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
