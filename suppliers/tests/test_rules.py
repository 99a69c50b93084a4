"""Auto-order rules: hold, conditions, TikTok's hour, decided once per rule version, the rule
named on what it placed; placements run by a real Celery worker against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from orders.enums import Channel, OrderEventType, OrderStatus, SupplierOrderState
from orders.models import Order, OrderEvent
from suppliers.enums import PaymentMode, SupplierProvider
from suppliers.models import AutoOrderRule, ExchangeRate, RuleDecision, SupplierOrder
from suppliers.services.rules import auto_order_rules_run, order_margin_estimate, rule_verdict
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.workers import running_worker, wait_for

pytestmark = [
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
]

CJ = SupplierProvider.CJ


@pytest.fixture
def worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


def held(order: Order, minutes: int) -> Order:
    at = timezone.now() - timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(placed_at=at, created_at=at)
    return Order.objects.select_related("account", "store").get(pk=order.pk)


def test_a_rule_places_and_pays_orders_that_waited_the_hold_once(control: Any, worker: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ, payment_mode=PaymentMode.LATER)
    link_sku(account, "EB-1", CJ)
    rule = AutoOrderRule.objects.create(
        account=account, store=store, enabled=True, place=True, pay=True, hold_minutes=30
    )
    waited, fresh = held(order_to_place(store), 45), held(order_to_place(store), 5)

    assert auto_order_rules_run() == 1
    assert auto_order_rules_run() == 0  # decided once: the next minute does not queue it again

    assert wait_for(
        lambda: SupplierOrder.objects.filter(order=waited, state=SupplierOrderState.PAID).exists(), timeout=30
    )
    supplier_order = SupplierOrder.objects.get(order=waited)
    assert supplier_order.placed_by_rule_id == rule.pk
    assert supplier_order.transitions.filter(rule=rule).exists()
    assert len([c for c in control.ledger() if c["idempotency_key"] == supplier_order.idempotency_key]) == 1
    assert not SupplierOrder.objects.filter(order=fresh).exists()


def test_tiktok_orders_wait_at_least_an_hour_whatever_the_rule_says(control: Any) -> None:
    account, store = merchant()
    store.channel = Channel.TIKTOK
    store.save(update_fields=["channel"])
    link_sku(account, "EB-1", CJ)
    AutoOrderRule.objects.create(account=account, store=store, enabled=True, hold_minutes=0)
    held(order_to_place(store), 50)

    assert auto_order_rules_run() == 0
    assert not RuleDecision.objects.exists()


def test_a_channel_cancellation_inside_the_hold_stops_the_rule(control: Any) -> None:
    account, store = merchant()
    link_sku(account, "EB-1", CJ)
    AutoOrderRule.objects.create(account=account, store=store, enabled=True, hold_minutes=10)
    order = held(order_to_place(store), 20)
    Order.objects.filter(pk=order.pk).update(channel_canceled=True, status=OrderStatus.CANCELED)

    assert auto_order_rules_run() == 0


def test_conditions_say_why_an_order_is_left_for_the_merchant(control: Any) -> None:
    account, store = merchant()
    link_sku(account, "EB-1", CJ, unit_cost=Decimal("6.00"))  # 2 × 6.00 against a 14.99 total
    rule = AutoOrderRule.objects.create(account=account, store=store, enabled=True, hold_minutes=0)
    order = held(order_to_place(store), 1)

    rule.countries = ["BR"]
    assert not rule_verdict(rule, order).queued
    rule.countries, rule.max_order_total = ["US"], Decimal("10.00")
    assert not rule_verdict(rule, order).queued
    rule.max_order_total, rule.min_margin = None, Decimal("5.00")
    assert order_margin_estimate(order) == Decimal("2.99")
    verdict = rule_verdict(rule, order)
    assert (verdict.queued, "2.99" in verdict.reason) == (False, True)
    rule.min_margin = Decimal("2.00")
    assert rule_verdict(rule, order).queued

    rule.min_margin = Decimal("5.00")
    rule.save()
    assert auto_order_rules_run() == 0
    note = OrderEvent.objects.get(order=order, type=OrderEventType.NOTE)
    assert "margin" in note.parameters["text"]
    # changing the rule looks at the order again
    rule.min_margin = Decimal("1.00")
    rule.save()
    assert auto_order_rules_run() == 1


def test_a_margin_in_another_currency_needs_a_rate(control: Any) -> None:
    account, store = merchant()
    link_sku(account, "EB-1", CJ, unit_cost=Decimal("5.00"), cost_currency="CNY")
    order = held(order_to_place(store), 1)

    assert order_margin_estimate(order) is None
    ExchangeRate.objects.create(
        from_currency="CNY", to_currency="USD", rate=Decimal("0.14"), source="test", as_of=timezone.now()
    )
    assert order_margin_estimate(order) == Decimal("14.99") - Decimal("1.40")


def test_a_disabled_rule_does_nothing(control: Any) -> None:
    account, store = merchant()
    AutoOrderRule.objects.create(account=account, store=store, enabled=False, hold_minutes=0)
    held(order_to_place(store), 100)

    assert auto_order_rules_run() == 0


def test_a_tiktok_purchase_that_came_through_shopify_waits_the_hour_too(control: Any) -> None:
    from orders.models import PurchaseId

    account, store = merchant()  # a Shopify store
    link_sku(account, "EB-1", CJ)
    AutoOrderRule.objects.create(account=account, store=store, enabled=True, hold_minutes=5)
    twin = held(order_to_place(store), 30)
    PurchaseId.objects.create(account=account, purchase_id="576461413038785752", order=twin)
    plain = held(order_to_place(store), 30)

    assert auto_order_rules_run() == 1
    assert list(RuleDecision.objects.values_list("order_id", flat=True)) == [plain.pk]
