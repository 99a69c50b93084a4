"""Auto-order rules: place and/or pay a store's new orders by themselves, after a hold.

Beat runs ``auto_order_rules_run`` every minute. An order is looked at once per rule version (a
``RuleDecision``): queued for placement when it has waited the hold and meets the conditions,
else the reason is recorded (shown in its timeline) and it waits for the merchant. Placing goes
through ``order_place`` like a click, so a rule racing the bulk action or a double click still
makes one supplier order and one charge; a channel cancellation inside the hold takes the order
out of New, and the rule never sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.enums import Channel, OrderEventType, OrderStatus, SupplierOrderState
from orders.models import Order, OrderEvent, PurchaseId
from suppliers.enums import PlacementOutcome
from suppliers.models import IN_FLIGHT_STATES, AutoOrderRule, RuleDecision, SupplierOrder
from suppliers.services.links import links_for_lines
from suppliers.services.payment import supplier_order_pay
from suppliers.services.placement import Result, order_place
from suppliers.services.records import rate_between

# TikTok Shop buyers may cancel within the first hour: its orders wait at least this long.
TIKTOK_MIN_HOLD = timedelta(hours=1)
# Orders a rule looks at per run (the rest wait for the next minute).
BATCH = 200
# A placement a rule queued this long ago whose order is still in New untouched was lost.
LOST_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Verdict:
    queued: bool
    reason: str = ""


def rule_hold(rule: AutoOrderRule) -> timedelta:
    hold = timedelta(minutes=rule.hold_minutes)
    return max(hold, TIKTOK_MIN_HOLD) if rule.store.channel == Channel.TIKTOK else hold


def order_margin_estimate(order: Order) -> Decimal | None:
    """The order's total less its linked products' cost, in its currency (None: not known)."""
    lines = list(order.lines.all())
    links = links_for_lines(account=order.account, store_id=order.store_id, lines=lines)
    cost = Decimal(0)
    for line in lines:
        link = links.get(line.pk)
        if link is None or link.unit_cost is None:
            return None
        rate = rate_between(link.cost_currency, order.currency)
        if rate is None:
            return None
        cost += link.unit_cost * line.quantity * rate[0]
    return order.total - cost


def rule_verdict(rule: AutoOrderRule, order: Order) -> Verdict:
    """Does ``rule`` place ``order`` (held long enough is checked by the caller)?"""
    if rule.countries and order.ship_country_code.upper() not in {c.upper() for c in rule.countries}:
        return Verdict(
            False,
            _("Not placed automatically: the rule does not ship to %(country)s.")
            % {"country": order.ship_country_code or "—"},
        )
    if rule.max_order_total is not None and order.total >= rule.max_order_total:
        return Verdict(
            False,
            _("Not placed automatically: the order total is not below %(limit)s.") % {"limit": rule.max_order_total},
        )
    if rule.min_margin is not None:
        margin = order_margin_estimate(order)
        if margin is None:
            return Verdict(
                False,
                _(
                    "Not placed automatically: the margin is not known "
                    "(a product link without a cost or a currency without a rate)."
                ),
            )
        if margin <= rule.min_margin:
            return Verdict(
                False,
                _("Not placed automatically: the margin %(margin)s is not above %(limit)s.")
                % {"margin": margin.quantize(Decimal("0.01")), "limit": rule.min_margin},
            )
    return Verdict(True)


def _decide(rule: AutoOrderRule, order: Order, verdict: Verdict, now: datetime, then: Callable[[], object]) -> bool:
    """Record the verdict once per rule version and, if queued, send ``then`` after the commit;
    False when another run already decided it."""
    with transaction.atomic():
        decision = RuleDecision.objects.select_for_update().filter(rule=rule, order=order).first()
        if decision is not None and decision.decided_at >= rule.updated_at:
            return False
        try:
            with transaction.atomic():
                RuleDecision.objects.update_or_create(
                    rule=rule,
                    order=order,
                    defaults={"queued": verdict.queued, "reason": verdict.reason[:255], "decided_at": now},
                )
        except IntegrityError:  # another run inserted it first
            return False
        if verdict.queued:
            transaction.on_commit(then)
        else:
            OrderEvent.objects.create(
                order=order, type=OrderEventType.NOTE, parameters={"text": verdict.reason, "rule": rule.pk}
            )
    return True


def _placeable(rule: AutoOrderRule, now: datetime) -> QuerySet[Order]:
    """The rule's store's orders in New that have waited its hold since they reached us (a TikTok
    purchase, even one that came through another channel, at least an hour). Counted from when the
    order was received, never earlier than it was placed: an old order imported today waits too."""
    held_since = now - rule_hold(rule)
    tiktok_purchase = PurchaseId.objects.filter(order=OuterRef("pk"))
    return (
        Order.objects.filter(
            store=rule.store,
            account=rule.account,
            status=OrderStatus.NEW,
            archived=False,
            channel_canceled=False,
            created_at__lte=held_since,
        )
        .exclude(Exists(tiktok_purchase), created_at__gt=now - TIKTOK_MIN_HOLD)
        .select_related("account")
    )


def auto_order_rules_run(*, now: datetime | None = None) -> int:
    """Queue what every enabled rule places or pays now; the number queued.

    Also queues again, once, the rule's placements queued long ago whose order is still in New
    untouched (a task lost with its broker or worker): ``order_place`` is safe to run twice."""
    from suppliers.tasks import pay_by_rule, place_by_rule  # the task module imports the services

    now = now or timezone.now()
    queued = 0
    for rule in AutoOrderRule.objects.filter(enabled=True).select_related("store", "account"):
        decided = RuleDecision.objects.filter(rule=rule, order=OuterRef("pk"), decided_at__gte=rule.updated_at)
        if rule.place:
            for order in _placeable(rule, now).exclude(Exists(decided)).order_by("created_at", "pk")[:BATCH]:
                verdict = rule_verdict(rule, order)
                if (
                    _decide(rule, order, verdict, now, partial(place_by_rule.delay, order.pk, rule.pk))
                    and verdict.queued
                ):
                    queued += 1
            lost = (
                RuleDecision.objects.filter(rule=rule, queued=True, decided_at__lt=now - LOST_AFTER)
                .filter(order__status=OrderStatus.NEW, order__archived=False, order__placement_issue="")
                .exclude(order__supplier_orders__state__in=IN_FLIGHT_STATES)
                .values_list("pk", "order_id")[:BATCH]
            )
            for decision_id, order_id in lost:
                RuleDecision.objects.filter(pk=decision_id).update(decided_at=now)
                place_by_rule.delay(order_id, rule.pk)
                queued += 1
        elif rule.pay:  # pay what the merchant placed unpaid, once per order, after the hold
            held_since = now - rule_hold(rule)
            orders = (
                Order.objects.filter(
                    store=rule.store,
                    account=rule.account,
                    archived=False,
                    channel_canceled=False,
                    supplier_orders__state=SupplierOrderState.PLACED,
                    supplier_orders__placed_at__lte=held_since,
                )
                .exclude(Exists(decided))
                .distinct()
                .order_by("pk")[:BATCH]
            )
            for order in orders:
                ids = list(order.supplier_orders.filter(state=SupplierOrderState.PLACED).values_list("pk", flat=True))

                def pay_all(ids: list[int] = ids, rule_id: int = rule.pk) -> None:
                    for supplier_order_id in ids:
                        pay_by_rule.delay(supplier_order_id, rule_id)

                if _decide(rule, order, Verdict(True), now, pay_all):
                    queued += len(ids)
    return queued


def order_place_by_rule(*, order_id: int, rule_id: int) -> Result:
    """A rule's placement: like a click, with the rule named on the supplier order and its history."""
    rule = AutoOrderRule.objects.select_related("account", "store").get(pk=rule_id)
    if not rule.enabled or not rule.place:
        return Result(PlacementOutcome.SKIPPED, _("The rule was turned off."))
    return order_place(account=rule.account, order_id=order_id, rule=rule, pay=rule.pay)


def supplier_order_pay_by_rule(*, supplier_order_id: int, rule_id: int) -> Result:
    rule = AutoOrderRule.objects.get(pk=rule_id)
    if not rule.enabled or not rule.pay:
        return Result(PlacementOutcome.SKIPPED, _("The rule was turned off."))
    if not SupplierOrder.objects.filter(pk=supplier_order_id, account=rule.account, order__store=rule.store).exists():
        return Result(PlacementOutcome.SKIPPED, _("Not an order of the rule's store."))
    return supplier_order_pay(supplier_order_id=supplier_order_id, account=rule.account, rule=rule)
