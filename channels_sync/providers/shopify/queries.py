"""The GraphQL documents the order center sends to Shopify's Admin API, and what each costs.

Plain strings (the official client runs them unchanged: sandbox/tests/test_shopify_client.py).
Costs follow Shopify's rule (docs/channels.md): an object 1, a scalar 0, a connection 2 plus
``first`` × its node's cost, a mutation 10. ``ORDER_COST`` is the requested cost of one order of
``ORDER_FIELDS``: order 1, customer 1, shippingAddress 1, billingAddress 1, totalPriceSet 2
(bag + shopMoney), customAttributes 1, lineItems 2 + LINES_PER_ORDER × 5 (line, product,
variant, price bag, shopMoney) = 39 with 6 lines. A page of orders costs 2 + size × ORDER_COST,
so at most 25 orders fit under the single-query cap of 1000; an order with more lines than
LINES_PER_ORDER (rare: most have one to three) gets the rest with ``ORDER_LINES``
(2 + 150 × 5 + 1 = 753). Six lines, not ten, since the lines carry their product and variant
(two objects each): an order still costs 39, so the pages and the pacing stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUERY_COST = 1000
LINES_PER_ORDER = 6
LINE_PAGE = 150
ORDER_COST = 1 + 1 + 1 + 1 + 2 + 1 + 2 + LINES_PER_ORDER * 5
MAX_PAGE = 250


def orders_per_query(wanted: int, *, overhead: int = 2) -> int:
    """The most orders one query may ask for (``wanted`` at most) with its requested cost under the cap."""
    return max(1, min(wanted, MAX_PAGE, (MAX_QUERY_COST - overhead) // ORDER_COST))


LINE_FIELDS = """
fragment LineFields on LineItem {
  id
  title
  variantTitle
  sku
  quantity
  product { id }
  variant { id }
  originalUnitPriceSet { shopMoney { amount currencyCode } }
}
"""

ORDER_FIELDS = (
    """
fragment OrderFields on Order {
  id
  name
  createdAt
  updatedAt
  cancelledAt
  displayFinancialStatus
  currencyCode
  email
  sourceName
  tags
  totalPriceSet { shopMoney { amount currencyCode } }
  customer { firstName lastName }
  phone
  shippingAddress {
    name firstName lastName phone address1 address2 city province provinceCode zip countryCodeV2
  }
  billingAddress { name firstName lastName phone }
  customAttributes { key value }
  lineItems(first: LINES) { nodes { ...LineFields } pageInfo { hasNextPage endCursor } }
}
""".replace("LINES", str(LINES_PER_ORDER))
    + LINE_FIELDS
)

SHOP = """
query Shop {
  shop { myshopifyDomain name currencyCode ianaTimezone }
}
"""

ORDERS_PAGE = (
    """
