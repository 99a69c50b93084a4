"""The one shape of a fulfillment push-back, whatever the channel (types only).

A push tells a sales channel that a parcel left: ``push_fulfillment(provider, request)`` in
``channels_sync/providers/<channel>/fulfillment.py`` takes a ``FulfillmentRequest`` and

- returns ``Pushed(external_id)``: the channel now has this parcel (its fulfillment, note or
  package ids, comma-separated when there are several);
- returns ``AlreadyFulfilled(detail)``: the order, or those lines, were fulfilled already (by
  hand in the channel, or by an earlier push of this parcel whose answer was lost): recognised
  and not done twice; ``detail`` says what was found;
- raises ``PushRefused(code, message)``: the channel (or what we read of it) says no, and trying
  again will not change that (the channel's own words, e.g. Shopify's userErrors; an unknown
  carrier on TikTok Shop; a cancelled order). Show it on the order and in admin with Retry;
- raises ``integrations.errors.ProviderError`` with ``retryable`` true (5xx, timeouts, 429 with
  ``retry_after`` as the task's countdown): try again later; every push first reads the channel's
  state, so a retry after any failure never fulfils twice;
- raises the other ``integrations.errors`` (``CredentialsError``: the store needs reconnecting).

``PushRefused`` is a ``ProviderError`` (not retryable), so catch it first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from integrations.errors import ProviderError


@dataclass(frozen=True)
class FulfillmentLine:
    """One line of the channel order in the parcel: its ``channel_line_id`` (``OrderLine``'s, as the
    channel mapping wrote it) and how many of it."""

    channel_line_id: str
    quantity: int


@dataclass(frozen=True)
class FulfillmentRequest:
    """One parcel to push. ``lines`` empty: the parcel covers every line still open of the order."""

    channel_order_id: str
    tracking_number: str
    carrier: str  # as the supplier named it ("AliExpress Standard Shipping", "YunExpress", …)
    lines: tuple[FulfillmentLine, ...] = ()
    tracking_url: str = ""  # sent when the channel cannot build one (an unknown carrier)
    notify_customer: bool = True  # Shopify only: TikTok Shop always tells the buyer; WooCommerce by note


@dataclass(frozen=True)
class Pushed:
    """The channel has the parcel now."""

    external_id: str  # Shopify fulfillment id(s), WooCommerce note id, TikTok Shop package id(s)
    detail: str = ""


@dataclass(frozen=True)
class AlreadyFulfilled:
    """Nothing was sent: the channel had it already (by hand, or an earlier push of the same parcel)."""

    detail: str


PushResult = Pushed | AlreadyFulfilled


class PushRefused(ProviderError):
    """The channel refuses the push for a reason another try will not change; ``code`` is the
    channel's error code (or ours: ``order_cancelled``, ``unknown_carrier``, …), ``message`` says
    it in words a merchant can act on."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, retryable=False)
        self.code, self.message = code, message


def claim_check(still_ours: Callable[[], bool] | None) -> None:
    """Right before a write the channel cannot take twice: the runner's hold on the push is still
    this worker's (``still_ours``, None: no runner), else a retryable error and nothing is sent
    (the worker that has the push now reads the channel first)."""
    if still_ours is not None and not still_ours():
        raise ProviderError(_("Another worker has this push now: nothing was sent"), retryable=True)
