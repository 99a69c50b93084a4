"""Signatures providers put on what they send us, and we on what we send them: one helper each.

Every provider we speak to signs with HMAC-SHA256 and differs only in the key, the message and
the encoding (Shopify and WooCommerce: base64 of the raw body's MAC; TikTok Shop: lower hex).
A signature is always compared in constant time (``signature_matches``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256_base64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    """Constant time; an absent or empty signature never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())
