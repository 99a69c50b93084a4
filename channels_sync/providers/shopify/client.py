"""Shopify's GraphQL Admin API over HTTP: the token header, one POST per query, the cost bucket.

Every call is ``POST <shop>/admin/api/<SHOPIFY_API_VERSION>/graphql.json`` with
``X-Shopify-Access-Token`` (``attempt_token``: an app-connected store's expiring token is
refreshed once after a 401). Queries are reads (``idempotent=True``); mutations are not.

Pacing by cost (docs/channels.md; the arithmetic in ``pacing``): every answer's
``extensions.cost.throttleStatus`` says how many points are available, the bucket's size and its
restore rate. Before a call the client projects what is available now and, when that does not
cover the call's requested cost (what the same query with the same sizes cost last time, the
caller's count by Shopify's rule, or else the single-query cap), waits just long enough
(``pause``: a wait above the inline cap becomes the task's countdown). A ``THROTTLED`` answer
anyway (another worker of the same app and shop spent the points) is retried after the wait its
own throttleStatus implies; it was refused before doing anything, so even a mutation may be sent
again.

Page sizes: an orders page asks for fewer orders than the cap allows when the shop restores slowly.
In the steady state the wait before a page is the previous page's *actual* cost ÷ the restore rate,
so each page is sized (``pacing.orders_page_size``) from the actual cost per order learned from the
pages so far (starting at the requested 39) to spend at most 3/4 of what the bucket restores within
``OUTBOUND_MAX_INLINE_WAIT``: at Standard's 100 points/s about 10 orders a page and a 1.5 s wait,
slept, so the pull keeps spending at the restore rate instead of stopping for a countdown per page.

Errors: top-level ``errors`` and ``userErrors`` become short, sanitised ``ProviderError``s (the
answer's detail goes to the attempt record); ``ACCESS_DENIED`` is a ``CredentialsError`` (the
app lacks a scope); ``INTERNAL_SERVER_ERROR`` is retryable.

Writes: deleting a webhook subscription (one id) is repeatable; creating one is not (Shopify
takes no idempotency key): when its outcome is unknown the subscriptions are listed to see
whether it was made, and it is sent again only if not.
Host: ``https://<shop>.myshopify.com`` only (``integrations.hosts.SHOPIFY_SHOP``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from channels_sync.providers.base import Subscription
from channels_sync.providers.shopify import queries
from channels_sync.providers.shopify.pacing import (
    CostBucket,
    CostLedger,
    OrderCosts,
    Spend,
    as_number,
    orders_page_size,
)
from integrations.errors import OutcomeUnknown, ProviderError
from integrations.hosts import SHOPIFY_SHOP
from integrations.http import Failure, Headers, Params, ProviderHttpClient, detail_of, sanitize
from integrations.transport import Response

ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
# A refund's body names its order (``order_id``): processing reads that order, refunds included.
REFUND_TOPICS = ("refunds/create",)
APP_TOPICS = ("app/uninstalled",)
_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")
_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<number>[0-9]{1,20})$")
logger = logging.getLogger(__name__)


def topic_enum(topic: str) -> str:
    """orders/create → ORDERS_CREATE (GraphQL's WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").upper()


def topic_rest(topic: str) -> str:
    """ORDERS_PARTIALLY_FULFILLED → orders/partially_fulfilled: the names webhooks arrive with."""
    resource, _, event = topic.lower().partition("_")
    return f"{resource}/{event}"


def gid_number(value: object, kind: str) -> str | None:
    """The digits of ``gid://shopify/<kind>/<digits>``; None for anything else."""
    match = _GID.match(value) if isinstance(value, str) else None
    return match.group("number") if match and match.group("kind") == kind else None


def search_since(updated_since: datetime | None) -> str | None:
    """The orders search for "updated at or after" (a quoted UTC time, as the search syntax wants)."""
    if updated_since is None:
        return None
    moment = updated_since.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"updated_at:>='{moment}'"


def next_cursor(connection: dict[str, Any]) -> str | None:
    """The ``endCursor`` to ask for next, None on the last page (or a page info that cannot be read)."""
    info = connection.get("pageInfo")
    cursor = info.get("endCursor") if isinstance(info, dict) and info.get("hasNextPage") is True else None
    return cursor if isinstance(cursor, str) and cursor else None


def answer_object(value: object, what: str) -> dict[str, Any]:
    """A part of an answer that must be an object. Anything else (a list, a number, null) is an
    answer of the wrong shape: a ProviderError naming the part, never an AttributeError of ours."""
    if not isinstance(value, dict):
        raise ProviderError(_("Shopify sent %(what)s that is not an object") % {"what": what})
    return value


def answer_list(value: object, what: str) -> list[Any]:
    """A part of an answer that must be a list (``nodes``, ``userErrors``): see ``answer_object``."""
    if not isinstance(value, list):
        raise ProviderError(_("Shopify sent %(what)s that is not a list") % {"what": what})
    return value


def user_errors(payload: dict[str, Any], root: str) -> list[str]:
    """A mutation payload's ``userErrors`` as short, sanitised messages (absent: none)."""
    problems = payload.get("userErrors")
    items = answer_list(problems, f"{root}.userErrors") if problems is not None else []
    return [sanitize(str(item.get("message", "") if isinstance(item, dict) else item), 80) for item in items]


class ShopifyClient(ProviderHttpClient):
    label = "Shopify"
    provider = "shopify"
    host_rule = SHOPIFY_SHOP
    credentials_hint = "check it in your Shopify admin → Apps → Develop apps (Admin API access token)"

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str,
        api_version: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        refund_sizes: queries.RefundSizes = queries.REFUND_SIZES,
        **kwargs: Any,
    ) -> None:
        self.api_version = api_version or settings.SHOPIFY_API_VERSION
        super().__init__(f"{base_url.rstrip('/')}/admin/api/{self.api_version}", **kwargs)
        self.access_token = access_token
        self.clock = clock
        self.refund_sizes = refund_sizes  # how many refunds and lines each refund read asks for
        self.bucket = CostBucket()
        self.ledger = CostLedger()
        self.learned: dict[str, float] = {}  # requested cost of each query (with its sizes) last time
        self.order_costs = OrderCosts()  # what an order costs, learned page by page (page sizes)
        self._expected = 0.0
        self._waited = self._slept = 0.0  # this query's paced waits: asked for, and as long as they took
        self._answer: tuple[Response, Any] | None = None

    def credentials_message(self, response: Response) -> str:
        return f"Shopify refused the access token ({response.status_code}): {self.credentials_hint}"

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        return params, {"X-Shopify-Access-Token": self.attempt_token(self.access_token), "Accept": "application/json"}

    def before_attempt(self) -> None:
        began = self.clock()
        wait = self.bucket.wait_for(self._expected, began)
        if wait > 0:
            self.ledger.waits.append(wait)
            self.pause(wait, _("Shopify's API cost bucket is low"))
            self._waited += wait
            self._slept += self.clock() - began

    def failure_of(self, response: Response) -> Failure | None:
        if response.status_code != 200:
            return super().failure_of(response)
        try:
            body = response.json()
        except ValueError:
            return None  # json_of says what is wrong with it
        self._answer = (response, body)
        if not isinstance(body, dict):
            return None
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        if isinstance(cost, dict):
            self.bucket.observe(cost.get("throttleStatus"), self.clock())
        errors = body.get("errors")
        return self._errors_failure(errors, cost, response) if errors else None

    def _errors_failure(self, errors: object, cost: object, response: Response) -> Failure:
        items = [item for item in errors if isinstance(item, dict)] if isinstance(errors, list) else []
        codes = {
            str((item.get("extensions") or {}).get("code"))
            for item in items
            if isinstance(item.get("extensions"), dict)
        }
        said = sanitize(str(items[0].get("message", "")) if items else str(errors), 80)
        detail = detail_of(response)
        if "THROTTLED" in codes:
            self.ledger.throttled += 1
            requested = as_number(cost.get("requestedQueryCost")) if isinstance(cost, dict) else None
            wait = self.bucket.wait_for(requested or self._expected, self.clock())
            return Failure(
                _("Shopify's API cost bucket is empty (throttled)"),
                retryable=True,
                wait=wait,
                refused_unseen=True,
                detail=detail,
            )
        if "ACCESS_DENIED" in codes:
            message = _("Shopify refused access (%(said)s): the app lacks a permission it needs") % {"said": said}
            return Failure(message, credentials=True, detail=detail)
        if "INTERNAL_SERVER_ERROR" in codes:
            return Failure(_("Shopify had an internal error"), retryable=True, detail=detail)
        return Failure(_("Shopify refused the request: %(said)s") % {"said": said}, detail=detail)

    # The call ---------------------------------------------------------------------------------

    def query(self, document: str, variables: Mapping[str, Any] | None = None, *, idempotent: bool = True) -> Any:
        """The ``data`` of one operation, paced by its cost; errors raised as ProviderError."""
        return self._run(document, variables, idempotent=idempotent)[0]

    def _run(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = True,
        cost: float | None = None,
    ) -> tuple[dict[str, Any], Spend | None]:
        """The ``data`` of one operation and what it cost. Paced by its requested cost: as learned
        from the same query with the same sizes, else ``cost`` (the caller's count by Shopify's
        rule), else the single-query cap."""
        variables = dict(variables or {})
        match = _OPERATION.search(document)
        sizes = (variables.get("first"), len(variables["ids"]) if isinstance(variables.get("ids"), list) else None)
        key = f"{match.group(1) if match else document[:40]}:{sizes}"
        cap = min(queries.MAX_QUERY_COST, self.bucket.maximum or queries.MAX_QUERY_COST)
        self._expected = self.learned.get(key, cap if cost is None else cost)
        self._waited = self._slept = 0.0
        response = self.request(
            "POST", "graphql.json", json_body={"query": document, "variables": variables}, idempotent=idempotent
        )
        answer = self._answer
        body = answer[1] if answer is not None and answer[0] is response else self.json_of(response, shape="object")
        if not isinstance(body, dict):
            raise ProviderError(_("Shopify sent an answer that is not a JSON object"), status=response.status_code)
        spend = self._account(key, body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderError(_("Shopify sent an answer without data"), status=response.status_code)
        return data, spend

    def _account(self, key: str, body: dict[str, Any]) -> Spend | None:
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        self.ledger.calls += 1
        if not isinstance(cost, dict):
            return None
        requested, actual = as_number(cost.get("requestedQueryCost")), as_number(cost.get("actualQueryCost"))
        if requested is not None and requested >= 0:
            self.learned[key] = requested
        if requested is None or actual is None or requested < 0 or actual < 0:
            return None
        self.ledger.points += int(actual)
        available = self.bucket.available
        spend = Spend(requested=requested, actual=actual, available=available, waited=self._waited, slept=self._slept)
        self.ledger.spends.append(spend)
        return spend

    def mutate(self, document: str, variables: Mapping[str, Any], root: str) -> dict[str, Any]:
        """A mutation's payload; its ``userErrors`` raised as one ProviderError."""
        data = self.query(document, variables, idempotent=False)
        payload = answer_object(data.get(root), f"a {root} result")
        problems = user_errors(payload, root)
        if problems:
            raise ProviderError(_("Shopify refused it: %(said)s") % {"said": "; ".join(problems[:3])})
        return payload

    # Reads ------------------------------------------------------------------------------------

    def shop(self) -> Any:
        return self.query(queries.SHOP).get("shop")

    def order_pages(self, *, updated_since: datetime | None, first: int, after: str = "") -> Iterator[Any]:
        """The ``orders`` connection page by page, oldest update first (an order updated while we
        page moves behind us, so it is read again rather than skipped); from ``after`` when given.

        Each page asks for as many orders (``first`` at most) as ``pacing.orders_page_size`` allows
        by what the bucket and the pages so far say, so the wait before the next page is slept
        rather than turned into a countdown. A cursor is a position, not a page: the next page may
        be of another size, and a pull resumed from a saved cursor starts with a small one.
        """
        search = search_since(updated_since)
        cursor = after or None
        while True:
            size = orders_page_size(
                wanted=first,
                bucket=self.bucket,
                costs=self.order_costs,
                inline_wait=self.limits.max_inline_wait,
                now=self.clock(),
            )
            self.ledger.page_sizes.append(size)
            variables = {"first": size, "query": search, "after": cursor}
            data, spend = self._run(queries.ORDERS_PAGE, variables, cost=self.order_costs.page_cost(size))
            connection = data.get("orders")
            if not isinstance(connection, dict):
                raise ProviderError(_("Shopify sent an orders answer without orders"))
            nodes = connection.get("nodes")
            if spend is not None:
                read = len(nodes) if isinstance(nodes, list) else 0
                self.order_costs.observe(first=size, orders=read, requested=spend.requested, actual=spend.actual)
            self.complete_lines(nodes)
            self.complete_refunds(nodes)
            yield connection
            cursor = next_cursor(connection)
            if cursor is None:
                return

    def orders_by_ids(self, order_ids: list[str]) -> list[Any]:
        """The orders with these numeric ids (unknown ones are left out)."""
        ids = [f"gid://shopify/Order/{order_id}" for order_id in order_ids if order_id.isascii() and order_id.isdigit()]
        if not ids:
            return []
        nodes = answer_list(self.query(queries.ORDERS_BY_ID, {"ids": ids}).get("nodes"), "an orders list")
        found = [node for node in nodes if isinstance(node, dict) and node]  # null: an unknown id
        self.complete_lines(found)
        self.complete_refunds(found)
        return found

    def complete_refunds(self, orders: object) -> None:
        """Orders Shopify shows refunded (partly or wholly) get their ``refunds`` read, in place, a few
        orders per query (``queries.ORDER_REFUNDS``); the others have none with money to read, and
        the orders page stays as cheap as it was.

        Read in full: an order that came back with ``refund_sizes.per_order`` refunds (it may have
        more: ``Order.refunds`` is a list with ``first``, no cursor) is read again alone with
        ``refund_sizes.alone``; a refund whose lines have a next page gets the rest
        (``complete_refund_lines``).
        An order that fills even that is kept as read and logged (docs/channels.md, known limits)."""
        refunded = {
            node["id"]: node
            for node in (orders if isinstance(orders, list) else [])
            if isinstance(node, dict)
            and node.get("displayFinancialStatus") in queries.REFUNDED_STATUSES
            and isinstance(node.get("id"), str)
        }
        ids = list(refunded)
        full: list[str] = []
        sizes = self.refund_sizes
        while ids:
            # As many orders as the bucket holds now (one at least), so the wait before it is short.
            room = int(self.bucket.projected(self.clock()) // sizes.order_cost()) if self.bucket.known else 1
            size = max(1, min(sizes.orders_per_query(), room))
            batch, ids = ids[:size], ids[size:]
            variables = {"ids": batch, "refunds": sizes.per_order, "lines": sizes.lines}
            data, _ = self._run(queries.ORDER_REFUNDS, variables, cost=float(sizes.order_cost() * len(batch)))
            nodes = answer_list(data.get("nodes"), "an order refunds list")
            for node in nodes:
                if isinstance(node, dict) and node.get("id") in refunded:
                    refunds = answer_list(node.get("refunds"), "an order's refunds")
                    refunded[node["id"]]["refunds"] = refunds
                    if len(refunds) >= sizes.per_order:
                        full.append(node["id"])
        for order_id in full:
            refunded[order_id]["refunds"] = self.order_refunds_alone(order_id, refunded[order_id]["refunds"])
        for order in refunded.values():
            for refund in order.get("refunds") or []:
                if isinstance(refund, dict):
                    self.complete_refund_lines(refund)

    def order_refunds_alone(self, order_gid: str, read: list[Any]) -> list[Any]:
        """One order's refunds read alone with the larger ``first`` (``queries.ORDER_REFUNDS_ALONE``);
        ``read`` (what the batched read gave) if the order is gone meanwhile. Full again: what
        Shopify gave is kept, and the order is logged (no cursor to read further)."""
        sizes = self.refund_sizes
        variables = {"id": order_gid, "refunds": sizes.alone, "lines": sizes.lines}
        data, _spend = self._run(queries.ORDER_REFUNDS_ALONE, variables, cost=float(sizes.alone_cost()))
        if data.get("order") is None:
            return read
        order = answer_object(data.get("order"), "an order")
        refunds = answer_list(order.get("refunds"), "an order's refunds")
        if len(refunds) >= sizes.alone:
            logger.warning(
                "Shopify order %s has %s refunds or more: only the first %s are read",
                order_gid,
                sizes.alone,
                sizes.alone,
            )
        return refunds

    def complete_refund_lines(self, refund: dict[str, Any]) -> None:
        """A refund whose ``refundLineItems`` has a next page gets the rest, page by page, in place
        (``queries.REFUND_LINES_PAGE``, the refund read by its id); a cursor that does not move on is
        an error, never a loop."""
        lines = refund.get("refundLineItems")
        info = lines.get("pageInfo") if isinstance(lines, dict) else None
        asked: set[object] = set()
        while isinstance(info, dict) and info.get("hasNextPage") is True and isinstance(lines, dict):
            cursor = info.get("endCursor")
            if not isinstance(cursor, str) or not cursor or cursor in asked:
                raise ProviderError(_("Shopify sent a refund's lines with a page cursor that does not move on"))
            asked.add(cursor)
            variables = {"id": refund.get("id"), "first": self.refund_sizes.line_page, "after": cursor}
            data, _spend = self._run(
                queries.REFUND_LINES_PAGE, variables, cost=float(self.refund_sizes.line_page_cost())
            )
            found = answer_object(data.get("node"), "a refund")
            more = answer_object(found.get("refundLineItems"), "a refund's lines")
            have = answer_list(lines.get("nodes", []), "a refund's lines")
            lines["nodes"] = [*have, *answer_list(more.get("nodes"), "a refund's lines")]
            info = more.get("pageInfo")

    def complete_lines(self, orders: object) -> None:
        """Orders with more lines than one query asks for get the rest, page by page, in place."""
        for order in orders if isinstance(orders, list) else []:
            lines = order.get("lineItems") if isinstance(order, dict) else None
            info = lines.get("pageInfo") if isinstance(lines, dict) else None
            asked: set[object] = set()
            while isinstance(info, dict) and info.get("hasNextPage") is True and isinstance(lines, dict):
                cursor = info.get("endCursor")
                if not isinstance(cursor, str) or cursor in asked:  # a cursor that does not move on: a loop
                    raise ProviderError(_("Shopify sent an order's lines with a page cursor that does not move on"))
                asked.add(cursor)
                variables = {"id": order.get("id"), "after": cursor}
                found = answer_object(self.query(queries.ORDER_LINES, variables).get("order"), "an order")
                more = answer_object(found.get("lineItems"), "an order's lines")
                have = answer_list(lines.get("nodes", []), "an order's lines")
                lines["nodes"] = [*have, *answer_list(more.get("nodes"), "an order's lines")]
                info = more.get("pageInfo")

    def fulfillment_state(self, order_id: str) -> dict[str, Any] | None:
        """One order's fulfillment orders and fulfillments (``queries.FULFILLMENT_ORDERS``); None when
        Shopify has no such order (or the id is not one)."""
        if not (order_id.isascii() and order_id.isdigit()):
            return None
        order = self.query(queries.FULFILLMENT_ORDERS, {"id": f"gid://shopify/Order/{order_id}"}).get("order")
        return None if order is None else answer_object(order, "an order")

    def fulfillment_orders(self, order_id: str) -> list[Any]:
        """The fulfillment orders of one order (id, status, lines with remaining quantities)."""
        order = self.fulfillment_state(order_id)
        if order is None:
            raise ProviderError(_("Shopify has no order %(id)s") % {"id": order_id})
        connection = answer_object(order.get("fulfillmentOrders"), "fulfillment orders")
        return [node for node in answer_list(connection.get("nodes"), "fulfillment orders") if isinstance(node, dict)]

    # Writes -----------------------------------------------------------------------------------

    def fulfillment_create(
        self,
        *,
        fulfillment_order_id: str,
        tracking_number: str,
        tracking_company: str = "",
        tracking_url: str = "",
        lines: list[tuple[str, int]] | None = None,
        notify_customer: bool = False,
    ) -> dict[str, Any]:
        """One fulfillment with one tracking number (``lines``: fulfillment order line gids and
        quantities; None fulfils every remaining line). Not repeatable: an unknown outcome raises
        OutcomeUnknown for the caller to look at the order's fulfillments. userErrors are raised
        as one ProviderError (``fulfillment_create_payload`` returns them instead)."""
        payload = self.fulfillment_create_payload(
            fulfillment_order_id=fulfillment_order_id,
            tracking_number=tracking_number,
            tracking_company=tracking_company,
            tracking_url=tracking_url,
            lines=lines,
            notify_customer=notify_customer,
        )
        problems = user_errors(payload, "fulfillmentCreate")
        if problems:
            raise ProviderError(_("Shopify refused it: %(said)s") % {"said": "; ".join(problems[:3])})
        made = payload.get("fulfillment")
        if not isinstance(made, dict):
            raise ProviderError(_("Shopify sent no fulfillment"))
        return made

    def fulfillment_create_payload(
        self,
        *,
        fulfillment_order_id: str,
        tracking_number: str,
        tracking_company: str = "",
        tracking_url: str = "",
        lines: list[tuple[str, int]] | None = None,
        notify_customer: bool = False,
    ) -> dict[str, Any]:
        """``fulfillmentCreate``'s payload as Shopify sent it (``fulfillment``, ``userErrors``): a
        refusal is the caller's to read. See ``fulfillment_create`` for the arguments."""
        group: dict[str, Any] = {"fulfillmentOrderId": fulfillment_order_id}
        if lines is not None:
            group["fulfillmentOrderLineItems"] = [{"id": line, "quantity": count} for line, count in lines]
        tracking = {"number": tracking_number, "company": tracking_company or None, "url": tracking_url or None}
        fulfillment = {
            "lineItemsByFulfillmentOrder": [group],
            "notifyCustomer": notify_customer,
            "trackingInfo": {key: value for key, value in tracking.items() if value},
        }
        data = self.query(queries.FULFILLMENT_CREATE, {"fulfillment": fulfillment}, idempotent=False)
        return answer_object(data.get("fulfillmentCreate"), "a fulfillmentCreate result")

    def webhook_subscriptions(self) -> list[Subscription]:
        found: list[Subscription] = []
        cursor: str | None = None
        while True:
            connection = self.query(queries.WEBHOOK_SUBSCRIPTIONS, {"first": 100, "after": cursor}).get(
                "webhookSubscriptions"
            )
            if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
                raise ProviderError(_("Shopify sent a webhook subscription list that cannot be read"))
            found += [hook for node in connection["nodes"] if (hook := self._subscription(node)) is not None]
            cursor = next_cursor(connection)
            if cursor is None:
                return found

    @staticmethod
    def _subscription(node: object) -> Subscription | None:
        """A listed subscription, read defensively (its id goes back to Shopify in a delete)."""
        if not isinstance(node, dict) or not isinstance(node.get("uri"), str):
            return None
        number = gid_number(node.get("id"), "WebhookSubscription")
        topic = node.get("topic")
        if number is None:
            return None
        return Subscription(id=number, topic=topic_rest(topic) if isinstance(topic, str) else "", address=node["uri"])

    def webhook_delete(self, webhook_id: str) -> None:
        """Delete one subscription; one already gone is not an error (an earlier attempt, the merchant)."""
        variables = {"id": f"gid://shopify/WebhookSubscription/{webhook_id}"}
        data = self.query(queries.WEBHOOK_SUBSCRIPTION_DELETE, variables, idempotent=True)
        root = "webhookSubscriptionDelete"
        problems = user_errors(answer_object(data.get(root), f"a {root} result"), root)
        if any("does not exist" not in problem for problem in problems):
            raise ProviderError(_("Shopify refused it: %(said)s") % {"said": "; ".join(problems[:3])})

    def webhook_subscribe(self, *, topic: str, address: str) -> None:
        """Subscribe ``address`` to ``topic``. Made already (an earlier attempt whose answer was lost,
        or one Shopify refuses as taken) is success: what we wanted exists."""
        variables = {"topic": topic_enum(topic), "uri": address}
        try:
            self.mutate(queries.WEBHOOK_SUBSCRIPTION_CREATE, variables, "webhookSubscriptionCreate")
        except ProviderError as error:
            if error.retryable and not isinstance(error, OutcomeUnknown):
                raise
            if any((hook.topic, hook.address) == (topic, address) for hook in self.webhook_subscriptions()):
                return
            if not isinstance(error, OutcomeUnknown):
                raise
            self.mutate(queries.WEBHOOK_SUBSCRIPTION_CREATE, variables, "webhookSubscriptionCreate")
