"""What a call to an outside provider (channel, supplier, tracker) can fail with.

One exception per meaning, so callers catch what they can act on:
``CredentialsError`` (refused credentials: the merchant reconnects), ``NotSupported`` (the
API cannot do this), ``MalformedPayload`` (a body we cannot map; the message names the field),
``HostNotAllowed`` (an address our host policy refuses: nothing was sent), ``OutcomeUnknown``
(a write without an idempotency key was sent and no answer came: it is never re-sent blindly,
the caller asks the provider what happened) and, for the rest, ``ProviderError`` with
``retryable`` true only for what may pass by itself (429, 5xx, timeouts) and ``retry_after``
(seconds) when the provider or our backoff says how long to wait: a task uses it as its countdown.
``RateLimited`` (a ``ProviderError``) is our own pacing saying "not now": nothing was sent.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A call to the provider failed. ``retryable`` for 429, 5xx and timeouts only."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after  # seconds to wait before trying again (a task's countdown)


class CredentialsError(ProviderError):
    """The provider refused the credentials: say what is wrong, in words a merchant can act on."""


class NotSupported(ProviderError):
    """The provider's API cannot do this (e.g. register webhooks through the API)."""


class HostNotAllowed(ProviderError):
    """The address is refused by the outbound host policy (``integrations.hosts``); nothing was
    sent. The message names what is refused and what is allowed."""


class OutcomeUnknown(ProviderError):
    """A write that is not safe to repeat was sent, and no answer came (timeout, reset, 5xx):
    the provider may or may not have done it. Not re-sent; the caller asks the provider."""


class RateLimited(ProviderError):
    """Not sent: our own pacing of the provider's call rate (``integrations.http.Pacer``) has no
    slot within the short wait a call may take inline. Nothing reached the provider, so even a
    write may be sent later; ``retry_after`` says when the next slot is (the task's countdown)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after)


class MalformedPayload(ValueError):
    """A webhook or API body that cannot be mapped; the message says why (kept on the delivery)."""
