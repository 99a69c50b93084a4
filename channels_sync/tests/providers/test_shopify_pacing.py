"""Orders pages sized to Shopify's cost bucket: the sizing rule itself (pure), then a real pull
under a bucket that restores slowly for the inline cap, counted from what the client recorded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from channels_sync.models import Store
from channels_sync.providers.base import ChannelProvider
from channels_sync.providers.shopify.pacing import CostBucket, OrderCosts, orders_page_size
from channels_sync.providers.shopify.provider import ShopifyProvider
from channels_sync.services.connect import store_connect
from channels_sync.services.pull import store_pull
from channels_sync.services.stores import store_provider
from channels_sync.tests.conftest import LIVE_DB
from orders.models import Order

# Shopify Standard: 100 points/s; the client's default inline cap: 2 s.
STANDARD = CostBucket(maximum=2000, available=2000, restore_rate=100, seen_at=0)


def learned(actual_per_order: float) -> OrderCosts:
    """The costs after ten full pages at this actual cost per order (the start has faded)."""
    costs = OrderCosts()
    for _ in range(10):
        costs.observe(first=25, orders=25, requested=977, actual=2 + 25 * actual_per_order)
    return costs


@pytest.mark.parametrize(
    ("wanted", "bucket", "costs", "inline_wait", "size"),
    [
        # the problem this solves: 25 orders (977 requested) spend ~375, a 3.75 s wait at Standard;
        # pages of 9 spend ~137 (3/4 of 2 s of restore is 150): a 1.4 s wait, slept
        (250, STANDARD, learned(15), 2.0, 9),
        # nothing read yet: every order is assumed to spend its 39 requested points
        (250, STANDARD, OrderCosts(), 2.0, 3),
        # no bucket seen yet: Standard's rate is assumed
        (250, CostBucket(), learned(15), 2.0, 9),
        # Shopify Plus (1000/s): the single-query cap binds, 25 orders (977 points)
        (250, CostBucket(maximum=20000, available=20000, restore_rate=1000), learned(15), 2.0, 25),
        # a bucket smaller than the cap: what it holds, 7 orders (275 points)
        (250, CostBucket(maximum=300, available=300, restore_rate=1000), learned(15), 2.0, 7),
        # the caller's page size is the most
        (5, STANDARD, learned(15), 2.0, 5),
        # a bucket another worker emptied: only what is projected now plus the share of the cap
        (250, CostBucket(maximum=2000, available=0, restore_rate=100), learned(5), 2.0, 3),
        # never below 1 (no inline wait at all); a bucket that never runs low: the 1000 cap binds
        (250, STANDARD, learned(15), 0.0, 1),
        (500, CostBucket(maximum=10**9, available=10**9, restore_rate=10**9), learned(0), 2.0, 25),
    ],
)
def test_the_page_size_keeps_the_next_wait_inline(
    wanted: int, bucket: CostBucket, costs: OrderCosts, inline_wait: float, size: int
) -> None:
    assert orders_page_size(wanted=wanted, bucket=bucket, costs=costs, inline_wait=inline_wait, now=0) == size


def test_order_costs_are_learned_from_the_pages_read() -> None:
    costs = OrderCosts()
    assert (costs.requested, costs.actual) == (39, 39)  # nothing read: an order spends what it asks
    costs.observe(first=1, orders=1, requested=41, actual=13)  # one cheap order (11 points)
    assert costs.actual == (11 + 3 * 39) / 4  # the start still weighs as three orders
    costs.observe(first=9, orders=9, requested=353, actual=146)  # 16 an order
    costs.observe(first=9, orders=0, requested=353, actual=2)  # an empty page teaches nothing
    assert (costs.requested, costs.actual, costs.orders_seen) == (39, (11 + 144 + 117) / 13, 10)
    costs.observe(first=10, orders=10, requested=2 + 10 * 45, actual=None)  # Shopify counts more
    assert (costs.requested, costs.page_cost(4)) == (45, 182)
    costs.observe(first=10, orders=10, requested=12, actual=-5)  # hostile: never under our count
    assert (costs.requested, costs.orders_seen) == (39, 10)


@LIVE_DB
def test_a_large_pull_under_a_slow_bucket_is_never_throttled_and_never_waits_for_a_countdown(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    """Standard's shape at a fifth of the time: a bucket of 1000 restoring 500 points/s under a
    0.4 s inline cap (3/4 of it pays 150 points a page, as 2 s of Standard's 100/s does). At a
    tenth (1000/s) a loaded machine's slower calls restored what each page spent, and the pull
    never had to wait: the test then proved nothing about waiting."""
    # given a shop of 300 orders, connected, its bucket full
    settings.SYNC_PULL_PAGE_SIZE = 250
    settings.OUTBOUND_MAX_INLINE_WAIT = cap = 0.4
    shop = control.account("shopify", "pace-shop")
    store = store_connect(
        account=account, channel="shopify", name="Pace", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    created = control.create_orders("shopify", "pace-shop", count=300, seed=5)
    rate, size = 500, 1000
    control.options(
        "shopify",
        "pace-shop",
        graphql_bucket_size=size,
        graphql_restore_rate=rate,
        cost_bucket={"available": size, "at": time.time()},
    )
    made: list[ChannelProvider] = []

    def keep(store: Store) -> ChannelProvider:
        made.append(store_provider(store))
        return made[-1]

    # when the pull runs
    result = store_pull(store_id=store.pk, provider_of=keep)

    # then it read every order in one run, never throttled, every wait slept (none a countdown)
    assert (result.error, result.stopped, result.orders, result.created) == ("", False, 300, 300)
    assert Order.objects.filter(store=store).count() == len(created)
    (provider,) = made
    assert isinstance(provider, ShopifyProvider)
    client = provider.client
    ledger, attempts = client.ledger, client.attempts
    assert ledger.throttled == 0
    assert all(attempt.status == 200 and not attempt.error for attempt in attempts)
    assert len(attempts) == ledger.calls == len(ledger.spends) == result.pages
    assert ledger.waits
    assert max(ledger.waits) <= cap
    # every page's requested cost fitted the bucket, and after the first one (1 order: 3/4 of
    # Standard's 0.2 s is 15 points) none was expected to spend more than the 150 points
    assert all(spend.requested <= size for spend in ledger.spends)
    assert ledger.spends[0].requested == 2 + 39
    assert all(spend.actual <= rate * cap for spend in ledger.spends)
    # and it waited no longer than the bucket needed: after a paced wait the points left are what
    # the page's requested cost left, plus what restored while the calls were in flight and while
    # a sleep overran what it asked for (the client's own records), no more
    pages = zip(ledger.spends[1:], attempts[1:], attempts[:-1], strict=True)
    for page, (spend, attempt, previous) in enumerate(pages, start=2):
        if spend.waited:
            restored = rate * (previous.duration + attempt.duration + spend.slept - spend.waited)
            assert spend.available <= spend.requested - spend.actual + restored + 1, f"page {page}"
    # in all: the waits restored no more than the points spent beyond the full bucket at the start
    # and what the last pages left in it
    waited_points = sum(ledger.waits) * rate
    assert waited_points <= ledger.points - size + max(spend.requested for spend in ledger.spends)
