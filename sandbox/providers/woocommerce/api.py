"""What every simulated WooCommerce REST request goes through: faults, the site, authentication.

Errors are WordPress REST errors: ``{"code", "message", "data": {"status", …}}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from sandbox.enums import Provider
from sandbox.http import parse_json_body
from sandbox.models import SimAccount
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers._state import options_update
from sandbox.providers.woocommerce.auth import WooAuthError, authenticate
from sandbox.providers.woocommerce.orders import WooError
from sandbox.providers.woocommerce.render import wp_error

WooView = Callable[..., HttpResponse]

NO_ROUTE = ("rest_no_route", "No route was found matching the URL and request method.")
# What an anonymous request is told, by method and whether the route is a collection.
REFUSALS = {
    ("GET", True): ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    ("GET", False): ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    ("POST", True): ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    ("PUT", False): ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    ("DELETE", False): ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
}
NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
REASONS = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


def _host_page(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    page = NGINX_PAGE.format(status=status, reason=REASONS[status])
    return HttpResponse(page, status=status, content_type="text/html", headers=headers)


# A WordPress host's front server answers these, not WordPress: HTML pages.
FAULTS = FaultShape(
    server_error=lambda request, status: _host_page(status),
    rate_limited=lambda request: _host_page(429, {"Retry-After": "5"}),
)


def no_route(request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> HttpResponse:
    return wp_error(*NO_ROUTE, 404)


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object body; WordPress's rest_invalid_json when it does not parse."""
    try:
        body = parse_json_body(request)
    except ValueError:
        raise WooError(
            "rest_invalid_json", "Invalid JSON body passed.", json_error_code=4, json_error_message="Syntax error"
        ) from None
    if not isinstance(body, dict):
        raise WooError(
            "rest_invalid_json", "Invalid JSON body passed.", json_error_code=4, json_error_message="Syntax error"
        )
    return body


def site_url_for(request: HttpRequest, site: str) -> str:
    return request.build_absolute_uri(reverse("sandbox-woocommerce-site", kwargs={"site": site})).rstrip("/")


def site_url_remember(site: str, url: str) -> None:
    """Fix the site's home URL the first time it is handed out or reached.

    Webhooks (sent without a request) name their site by it (X-WC-Webhook-Source, _links),
    like WordPress's fixed home URL: the base URL the control API gave the site's clients.
    """
    account = SimAccount.objects.filter(provider=Provider.WOOCOMMERCE, name=site).first()
    if account is not None and "site_url" not in account.options:
        options_update(account, lambda options: options.setdefault("site_url", url.rstrip("/")))


def woo_api(*methods: str, collection: bool) -> Callable[[WooView], WooView]:
    """Wrap ``view(request, account, **kwargs)`` as a WooCommerce REST endpoint."""

    def decorate(view: WooView) -> WooView:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, site: str, **kwargs: Any) -> HttpResponse:
            def answer() -> HttpResponse:
                method = request.method or "GET"
                account = SimAccount.objects.filter(provider=Provider.WOOCOMMERCE, name=site).first()
                if account is None or method not in methods:
                    return no_route()
                try:
                    authenticated = authenticate(request, account)
                except WooAuthError as exc:
                    return wp_error(exc.code, exc.message, exc.status)
                if not authenticated:
                    code, message = REFUSALS.get((method, collection), REFUSALS[("GET", collection)])
                    return wp_error(code, message, 401)
                if "site_url" not in account.options:
                    site_url_remember(site, site_url_for(request, site))
                try:
                    return view(request, account, **kwargs)
                except WooError as exc:
                    return wp_error(exc.code, exc.message, exc.status, **exc.data)

            return fault_response(Provider.WOOCOMMERCE, FAULTS, request, answer)

        return endpoint

    return decorate
