"""The suppliers part of the simulated world (see sandbox/world.py), and the services supplier APIs share.

Every simulated supplier (AliExpress, CJ, Temu) keeps its orders as ``SupplierOrder`` rows and
renders them in its own vocabulary. The world state lives in ``order.request["sim"]``:

- ``phase``: one of ``Phase`` (provider-neutral); ``order.status`` is the provider's word for it;
- ``plan``: what happens next and when, drawn from the tick's rng when a tick first sees the
  phase (so the same seed and tick times give the same history);
- ``parcels``: tracking numbers handed to carriers; ``country``/``items`` from the order.

Money: ``supplier_order_pay`` locks the order row, then the account row (always in that
order), and writes at most one ``Charge`` per supplier order, whatever the concurrency.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction

from sandbox.clock import clock_get
from sandbox.models import Charge, Parcel, Refund, RefundCredit, SimAccount, SupplierOrder
from sandbox.sim import carriers


class Phase(StrEnum):
    UNPAID = "unpaid"  # created, not paid (or its payment failed: see failure_reason)
    PAYING = "paying"  # charged; the supplier is confirming the payment
    RISK = "risk"  # charged, held by the supplier's risk control
    AWAITING_SHIPMENT = "awaiting_shipment"  # paid, the supplier is preparing it
    PART_SHIPPED = "part_shipped"  # some parcels handed to a carrier
    SHIPPED = "shipped"  # every parcel handed to a carrier
    DELIVERED = "delivered"  # every parcel delivered
    FINISHED = "finished"  # closed after delivery (buyer confirmation / auto-confirm)
    CANCELING = "canceling"  # the supplier is canceling it
    CANCELED = "canceled"  # closed without delivery; a charge, if any, was refunded


CLOSED_PHASES = (Phase.FINISHED, Phase.CANCELED)
PAID_PHASES = (Phase.PAYING, Phase.RISK, Phase.AWAITING_SHIPMENT, Phase.PART_SHIPPED, Phase.SHIPPED)

# (code, text) of payment failures; texts are what a supplier shows the buyer.
INSUFFICIENT_BALANCE = ("insufficient_balance", "Insufficient balance")
PAYMENT_FAILURES = (
    ("card_declined", "Card declined by the issuing bank"),
    ("risk_control", "Payment blocked by risk control"),
)
NOT_PAYABLE = ("not_payable", "The order cannot be paid in its current status")


@dataclass(frozen=True)
class SupplierHooks:
    """How one supplier renders and reacts: registered by its provider package."""

    statuses: dict[Phase, str]  # phase → the supplier's status word
    carrier_for: Callable[[SupplierOrder, random.Random], str]  # a carriers.CARRIERS slug
    on_change: Callable[[SupplierOrder, str, datetime], None] | None = None  # (order, event, when)
    unpaid_timeout: timedelta = timedelta(hours=24)
    risk_rate: float = 0.0
    finish_after_delivery: bool = True
    split_rate: float = 0.3  # orders of 2+ items shipped in two parcels


SUPPLIER_HOOKS: dict[str, SupplierHooks] = {}


def register(provider: str, hooks: SupplierHooks) -> None:
    SUPPLIER_HOOKS[provider] = hooks


@dataclass
class PaymentOutcome:
    paid: bool
    charged: bool = False  # this call took the money (False on a repeat)
    code: str = ""
    reason: str = ""
    charge: Charge | None = field(default=None, repr=False)


def sim_state(order: SupplierOrder) -> dict[str, Any]:
    return order.request.setdefault("sim", {})


def phase_of(order: SupplierOrder) -> Phase:
    return Phase(sim_state(order).get("phase", Phase.UNPAID))


def _move(order: SupplierOrder, phase: Phase, when: datetime, event: str = "", *, by_world: bool = False) -> None:
    state = sim_state(order)
    state["phase"] = phase.value
    if by_world:  # the next plan counts from here, not from the tick that noticed it
        state["since"] = {"phase": phase.value, "at": when.isoformat()}
    order.status = SUPPLIER_HOOKS[order.account.provider].statuses[phase]
    order.updated_at = when
    order.save()
    hooks = SUPPLIER_HOOKS[order.account.provider]
    if event and hooks.on_change:
        hooks.on_change(order, event, when)


def supplier_order_open(
    *,
    account: SimAccount,
    idempotency_key: str,
    external_id: str,
    amount: Decimal,
    payload: dict[str, Any],
    country_code: str,
    items: int,
    now: datetime,
) -> tuple[SupplierOrder, bool]:
    """The order for ``idempotency_key``, created unpaid if new; returns (order, created)."""
    existing = SupplierOrder.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if existing:
        return existing, False
    hooks = SUPPLIER_HOOKS[account.provider]
    request = {"payload": payload, "sim": {"phase": Phase.UNPAID.value, "country": country_code, "items": items}}
    try:
        with transaction.atomic():
            order = SupplierOrder.objects.create(
                account=account,
                external_id=external_id,
                idempotency_key=idempotency_key,
                status=hooks.statuses[Phase.UNPAID],
                amount=amount,
                request=request,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # a concurrent request with the same key won the race
        return SupplierOrder.objects.get(account=account, idempotency_key=idempotency_key), False
    if hooks.on_change:
        hooks.on_change(order, "created", now)
    return order, True


def _payment_failure(account: SimAccount, order: SupplierOrder, attempt: int) -> tuple[str, str] | None:
    options = account.options
    if "balance" in options and Decimal(str(options["balance"])) < order.amount:
        return INSUFFICIENT_BALANCE
    forced = options.get("payment_failure")
    if forced:
        return next((f for f in PAYMENT_FAILURES if f[0] == forced), (str(forced), str(forced)))
    rate = float(options.get("payment_failure_rate", 0.0))
    rng = random.Random(f"{clock_get().seed}:pay:{account.provider}:{order.idempotency_key}:{attempt}")
    if rate > 0 and rng.random() < rate:
        return rng.choice(PAYMENT_FAILURES)
    return None


def supplier_order_pay(*, order_id: int, now: datetime) -> PaymentOutcome:
    """Pay an order from the account's wallet or card: at most one charge per order, ever."""
    with transaction.atomic():
        # Lock the order row only (of=self); the account row is locked after it, always in that order.
        order = SupplierOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order_id)
        if order.charges.exists():
            return PaymentOutcome(paid=True)
        if phase_of(order) != Phase.UNPAID:
            return PaymentOutcome(paid=False, code=NOT_PAYABLE[0], reason=NOT_PAYABLE[1])
        account = SimAccount.objects.select_for_update().get(pk=order.account_id)
        state = sim_state(order)
        state["pay_attempts"] = int(state.get("pay_attempts", 0)) + 1
        failure = _payment_failure(account, order, state["pay_attempts"])
        if failure:
            order.failure_reason, state["payment_failure"] = failure[1], failure[0]
            _move(order, Phase.UNPAID, now, "payment_failed")
            return PaymentOutcome(paid=False, code=failure[0], reason=failure[1])
        if "balance" in account.options:
            account.options["balance"] = str(Decimal(str(account.options["balance"])) - order.amount)
            account.save(update_fields=["options"])
        charge = Charge.objects.create(
            account=account,
            supplier_order=order,
            idempotency_key=order.idempotency_key,
            amount=order.amount,
            currency=order.currency,
            created_at=now,
        )
        order.failure_reason = ""
        state.pop("payment_failure", None)
        state["paid_at"] = now.isoformat()
        _move(order, Phase.PAYING, now, "paid")
        return PaymentOutcome(paid=True, charged=True, charge=charge)


