"""The root fields: what each query and mutation reads or changes, on the same rows as REST.

``root_value(account)`` is the operation's root object: a dict whose values graphql-core's
default resolver calls with the field's arguments. Listing ``orders`` pages by ``sortKey`` with
opaque cursors (base64 JSON of the sort, the search and the last row, as the REST ``page_info``
is) and understands the search terms the order center and the official client send
(``updated_at:>='…'`` and the other comparators on updated_at / created_at / processed_at,
``status:any|open|closed|cancelled``); any other term is ignored with a warning in
``extensions.search``, as Shopify does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import BigIntegerField, QuerySet
from django.db.models.functions import Cast
from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers.shopify import hooks
from sandbox.providers.shopify.graphql import objects
from sandbox.providers.shopify.listing import cursor_decode, cursor_encode, rows_after
from sandbox.providers.shopify.orders import ShopifyError, fulfillment_create

SORT_FIELDS = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "PROCESSED_AT": "created_at", "ID": "num_id"}
DATE_TERMS = {"updated_at": "updated_at", "created_at": "created_at", "processed_at": "created_at"}
COMPARATORS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "": "exact"}
STATUS_TERMS = {"open": ["open"], "closed": ["closed", "cancelled"], "cancelled": ["cancelled"]}
_TERM = re.compile(r"^(?P<field>[a-z_]+):(?P<op>>=|<=|>|<)?(?P<value>.+)$")
USER_ERROR_FIELDS = {"address": ["webhookSubscription", "uri"], "format": ["webhookSubscription", "format"]}


def _search(query: str | None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Django filters for a search string, and the warnings for the terms not understood."""
    filters: dict[str, Any] = {}
    warnings: list[dict[str, str]] = []
    try:
        terms = shlex.split(query or "")
    except ValueError:
        return filters, [{"field": "query", "message": "Unbalanced quotes in the search query."}]
    for term in terms:
        match = _TERM.match(term)
        field = match.group("field") if match else term
        if match and field in DATE_TERMS:
            try:
                moment = datetime.fromisoformat(match.group("value").replace("Z", "+00:00"))
            except ValueError:
                warnings.append({"field": field, "message": "Invalid date value."})
                continue
            if moment.tzinfo is None:
                warnings.append({"field": field, "message": "Date values need a UTC offset in this sandbox."})
                continue
            filters[f"{DATE_TERMS[field]}__{COMPARATORS[match.group('op') or '']}"] = moment
        elif match and field == "status" and match.group("value") in {*STATUS_TERMS, "any"}:
            if match.group("value") != "any":
                filters["status__in"] = STATUS_TERMS[match.group("value")]
        else:
            warnings.append({"field": field, "message": "Invalid search field for this query."})
    return filters, warnings


def _orders(account: SimAccount) -> QuerySet[ChannelOrder]:
    return (
        ChannelOrder.objects.filter(account=account)
        .annotate(num_id=Cast("external_id", BigIntegerField()))
        .prefetch_related("fulfillments")
    )


def _orders_page(account: SimAccount, search: list[dict[str, Any]]) -> Callable[..., Any]:
    def resolve(
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sortKey: str = "PROCESSED_AT",  # noqa: N803 (GraphQL's argument name)
        query: str | None = None,
    ) -> Any:
        size = objects.page_size(first, last)
        field = SORT_FIELDS[sortKey]
        filters, warnings = _search(query)
        if warnings:
            search.append({"path": ["orders"], "query": query or "", "warnings": warnings})
        rows = _orders(account).filter(**filters)
        if after is not None:
            try:
                cursor = cursor_decode(after)
            except ShopifyError:
                raise GraphQLError("Invalid cursor.") from None
            if cursor.get("filters") != {"sort": sortKey, "reverse": reverse, "query": query or ""}:
                raise GraphQLError("Invalid cursor for current pagination sort.")
            rows = rows.filter(rows_after(field, reverse, cursor["last_value"], cursor["last_id"]))
        order_by = [f"-{field}", "-num_id"] if reverse else [field, "num_id"]
        chosen = list(rows.order_by(*order_by)[: size + 1])
        has_next, chosen = len(chosen) > size, chosen[:size]
        key = {"sort": sortKey, "reverse": reverse, "query": query or ""}
        cursors = [
            cursor_encode(
                {
                    "direction": "next",
                    "last_id": row.num_id,  # type: ignore[attr-defined]
                    "last_value": value.isoformat() if isinstance(value := getattr(row, field), datetime) else value,
                    "filters": key,
                }
            )
            for row in chosen
        ]
        nodes = [objects.order_node(row, account) for row in chosen]
        return objects.connection(nodes, cursors, has_next=has_next, has_previous=after is not None)

    return resolve


def _order_by_gid(account: SimAccount, value: object) -> ChannelOrder | None:
    number = objects.gid_number(value, "Order")
    return None if number is None else _orders(account).filter(external_id=str(number)).first()


