"""WooCommerce's application authentication endpoint, as ``WC_Auth`` (class-wc-auth.php) serves it.

``GET <site>/wc-auth/v1/authorize?app_name=&scope=&user_id=&return_url=&callback_url=`` shows
"<app> would like to connect to your store" with the permissions of the scope, an Approve link
(``access_granted`` with a nonce) and a Deny link (``return_url`` with ``success=0&user_id=``:
WooCommerce tells nobody else about a denial). Approve creates a new key pair for the site
(``keys.key_create``), POSTs ``{"key_id", "user_id", "consumer_key", "consumer_secret",
"key_permissions"}`` as JSON to ``callback_url`` (server to server) and, when the callback
answered exactly 200, sends the browser to ``return_url`` with ``success=1&user_id=``. Any other
answer, or none, deletes the key and shows WooCommerce's error page instead.

Parameters are checked as ``make_validation`` does, in its order: each present ("Missing
parameter %s"), the scope one of read / write / read_write, both URLs valid (a URL without a
scheme is taken as https), the callback over https ("The callback_url needs to be over SSL").
One difference, for the dev sandbox only: a callback on a loopback host (127.0.0.1, ::1,
localhost) may be plain http, because the order center under test has no TLS. Real WooCommerce
also needs the shop manager signed in (``login`` route); the sandbox's shop manager always is.
Errors are ``wp_die`` pages: title "Access denied", status 401, "Error: <message>.".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from sandbox.enums import Provider
from sandbox.models import SimAccount
from sandbox.providers.woocommerce.keys import SCOPES, key_create, key_delete

logger = logging.getLogger(__name__)

PARAMS = ("app_name", "user_id", "return_url", "callback_url", "scope")
SCOPE_LABELS = {"read": "Read", "write": "Write", "read_write": "Read/Write"}
PERMISSIONS = {
    "read": ["View coupons", "View customers", "View orders and sales reports", "View products"],
    "write": ["Create webhooks", "Create coupons", "Create customers", "Create orders", "Create products"],
    "read_write": [
        "Create webhooks",
        "View and manage coupons",
        "View and manage customers",
        "View and manage orders and sales reports",
        "View and manage products",
    ],
}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
CALLBACK_TIMEOUT = 30  # WooCommerce waits 60 s; the sandbox need not
SEND_FAILED = "An error occurred in the request and at the time were unable to send the consumer data"
SHOP_MANAGER = "shop-manager"


class AuthEndpointError(Exception):
    """What ``wp_die`` shows: "Error: <message>."."""


def formatted_url(url: str) -> str:
    """``WC_Auth::get_formatted_url``: a URL without a scheme is an https one."""
    return url if "://" in url else f"https://{url}"


def with_query(url: str, **params: str) -> str:
    """``add_query_arg``: the parameters appended to the URL's own query."""
    joiner = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{joiner}{urlencode(params)}"


def _validated(request: HttpRequest) -> dict[str, str]:
    data: dict[str, str] = {}
    for name in PARAMS:
        value = request.GET.get(name, "")
        if not value:
            raise AuthEndpointError(f"Missing parameter {name}")
        data[name] = value
    if data["scope"] not in SCOPES:
        raise AuthEndpointError(f"Invalid scope {data['scope'][:50]}")
    for name in ("return_url", "callback_url"):
        parts = urlsplit(formatted_url(data[name]))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AuthEndpointError(f"The {formatted_url(data[name])[:200]} is not a valid URL")
    callback = urlsplit(formatted_url(data["callback_url"]))
    if callback.scheme != "https" and callback.hostname not in LOOPBACK_HOSTS:
        raise AuthEndpointError("The callback_url needs to be over SSL")
    return data


def _nonce(site: SimAccount, data: dict[str, str]) -> str:
    """The ``wc_auth_grant_access`` nonce of the Approve link: bound to the site and the request."""
    message = "\n".join([site.name, *(data[name] for name in PARAMS)]).encode()
    key = f"sandbox-wc-auth:{settings.SECRET_KEY}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


def _error_page(request: HttpRequest, message: str, status: int = 401) -> HttpResponse:
    return render(request, "sandbox/woocommerce/auth_error.html", {"message": message}, status=status)


def auth_endpoint(request: HttpRequest, site: str, route: str) -> HttpResponse:
    """``/wc-auth/v1/<route>``: ``authorize`` (the page) or ``access_granted`` (Approve)."""
    account = SimAccount.objects.filter(provider=Provider.WOOCOMMERCE, name=site).first()
    if account is None:
        return _error_page(request, "This site does not exist", status=404)
    try:
        data = _validated(request)
        if route == "authorize":
            return _grant_page(request, account, data)
        if route == "access_granted":
            return _access_granted(request, account, data)
        raise AuthEndpointError("You do not have permission to access this page")
    except AuthEndpointError as error:
        return _error_page(request, str(error))


def _grant_page(request: HttpRequest, site: SimAccount, data: dict[str, str]) -> HttpResponse:
    granted = request.build_absolute_uri(f"{request.path.rstrip('/').rsplit('/', 1)[0]}/access_granted")
    granted_url = with_query(granted, **{name: data[name] for name in PARAMS}, wc_auth_nonce=_nonce(site, data))
    context = {
        "app_name": data["app_name"],
        "scope": SCOPE_LABELS[data["scope"]],
        "permissions": PERMISSIONS[data["scope"]],
        "granted_url": granted_url,
        "deny_url": with_query(formatted_url(data["return_url"]), success="0", user_id=data["user_id"]),
        "user": SHOP_MANAGER,
        "site": site.name,
    }
    return render(request, "sandbox/woocommerce/authorize.html", context)


def _access_granted(request: HttpRequest, site: SimAccount, data: dict[str, str]) -> HttpResponse:
    if not hmac.compare_digest(request.GET.get("wc_auth_nonce", ""), _nonce(site, data)):
        raise AuthEndpointError("Invalid nonce verification")
    row = key_create(site, app_name=data["app_name"], scope=data["scope"])
    consumer_data = {
        "key_id": row["key_id"],
        "user_id": data["user_id"],
        "consumer_key": row["consumer_key"],
        "consumer_secret": row["consumer_secret"],
        "key_permissions": row["permissions"],
    }
    try:
        _post_consumer_data(consumer_data, formatted_url(data["callback_url"]))
    except AuthEndpointError:
        key_delete(site, row["key_id"])
        raise
    return_url = with_query(formatted_url(data["return_url"]), success="1", user_id=data["user_id"])
    return HttpResponseRedirect(return_url)


def _post_consumer_data(consumer_data: dict[str, object], url: str) -> None:
    """``WC_Auth::post_consumer_data``: JSON, and only an answer of exactly 200 counts."""
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    try:
        response = requests.post(
            url, data=json.dumps(consumer_data), headers=headers, timeout=CALLBACK_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as error:
        logger.info("wc-auth callback %s failed: %s", url, error)
        raise AuthEndpointError(str(error)[:200]) from error
    if response.status_code != 200:
        logger.info("wc-auth callback %s answered %s", url, response.status_code)
        raise AuthEndpointError(SEND_FAILED)
