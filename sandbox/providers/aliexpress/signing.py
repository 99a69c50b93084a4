"""AliExpress Open Platform (IOP) request signatures, as the official SDK computes them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def request_sign(*, app_secret: str, params: Mapping[str, str], api_path: str = "", sign_method: str = "sha256") -> str:
    """``sign``: UPPER hex HMAC-SHA256(app_secret, api_path + sorted key+value of every param but ``sign``).

    ``api_path`` is only for path-style system APIs (e.g. ``/auth/token/create``); method-style
    business APIs (``/sync?method=…``) sign the parameters alone. ``sign_method=md5`` is the
    legacy TOP form: UPPER hex MD5(app_secret + key+value… + app_secret).
    """
    pairs = api_path + "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    if sign_method == "md5":
        return hashlib.md5(f"{app_secret}{pairs}{app_secret}".encode(), usedforsecurity=False).hexdigest().upper()
    return hmac.new(app_secret.encode(), pairs.encode(), hashlib.sha256).hexdigest().upper()


def webhook_signature(*, app_key: str, app_secret: str, body: bytes) -> str:
    """SIMULATED, as AliExpress does not document its push signature.

    Lower hex HMAC-SHA256(key=app_secret, msg=app_key + raw body), sent as ``Authorization``.
    """
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