def _node(account: SimAccount, value: object) -> dict[str, Any] | None:
    """Any object we simulate, by gid (an unknown or foreign gid: null, as Shopify answers)."""
    order = _order_by_gid(account, value)
    if order is not None:
        return objects.order_node(order, account)
    fo_number = objects.gid_number(value, "FulfillmentOrder")
    if fo_number is not None:
        order = _orders(account).filter(external_id=str(fo_number - objects.render.FO_ID_OFFSET)).first()
        return None if order is None else objects.fulfillment_order_node(order, account)
    if objects.gid_number(value, "Refund") is not None:
        return objects.refund_by_gid(account, value)
    hook_number = objects.gid_number(value, "WebhookSubscription")
    if hook_number is not None:
        row = account.webhook_subscriptions.filter(pk=hook_number - hooks.WEBHOOK_ID_OFFSET).first()
        return None if row is None else objects.webhook_node(row)
    return None


def _webhooks(account: SimAccount) -> Callable[..., Any]:
    def resolve(
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        topics: list[str] | None = None,
        uri: str | None = None,
    ) -> Any:
        rows = account.webhook_subscriptions.order_by("id")
        if topics:
            rows = rows.filter(topic__in=[objects.webhook_topic_rest(topic) for topic in topics])
        if uri is not None:
            rows = rows.filter(address=uri)
        return objects.list_connection([objects.webhook_node(row) for row in rows])(info, first=first, after=after)

    return resolve


def _user_errors(error: ShopifyError, field: list[str]) -> list[dict[str, Any]]:
    """A REST-style refusal (``{"address": ["…"]}``, ``["…"]`` or "Not Found") as userErrors."""
    found = error.errors
    if isinstance(found, dict):
        return [
            {"field": USER_ERROR_FIELDS.get(key, [key]), "message": f"{key.capitalize()} {message}"}
            for key, messages in found.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]
    if isinstance(found, list):
        return [{"field": field, "message": str(message)} for message in found]
    return [{"field": field, "message": "Fulfillment order does not exist." if error.status == 404 else str(found)}]


def _webhook_create(account: SimAccount) -> Callable[..., Any]:
    def resolve(info: GraphQLResolveInfo, topic: str, webhookSubscription: dict[str, Any]) -> Any:  # noqa: N803
        spec = webhookSubscription
        try:
            row = hooks.subscription_create(
                account=account,
                topic=objects.webhook_topic_rest(topic),
                address=spec.get("uri"),
                data_format=str(spec.get("format") or "JSON").lower(),
            )
        except ShopifyError as error:
            return {"webhookSubscription": None, "userErrors": _user_errors(error, ["webhookSubscription"])}
        return {"webhookSubscription": objects.webhook_node(row), "userErrors": []}

    return resolve


def _webhook_delete(account: SimAccount) -> Callable[..., Any]:
    def resolve(info: GraphQLResolveInfo, id: str) -> Any:  # noqa: A002 (GraphQL's argument name)
        number = objects.gid_number(id, "WebhookSubscription")
        row = (
            None
            if number is None
            else account.webhook_subscriptions.filter(pk=number - hooks.WEBHOOK_ID_OFFSET).first()
        )
        if row is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        row.delete()
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    return resolve


def _rest_fulfillment(fulfillment: dict[str, Any], message: str | None) -> dict[str, Any]:
    """FulfillmentInput in the REST body's terms (gids to numbers; a bad gid becomes 0, unknown)."""
    groups = []
    for group in fulfillment.get("lineItemsByFulfillmentOrder") or []:
        items = group.get("fulfillmentOrderLineItems")
        groups.append(
            {
                "fulfillment_order_id": objects.gid_number(group.get("fulfillmentOrderId"), "FulfillmentOrder") or 0,
                "fulfillment_order_line_items": None
                if items is None
                else [
                    {
                        "id": objects.gid_number(item["id"], "FulfillmentOrderLineItem") or 0,
                        "quantity": item["quantity"],
                    }
                    for item in items
                ],
            }
        )
    tracking = fulfillment.get("trackingInfo") or {}
    return {
        "line_items_by_fulfillment_order": groups,
        "tracking_info": {key: tracking.get(key) for key in ("number", "company", "url")},
        "notify_customer": bool(fulfillment.get("notifyCustomer")),
        "message": message,
    }


def _fulfillment_create(account: SimAccount) -> Callable[..., Any]:
    def resolve(info: GraphQLResolveInfo, fulfillment: dict[str, Any], message: str | None = None) -> Any:
        try:
            row = fulfillment_create(account=account, data=_rest_fulfillment(fulfillment, message))
        except ShopifyError as error:
            return {"fulfillment": None, "userErrors": _user_errors(error, ["fulfillment"])}
        return {"fulfillment": objects.fulfillment_node(row), "userErrors": []}

    return resolve


def root_value(account: SimAccount, search: list[dict[str, Any]]) -> dict[str, Any]:
    """The root object of one operation (queries and mutations share it; the schema picks)."""
    return {
        "shop": lambda info: objects.shop_node(account),
        "order": lambda info, id: (order := _order_by_gid(account, id)) and objects.order_node(order, account),  # noqa: A006
        "node": lambda info, id: _node(account, id),  # noqa: A006
        "nodes": lambda info, ids: [_node(account, value) for value in ids],
        "fulfillmentOrder": lambda info, id: _node(account, id)  # noqa: A006
        if objects.gid_number(id, "FulfillmentOrder") is not None
        else None,
        "orders": _orders_page(account, search),
        "webhookSubscriptions": _webhooks(account),
        "webhookSubscriptionCreate": _webhook_create(account),
        "webhookSubscriptionDelete": _webhook_delete(account),
        "fulfillmentCreate": _fulfillment_create(account),
    }
