"""OAuth 1.0a one-legged signing as WooCommerce verifies it (``WC_REST_Authentication``).

Used over plain HTTP, where WooCommerce refuses HTTP Basic: the oauth_* parameters go in the
query; the signature covers ``METHOD&enc(url)&enc(sorted "k=v" pairs joined by "&")`` with
HMAC-SHA256 keyed ``consumer_secret&``; ``enc`` is RFC 3986 (PHP's rawurlencode).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from integrations.signing import hmac_sha256_base64

SIGNATURE_METHOD = "HMAC-SHA256"
DEFAULT_PORTS = {"http": 80, "https": 443}


def enc(value: str) -> str:
    return quote(value, safe="-_.~")


def base_url(url: str) -> str:
    """Scheme, host and path as signed: no query, no fragment, no default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host if parts.port in (None, DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def oauth_signature(*, method: str, url: str, params: Mapping[str, str], consumer_secret: str) -> str:
    pairs = "&".join(f"{enc(key)}={enc(params[key])}" for key in sorted(params) if key != "oauth_signature")
    base_string = f"{method.upper()}&{enc(base_url(url))}&{enc(pairs)}"
    return hmac_sha256_base64(f"{consumer_secret}&", base_string.encode())


def oauth_params(
    *,
    method: str,
    url: str,
    params: Mapping[str, str],
    consumer_key: str,
    consumer_secret: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """``params`` plus the oauth_* parameters and their signature (a fresh nonce per call)."""
    signed = {
        **params,
        "oauth_consumer_key": consumer_key,
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": SIGNATURE_METHOD,
    }
    signed["oauth_signature"] = oauth_signature(method=method, url=url, params=signed, consumer_secret=consumer_secret)
    return signed
