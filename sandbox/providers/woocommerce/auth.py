"""WooCommerce REST authentication as ``WC_REST_Authentication`` does it.

Over HTTPS (``request.is_secure()`` or ``X-Forwarded-Proto: https``): HTTP Basic with the
consumer key and secret, or the ``consumer_key`` / ``consumer_secret`` query parameters.
Then, over HTTP or HTTPS, OAuth 1.0a one-legged: the oauth_* parameters in the query (or an
``Authorization: OAuth`` header), a signature over
``METHOD&rawurlencode(url)&rawurlencode(sorted "k=v" pairs joined by &)``, HMAC-SHA1 or
HMAC-SHA256 keyed with ``consumer_secret&``, a timestamp within 15 minutes and an unused
nonce. Nothing presented = anonymous, which the endpoint then refuses with 401.

Any of the site's keys is accepted (``keys.site_keys``: the control API's pair and the ones made
by the authorization endpoint); a key's permissions are then checked as
``WC_REST_Authentication::check_permissions`` does: a read key may not write, a write key may
not read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

from django.core.cache import cache
from django.http import HttpRequest

from sandbox.models import SimAccount
from sandbox.providers.woocommerce.keys import ApiKey, key_find

OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
TIMESTAMP_WINDOW = 15 * 60
ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
READ_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class WooAuthError(Exception):
    code: str
    message: str
    status: int = 401


def is_https(request: HttpRequest) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure() or forwarded == "https"


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986): everything but letters, digits and ``-_.~`` escaped."""
    return quote(value, safe="-_.~")


def oauth_signature(
    *, method: str, url: str, params: dict[str, str], consumer_secret: str, signature_method: str = "HMAC-SHA256"
) -> str:
    """The oauth_signature WooCommerce expects for a request (``oauth_signature`` itself excluded)."""
    pairs = [
        rawurlencode(f"{rawurlencode(key)}={rawurlencode(value)}")
        for key, value in sorted(params.items())
        if key != "oauth_signature"
    ]
    string_to_sign = f"{method.upper()}&{rawurlencode(url)}&{'%26'.join(pairs)}"
    digest = hmac.new(f"{consumer_secret}&".encode(), string_to_sign.encode(), ALGORITHMS[signature_method]).digest()
    return base64.b64encode(digest).decode()


def _header_params(request: HttpRequest) -> dict[str, str]:
    header = request.headers.get("Authorization", "").strip()
    if not header.lower().startswith("oauth "):
        return {}
    return {key: unquote(value) for key, value in re.findall(r'(\w+)="([^"]*)"', header[6:])}


def _basic(request: HttpRequest, site: SimAccount) -> ApiKey | None:
    key, secret = request.GET.get("consumer_key", ""), request.GET.get("consumer_secret", "")
    header = request.headers.get("Authorization", "")
    if not (key and secret) and header.lower().startswith("basic "):
        try:
            key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key, secret = "", ""
    found = key_find(site, key) if key and secret else None
    if found is None:
        return None  # as WooCommerce: an unknown key over Basic is just "not authenticated"
    if not hmac.compare_digest(found.consumer_secret.encode(), secret.encode()):
        raise WooAuthError("woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    return found


def _oauth(request: HttpRequest, site: SimAccount) -> ApiKey | None:
    params = {**request.GET.dict(), **request.POST.dict(), **_header_params(request)}
    missing = [name for name in OAUTH_PARAMS if not params.get(name)]
    if len(missing) == len(OAUTH_PARAMS):
        return None
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise WooAuthError(
            "woocommerce_rest_authentication_missing_parameter", f"Missing OAuth {noun} {', '.join(missing)}"
        )
    found = key_find(site, params["oauth_consumer_key"])
    if found is None:
        raise WooAuthError("woocommerce_rest_authentication_error", "Consumer key is invalid.")
    if params["oauth_signature_method"] not in ALGORITHMS:
        raise WooAuthError("woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")
    url = f"{'https' if is_https(request) else 'http'}://{request.get_host()}{request.path}"
    expected = oauth_signature(
        method=request.method or "GET",
        url=url,
        params=params,
        consumer_secret=found.consumer_secret,
        signature_method=params["oauth_signature_method"],
    )
    given = params["oauth_signature"].replace(" ", "+")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise WooAuthError(
            "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."
        )
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        timestamp = 0
    if abs(time.time() - timestamp) > TIMESTAMP_WINDOW:
        raise WooAuthError("woocommerce_rest_authentication_error", "Invalid timestamp.")
    # Nonces are remembered in the cache (shared by processes when REDIS_URL is set).
    nonce_key = f"sandbox:wc-nonce:{site.pk}:{hashlib.sha256(params['oauth_nonce'].encode()).hexdigest()}"
    if not cache.add(nonce_key, 1, TIMESTAMP_WINDOW * 2):
        raise WooAuthError("woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
    return found


def _check_permissions(method: str, key: ApiKey) -> None:
    lacking = ""
    if key.permissions == "read" and method not in READ_METHODS:
        lacking = "write"
    elif key.permissions == "write" and method in READ_METHODS:
        lacking = "read"
    if lacking:
        message = f"The API key provided does not have {lacking} permissions."
        raise WooAuthError("woocommerce_rest_authentication_error", message)


def authenticate(request: HttpRequest, site: SimAccount) -> bool:
    """True when the request carries one of the site's keys, allowed this method; raises
    WooAuthError for a failed attempt."""
    found = _basic(request, site) if is_https(request) else None
    found = found or _oauth(request, site)
    if found is None:
        return False
    _check_permissions(request.method or "GET", found)
    return True
