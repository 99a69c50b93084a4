"""What every simulated Shopify Admin API request goes through, in Shopify's order.

Fault injection (the edge) → the shop → ``X-Shopify-Access-Token`` → the REST leaky bucket →
the view. Every REST answer past the bucket carries ``X-Shopify-Shop-Api-Call-Limit``; the
GraphQL endpoint (``rest_bucket=False``) is limited by its cost bucket instead (graphql/).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.enums import Provider
from sandbox.grants import grant_token_accepted
from sandbox.http import json_response, parse_json_body
from sandbox.models import SimAccount
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers.shopify.orders import ShopifyError
from sandbox.providers.shopify.ratelimit import RETRY_AFTER, bucket_take

ShopifyView = Callable[..., HttpResponse]

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
BAD_GATEWAY_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    "<h1>502 Bad Gateway</h1><p>There was a problem loading this website. Please try again.</p></body></html>"
)


def error(errors: Any, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response({"errors": errors}, status=status, headers=headers)


def not_found(request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> HttpResponse:
    return error("Not Found", 404)


def too_many_requests(leak_rate: float = 2.0, call_limit: str | None = None) -> HttpResponse:
    headers = {"Retry-After": RETRY_AFTER}
    if call_limit:
        headers["X-Shopify-Shop-Api-Call-Limit"] = call_limit
    message = (
        f"Exceeded {leak_rate:g} calls per second for api client. Reduce request rates to resume uninterrupted service."
    )
    return error(message, 429, headers)


def _server_error(request: HttpRequest, status: int) -> HttpResponse:
    if status == 502:
        return HttpResponse(BAD_GATEWAY_PAGE, status=502, content_type="text/html; charset=utf-8")
    return error("Service Unavailable", status)


FAULTS = FaultShape(server_error=_server_error, rate_limited=lambda request: too_many_requests())


def body_object(request: HttpRequest, root: str) -> Any:
    """The ``root`` object of a JSON body; Shopify's 400 when it is missing or not JSON."""
    try:
        body = parse_json_body(request)
    except ValueError:
        raise ShopifyError(400, {root: "Required parameter missing or invalid"}) from None
    if not isinstance(body, dict) or not isinstance(body.get(root), dict):
        raise ShopifyError(400, {root: "Required parameter missing or invalid"})
    return body[root]


def access_token_accepted(account: SimAccount, token: str) -> bool:
    """The shop's own custom-app token (``credentials.access_token``, never expires), or an
    unexpired, unrevoked token the shop's install of an app was issued (``SimGrant``)."""
    expected = str(account.credentials.get("access_token", ""))
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    return grant_token_accepted(account, token)


def shopify_api(*methods: str, rest_bucket: bool = True) -> Callable[[ShopifyView], ShopifyView]:
    """Wrap ``view(request, account, version, **kwargs)`` as a Shopify Admin API endpoint."""

    def decorate(view: ShopifyView) -> ShopifyView:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, shop: str, version: str, **kwargs: Any) -> HttpResponse:
            def answer() -> HttpResponse:
                if request.method not in methods:
                    return not_found()
                account = SimAccount.objects.filter(provider=Provider.SHOPIFY, name=shop).first()
                if account is None:
                    return not_found()
                if not access_token_accepted(account, request.headers.get("X-Shopify-Access-Token", "")):
                    return error(INVALID_TOKEN, 401)
                call = bucket_take(account) if rest_bucket else None
                if call is not None and not call.allowed:
                    return too_many_requests(call.leak_rate, call.header)
                try:
                    response = view(request, account, version, **kwargs)
                except ShopifyError as exc:
                    response = error(exc.errors, exc.status)
                if call is not None:
                    response["X-Shopify-Shop-Api-Call-Limit"] = call.header
                response["X-Shopify-API-Version"] = version
                return response

            return fault_response(Provider.SHOPIFY, FAULTS, request, answer)

        return endpoint

    return decorate
