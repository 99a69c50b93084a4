"""The subset of Shopify's GraphQL Admin schema the order center and the official client use.

Real type, field, argument and enum names (checked against shopify.dev's reference for the
version in ``settings.SHOPIFY_API_VERSION``; see docs/channels.md): ``ID`` values are gids
(``gid://shopify/Order/123``), money is a ``MoneyBag`` of ``MoneyV2`` (``amount`` a
``Decimal`` string), times are ``DateTime`` strings in UTC. Anything outside the subset is a
validation error in Shopify's shape, as an unknown field is at Shopify.
"""

from __future__ import annotations

from functools import cache

from graphql import GraphQLSchema, build_schema

CURRENCIES = (
    "AED AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR JPY KRW MXN MYR NOK NZD PHP PLN "
    "RON SAR SEK SGD THB TRY TWD USD VND ZAR"
)

SDL = f"""
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64

interface Node {{ id: ID! }}

enum CurrencyCode {{ {CURRENCIES} }}
enum OrderSortKeys {{ CREATED_AT ID PROCESSED_AT UPDATED_AT }}
enum OrderCancelReason {{ CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }}
enum OrderDisplayFinancialStatus {{
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}}
enum OrderDisplayFulfillmentStatus {{
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT RESTOCKED SCHEDULED
  UNFULFILLED REQUEST_DECLINED
}}
enum FulfillmentOrderStatus {{ CANCELLED CLOSED INCOMPLETE IN_PROGRESS ON_HOLD OPEN SCHEDULED }}
enum FulfillmentStatus {{ CANCELLED ERROR FAILURE SUCCESS OPEN PENDING }}
enum WebhookSubscriptionFormat {{ JSON XML }}
enum WebhookSubscriptionTopic {{
  APP_UNINSTALLED FULFILLMENTS_CREATE FULFILLMENTS_UPDATE ORDERS_CANCELLED ORDERS_CREATE
  ORDERS_FULFILLED ORDERS_PAID ORDERS_PARTIALLY_FULFILLED ORDERS_UPDATED REFUNDS_CREATE
}}

type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

type MoneyV2 {{ amount: Decimal! currencyCode: CurrencyCode! }}
type MoneyBag {{ shopMoney: MoneyV2! presentmentMoney: MoneyV2! }}
type Attribute {{ key: String! value: String }}

type MailingAddress implements Node {{
  id: ID!
  name: String
  firstName: String
  lastName: String
  company: String
  address1: String
  address2: String
  city: String
  province: String
  provinceCode: String
  zip: String
  country: String
  countryCodeV2: String
  phone: String
}}

type Customer implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  phone: String
}}

type ProductVariant implements Node {{ id: ID! legacyResourceId: UnsignedInt64! title: String! sku: String }}
type Product implements Node {{ id: ID! legacyResourceId: UnsignedInt64! title: String! }}

type LineItem implements Node {{
  id: ID!
  name: String!
  title: String!
  variantTitle: String
  sku: String
  quantity: Int!
  currentQuantity: Int!
  unfulfilledQuantity: Int!
  product: Product
  variant: ProductVariant
  originalUnitPriceSet: MoneyBag!
  discountedUnitPriceSet: MoneyBag!
}}
type LineItemEdge {{ cursor: String! node: LineItem! }}
type LineItemConnection {{ edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }}

type FulfillmentTrackingInfo {{ company: String number: String url: URL }}
type Fulfillment implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: FulfillmentStatus!
  createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  fulfillmentLineItems(first: Int, after: String): FulfillmentLineItemConnection!
}}
type FulfillmentLineItem implements Node {{ id: ID! quantity: Int lineItem: LineItem! }}
type FulfillmentLineItemEdge {{ cursor: String! node: FulfillmentLineItem! }}
type FulfillmentLineItemConnection {{
  edges: [FulfillmentLineItemEdge!]! nodes: [FulfillmentLineItem!]! pageInfo: PageInfo!
}}

type FulfillmentOrderLineItem implements Node {{
  id: ID!
  totalQuantity: Int!
  remainingQuantity: Int!
  sku: String
  lineItem: LineItem!
}}
type FulfillmentOrderLineItemEdge {{ cursor: String! node: FulfillmentOrderLineItem! }}
type FulfillmentOrderLineItemConnection {{
  edges: [FulfillmentOrderLineItemEdge!]! nodes: [FulfillmentOrderLineItem!]! pageInfo: PageInfo!
}}
type FulfillmentOrder implements Node {{
  id: ID!
  status: FulfillmentOrderStatus!
  createdAt: DateTime!
  updatedAt: DateTime!
  orderId: ID!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}}
type FulfillmentOrderEdge {{ cursor: String! node: FulfillmentOrder! }}
type FulfillmentOrderConnection {{
  edges: [FulfillmentOrderEdge!]! nodes: [FulfillmentOrder!]! pageInfo: PageInfo!
}}

type RefundLineItem {{
  id: ID!
  quantity: Int!
  restocked: Boolean!
  lineItem: LineItem!
  priceSet: MoneyBag!
  subtotalSet: MoneyBag!
  totalTaxSet: MoneyBag!
}}
type RefundLineItemEdge {{ cursor: String! node: RefundLineItem! }}
type RefundLineItemConnection {{ edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo! }}
enum OrderTransactionKind {{ AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }}
enum OrderTransactionStatus {{ AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }}
type OrderTransaction implements Node {{
  id: ID!
  kind: OrderTransactionKind!
  status: OrderTransactionStatus!
  gateway: String
  createdAt: DateTime!
  amountSet: MoneyBag!
}}
type OrderTransactionEdge {{ cursor: String! node: OrderTransaction! }}
type OrderTransactionConnection {{
  edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]! pageInfo: PageInfo!
}}
type Refund implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  createdAt: DateTime
  updatedAt: DateTime!
  note: String
  totalRefundedSet: MoneyBag!
  refundLineItems(first: Int, after: String): RefundLineItemConnection!
  transactions(first: Int, after: String): OrderTransactionConnection!
}}

type Order implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closed: Boolean!
  closedAt: DateTime
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode!
  email: String
  phone: String
  note: String
  tags: [String!]!
  sourceName: String
  customAttributes: [Attribute!]!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  customer: Customer
  shippingAddress: MailingAddress
  billingAddress: MailingAddress
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
  refunds(first: Int): [Refund!]!
}}
type OrderEdge {{ cursor: String! node: Order! }}
type OrderConnection {{ edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }}

type Shop {{
  id: ID!
  name: String!
  email: String!
  myshopifyDomain: String!
  currencyCode: CurrencyCode!
  ianaTimezone: String!
}}

type WebhookSubscription implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  uri: String!
  format: WebhookSubscriptionFormat!
  includeFields: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}}
type WebhookSubscriptionEdge {{ cursor: String! node: WebhookSubscription! }}
type WebhookSubscriptionConnection {{
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}}

type UserError {{ field: [String!] message: String! }}

input WebhookSubscriptionInput {{
  uri: String
  format: WebhookSubscriptionFormat
  includeFields: [String!]
}}
type WebhookSubscriptionCreatePayload {{ webhookSubscription: WebhookSubscription userErrors: [UserError!]! }}
type WebhookSubscriptionDeletePayload {{ deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }}

input FulfillmentOrderLineItemInput {{ id: ID! quantity: Int! }}
input FulfillmentOrderLineItemsInput {{
  fulfillmentOrderId: ID!
  fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
}}
input FulfillmentTrackingInput {{ company: String number: String url: URL }}
input FulfillmentInput {{
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  notifyCustomer: Boolean = false
  trackingInfo: FulfillmentTrackingInput
}}
type FulfillmentCreatePayload {{ fulfillment: Fulfillment userErrors: [UserError!]! }}

type QueryRoot {{
  shop: Shop!
  order(id: ID!): Order
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  orders(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: OrderSortKeys = PROCESSED_AT, query: String
  ): OrderConnection!
  fulfillmentOrder(id: ID!): FulfillmentOrder
  webhookSubscriptions(
    first: Int, after: String, topics: [WebhookSubscriptionTopic!], uri: String
  ): WebhookSubscriptionConnection!
}}

type Mutation {{
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
}}

schema {{ query: QueryRoot mutation: Mutation }}
"""


@cache
def admin_schema() -> GraphQLSchema:
    """Built once per process (building parses the SDL)."""
    return build_schema(SDL)
