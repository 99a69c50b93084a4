"""Refunds asked of a supplier: what can still be asked, the request, the decisions, the overdue flags.

- ``refund_room``: per line of a supplier order, the units and money still open to a request:
  units paid for less the units of every refund not rejected; money the line's share of what was
  paid (the supplier order's total, shipping included, split by the lines' cost) less its share
  of every refund not rejected. A line under an open request (In Review, Approved) has no room:
  a second open request on the same lines is refused.
- ``refund_request``: the merchant's request, checked against the room under a lock on the
  supplier order (two requests at once cannot both take the same money), stored In Review with
  its lines; sent by the refund task (``REFUND_SEND_TASK``, by name, after commit) when the
  supplier has an API for it, else recorded for the merchant to open on the supplier's site.
- ``refund_decision_record``: a decision or a payment, from the supplier's API or from the
  merchant; only forward (In Review → Approved → Refunded, or Rejected), anything older or
  repeated changes nothing.
- ``orders_flag_refund_overdue``: ``Order.refund_overdue`` from the due times, set-based.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from orders.enums import (
    OrderEventType,
    OrderStatus,
    RefundOverdue,
    RefundReason,
    RefundSend,
    RefundState,
    RefundVia,
    SubStatus,
    SupplierOrderState,
)
from orders.models import CustomerRefund, Order, OrderEvent, Refund, RefundLine
from orders.services import order_recompute_status
from orders.services.cancel_hook import BROKER_ERRORS
from suppliers.models import SupplierOrder, SupplierOrderLine
from suppliers.providers import provider_class
from zopi.formatting import money_number

logger = logging.getLogger(__name__)

REVIEW_WITHIN = timedelta(days=1)  # the supplier reviews within a day
PAID_WITHIN = timedelta(days=1)  # and pays back the day after approving
OPEN = (RefundState.IN_REVIEW, RefundState.APPROVED)
COUNTED = (RefundState.IN_REVIEW, RefundState.APPROVED, RefundState.REFUNDED)  # what takes room
MAX_NOTE = 2000
MAX_EVIDENCE = 10
CENT = Decimal("0.01")
# Where the order's refundable supplier orders come from: the order is in Shipment (or Refund,
# for another refund on other lines), or the supplier canceled it after it was paid.
REFUNDABLE_STATES = (SupplierOrderState.PAID, SupplierOrderState.CANCELED)

_FORWARD: dict[str, tuple[str, ...]] = {
    RefundState.IN_REVIEW: (RefundState.APPROVED, RefundState.REJECTED, RefundState.REFUNDED),
    RefundState.APPROVED: (RefundState.REFUNDED,),
    RefundState.REFUNDED: (),
    RefundState.REJECTED: (),
}


class RefundRefused(Exception):
    """The request cannot be made as asked; ``message`` says why and what to do, ``field`` where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class RefundAskLine:
    supplier_order_line_id: int
    quantity: int


@dataclass(frozen=True)
class LineRoom:
    """One supplier order line: what was paid for it and what is still open to a request."""

    supplier_order_line_id: int
    order_line_id: int
    title: str
    sku: str
    quantity: int  # units placed with the supplier
    quantity_left: int  # units no refund (not rejected) covers yet
    paid: Decimal  # the line's share of what was paid
    amount_left: Decimal  # that share less the line's share of every refund not rejected
    under_open_request: bool  # an open refund (In Review, Approved) covers this line

    def cap_for(self, quantity: int) -> Decimal:
        """The most a request for ``quantity`` units of this line may ask."""
        if quantity <= 0 or self.quantity_left <= 0:
            return Decimal("0.00")
        if quantity >= self.quantity_left:
            return self.amount_left
        return min(self.amount_left, (self.paid * quantity / self.quantity).quantize(CENT, ROUND_HALF_UP))