query OrdersPage($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes { ...OrderFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + ORDER_FIELDS
)

ORDERS_BY_ID = (
    """
query OrdersById($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Order { ...OrderFields } }
}
"""
    + ORDER_FIELDS
)

ORDER_LINES = (
    """
query OrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: LINES, after: $after) { nodes { ...LineFields } pageInfo { hasNextPage endCursor } }
  }
}
""".replace("LINES", str(LINE_PAGE))
    + LINE_FIELDS
)

# The refunds of orders Shopify shows refunded (``displayFinancialStatus``), read after the page
# that brought them: the orders page keeps its cost. ``Order.refunds(first:)`` is a list, not a
# connection (docs/channels.md): no cursor, priced as its items. The sizes are variables
# (``RefundSizes``; the defaults below). Requested cost of one refund of ``REFUND_FIELDS``: refund 1
# + totalRefundedSet 2 (bag + shopMoney) + refundLineItems 2 + lines × (item 1 + lineItem 1 +
# subtotalSet 2) + transactions 2 + REFUND_TRANSACTIONS × 1 = 1 + 2 + 2 + 5 × 4 + 2 + 5 = 32; an
# order costs 1 + 3 × 32 = 97. A query asks for at most REFUND_QUERY_COST (three orders, 291): a
# small query the bucket serves at once, not one that waits for a full bucket.
# Follow-ups, only when needed: an order that came back with ``per_order`` refunds (it may have
# more) is read again alone with ``alone`` (1 + 30 × 32 = 961, under the cap of 1000); a refund
# whose lines have a next page gets the rest by ``REFUND_LINES_PAGE`` (node 1 + refundLineItems 2
# + 200 × 4 = 803), page by page.
REFUNDED_STATUSES = frozenset({"PARTIALLY_REFUNDED", "REFUNDED"})
REFUND_TRANSACTIONS = 5
REFUND_QUERY_COST = 300


@dataclass(frozen=True)
class RefundSizes:
    """How many refunds and refund lines each refund query asks for, and what that costs."""

    per_order: int = 3  # an order's refunds in the batched read
    alone: int = 30  # an order's refunds when it is read again alone
    lines: int = 5  # a refund's lines in those reads
    line_page: int = 200  # a refund's further lines, per follow-up page

    def refund_cost(self) -> int:
        return 1 + 2 + 2 + self.lines * 4 + 2 + REFUND_TRANSACTIONS

    def order_cost(self) -> int:
        return 1 + self.per_order * self.refund_cost()

    def alone_cost(self) -> int:
        return 1 + self.alone * self.refund_cost()

    def line_page_cost(self) -> int:
        return 1 + 2 + self.line_page * 4

    def orders_per_query(self) -> int:
        return max(1, REFUND_QUERY_COST // self.order_cost())


REFUND_SIZES = RefundSizes()

REFUND_LINE_FIELDS = """
fragment RefundLineFields on RefundLineItem {
  quantity
  lineItem { id }
  subtotalSet { shopMoney { amount currencyCode } }
}
"""

REFUND_FIELDS = (
    """
fragment RefundFields on Refund {
  id
  createdAt
  note
  totalRefundedSet { shopMoney { amount currencyCode } }
  refundLineItems(first: $lines) { nodes { ...RefundLineFields } pageInfo { hasNextPage endCursor } }
  transactions(first: TRANSACTIONS) { nodes { kind status } pageInfo { hasNextPage } }
}
""".replace("TRANSACTIONS", str(REFUND_TRANSACTIONS))
    + REFUND_LINE_FIELDS
)

ORDER_REFUNDS = (
    """
query OrderRefunds($ids: [ID!]!, $refunds: Int!, $lines: Int!) {
  nodes(ids: $ids) { ... on Order { id refunds(first: $refunds) { ...RefundFields } } }
}
"""
    + REFUND_FIELDS
)

ORDER_REFUNDS_ALONE = (
    """
query OrderRefundsAlone($id: ID!, $refunds: Int!, $lines: Int!) {
  order(id: $id) { id refunds(first: $refunds) { ...RefundFields } }
}
"""
    + REFUND_FIELDS
)

REFUND_LINES_PAGE = (
    """
query RefundLines($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    ... on Refund {
      refundLineItems(first: $first, after: $after) { nodes { ...RefundLineFields } pageInfo { hasNextPage endCursor } }
    }
  }
}
"""
    + REFUND_LINE_FIELDS
)

# What a fulfillment push reads first: the order's fulfillment orders (open ones are fulfilled,
# their lines' remaining quantities say what is left) and its fulfillments with their tracking and
# lines (what a tracking number fulfilled already, line by line, is not fulfilled again). Requested
# cost: order 1 + fulfillmentOrders 2 + 5 × (1 + lineItems 2 + 50 × 2) + fulfillments 10 × (1 +
# trackingInfo 5 + fulfillmentLineItems 2 + 20 × 2) = 998, under the cap of 1000. A page that does
# not hold everything (hasNextPage, or 10 fulfillments back) is refused by the push, never guessed.
FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    displayFulfillmentStatus
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        lineItems(first: 50) {
          nodes { id totalQuantity remainingQuantity lineItem { id sku } }
          pageInfo { hasNextPage }
        }
      }
      pageInfo { hasNextPage }
    }
    fulfillments(first: 10) {
      id name status trackingInfo(first: 5) { company number url }
      fulfillmentLineItems(first: 20) { nodes { quantity lineItem { id } } pageInfo { hasNextPage } }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id name status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""
