"""TikTok Shop Partner API 202309 over HTTP: signed calls and the ``{"code", "message", "data"}`` envelope.

Every call carries ``app_key``, ``timestamp``, ``shop_cipher`` (shop-scoped APIs) and ``sign`` in
the query and ``x-tts-access-token`` as a header; the signature (``request_sign``) is computed again
for every attempt because it covers the timestamp.

Calls: the order search is a POST that only reads (repeatable). The one write is shipping a
package (``package_ship``): not repeatable; a lost answer is ``OutcomeUnknown`` and the caller
reads the order again (a shipped package carries its tracking number).
Host: TikTok Shop's API hosts only (``integrations.hosts.TIKTOK_SHOP_API``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from integrations.errors import ProviderError
from integrations.hosts import TIKTOK_SHOP_API
from integrations.http import (
    Failure,
    Headers,
    Params,
    ProviderHttpClient,
    detail_of,
    json_or_none,
    sanitize,
    short_reason,
)
from integrations.signing import hmac_sha256_hex
from integrations.transport import Response

SEARCH_PATH = "/order/202309/orders/search"
DETAIL_PATH = "/order/202309/orders"
RETURNS_PATH = "/return_refund/202309/returns/search"
RETURNS_PAGE_SIZE = 50
SHOPS_PATH = "/authorization/202309/shops"
SHIP_PATH = "/fulfillment/202309/packages/{package_id}/ship"
PROVIDERS_PATH = "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers"
DELIVERY_OPTIONS_PATH = "/logistics/202309/warehouses/{warehouse_id}/delivery_options"
NOT_SHOP_SCOPED = ("/authorization/",)
MAX_PAGE_SIZE, MAX_IDS = 100, 50
EXCLUDED_FROM_SIGN = ("sign", "access_token")

RATE_LIMITED, INTERNAL_ERROR, INVALID_PARAM = 36009003, 36009001, 36009004
INVALID_TOKEN, EXPIRED_TOKEN = 105001, 105002
TOKEN_REFUSED = frozenset({INVALID_TOKEN, EXPIRED_TOKEN})
CREDENTIAL_ERRORS = {
    INVALID_TOKEN: "TikTok Shop refused the access token: reconnect the shop (authorize the app again in TikTok Shop)",
    EXPIRED_TOKEN: (
        "TikTok Shop says the access token expired: reconnect the shop (authorize the app again in TikTok Shop)"
    ),
    106001: "TikTok Shop rejected the request signature: check the app secret of the TikTok Shop app",
}


def request_sign(*, app_secret: str, path: str, params: Mapping[str, str], body: str = "") -> str:
    """lower hex HMAC-SHA256(app_secret, app_secret + path + sorted key+value + body + app_secret);
    ``sign``, ``access_token`` and empty values are left out; ``body`` is the raw JSON ("" for GET)."""
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in EXCLUDED_FROM_SIGN and params[key])
    message = f"{app_secret}{path}{pairs}{body}{app_secret}"
    return hmac_sha256_hex(app_secret, message.encode())


class TikTokClient(ProviderHttpClient):
    label = "TikTok Shop"
    provider = "tiktok"
    host_rule = TIKTOK_SHOP_API
    credentials_hint = "check the app key, app secret and shop authorization in the store settings"

    def __init__(
        self, base_url: str, *, app_key: str, app_secret: str, access_token: str, shop_cipher: str, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.app_key, self.app_secret = app_key, app_secret
        self.access_token, self.shop_cipher = access_token, shop_cipher
        self.base_path = urlsplit(self.base_url).path.rstrip("/")
        self.refusal_code = ""  # the envelope code of the last refused call ("" when none)

    def api_path(self, url: str) -> str:
        """The path TikTok signs: the part after the API host (and after the sandbox's prefix)."""
        path = urlsplit(url).path
        return path[len(self.base_path) :] if self.base_path and path.startswith(self.base_path) else path

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        path = self.api_path(url)
        query = {**params, "app_key": self.app_key, "timestamp": str(int(time.time()))}
        if not path.startswith(NOT_SHOP_SCOPED):
            query["shop_cipher"] = self.shop_cipher
        query["sign"] = request_sign(app_secret=self.app_secret, path=path, params=query, body=body.decode())
        # An app-connected store's token comes from its token source (refreshed when it expires).
        token = self.attempt_token(self.access_token)
        return query, {"x-tts-access-token": token, "Content-Type": "application/json"}

    def failure_of(self, response: Response) -> Failure | None:
        envelope = json_or_none(response)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
            if 200 <= response.status_code < 300:
                return None  # json_of reports the unreadable body
            retryable = response.status_code == 429 or response.status_code >= 500
            return Failure(short_reason(self.label, response), retryable=retryable, detail=detail_of(response))
        code, message = envelope["code"], sanitize(str(envelope.get("message", "")), 80)
        if code == 0 and 200 <= response.status_code < 300:
            return None
        detail = detail_of(response)
        if code in CREDENTIAL_ERRORS:
            # An invalid or expired access token: with a token source, refreshed once and retried.
            refused = code in TOKEN_REFUSED
            return Failure(CREDENTIAL_ERRORS[code], credentials=True, detail=detail, token_refused=refused)
        if code == INVALID_PARAM and message.startswith("Invalid credentials"):
            return Failure(
                f"TikTok Shop refused the credentials ({message}): {self.credentials_hint}",
                credentials=True,
                detail=detail,
            )
        if response.status_code in (401, 403):
            return Failure(
                f"TikTok Shop refused the credentials ({code} {message}): {self.credentials_hint}",
                credentials=True,
                detail=detail,
            )
        retryable = code in (RATE_LIMITED, INTERNAL_ERROR) or response.status_code == 429 or response.status_code >= 500
        if not retryable:
            self.refusal_code = str(code)
        return Failure(f"TikTok Shop error {code}: {message}", retryable=retryable, detail=detail)

    def data(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        body, _ = self.request_json(method, path, params=params, json_body=json_body, idempotent=idempotent)
        if not isinstance(body, dict):
            raise ProviderError("TikTok Shop sent an answer without its envelope", retryable=True)
        return body.get("data")

    def search_pages(
        self, *, updated_since: datetime | None, page_size: int, page_token: str = ""
    ) -> Iterator[tuple[Any, str]]:
        """(data, next page_token or "") per page of orders/search, oldest update first; from a
        saved page_token when given (it belongs to the same filters)."""
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        body = {} if updated_since is None else {"update_time_ge": int(updated_since.timestamp())}
        params: Params = {"page_size": str(page_size), "sort_field": "update_time", "sort_order": "ASC"}
        if page_token:
            params = {**params, "page_token": page_token}
        while True:
            data = self.data("POST", SEARCH_PATH, params=params, json_body=body, idempotent=True)  # a search
            token = data.get("next_page_token") if isinstance(data, dict) else None
            yield data, str(token or "")
            if not token:
                return
            params = {**params, "page_token": str(token)}

    def orders_by_ids(self, ids: list[str]) -> Any:
        return self.data("GET", DETAIL_PATH, params={"ids": ",".join(ids)})

    def returns_pages(self, order_ids: list[str]) -> Iterator[Any]:
        """The returns of these orders (at most ``MAX_IDS``), page by page (``data`` of returns/search)."""
        params: Params = {"page_size": str(RETURNS_PAGE_SIZE), "sort_field": "create_time", "sort_order": "ASC"}
        asked: set[str] = set()
        while True:
            data = self.data("POST", RETURNS_PATH, params=params, json_body={"order_ids": order_ids}, idempotent=True)
            yield data
            token = str(data.get("next_page_token") or "") if isinstance(data, dict) else ""
            if not token or token in asked:  # a token that does not move on would loop
                return
            asked.add(token)
            params = {**params, "page_token": token}

    def shops(self) -> Any:
        return self.data("GET", SHOPS_PATH)

    def shipping_providers(self, delivery_option_id: str) -> Any:
        return self.data("GET", PROVIDERS_PATH.format(delivery_option_id=delivery_option_id))

    def delivery_options(self, warehouse_id: str) -> Any:
        return self.data("GET", DELIVERY_OPTIONS_PATH.format(warehouse_id=warehouse_id))

    def package_ship(self, package_id: str, *, tracking_number: str, shipping_provider_id: str) -> Any:
        """Ship one package with the seller's own tracking (``self_shipment``). Not repeatable."""
        body = {"self_shipment": {"tracking_number": tracking_number, "shipping_provider_id": shipping_provider_id}}
        return self.data("POST", SHIP_PATH.format(package_id=package_id), json_body=body, idempotent=False)
