"""What a call to an outside provider (channel, supplier, tracker) can fail with.

One exception per meaning, so callers catch what they can act on:
``CredentialsError`` (refused credentials: the merchant reconnects), ``NotSupported`` (the
API cannot do this), ``MalformedPayload`` (a body we cannot map; the message names the field),
``HostNotAllowed`` (an address our host policy refuses: nothing was sent) and, for the rest,
``ProviderError`` with ``retryable`` true only for what may pass by itself (429, 5xx, timeouts).
"""

from __future__ import annotations


class ProviderError(Exception):
    """A call to the provider failed. ``retryable`` for 429, 5xx and timeouts only."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class CredentialsError(ProviderError):
    """The provider refused the credentials: say what is wrong, in words a merchant can act on."""


class NotSupported(ProviderError):
    """The provider's API cannot do this (e.g. register webhooks through the API)."""


class MalformedPayload(ValueError):
    """A webhook or API body that cannot be mapped; the message says why (kept on the delivery)."""
