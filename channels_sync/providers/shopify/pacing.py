"""Shopify's GraphQL cost bucket as the client sees it, and how large an orders page may be.

Pure: no HTTP, no clock of its own (the client passes ``now``). docs/channels.md, "Shopify: API
version and the GraphQL Admin API", has the cost rule and why pages are sized this way.

Why page sizes: a page of 25 orders is what the single-query cap allows by *requested* cost
(977 points), but it *spends* about 375 (orders have fewer lines than the 10 asked for). The
client waits before a query until the projected points cover its requested cost, so in the steady
state the wait before a page is that page's actual cost ÷ the restore rate: 3.75 s at Standard's
100 points/s, longer than ``OUTBOUND_MAX_INLINE_WAIT``, and a wait that long is not slept but
becomes the task's countdown (the pull stops and is queued again). ``orders_page_size`` sizes each
page so that the wait it leads to fits inline and the pull still spends points at the restore rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels_sync.providers.shopify import queries

# The lowest documented restore rate (Standard) stands in for a bucket not seen yet.
ASSUMED_RESTORE_RATE = 100.0
# A page's expected actual cost is at most this share of what the bucket restores in the inline
# cap: a page that costs a third more than expected still leads to a wait that is slept.
WAIT_SHARE = 0.75
PAGE_OVERHEAD = 2  # the orders connection itself (its ``pageInfo`` is free)
# The requested cost per order counts as this many orders already read at it: one cheap order on
# a pull's small first page does not make the second page large.
PRIOR_ORDERS = 3


def as_number(value: object) -> float | None:
    """A JSON number as a float; None for anything else (booleans included)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class CostBucket:
    """The shop's cost bucket as the last answer described it."""

    maximum: float = 0.0
    available: float = 0.0
    restore_rate: float = 0.0
    seen_at: float = 0.0  # clock() when it was read

    @property
    def known(self) -> bool:
        return self.maximum > 0 and self.restore_rate > 0

    def observe(self, status: object, now: float) -> None:
        if not isinstance(status, dict):
            return
        maximum, available, rate = (
            as_number(status.get(key)) for key in ("maximumAvailable", "currentlyAvailable", "restoreRate")
        )
        if maximum is None or available is None or rate is None or maximum <= 0 or rate < 0:
            return  # a hostile or missing throttleStatus: keep what we knew
        self.maximum, self.available, self.restore_rate, self.seen_at = maximum, min(available, maximum), rate, now

    def projected(self, now: float) -> float:
        """Points available now, by the last answer and the restore since."""
        return min(self.maximum, self.available + max(0.0, now - self.seen_at) * self.restore_rate)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points (at most the bucket's size) are projected to be available."""
        if not self.known:
            return 0.0
        short = min(cost, self.maximum) - self.projected(now)
        return max(0.0, short / self.restore_rate)


@dataclass(frozen=True)
class Spend:
    """One answered query: its requested and actual cost, the points left after it, the paced wait
    before it (asked for, and as long as it took: a loaded machine sleeps longer)."""

    requested: float
    actual: float
    available: float
    waited: float
    slept: float = 0.0


@dataclass
class CostLedger:
    """What a client spent, for the pacing tests and ``bench_ingest``."""

    calls: int = 0
    points: int = 0  # actualQueryCost summed
    throttled: int = 0  # THROTTLED answers
    waits: list[float] = field(default_factory=list)  # seconds waited before calls, to pace
    spends: list[Spend] = field(default_factory=list)  # the answers that carried a cost
    page_sizes: list[int] = field(default_factory=list)  # orders asked for, page by page


@dataclass
class OrderCosts:
    """What one order of ``queries.ORDER_FIELDS`` costs, learned from the pages read so far.

    Both start at the requested cost by Shopify's rule (``queries.ORDER_COST``): before a page was
    read, an order is assumed to spend all it asks for (the conservative start). After that the
    requested cost per order is the last page's by Shopify's own count when that is higher than ours
    (never lower: a page sized by a count too low would be refused as above the cap), and the
    actual cost per order the mean over the orders read, with the start counted as
    ``PRIOR_ORDERS`` orders of its own (it fades as orders are read).
    """

    requested: float = float(queries.ORDER_COST)
    actual: float = float(queries.ORDER_COST)
    orders_seen: int = 0
    points_seen: float = 0.0

    def observe(self, *, first: int, orders: int, requested: float | None, actual: float | None) -> None:
        if requested is not None and first > 0 and requested > PAGE_OVERHEAD:
            self.requested = max(float(queries.ORDER_COST), (requested - PAGE_OVERHEAD) / first)
        if actual is not None and orders > 0 and actual >= 0:
            self.orders_seen += orders
            self.points_seen += max(0.0, actual - PAGE_OVERHEAD)
            prior = PRIOR_ORDERS * queries.ORDER_COST
            self.actual = max(1.0, (self.points_seen + prior) / (self.orders_seen + PRIOR_ORDERS))

    def page_cost(self, first: int) -> float:
        """The requested cost of a page of ``first`` orders."""
        return PAGE_OVERHEAD + first * self.requested


def orders_page_size(*, wanted: int, bucket: CostBucket, costs: OrderCosts, inline_wait: float, now: float) -> int:
    """How many orders the next page asks for: the most (up to ``wanted``, 1 to 250) such that

    (a) its requested cost stays under the single-query cap and the bucket's size;
    (b) its expected actual cost is at most ``WAIT_SHARE`` of what the bucket restores in
        ``inline_wait`` seconds: in the steady state the wait before the next page is this page's
        actual cost ÷ the restore rate, so it is slept, not turned into a countdown;
    (c) once the bucket is known, its requested cost is covered by the points projected now plus
        that same share of the inline wait (pages growing as the cost is learned, or a bucket
        another worker emptied, never make the wait before *this* page longer than that).

    A bucket not seen yet is taken as Standard's (``ASSUMED_RESTORE_RATE``), so the first page of a
    pull is small; the pages after it follow what the shop's answers say.
    """
    rate = bucket.restore_rate if bucket.known else ASSUMED_RESTORE_RATE
    ceiling = min(queries.MAX_QUERY_COST, bucket.maximum) if bucket.known else queries.MAX_QUERY_COST
    budget = rate * max(0.0, inline_wait) * WAIT_SHARE
    limits = [
        wanted,
        queries.MAX_PAGE,
        int((ceiling - PAGE_OVERHEAD) // costs.requested),
        int((budget - PAGE_OVERHEAD) // costs.actual),
    ]
    if bucket.known:
        limits.append(int((bucket.projected(now) + budget - PAGE_OVERHEAD) // costs.requested))
    return max(1, min(limits))
