"""A tracking number handed over by the supplier sync (task ``tracking.shipment_handover``).

The kwargs come from another app through the broker: they are checked as hostile input. A bad
one is logged and dropped with its reason (``Handover.dropped``), never raised, never retried.
A good one gets or creates the Shipment on (account, carrier, number) — the carrier compared
without regard to case or spacing ("Cainiao" and " cainiao " are one parcel), a line's quantity
at most the order line's —, the same number for
another order of the account is a ``ShipmentOrder`` and the shipment is flagged
``shared_number`` —, recomputes the order's status (orders service), and after commit tries to
register the number at once (a failure leaves it PENDING for beat) and enqueues the fulfillment
push (``settings.FULFILLMENT_PUSH_TASK``, by name) for this order with its lines.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction

from integrations.http import sanitize
from orders.models import Order, OrderLine
from orders.services.cancel_hook import BROKER_ERRORS
from orders.services.recompute import order_recompute_status
from tracking.enums import RegistrationState
from tracking.models import Shipment, ShipmentOrder
from tracking.services.pages import tracking_page_url
from tracking.services.registration import shipments_register

logger = logging.getLogger(__name__)

NUMBER = re.compile(r"^[A-Z0-9-]{1,64}$")
MAX_CARRIER = 100
MAX_LINES = 500


@dataclass(frozen=True)
class Handover:
    shipment_id: int | None = None
    created: bool = False
    shared: bool = False
    dropped: str = ""  # why the handover was refused ("" when it was taken)


@dataclass(frozen=True)
class _Checked:
    supplier_order_id: int | None
    order_id: int
    account_id: int
    number: str
    carrier: str
    lines: list[dict[str, int]]


MAX_ID = 2**63 - 1  # PostgreSQL's bigint: a larger id is refused here, not by the database


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID else None


def _check(
    supplier_order_id: Any, order_id: Any, account_id: Any, tracking_number: Any, carrier: Any, lines: Any
) -> _Checked | str:
    """The kwargs checked, or why they are refused."""
    order, account = _positive(order_id), _positive(account_id)
    if order is None or account is None:
        return "order_id and account_id must be positive integers"
    if supplier_order_id is not None and _positive(supplier_order_id) is None:
        return "supplier_order_id must be a positive integer"
    if not isinstance(tracking_number, str):
        return "tracking_number is not text"
    number = tracking_number.strip().upper()
    if not NUMBER.match(number):
        return f"tracking number {number[:70]!r} is not 1-64 letters, digits or dashes"
    if carrier is None:
        carrier = ""
    if not isinstance(carrier, str):
        return "carrier is not text"
    if lines is None:
        lines = []
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        return f"lines must be a list of at most {MAX_LINES}"
    checked_lines: list[dict[str, int]] = []
    for line in lines:
        if not isinstance(line, dict):
            return "a line is not an object"
        line_id, quantity = _positive(line.get("order_line_id")), _positive(line.get("quantity"))
        if line_id is None or quantity is None:
            return "a line's order_line_id and quantity must be positive integers"
        checked_lines.append({"order_line_id": line_id, "quantity": quantity})
    return _Checked(
        supplier_order_id=supplier_order_id,
        order_id=order,
        account_id=account,
        number=number,
        carrier=sanitize(carrier, MAX_CARRIER),
        lines=checked_lines,
    )


def _drop(supplier_order_id: Any, reason: str) -> Handover:
    logger.warning("tracking handover of supplier order %r dropped: %s", str(supplier_order_id)[:40], reason)
    return Handover(dropped=reason)


def shipment_handover(
    *,
    supplier_order_id: Any,
    order_id: Any,
    account_id: Any,
    tracking_number: Any,
    carrier: Any,
    lines: Any,
    register_now: bool = True,
) -> Handover:
    """Take a supplier's tracking number for an order (see the module docstring)."""
    checked = _check(supplier_order_id, order_id, account_id, tracking_number, carrier, lines)
    if isinstance(checked, str):
        return _drop(supplier_order_id, checked)
    if not Order.objects.filter(pk=checked.order_id, account_id=checked.account_id).exists():
        return _drop(supplier_order_id, f"order {checked.order_id} is not an order of account {checked.account_id}")
    line_ids = {line["order_line_id"] for line in checked.lines}
    if len(line_ids) != len(checked.lines):
        return _drop(supplier_order_id, "a line is given twice")
    ordered = dict(OrderLine.objects.filter(order_id=checked.order_id, pk__in=line_ids).values_list("id", "quantity"))
    if len(ordered) != len(line_ids):
        return _drop(supplier_order_id, f"a line is not a line of order {checked.order_id}")
    if any(line["quantity"] > ordered[line["order_line_id"]] for line in checked.lines):
        return _drop(supplier_order_id, "a line's quantity is more than the order line's")
    supplier_order_model = Shipment._meta.get_field("supplier_order").related_model
    if (
        checked.supplier_order_id is not None
        and not supplier_order_model._default_manager.filter(  # type: ignore[union-attr]
            pk=checked.supplier_order_id, order_id=checked.order_id
        ).exists()
    ):
        return _drop(supplier_order_id, f"supplier order {checked.supplier_order_id} is not one of order {order_id}")
    with transaction.atomic():
        shipment, created = _shipment_get_or_create(checked)
        shared = shipment.order_id != checked.order_id
        if shared:
            lines = _shared_lines_add(shipment, checked)
            if not shipment.shared_number:
                Shipment.objects.filter(pk=shipment.pk).update(shared_number=True)
        elif created:
            lines = checked.lines
        else:
            lines = _own_lines_add(shipment.pk, checked.lines)
        order_recompute_status(order_id=checked.order_id)
        transaction.on_commit(partial(_after_commit, shipment.pk, replace(checked, lines=lines), register_now))
    return Handover(shipment_id=shipment.pk, created=created, shared=shared)


