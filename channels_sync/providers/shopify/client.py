"""Shopify Admin REST 2024-10 over HTTP: token header, cursor pages, the leaky bucket.

Rate limit: every answer carries ``X-Shopify-Shop-Api-Call-Limit: used/size``. When the bucket
is nearly full (``used`` within ``headroom`` of ``size``) the next call first waits just long
enough for the excess to leak at ``leak_rate`` calls per second (2/s on Standard plans; Shopify
does not send the rate); a wait longer than the inline cap becomes the task's countdown. A 429
anyway (other apps share the bucket) is retried after its ``Retry-After``.

Writes: deleting a webhook (one id) is repeatable (a 404 then means it is gone already);
creating one is not (Shopify takes no idempotency key): when its outcome is unknown the
subscriptions are listed to see whether it was made, and it is sent again only if not.
Host: ``https://<shop>.myshopify.com`` only (``integrations.hosts.SHOPIFY_SHOP``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels_sync.providers.base import Subscription, subscriptions_of
from integrations.errors import OutcomeUnknown, ProviderError
from integrations.hosts import SHOPIFY_SHOP
from integrations.http import Headers, Params, ProviderHttpClient
from integrations.transport import Response

API_VERSION = "2024-10"
MAX_LIMIT = 250
DEFAULT_LEAK_RATE = 2.0  # calls per second a Standard-plan bucket leaks
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_page_info(link_header: str | None) -> str | None:
    """The ``page_info`` of the ``rel="next"`` link, used verbatim (it is opaque)."""
    if not link_header:
        return None
    for part in link_header.split(","):
        match = _NEXT_LINK.search(part)
        if match:
            values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
            return values[0] if values else None
    return None


class ShopifyClient(ProviderHttpClient):
    label = "Shopify"
    provider = "shopify"
    host_rule = SHOPIFY_SHOP
    credentials_hint = "check it in your Shopify admin → Apps → Develop apps (Admin API access token)"

    def __init__(
        self, base_url: str, *, access_token: str, leak_rate: float = DEFAULT_LEAK_RATE, **kwargs: Any
    ) -> None:
        super().__init__(f"{base_url.rstrip('/')}/admin/api/{API_VERSION}", **kwargs)
        self.access_token = access_token
        self.leak_rate = leak_rate
        self.bucket_used = 0
        self.bucket_size = 0

    def credentials_message(self, response: Response) -> str:
        return f"Shopify refused the access token ({response.status_code}): {self.credentials_hint}"

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        # An app-connected store's expiring token comes from its token source, per attempt.
        return params, {"X-Shopify-Access-Token": self.attempt_token(self.access_token), "Accept": "application/json"}

    @property
    def headroom(self) -> int:
        """Calls kept free in the bucket: a tenth of it (4 of 40), at least one."""
        return max(1, self.bucket_size // 10)

    def before_attempt(self) -> None:
        if not self.bucket_size or self.leak_rate <= 0:
            return
        excess = self.bucket_used - (self.bucket_size - self.headroom) + 1
        if excess > 0:
            self.pause(excess / self.leak_rate, "Shopify's API call bucket is full")
            self.bucket_used -= excess

    def waited(self, seconds: float) -> None:
        self.bucket_used = max(0, self.bucket_used - int(seconds * self.leak_rate))

    def observe(self, response: Response) -> None:
        used, _, size = (response.headers.get(CALL_LIMIT_HEADER) or "").partition("/")
        if used.strip().isdigit() and size.strip().isdigit():
            self.bucket_used, self.bucket_size = int(used), int(size)

    # Endpoints -------------------------------------------------------------------------------

    def order_pages(
        self, *, updated_since: datetime | None, limit: int, page_info: str = ""
    ) -> Iterator[tuple[Any, str]]:
        """(orders.json body, next page_info or "") per page, oldest update first (an order
        updated while we page moves behind us, so it is read again rather than skipped);
        follow-ups carry only page_info and limit, and a pull may start from a saved one."""
        limit = max(1, min(limit, MAX_LIMIT))
        params: Params = {"status": "any", "limit": str(limit), "order": "updated_at asc"}
        if updated_since is not None:
            params["updated_at_min"] = updated_since.astimezone(UTC).isoformat(timespec="seconds")
        if page_info:
            params = {"limit": str(limit), "page_info": page_info}
        while True:
            body, response = self.request_json("GET", "orders.json", params=params, shape="object")
            next_info = next_page_info(response.headers.get("Link")) or ""
            yield body, next_info
            if not next_info:
                return
            params = {"limit": str(limit), "page_info": next_info}

    def orders_by_ids(self, ids: list[str]) -> Any:
        params = {"ids": ",".join(ids), "status": "any", "limit": str(MAX_LIMIT)}
        body, _ = self.request_json("GET", "orders.json", params=params, shape="object")
        return body

    def shop(self) -> Any:
        body, _ = self.request_json("GET", "shop.json", shape="object")
        return body

    def orders_count(self) -> Any:
        body, _ = self.request_json("GET", "orders/count.json", params={"status": "any"}, shape="object")
        return body

    def webhook_subscriptions(self) -> list[Subscription]:
        body, _ = self.request_json("GET", "webhooks.json", shape="object")
        return subscriptions_of(body.get("webhooks"), address_key="address")

    def webhook_delete(self, webhook_id: int | str) -> None:
        try:
            self.request("DELETE", f"webhooks/{webhook_id}.json", idempotent=True)
        except ProviderError as error:
            if error.status != 404:  # 404: gone already (an earlier attempt of ours, or the merchant)
                raise

    def webhook_subscribe(self, *, topic: str, address: str) -> Any:
        webhook = {"topic": topic, "address": address, "format": "json"}
        try:
            body, _ = self.request_json("POST", "webhooks.json", json_body={"webhook": webhook}, idempotent=False)
        except OutcomeUnknown:
            made = [hook for hook in self.webhook_subscriptions() if (hook.topic, hook.address) == (topic, address)]
            if made:
                return {"webhook": {"id": made[0].id, "topic": topic, "address": address}}
            body, _ = self.request_json("POST", "webhooks.json", json_body={"webhook": webhook}, idempotent=False)
        return body
