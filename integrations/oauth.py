"""What every app authorization (OAuth-style install) and expiring token shares, whatever the channel.

- ``new_state`` / ``state_digest``: the ``state`` nonce sent to a channel's approval page. The
  nonce goes to the browser only; what is kept is its SHA-256 (a leaked table gives no usable
  state), looked up once and marked used (a replayed callback finds it spent).
- ``TokenGrant``: what a token endpoint answered (code exchange or refresh), read defensively.
- ``GrantRefused``: the channel refused the refresh token or the code for good (revoked,
  uninstalled, expired): the store needs the merchant to connect again ("Reconnect").
- ``TokenSource``: how a provider client gets the access token of its store and a fresh one after
  a 401 (``channels_sync.services.tokens`` implements it with a per-store refresh claim).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from integrations.errors import CredentialsError, MalformedPayload

STATE_BYTES = 32


def new_state() -> str:
    """A fresh, unguessable ``state`` nonce (URL-safe, 43 characters)."""
    return secrets.token_urlsafe(STATE_BYTES)


def state_digest(state: str) -> str:
    """What is stored of a state: hex SHA-256 (the nonce itself never is)."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


class GrantRefused(CredentialsError):
    """The channel refused the grant for good (a revoked or spent refresh token, an uninstalled
    app, a code used twice): only the merchant, connecting again, can mend it."""


@dataclass(frozen=True)
class TokenGrant:
    """Tokens as a channel's token endpoint gave them. ``expires_at`` / ``refresh_expires_at``:
    None when the channel says the token does not expire (a custom app's token)."""

    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scope: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # channel-specific fields worth keeping

    def credentials(self) -> dict[str, str]:
        """The secrets to keep (encrypted) on the store."""
        kept = {"access_token": self.access_token}
        if self.refresh_token:
            kept["refresh_token"] = self.refresh_token
        return kept


def seconds_from(
    body: Mapping[str, Any], key: str, *, now: datetime, maximum: float = 10 * 365 * 86400
) -> datetime | None:
    """``now`` + the whole number of seconds under ``key`` (an ``expires_in``); None when absent.
    A value that is not a positive number of seconds, or beyond ``maximum``, is a malformed answer."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedPayload(f"{key} is not a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise MalformedPayload(f"{key} is not a number of seconds") from None
    if not 0 < seconds <= maximum:
        raise MalformedPayload(f"{key} is out of range")
    return now + timedelta(seconds=seconds)


def required_text(body: Mapping[str, Any], key: str, *, limit: int = 4096) -> str:
    """A non-empty string under ``key`` of a token answer (tokens are opaque; bounded in size)."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise MalformedPayload(f"the token answer has no usable {key}")
    return value.strip()


class TokenSource(Protocol):
    """The access token of one store, as a provider client needs it."""

    def current(self) -> str:
        """The token to send now (refreshed first when it is about to expire)."""
        ...

    def refreshed(self, stale: str) -> str:
        """A token to retry with after ``stale`` was refused (401): the one another worker got
        meanwhile, or a fresh one. Raises ``GrantRefused`` when the store must be reconnected,
        a retryable ``ProviderError`` when the refresh could not be done now."""
        ...