def lines_union(have: list[dict[str, int]], more: list[dict[str, int]]) -> list[dict[str, int]]:
    """The parcel's lines once another supplier order put more in it (a combined parcel: one number
    for two supplier orders of one order). Empty means every line, and stays so; a line named twice
    keeps its larger quantity (a repeat handover changes nothing)."""
    if not have or not more:
        return []
    quantities = {line["order_line_id"]: line["quantity"] for line in have}
    for line in more:
        quantities[line["order_line_id"]] = max(quantities.get(line["order_line_id"], 0), line["quantity"])
    return [{"order_line_id": line_id, "quantity": quantity} for line_id, quantity in sorted(quantities.items())]


def _own_lines_add(shipment_id: int, lines: list[dict[str, int]]) -> list[dict[str, int]]:
    """Under the parcel's lock: its lines with these added (the push is asked again with all)."""
    have = Shipment.objects.select_for_update(of=("self",)).values_list("lines", flat=True).get(pk=shipment_id)
    union = lines_union(list(have or []), lines)
    if union != have:
        Shipment.objects.filter(pk=shipment_id).update(lines=union)
    return union


def _shared_lines_add(shipment: Shipment, checked: _Checked) -> list[dict[str, int]]:
    """The other order's link to the parcel, made once; its lines grow like the parcel's own."""
    ShipmentOrder.objects.bulk_create(
        [
            ShipmentOrder(
                shipment=shipment,
                order_id=checked.order_id,
                supplier_order_id=checked.supplier_order_id,
                lines=checked.lines,
            )
        ],
        ignore_conflicts=True,
    )
    link = ShipmentOrder.objects.select_for_update().get(shipment=shipment, order_id=checked.order_id)
    union = lines_union(list(link.lines or []), checked.lines)
    if union != link.lines:
        ShipmentOrder.objects.filter(pk=link.pk).update(lines=union)
    return union


def _shipment_get_or_create(checked: _Checked) -> tuple[Shipment, bool]:
    """The row on (account, carrier, number); two workers at once make one (the unique constraint)."""
    key = {"account_id": checked.account_id, "carrier": checked.carrier, "tracking_number": checked.number}
    existing = (
        Shipment.objects.filter(
            account_id=checked.account_id, tracking_number=checked.number, carrier__iexact=checked.carrier
        )
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return (
                Shipment.objects.create(
                    **key, order_id=checked.order_id, supplier_order_id=checked.supplier_order_id, lines=checked.lines
                ),
                True,
            )
    except IntegrityError:
        return Shipment.objects.get(**key), False


def _after_commit(shipment_id: int, checked: _Checked, register_now: bool) -> None:
    if register_now and Shipment.objects.filter(pk=shipment_id, registration_state=RegistrationState.PENDING).exists():
        try:
            shipments_register(shipment_ids=[shipment_id])
        except Exception:  # never lose the push for it: beat registers it later
            logger.exception("registering shipment %s at once failed: left for beat", shipment_id)
    fulfillment_push_enqueue(shipment_id=shipment_id, order_id=checked.order_id, lines=checked.lines)


def fulfillment_push_kwargs(*, shipment_id: int, order_id: int, lines: list[dict[str, int]]) -> dict[str, Any]:
    shipment = Shipment.objects.only("tracking_number", "carrier").get(pk=shipment_id)
    return {
        "order_id": order_id,
        "shipment_id": shipment_id,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "lines": lines,
        "tracking_url": tracking_page_url(order_id),
    }


def fulfillment_push_enqueue(*, shipment_id: int, order_id: int, lines: list[dict[str, int]]) -> bool:
    """Hand the parcel to channels_sync by task name (the push is idempotent on (order, shipment))."""
    kwargs = fulfillment_push_kwargs(shipment_id=shipment_id, order_id=order_id, lines=lines)
    try:
        current_app.send_task(settings.FULFILLMENT_PUSH_TASK, kwargs=kwargs)
    except BROKER_ERRORS:
        logger.exception("fulfillment push of shipment %s for order %s not queued", shipment_id, order_id)
        return False
    return True
