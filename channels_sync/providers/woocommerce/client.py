"""WooCommerce REST v3 over HTTP: Basic auth over HTTPS, OAuth 1.0a over HTTP, page/per_page.

Listing sorts by id ascending: an order modified while we page keeps its place (sorting by
modification time would move it to the end and shift a later order onto a page already read).
``modified_after`` is exclusive, so the cursor is moved back one second (a repeat is harmless:
orders upsert).

Writes: deleting a webhook (one id, ``force``) is repeatable (a 404 then means it is gone);
creating one is not (no idempotency key): when its outcome is unknown the webhooks are listed
to see whether it was made, and it is sent again only if not. Host: any public https site
(``integrations.hosts.PUBLIC_HTTPS``); OAuth 1.0a over plain http is for the sandbox (loopback).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from channels_sync.providers.base import Subscription, subscriptions_of
from channels_sync.providers.woocommerce.oauth import oauth_params
from integrations.errors import OutcomeUnknown, ProviderError
from integrations.hosts import PUBLIC_HTTPS
from integrations.http import Failure, Headers, Params, ProviderHttpClient, json_or_none, sanitize
from integrations.transport import Response

API_PREFIX = "wp-json/wc/v3"
MAX_PER_PAGE = 100
ORDER_TOPICS = ("order.created", "order.updated")


class WooCommerceClient(ProviderHttpClient):
    label = "WooCommerce"
    provider = "woocommerce"
    host_rule = PUBLIC_HTTPS
    credentials_hint = (
        "check the consumer key and secret in WordPress → WooCommerce → Settings → Advanced → REST API "
        "(the key needs Read/Write permission)"
    )

    def __init__(self, base_url: str, *, consumer_key: str, consumer_secret: str, **kwargs: Any) -> None:
        super().__init__(f"{base_url.rstrip('/')}/{API_PREFIX}", **kwargs)
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.https = urlsplit(self.base_url).scheme == "https"
        self.refusal: tuple[str, str] | None = None  # (code, message) of the last refused call

    def failure_of(self, response: Response) -> Failure | None:
        """As the base; a refusal's WooCommerce ``code`` and ``message`` are kept in ``refusal``
        (the fulfillment push shows the merchant WooCommerce's own words)."""
        failure = super().failure_of(response)
        body = json_or_none(response)
        if failure is not None and not failure.retryable and not failure.credentials and isinstance(body, dict):
            self.refusal = (sanitize(str(body.get("code") or ""), 60), sanitize(str(body.get("message") or ""), 120))
        return failure

    def credentials_message(self, response: Response) -> str:
        body = json_or_none(response)
        said = sanitize(str(body.get("message") or ""), 80) if isinstance(body, dict) else ""
        reason = f" ({said})" if said else ""
        return f"WooCommerce refused the API keys{reason}: {self.credentials_hint}"

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        headers = {"Accept": "application/json"}
        if self.https:
            token = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
            return params, {**headers, "Authorization": f"Basic {token}"}
        signed = oauth_params(
            method=method, url=url, params=params, consumer_key=self.consumer_key, consumer_secret=self.consumer_secret
        )
        return signed, headers

    def order_pages(
        self, *, updated_since: datetime | None, per_page: int, page: int = 1
    ) -> Iterator[tuple[Any, bool]]:
        """(GET orders body, has_more) per page from ``page``, using X-WP-TotalPages."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        params: Params = {"per_page": str(per_page), "orderby": "id", "order": "asc", "status": "any"}
        if updated_since is not None:
            since = updated_since.astimezone(UTC) - timedelta(seconds=1)
            params |= {
                "modified_after": since.replace(tzinfo=None).isoformat(timespec="seconds"),
                "dates_are_gmt": "true",
            }
        while True:
            body, response = self.request_json("GET", "orders", params={**params, "page": str(page)}, shape="list")
            total_pages = response.headers.get("X-WP-TotalPages", "")
            if total_pages.isdigit():
                has_more = page < int(total_pages)
            else:
                has_more = isinstance(body, list) and len(body) == per_page
            yield body, has_more
            if not has_more:
                return
            page += 1

    def orders_by_ids(self, ids: list[str]) -> Any:
        params = {"include": ",".join(ids), "per_page": str(MAX_PER_PAGE), "status": "any"}
        body, _ = self.request_json("GET", "orders", params=params, shape="list")
        return body

    def orders_probe(self) -> Any:
        body, _ = self.request_json("GET", "orders", params={"per_page": "1"}, shape="list")
        return body

    def order(self, order_id: str) -> Any:
        body, _ = self.request_json("GET", f"orders/{order_id}", shape="object")
        return body

    def order_update(self, order_id: str, changes: dict[str, Any]) -> Any:
        """PUT orders/<id>: setting fields to given values is repeatable (the same state again)."""
        body, _ = self.request_json("PUT", f"orders/{order_id}", json_body=changes, idempotent=True, shape="object")
        return body

    def order_refunds(self, order_id: str) -> Any:
        """GET orders/<id>/refunds: the order's refunds with their lines (100 is more than any order has)."""
        params = {"per_page": str(MAX_PER_PAGE)}
        body, _ = self.request_json("GET", f"orders/{order_id}/refunds", params=params, shape="list")
        return body

    def order_notes(self, order_id: str) -> Any:
        body, _ = self.request_json("GET", f"orders/{order_id}/notes", shape="list")
        return body

    def order_note_add(self, order_id: str, *, note: str, customer_note: bool) -> Any:
        """POST orders/<id>/notes: not repeatable (a second note, and a second e-mail to the customer)."""
        payload = {"note": note, "customer_note": customer_note}
        body, _ = self.request_json(
            "POST", f"orders/{order_id}/notes", json_body=payload, idempotent=False, shape="object"
        )
        return body

    def webhooks(self) -> list[Subscription]:
        body, _ = self.request_json("GET", "webhooks", params={"per_page": str(MAX_PER_PAGE)}, shape="list")
        return subscriptions_of(body, address_key="delivery_url")

    def webhook_delete(self, webhook_id: int | str) -> None:
        try:  # force: webhooks have no trash
            self.request("DELETE", f"webhooks/{webhook_id}", params={"force": "true"}, idempotent=True)
        except ProviderError as error:
            if error.status != 404:  # 404: gone already (an earlier attempt of ours, or the merchant)
                raise

    def webhook_create(self, *, topic: str, address: str, secret: str) -> Any:
        payload = {"name": f"Zopi {topic}", "topic": topic, "delivery_url": address, "secret": secret}
        payload["status"] = "active"
        try:
            body, _ = self.request_json("POST", "webhooks", json_body=payload, idempotent=False)
        except OutcomeUnknown:
            made = [hook for hook in self.webhooks() if (hook.topic, hook.address) == (topic, address)]
            if made:
                return {"id": made[0].id, "topic": topic, "delivery_url": address}
            body, _ = self.request_json("POST", "webhooks", json_body=payload, idempotent=False)
        return body