def _money_back(order: SupplierOrder, amount: Decimal) -> None:
    account = SimAccount.objects.select_for_update().get(pk=order.account_id)
    if "balance" in account.options:
        account.options["balance"] = str(Decimal(str(account.options["balance"])) + amount)
        account.save(update_fields=["options"])


def _credit(refund: Refund, when: datetime) -> bool:
    """Pay a refund back: one ``RefundCredit`` per refund, ever (its unique refund), and the
    wallet credited with it; False when it was credited already."""
    order = refund.supplier_order
    try:
        with transaction.atomic():
            RefundCredit.objects.create(
                account_id=order.account_id,
                supplier_order=order,
                refund=refund,
                amount=refund.amount,
                currency=order.currency,
                created_at=when,
            )
    except IntegrityError:
        return False
    _money_back(order, refund.amount)
    return True


OPEN_REFUND = ("in_review", "approved")


@dataclass(frozen=True)
class RefundLineAsk:
    """Units of one line of a supplier order in a refund request (the supplier's line id)."""

    line_id: str
    quantity: int
    amount: Decimal


def _lines_checked(
    order: SupplierOrder, lines: list[RefundLineAsk], bought: dict[str, int], refunds: list[Refund]
) -> str:
    """Why these lines cannot be asked for ("": they can)."""
    if not lines:
        return "Choose at least one product line"
    taken: dict[str, int] = {}
    open_lines: set[str] = set()
    for refund in refunds:
        if refund.status == "rejected" or refund.canceled:
            continue
        for part in refund.lines:
            line_id = str(part.get("line_id", ""))
            taken[line_id] = taken.get(line_id, 0) + int(part.get("quantity", 0))
            if refund.status in OPEN_REFUND:
                open_lines.add(line_id)
    seen: set[str] = set()
    for line in lines:
        if line.line_id not in bought or line.line_id in seen:
            return f"Line {line.line_id[:40]} is not a line of this order"
        seen.add(line.line_id)
        if line.line_id in open_lines:
            return f"Line {line.line_id[:40]} already has an open dispute"
        left = bought[line.line_id] - taken.get(line.line_id, 0)
        if not 1 <= line.quantity <= left:
            return f"Line {line.line_id[:40]}: between 1 and {max(left, 0)} units can be disputed"
    return ""


