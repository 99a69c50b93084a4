"""The contract every sales-channel provider fulfils (Shopify, WooCommerce, TikTok Shop).

A provider folder ``channels_sync/providers/<name>/`` has three parts (see STYLE.md):
pure mapping of the channel's JSON to ``ChannelOrder`` (``mapping.py``), the HTTP client
(``client.py``, on ``integrations.http.ProviderHttpClient``: host policy, deadlines, size cap,
a retry policy per call, Retry-After and the channel's rate-limit headers), and the
``ChannelProvider`` subclass tying them together, registered in ``REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from integrations.errors import NotSupported
from integrations.http import CONNECT_TIMEOUT, MAX_ATTEMPTS, AttemptRecorder
from integrations.oauth import TokenGrant, TokenSource
from orders.enums import Channel
from orders.services import OrderData
from orders.services.customer_refunds import CustomerRefundData


@dataclass(frozen=True)
class ChannelOrder:
    """One channel order, normalized."""

    data: OrderData  # number, lines, totals, customer, paid, canceled, …
    updated_at: datetime  # the channel's own update time (pull cursors use it)
    # Ids of the same purchase in other channels found in this order's source data (a TikTok
    # order id on a Shopify order); a TikTok order lists its own id. Used to flag duplicates.
    purchase_ids: tuple[str, ...] = ()
    # The order's customer refunds when the body lists them (``orders.services.customer_refunds``);
    # None when it says nothing about them (the stored ones are left as they are).
    refunds: tuple[CustomerRefundData, ...] | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: list[ChannelOrder]
    has_more: bool = False
    # Where the listing goes on after this page (the channel's page cursor, or a page number),
    # for ``iter_order_pages(resume=…)`` with the same ``updated_since``; "" on the last page.
    resume: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    dedupe_key: str  # X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID, tts_notification_id, or a body hash
    topic: str
    order_id: str | None = None  # the channel order the event is about
    order: ChannelOrder | None = None  # the full order when the payload carries it (Shopify, WooCommerce)
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription as the channel lists it, read defensively: the list is the
    channel's answer, so an item whose id is not a number or whose address is not a string is
    skipped (``None`` from ``read``), and a topic that is not a string is read as "" (it matches
    none of ours, yet the subscription may still be ours to delete)."""

    id: str  # digits only: it goes into the DELETE's path
    topic: str
    address: str
    active: bool = True

    @classmethod
    def read(cls, item: object, *, address_key: str) -> Subscription | None:
        if not isinstance(item, dict):
            return None
        hook_id, topic, address = item.get("id"), item.get("topic"), item.get(address_key)
        if isinstance(hook_id, bool) or not isinstance(hook_id, int | str) or not isinstance(address, str):
            return None
        if not (str(hook_id).isascii() and str(hook_id).isdigit()):
            return None
        topic = topic if isinstance(topic, str) else ""
        return cls(id=str(hook_id), topic=topic, address=address, active=item.get("status", "active") == "active")


def subscriptions_of(items: object, *, address_key: str) -> list[Subscription]:
    """The well-formed subscriptions of a channel's list (anything but a list reads as none)."""
    if not isinstance(items, list):
        return []
    return [hook for item in items if (hook := Subscription.read(item, address_key=address_key)) is not None]


class ChannelProvider:
    """Base class: every method raises ``NotSupported`` unless the provider implements it."""

    channel: ClassVar[Channel]
    # The listing runs oldest update first: every order updated before the newest one stored is
    # stored, so that time is a safe place to start again when a resume token is refused.
    listing_by_update: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float = 10.0,
        max_attempts: int = MAX_ATTEMPTS,
        recorder: AttemptRecorder | None = None,
        finish_by: float | None = None,
        token_source: TokenSource | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # An app-connected store's expiring token (``channels_sync.services.tokens.StoreTokens``);
        # None: the ``access_token`` of ``credentials`` is used as it is.
        self.token_source = token_source
        self.credentials = credentials
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.recorder = recorder
        self.finish_by = finish_by  # every call ends by then (a page action's budget), when set

    @property
    def client_options(self) -> dict[str, Any]:
        """For the HTTP client: ``timeout`` per read (connecting capped by it), attempts per call, and
        where each attempt is recorded for support."""
        return {
            "timeout": (min(CONNECT_TIMEOUT, self.timeout), self.timeout),
            "max_attempts": self.max_attempts,
            "recorder": self.recorder,
            "finish_by": self.finish_by,
            "token_source": self.token_source,
        }

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """Spend the store's refresh token (in ``credentials``) at the channel's token endpoint with
        the operator's app credentials; the new tokens. Raises ``GrantRefused`` when the channel
        refuses it for good (the store needs reconnecting), ``ProviderError`` otherwise."""
        raise NotSupported(f"{cls.channel} tokens do not expire")

    def check_credentials(self) -> str:
        """One live call; returns a short identity (shop name). Raises CredentialsError."""
        raise NotSupported(f"{self.channel} cannot check credentials")

    def iter_order_pages(
        self, *, updated_since: datetime | None, page_size: int = 100, resume: str = ""
    ) -> Iterator[OrderPage]:
        """Every order updated at or after ``updated_since`` (all when None), page by page; from
        the page after the one whose ``resume`` is given, when given (same ``updated_since``).
        A token the channel no longer takes (an expired cursor) raises ``ProviderError``."""
        raise NotSupported(f"{self.channel} cannot list orders")

    def fetch_orders(self, order_ids: list[str]) -> list[ChannelOrder]:
        raise NotSupported(f"{self.channel} cannot fetch orders")

    def shop_identity(self) -> str:
        """The shop as this channel's webhooks name it (kept as ``Store.shop_id``), asked of the
        channel at connect; ``webhook_shop`` gives the same form for a delivery."""
        raise NotSupported(f"{self.channel} cannot name its shop")

    def register_webhooks(self, *, address: str) -> list[str]:
        """Subscribe ``address`` to the order topics; returns the topics subscribed."""
        raise NotSupported(f"{self.channel} webhooks are set up in its dashboard")

    def unregister_webhooks(self, *, address: str) -> int:
        """Delete every subscription of the channel that delivers to ``address``; returns how many."""
        raise NotSupported(f"{self.channel} webhooks are removed in its dashboard")

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str]) -> bool:
        """Constant-time signature check over the raw body."""
        raise NotSupported(f"{cls.channel} webhooks are not supported")

    @classmethod
    def is_unsigned_ping(cls, *, headers: Mapping[str, str], body: bytes) -> bool:
        """A channel's unsigned "is this address alive?" request, which carries no data: answered
        200 and not stored (WooCommerce pings a webhook's address when it is saved)."""
        return False

    @classmethod
    def webhook_shop(cls, *, headers: Mapping[str, str], body: bytes) -> str:
        """The shop a delivery says it comes from, in ``shop_identity``'s form ("" when it names
        none). Read from the raw delivery, not the parsed event: a body that cannot be parsed is
        still attributed (or refused) by it."""
        raise NotSupported(f"{cls.channel} webhooks are not supported")

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Raises MalformedPayload with the reason when the body cannot be understood."""
        raise NotSupported(f"{cls.channel} webhooks are not supported")


REGISTRY: dict[str, type[ChannelProvider]] = {}


def register(provider: type[ChannelProvider]) -> type[ChannelProvider]:
    REGISTRY[provider.channel] = provider
    return provider


def provider_for(channel: str, *, base_url: str, credentials: Mapping[str, str]) -> ChannelProvider:
    return REGISTRY[channel](base_url=base_url, credentials=credentials)