@dataclass(frozen=True)
class RefundRoom:
    supplier_order_id: int
    currency: str
    paid: Decimal
    lines: tuple[LineRoom, ...]

    def line(self, supplier_order_line_id: int) -> LineRoom | None:
        return next((line for line in self.lines if line.supplier_order_line_id == supplier_order_line_id), None)


def _shares(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` split by ``weights`` to the cent, the rounding left on the last share."""
    if not weights:
        return []
    whole = sum(weights, Decimal(0))
    if whole <= 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    shares = [(total * weight / whole).quantize(CENT, ROUND_HALF_UP) for weight in weights[:-1]]
    return [*shares, total - sum(shares, Decimal(0))]


def _line_weights(lines: Sequence[SupplierOrderLine]) -> list[Decimal]:
    """Each line's cost (unit cost × units); a line without a unit cost counts its units."""
    if all(line.unit_cost is not None for line in lines):
        return [Decimal(line.unit_cost or 0) * line.quantity for line in lines]
    return [Decimal(line.quantity) for line in lines]


def paid_amount(supplier_order: SupplierOrder) -> Decimal:
    """What the supplier was paid for the order (0: never paid)."""
    if supplier_order.paid_at is None or supplier_order.cost is None:
        return Decimal("0.00")
    return Decimal(supplier_order.cost)


def refund_room(*, supplier_order: SupplierOrder) -> RefundRoom:
    """See the module docstring. Three queries: the lines, the refunds' lines, their refunds."""
    lines = list(supplier_order.lines.select_related("order_line").order_by("id"))
    paid = paid_amount(supplier_order)
    line_paid = dict(zip([line.pk for line in lines], _shares(paid, _line_weights(lines)), strict=True))
    units_taken: dict[int, int] = {}
    money_taken: dict[int, Decimal] = {}
    open_lines: set[int] = set()
    refunds = list(supplier_order.refunds.filter(state__in=COUNTED).prefetch_related("lines"))
    by_line = {line.pk: line for line in lines}
    for refund in refunds:
        asked = [
            (part, by_line[part.supplier_order_line_id])
            for part in refund.lines.all()
            if part.supplier_order_line_id in by_line
        ]
        if refund.is_open:
            open_lines.update(part.supplier_order_line_id for part, _line in asked)
        weights = [line_paid[line.pk] * part.quantity / max(line.quantity, 1) for part, line in asked]
        money = Decimal(
            refund.refunded_amount
            if refund.state == RefundState.REFUNDED and refund.refunded_amount is not None
            else refund.amount or 0
        )
        for (part, _line), share in zip(asked, _shares(money, weights), strict=True):
            units_taken[part.supplier_order_line_id] = units_taken.get(part.supplier_order_line_id, 0) + part.quantity
            money_taken[part.supplier_order_line_id] = money_taken.get(part.supplier_order_line_id, Decimal(0)) + share
    rooms = tuple(
        LineRoom(
            supplier_order_line_id=line.pk,
            order_line_id=line.order_line_id,
            title=line.order_line.title,
            sku=line.order_line.sku,
            quantity=line.quantity,
            quantity_left=max(line.quantity - units_taken.get(line.pk, 0), 0),
            paid=line_paid[line.pk],
            amount_left=max(line_paid[line.pk] - money_taken.get(line.pk, Decimal(0)), Decimal("0.00")),
            under_open_request=line.pk in open_lines,
        )
        for line in lines
    )
    return RefundRoom(supplier_order_id=supplier_order.pk, currency=supplier_order.currency, paid=paid, lines=rooms)


def order_at_refund_point(order: Order) -> bool:
    """The one rule of when a refund may be asked of an order's suppliers: the order is in
    Shipment, Refund, or Source Canceled, and not archived (the form and the drawer both use it)."""
    at_point = order.status in (OrderStatus.SHIPMENT, OrderStatus.REFUND) or (
        order.status == OrderStatus.CANCELED and order.sub_status == SubStatus.SOURCE_CANCELED
    )
    return at_point and not order.archived


def supplier_order_refundable(supplier_order: SupplierOrder) -> bool:
    """A supplier order a refund may be asked of: paid (and still paid, or canceled after)."""
    return supplier_order.state in REFUNDABLE_STATES and supplier_order.paid_at is not None


def refundable_supplier_orders(*, order: Order) -> list[SupplierOrder]:
    """The order's supplier orders a refund may be asked of (``order_at_refund_point`` and
    ``supplier_order_refundable``); empty when the order is not at that point."""
    if not order_at_refund_point(order):
        return []
    supplier_orders = SupplierOrder.objects.filter(order=order, state__in=REFUNDABLE_STATES, paid_at__isnull=False)
    return [so for so in supplier_orders.order_by("id") if supplier_order_refundable(so)]


def customer_refund_units(customer_refund: CustomerRefund) -> dict[int, int]:
    """The units a customer refund gave back, by order line id (its lines as stored; parts not
    matched to a line of ours, or malformed, left out): what "Ask the supplier" prefills."""
    units: dict[int, int] = {}
    for part in customer_refund.lines if isinstance(customer_refund.lines, list) else []:
        if not isinstance(part, dict):
            continue
        line_id, quantity = part.get("order_line_id"), part.get("quantity")
        if isinstance(line_id, int) and isinstance(quantity, int) and quantity > 0:
            units[line_id] = units.get(line_id, 0) + quantity
    return units


def supplier_has_refund_api(provider: str) -> bool:
    """The supplier takes refund requests through its API (its provider class says so)."""
    return bool(getattr(provider_class(provider), "refund_api", False))


def _clean_evidence(evidence: Iterable[str]) -> list[str]:
    links = [str(link).strip() for link in evidence if str(link).strip()]
    if len(links) > MAX_EVIDENCE:
        raise RefundRefused(_("At most %(count)d evidence links.") % {"count": MAX_EVIDENCE}, field="evidence")
    for link in links:
        if not link.startswith("https://") or len(link) > 500 or any(c.isspace() for c in link):
            raise RefundRefused(
                _("Evidence links must be https:// addresses (photos or videos the supplier can open)."),
                field="evidence",
            )
    return links


def _checked_lines(room: RefundRoom, lines: Sequence[RefundAskLine]) -> list[tuple[LineRoom, int]]:
    if not lines:
        raise RefundRefused(_("Choose at least one line and how many units."), field="lines")
    seen: set[int] = set()
    checked = []
    for ask in lines:
        line = room.line(ask.supplier_order_line_id)
        if line is None or ask.supplier_order_line_id in seen:
            raise RefundRefused(_("A line does not belong to this supplier order."), field="lines")
        seen.add(ask.supplier_order_line_id)
        if line.under_open_request:
            raise RefundRefused(
                _("%(title)s is already in an open refund request; wait for the supplier's decision.")
                % {"title": line.title},
                field="lines",
            )
        if ask.quantity < 1 or ask.quantity > line.quantity_left:
            raise RefundRefused(
                _("%(title)s: between 1 and %(left)d units can be asked for.")
                % {"title": line.title, "left": line.quantity_left},
                field="lines",
            )
        checked.append((line, ask.quantity))
    return checked


def refund_request(
    *,
    account: Account,
    order_id: int,
    supplier_order_id: int,
    lines: Sequence[RefundAskLine],
    amount: Decimal,
    reason: str,
    note: str = "",
    evidence: Iterable[str] = (),
    user: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Refund:
    """The merchant's request (see the module docstring). ``RefundRefused`` says what is wrong;
    an unknown order or supplier order of another account is ``SupplierOrder.DoesNotExist``."""
    now = now or timezone.now()
    if reason not in RefundReason.values:
        raise RefundRefused(_("Choose a reason from the list."), field="reason")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise RefundRefused(_("The note is too long (%(max)d characters at most).") % {"max": MAX_NOTE}, field="note")
    if reason == RefundReason.OTHER and not note:
        raise RefundRefused(_("Say in the note what is wrong (the reason is Other)."), field="note")
    links = _clean_evidence(evidence)
    with transaction.atomic():
        supplier_order = (
            SupplierOrder.objects.select_for_update(of=("self",))
            .select_related("order")
            .get(pk=supplier_order_id, order_id=order_id, account=account)
        )
        if supplier_order not in refundable_supplier_orders(order=supplier_order.order):
            raise RefundRefused(
                _(
                    "A refund can be asked once the supplier order is paid and the order is in Shipment "
                    "or canceled by the supplier."
                )
            )
        room = refund_room(supplier_order=supplier_order)
        checked = _checked_lines(room, lines)
        cap = sum((line.cap_for(quantity) for line, quantity in checked), Decimal("0.00"))
        if amount is None or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise RefundRefused(_("Enter an amount above zero, with at most two decimals."), field="amount")
        if amount > cap:
            raise RefundRefused(
                _("At most %(cap)s %(currency)s can be asked for these lines (what was paid less what was refunded).")
                % {"cap": money_number(cap, room.currency), "currency": room.currency},
                field="amount",
            )
        api = supplier_has_refund_api(supplier_order.provider)
        refund = Refund.objects.create(
            account=account,
            order_id=order_id,
            supplier_order=supplier_order,
            state=RefundState.IN_REVIEW,
            reason=reason,
            note=note,
            evidence=links,
            amount=amount,
            currency=room.currency,
            via=RefundVia.API if api else RefundVia.MERCHANT,
            send_state=RefundSend.PENDING if api else RefundSend.NOT_NEEDED,
            idempotency_key=f"zr-{uuid.uuid4().hex}",
            dispute_url="" if api else _dispute_url(supplier_order),
            requested_by_id=user.pk if user is not None and user.is_authenticated else None,
            requested_at=now,
            review_due_at=now + REVIEW_WITHIN,
            next_sync_at=now if api else now + REVIEW_WITHIN,
        )
        RefundLine.objects.bulk_create(
            [
                RefundLine(
                    refund=refund,
                    supplier_order_line_id=line.supplier_order_line_id,
                    order_line_id=line.order_line_id,
                    quantity=quantity,
                )
                for line, quantity in checked
            ]
        )
        _event(refund, "requested", actor=user)
        order_recompute_status(order_id=order_id, actor=user, now=now)
        if api:
            transaction.on_commit(partial(refund_send_enqueue, refund.pk))
    return refund


def _dispute_url(supplier_order: SupplierOrder) -> str:
    """The supplier's own page where the merchant opens the dispute (no API for it)."""
    make = getattr(provider_class(supplier_order.provider), "dispute_url", None)
    return str(make(supplier_order.external_order_id)) if make and supplier_order.external_order_id else ""


def refund_send_enqueue(refund_id: int) -> None:
    """The task named by ``REFUND_SEND_TASK`` (the supplier call), by name; a lost one is swept."""
    name = str(getattr(settings, "REFUND_SEND_TASK", "") or "")
    if not name:
        return
    try:
        current_app.send_task(name, args=(refund_id,))
    except BROKER_ERRORS:  # the broker is down: the sync's sweep sends it (next_sync_at is due)
        logger.warning("refund %s: could not queue its send task; the sweep will", refund_id, exc_info=True)


def _event(refund: Refund, what: str, *, actor: AbstractBaseUser | None = None, **parameters: object) -> None:
    OrderEvent.objects.create(
        order_id=refund.order_id,
        type=OrderEventType.REFUND,
        parameters={"refund_id": refund.pk, "what": what, "state": refund.state, **parameters},
        actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
    )


def refund_decision_record(
    *,
    refund_id: int,
    state: str,
    at: datetime | None = None,
    rejection_reason: str = "",
    refunded_amount: Decimal | None = None,
    external_status: str = "",
    account: Account | None = None,
    actor: AbstractBaseUser | None = None,
    source: str = "supplier",
) -> tuple[Refund, bool]:
    """A decision or a payment (see the module docstring); returns the refund and whether it moved.
    ``account`` (a merchant's update) limits it to that account's refunds."""
    at = at or timezone.now()
    with transaction.atomic():
        rows = Refund.objects.select_for_update(of=("self",))
        if account is not None:
            rows = rows.filter(account=account)
        refund = rows.get(pk=refund_id)
        if external_status:
            refund.external_status = external_status[:48]
        if state == refund.state or state not in _FORWARD.get(refund.state, ()):
            if external_status:
                refund.save(update_fields=["external_status", "updated_at"])
            return refund, False
        if state in (RefundState.APPROVED, RefundState.REJECTED) or refund.decided_at is None:
            refund.decided_at = at
        if state == RefundState.APPROVED:
            refund.refund_due_at = at + PAID_WITHIN
        if state == RefundState.REJECTED:
            refund.rejection_reason = (rejection_reason or _("No reason given by the supplier"))[:500]
        if state == RefundState.REFUNDED:
            refund.refunded_at = at
            refund.refunded_amount = refunded_amount if refunded_amount is not None else refund.amount
            refund.refund_due_at = refund.refund_due_at or at
        refund.state = state
        if state in (RefundState.REFUNDED, RefundState.REJECTED):
            refund.next_sync_at = None
        refund.save()
        _event(refund, "decided", actor=actor, source=source, reason=refund.rejection_reason)
        order_recompute_status(order_id=refund.order_id, actor=actor)
        orders_flag_refund_overdue(now=timezone.now(), order_ids=[refund.order_id])
    return refund, True


def orders_flag_refund_overdue(*, now: datetime, order_ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Set ``Order.refund_overdue`` from the due times (review first: it is the earlier wait) and
    clear it where no longer true; ``order_ids`` limits it. Returns (flagged, cleared). Three
    statements whatever the number of orders; only orders with an open refund or a flag are read."""
    refunds = Refund.objects.filter(order_id=OuterRef("pk"))
    review_late = Exists(refunds.filter(state=RefundState.IN_REVIEW, review_due_at__lt=now))
    payment_late = Exists(refunds.filter(state=RefundState.APPROVED, refund_due_at__lt=now))
    candidates = Q(pk__in=Refund.objects.filter(state__in=OPEN).values("order_id")) | ~Q(refund_overdue="")
    orders = Order.objects.filter(candidates)
    if order_ids is not None:
        orders = orders.filter(pk__in=list(order_ids))
    with transaction.atomic():
        review = orders.filter(review_late).exclude(refund_overdue=RefundOverdue.REVIEW)
        flagged = review.update(refund_overdue=RefundOverdue.REVIEW)
        payment = orders.filter(~review_late & payment_late).exclude(refund_overdue=RefundOverdue.PAYMENT)
        flagged += payment.update(refund_overdue=RefundOverdue.PAYMENT)
        cleared = (
            orders.filter(~Q(refund_overdue=RefundOverdue.NONE))
            .filter(~review_late & ~payment_late)
            .update(refund_overdue=RefundOverdue.NONE)
        )
    return flagged, cleared


def refund_send_retry(*, account: Account, refund_id: int, user: AbstractBaseUser | None = None) -> Refund:
    """Send a request again whose delivery ran out of tries (``send_state`` FAILED): its tries start
    over and the send task is queued. Anything else is left alone (``RefundRefused`` says why)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).get(pk=refund_id, account=account)
        if refund.via != RefundVia.API or refund.send_state != RefundSend.FAILED or not refund.is_open:
            raise RefundRefused(_("This request is not waiting to be sent again."))
        refund.send_state, refund.send_attempts, refund.send_error = RefundSend.PENDING, 0, ""
        refund.next_sync_at, refund.claimed_until = timezone.now(), None
        refund.save(
            update_fields=["send_state", "send_attempts", "send_error", "next_sync_at", "claimed_until", "updated_at"]
        )
        _event(refund, "retry", actor=user)
        transaction.on_commit(partial(refund_send_enqueue, refund.pk))
    return refund