@transaction.atomic
def refund_request(
    *,
    order: SupplierOrder,
    reason: str,
    amount: Decimal | None,
    now: datetime,
    key: str = "",
    lines: list[RefundLineAsk] | None = None,
    bought: dict[str, int] | None = None,
    replay: bool = True,
) -> Refund | str:
    """Ask the supplier for a refund; returns the Refund, or why it cannot be asked.

    ``key`` (the buyer's, e.g. CJ's businessDisputeId): a repeat answers the refund made under it
    (one refund at the supplier, whatever the retries). ``lines`` with ``bought`` (line id → units
    bought): a request on those lines, each no more than bought less what other requests took,
    none under an open request; without them, the whole order (one open request at a time).
    Money: never above what was paid less what was refunded and what open requests ask.
    ``replay`` False: a repeated key is a new request (a supplier that does not keep one per key)."""
    order = SupplierOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order.pk)
    if key and replay:
        existing = Refund.objects.filter(supplier_order__account_id=order.account_id, idempotency_key=key).first()
        if existing is not None:
            if existing.supplier_order_id != order.pk:
                return "This request key was used for another order"
            return existing
    paid = sum((c.amount for c in order.charges.all()), Decimal("0"))
    if not paid:
        return "The order has not been paid"
    refunds = list(order.refunds.all())
    refunded = sum((r.amount for r in refunds if r.status == "refunded"), Decimal("0"))
    asked = sum((r.amount for r in refunds if r.status in OPEN_REFUND), Decimal("0"))
    if lines is None:
        if any(r.status in OPEN_REFUND for r in refunds):
            return "A refund request is already open for this order"
    else:
        why = _lines_checked(order, lines, bought or {}, refunds)
        if why:
            return why
        cap = sum((line.amount for line in lines), Decimal("0"))
        if amount is not None and amount > cap:
            return f"The amount must be at most {cap} for these lines"
        amount = cap if amount is None else amount
    if refunded >= paid:
        return "The order has already been refunded"
    room = paid - refunded - asked
    amount = room if amount is None else amount
    if not amount.is_finite() or amount <= 0 or amount > room or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        return f"The amount must be between 0.01 and {max(room, Decimal('0'))} (paid less refunded and asked)"
    return Refund.objects.create(
        supplier_order=order,
        reason=reason[:255],
        amount=amount,
        requested_at=now,
        idempotency_key=key[:128],
        lines=[
            {"line_id": line.line_id, "quantity": line.quantity, "amount": str(line.amount)} for line in lines or []
        ],
    )


