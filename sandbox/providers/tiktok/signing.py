"""TikTok Shop signatures (API version 202309), as the official SDKs compute them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

EXCLUDED_PARAMS = ("sign", "access_token")


def request_sign(*, app_secret: str, path: str, params: Mapping[str, str], body: str = "") -> str:
    """``sign``: lower hex HMAC-SHA256(app_secret, app_secret + path + sorted key+value + body + app_secret).

    ``params`` are the query parameters; ``sign``, ``access_token`` and empty values are left
    out. ``body`` is the raw JSON body of a non-GET request ("" otherwise).
    """
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in EXCLUDED_PARAMS and params[key] != "")
    message = f"{app_secret}{path}{pairs}{body}{app_secret}"
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_authorization(*, app_key: str, app_secret: str, body: bytes) -> str:
    """The webhook ``Authorization`` header: lower hex HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
