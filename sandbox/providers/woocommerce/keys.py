"""A simulated site's REST API keys: the one the control API hands out, and the ones made by the
authorization endpoint (``/wc-auth/v1/authorize``), as ``woocommerce_api_keys`` rows are.

The control API's pair is the site's ``credentials`` (read/write). Each approved app gets its
own pair in ``options["api_keys"]`` (a list of ``{key_id, description, permissions,
consumer_key, consumer_secret, truncated_key}``), valid alongside it; deleting that option from
the control API revokes them (the site then answers 401, as WordPress does for a revoked key).
Keys are made as ``WC_Auth::create_keys`` makes them: ``ck_`` / ``cs_`` and 40 hex digits.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from sandbox.models import SimAccount
from sandbox.providers._state import options_update

KEYS_OPTION = "api_keys"
SCOPES = ("read", "write", "read_write")
FIRST_KEY_ID = 2  # key 1 is the control API's pair


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str  # read, write or read_write


def _key_of(row: dict[str, Any], permissions: str) -> ApiKey:
    return ApiKey(str(row.get("consumer_key", "")), str(row.get("consumer_secret", "")), permissions)


def site_keys(site: SimAccount) -> list[ApiKey]:
    """Every key the site accepts: the control API's pair first, then the approved apps'."""
    rows = [row for row in site.options.get(KEYS_OPTION, []) or [] if isinstance(row, dict)]
    keys = [_key_of(site.credentials, "read_write")]
    keys += [_key_of(row, str(row.get("permissions", "read"))) for row in rows]
    return [key for key in keys if key.consumer_key and key.consumer_secret]


def key_find(site: SimAccount, consumer_key: str) -> ApiKey | None:
    """The key presented (compared in constant time), or None."""
    found = None
    for key in site_keys(site):
        if hmac.compare_digest(key.consumer_key.encode(), consumer_key.encode()):
            found = key
    return found


def key_create(site: SimAccount, *, app_name: str, scope: str) -> dict[str, Any]:
    """A new pair for an approved app; returns the row (with ``key_id``) as the callback gets it."""
    permissions = scope if scope in SCOPES else "read"
    consumer_key, consumer_secret = f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"
    description = f"{app_name[:170]} - API ({timezone.now():%Y-%m-%d %H:%M:%S})"

    def add(options: dict[str, Any]) -> dict[str, Any]:
        rows = options.setdefault(KEYS_OPTION, [])
        key_id = max([FIRST_KEY_ID - 1, *(int(row.get("key_id", 0)) for row in rows)]) + 1
        row = {
            "key_id": key_id,
            "description": description,
            "permissions": permissions,
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "truncated_key": consumer_key[-7:],
        }
        rows.append(row)
        return row

    return options_update(site, add)


def key_delete(site: SimAccount, key_id: int) -> None:
    """Remove an app's key (``WC_Auth::maybe_delete_key`` after a failed callback)."""

    def remove(options: dict[str, Any]) -> None:
        options[KEYS_OPTION] = [row for row in options.get(KEYS_OPTION, []) if row.get("key_id") != key_id]

    options_update(site, remove)