MAX_ANSWER_DELAY = 30.0


def refund_answer_delay(account: SimAccount) -> None:
    """The account's ``refund_answer_delay`` option (seconds, at most 30): a refund request is made,
    then its answer is that late (a test kills the buyer's worker meanwhile)."""
    try:
        delay = float(account.options.get("refund_answer_delay") or 0)
    except (TypeError, ValueError):
        return
    if delay > 0:
        time.sleep(min(delay, MAX_ANSWER_DELAY))


def refund_cancel(*, refund_id: int, now: datetime) -> str:
    """The buyer withdraws a request still in review ("": done, again too); else why not."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.canceled:
            return ""
        if refund.status != "in_review":
            return "Only a dispute still in review can be canceled"
        refund.canceled, refund.status, refund.decided_at = True, "rejected", now
        refund.rejection_reason = "Canceled by the buyer"
        refund.save(update_fields=["canceled", "status", "decided_at", "rejection_reason"])
        return ""


def _pace(order: SupplierOrder) -> float:
    """The account's ``demo_pace`` option (make run's demo suppliers): shipping, the parcels'
    journeys and refunds (review and payment) that many times quicker than the real ones; 1 otherwise."""
    try:
        pace = float(order.account.options.get("demo_pace", 1))
    except (TypeError, ValueError):
        return 1.0
    return pace if 1 < pace < 100_000 else 1.0


def _plan(order: SupplierOrder, phase: Phase, now: datetime, rng: random.Random) -> dict[str, Any]:
    hooks = SUPPLIER_HOOKS[order.account.provider]
    since = sim_state(order).get("since") or {}
    base = datetime.fromisoformat(since["at"]) if since.get("phase") == phase.value else now

    pace = _pace(order) if phase in (Phase.AWAITING_SHIPMENT, Phase.PART_SHIPPED) else 1.0

    def later(low_hours: float, high_hours: float) -> str:
        minutes = rng.uniform(low_hours, high_hours) * 60
        return (base + timedelta(minutes=round(minutes) if pace == 1 else minutes / pace)).isoformat()

    if phase == Phase.UNPAID:
        return {"at": (base + hooks.unpaid_timeout).isoformat(), "next": Phase.CANCELED, "why": "Not paid in time"}
    if phase == Phase.PAYING:
        risky = rng.random() < hooks.risk_rate
        return {"at": later(0.1, 0.5), "next": Phase.RISK if risky else Phase.AWAITING_SHIPMENT}
    if phase == Phase.RISK:
        cleared = rng.random() < 0.7
        return {
            "at": later(6, 24),
            "next": Phase.AWAITING_SHIPMENT if cleared else Phase.CANCELING,
            "why": "Risk control",
        }
    if phase == Phase.AWAITING_SHIPMENT:
        if rng.random() < 0.08:
            return {"at": later(12, 72), "next": Phase.CANCELING, "why": "Out of stock"}
        split = int(sim_state(order).get("items", 1)) > 1 and rng.random() < hooks.split_rate
        return {"at": later(24, 120), "next": Phase.PART_SHIPPED if split else Phase.SHIPPED, "seed": rng.random()}
    if phase == Phase.PART_SHIPPED:
        return {"at": later(24, 60), "next": Phase.SHIPPED, "seed": rng.random()}
    if phase == Phase.DELIVERED and hooks.finish_after_delivery:
        return {"at": later(72, 240), "next": Phase.FINISHED}
    if phase == Phase.CANCELING:
        return {"at": later(1, 6), "next": Phase.CANCELED}
    return {}


def _ship_parcel(order: SupplierOrder, when: datetime, seed: float) -> None:
    rng = random.Random(f"ship:{order.idempotency_key}:{seed}")
    slug = SUPPLIER_HOOKS[order.account.provider].carrier_for(order, rng)
    state = sim_state(order)
    parcel = carriers.parcel_create(
        carrier=carriers.CARRIERS[slug], country_code=state.get("country", "US"), now=when, rng=rng, pace=_pace(order)
    )
    state.setdefault("parcels", []).append(parcel.number)
    if not order.tracking_number:
        order.tracking_number, order.carrier = parcel.number, parcel.carrier_name


def _execute(order: SupplierOrder, plan: dict[str, Any]) -> None:
    target, when = Phase(plan["next"]), datetime.fromisoformat(plan["at"])
    current = phase_of(order)
    if target in (Phase.PART_SHIPPED, Phase.SHIPPED):
        _ship_parcel(order, when, plan["seed"])
        event = "shipped" if target == Phase.SHIPPED else "part_shipped"
        return _move(order, target, when, event, by_world=True)
    if target == Phase.CANCELING:
        order.failure_reason = plan.get("why", "")
        return _move(order, target, when, "canceling", by_world=True)
    if target == Phase.CANCELED:
        if current == Phase.UNPAID:
            order.failure_reason = plan.get("why", "")
        for pending in order.refunds.filter(status__in=OPEN_REFUND):  # settled with the cancellation
            pending.status, pending.refunded_at = "refunded", when
            pending.decided_at = pending.decided_at or when
            pending.save(update_fields=["status", "decided_at", "refunded_at"])
            _credit(pending, when)
        paid = sum((c.amount for c in order.charges.all()), Decimal("0"))
        refunded = sum((r.amount for r in order.refunds.filter(status="refunded")), Decimal("0"))
        if paid > refunded:
            rest = Refund.objects.create(
                supplier_order=order,
                status="refunded",
                reason=order.failure_reason or "Canceled by the supplier",
                amount=paid - refunded,
                requested_at=when,
                decided_at=when,
                refunded_at=when,
            )
            _credit(rest, when)
        return _move(order, target, when, "canceled", by_world=True)
    return _move(order, target, when, target.value, by_world=True)


def _advance(order: SupplierOrder, now: datetime, rng: random.Random) -> bool:
    phase = phase_of(order)
    state = sim_state(order)
    if phase == Phase.SHIPPED:
        numbers = state.get("parcels", [])
        parcels = list(Parcel.objects.filter(number__in=numbers))
        if numbers and len(parcels) == len(numbers) and all(p.status == "Delivered" for p in parcels):
            _move(order, Phase.DELIVERED, max(p.updated_at for p in parcels), "delivered", by_world=True)
            return True
        return False
    plan = state.get("plan")
    if not plan or plan.get("phase") != phase.value:
        plan = state["plan"] = {"phase": phase.value, **_plan(order, phase, now, rng)}
        order.save(update_fields=["request"])
    if "at" not in plan or datetime.fromisoformat(plan["at"]) > now:
        return False
    _execute(order, plan)
    return True


REJECTED_BECAUSE = "The evidence does not show a fault with the goods (the supplier's review)"


def _refund_plan(refund: Refund, now: datetime, rng: random.Random) -> dict[str, Any]:
    """When the supplier decides and what: the account's ``refund_decision`` ("approve" |
    "reject"; else 85% approved), within the day, ``demo_pace`` times quicker."""
    order = refund.supplier_order
    decision = str(order.account.options.get("refund_decision") or "")
    minutes = rng.uniform(1, 20) * 60
    pace = _pace(order)
    decide_at = now + timedelta(minutes=round(minutes) if pace == 1 else minutes / pace)
    approve = decision == "approve" or (decision != "reject" and rng.random() < 0.85)
    return {"decide_at": decide_at.isoformat(), "approve": approve}


def _refunds_advance(now: datetime, rng: random.Random) -> int:
    """Decide (within a day) and pay (the day after) the open requests; an account's
    ``refund_stall`` holds them: "review" never decides, "payment" approves and never pays."""
    moved = 0
    refunds = Refund.objects.filter(status__in=OPEN_REFUND).select_related("supplier_order__account")
    for refund in refunds.order_by("requested_at", "id"):
        order = refund.supplier_order
        options = order.account.options
        stall = str(options.get("refund_stall") or "")
        plans = sim_state(order).setdefault("refund_plans", {})
        plan = plans.get(str(refund.pk))
        if plan is None:
            plan = plans[str(refund.pk)] = _refund_plan(refund, now, rng)
            order.save(update_fields=["request"])
        if refund.status == "in_review" and stall != "review" and datetime.fromisoformat(plan["decide_at"]) <= now:
            approve = plan["approve"] or stall == "payment"
            refund.status = "approved" if approve else "rejected"
            refund.decided_at = datetime.fromisoformat(plan["decide_at"])
            refund.rejection_reason = "" if approve else str(options.get("refund_reject_reason") or REJECTED_BECAUSE)
            refund.save(update_fields=["status", "decided_at", "rejection_reason"])
            moved += 1
        pay_after = timedelta(days=1) / _pace(order)
        if (
            refund.status == "approved"
            and stall != "payment"
            and refund.decided_at
            and refund.decided_at + pay_after <= now
        ):
            refund.status, refund.refunded_at = "refunded", refund.decided_at + pay_after
            refund.save(update_fields=["status", "refunded_at"])
            _credit(refund, refund.refunded_at)
            moved += 1
    return moved


def tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    """Move every open supplier order and refund request to ``now``; returns counts of what happened."""
    open_orders = (
        SupplierOrder.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("account")
        .filter(account__provider__in=list(SUPPLIER_HOOKS), created_at__lte=now)
        .exclude(request__sim__phase__in=[p.value for p in CLOSED_PHASES])
        .order_by("created_at", "id")
    )
    moved = 0
    for order in open_orders:
        # A phase change can make the next plan due at once (e.g. a long-idle world catching up).
        for _ in range(8):
            if not _advance(order, now, rng):
                break
            moved += 1
    refunds = _refunds_advance(now, rng)
    return {k: v for k, v in (("supplier_orders_moved", moved), ("refunds_moved", refunds)) if v}


# Cancels and shipments asked for directly (CJ's deleteOrder, the control API) -------------------


def supplier_order_cancel(*, order_id: int, reason: str, now: datetime, buyer: bool) -> tuple[bool, str]:
    """Close an order now, refunding what it was charged: (done, why not).

    ``buyer``: the buyer asked (CJ ``deleteOrder``): only an unpaid order, a canceled one again is
    done. Otherwise the supplier cancels it (the control API's stand-in for "Out of stock").
    """
    with transaction.atomic():
        order = SupplierOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order_id)
        phase = phase_of(order)
        if phase == Phase.CANCELED:
            return True, ""
        if phase == Phase.FINISHED or (buyer and (phase != Phase.UNPAID or order.charges.exists())):
            return False, "The order has been paid and cannot be deleted" if buyer else "The order is finished"
        order.failure_reason = reason[:255]
        _execute(order, {"next": Phase.CANCELED.value, "at": now.isoformat(), "why": reason})
        return True, ""


def supplier_order_ship(*, order_id: int, now: datetime) -> str:
    """Hand a paid order's parcel to its carrier now (the control API): its tracking number."""
    with transaction.atomic():
        order = SupplierOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order_id)
        phase = phase_of(order)
        if phase not in PAID_PHASES or phase == Phase.SHIPPED:
            return order.tracking_number
        seed = random.Random(f"ship-now:{order.idempotency_key}").random()
        _execute(order, {"next": Phase.SHIPPED.value, "at": now.isoformat(), "seed": seed})
        return order.tracking_number
