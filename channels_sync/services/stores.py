"""Connecting, pausing and disconnecting stores."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import MAX_ATTEMPTS, REGISTRY, ChannelProvider
from channels_sync.services.attempts import AttemptLog
from integrations.errors import CredentialsError, NotSupported, ProviderError
from orders.enums import Channel

logger = logging.getLogger(__name__)

DEFAULT_BASE_URLS: dict[str, str] = {Channel.TIKTOK: "https://open-api.tiktokglobalshop.com"}


class ConnectError(Exception):
    """The store cannot be connected; the message says why, for the merchant. Nothing was created."""


@dataclass(frozen=True)
class ConnectResult:
    store: Store
    identity: str  # what the channel calls the shop
    webhook_url: str
    webhook_topics: list[str]  # subscribed through the API; empty when set up in the channel's dashboard


def webhook_url_for(*, channel: str, public_id: uuid.UUID | str) -> str:
    path = reverse("channels_sync:webhook", kwargs={"channel": channel, "public_id": public_id})
    return f"{settings.SITE_URL}{path}"


def _provider(channel: str, *, base_url: str, credentials: Mapping[str, str]) -> ChannelProvider:
    provider_class = REGISTRY.get(channel)
    if provider_class is None:
        raise ConnectError(_("%(channel)s is not available yet.") % {"channel": Channel(channel).label})
    return provider_class(
        base_url=base_url,
        credentials=credentials,
        timeout=settings.SYNC_PROVIDER_TIMEOUT,
        recorder=AttemptLog(store_id=None),  # no store yet: the attempts are kept without one
    )


def store_provider(store: Store, *, max_attempts: int = MAX_ATTEMPTS) -> ChannelProvider:
    """The provider client of a store, with its decrypted credentials (never logged, never
    rendered); every attempt it makes is kept for support (``ProviderAttempt``)."""
    provider_class = REGISTRY[store.channel]
    return provider_class(
        base_url=store.base_url,
        credentials=store.signing_credentials(),
        timeout=settings.SYNC_PROVIDER_TIMEOUT,
        max_attempts=max_attempts,
        recorder=AttemptLog(store_id=store.pk),
    )


def store_connect(
    *,
    account: Account,
    channel: str,
    name: str,
    base_url: str,
    credentials: Mapping[str, str],
    webhook_secret: str = "",
    domain: str = "",
) -> ConnectResult:
    """Check the credentials live, subscribe webhooks where the API allows, then create the store.

    Raises ``ConnectError`` with what is wrong; then nothing is created.
    """
    name = name.strip()
    if Store.objects.filter(account=account, name=name).exists():
        raise ConnectError(_("A store named “%(name)s” already exists in this account.") % {"name": name})
    base_url = (base_url or DEFAULT_BASE_URLS.get(channel, "")).strip().rstrip("/")
    if not base_url and channel == Channel.SHOPIFY and domain:
        base_url = f"https://{domain.strip()}"
    if not base_url:
        raise ConnectError(_("Give the store's address (its URL)."))
    secrets = {key: value.strip() for key, value in credentials.items() if value and value.strip()}
    webhook_secret = webhook_secret.strip() or secrets.pop("webhook_secret", "")
    secrets.pop("webhook_secret", None)
    provider = _provider(channel, base_url=base_url, credentials={**secrets, "webhook_secret": webhook_secret})
    try:
        identity = provider.check_credentials()
    except CredentialsError as error:
        raise ConnectError(_("The channel refused these credentials: %(reason)s") % {"reason": error}) from error
    except ProviderError as error:
        raise ConnectError(_("Could not reach the store: %(reason)s") % {"reason": error}) from error
    public_id = uuid.uuid4()
    webhook_url = webhook_url_for(channel=channel, public_id=public_id)
    try:
        topics = provider.register_webhooks(address=webhook_url)
    except NotSupported:
        topics = []  # set up in the channel's dashboard (TikTok Shop): the page shows the address
    except ProviderError as error:
        raise ConnectError(_("Could not subscribe to the store's webhooks: %(reason)s") % {"reason": error}) from error
    store = Store(
        account=account,
        channel=channel,
        name=name,
        domain=(domain.strip() or _default_domain(channel, base_url=base_url, secrets=secrets))[:255],
        base_url=base_url,
        public_id=public_id,
    )
    store.credentials = secrets
    store.webhook_secret = webhook_secret
    store.save()
    return ConnectResult(store=store, identity=identity, webhook_url=webhook_url, webhook_topics=topics)


def _default_domain(channel: str, *, base_url: str, secrets: Mapping[str, str]) -> str:
    if channel == Channel.TIKTOK:
        return secrets.get("shop_cipher", "")
    return urlsplit(base_url).hostname or ""


@transaction.atomic
def store_set_paused(*, account: Account, store_id: int, paused: bool) -> Store:
    """Pause (webhooks are acknowledged but ignored, no pulls) or resume (the next pull catches up)."""
    store = Store.objects.select_for_update().get(account=account, pk=store_id)
    if store.status == StoreStatus.DISCONNECTED:
        return store
    store.status = StoreStatus.PAUSED if paused else StoreStatus.ACTIVE
    if not paused:
        store.last_pull_at = None  # due at once
    store.save(update_fields=["status", "last_pull_at"])
    return store


@dataclass(frozen=True)
class DisconnectResult:
    store: Store
    # Subscriptions deleted at the channel; None when its API cannot (TikTok Shop: its
    # dashboard) or the call failed: the merchant removes them there.
    webhooks_removed: int | None


def store_disconnect(*, account: Account, store_id: int) -> DisconnectResult:
    """Stop syncing: delete our webhook subscriptions at the channel (best effort, while the
    credentials still work), then forget the secrets. The orders stay in the order center."""
    store = Store.objects.get(account=account, pk=store_id)
    removed: int | None = None
    if store.status != StoreStatus.DISCONNECTED:
        try:  # the channel is called outside any transaction
            # One attempt per call: the merchant is waiting on the page, and a failure only
            # means they remove the subscriptions in the channel's admin.
            removed = store_provider(store, max_attempts=1).unregister_webhooks(
                address=webhook_url_for(channel=store.channel, public_id=store.public_id)
            )
        except (ProviderError, ValueError) as error:  # NotSupported, refused, down; unreadable secrets
            logger.info("store %s: webhooks not removed at the channel: %s", store.pk, error)
    with transaction.atomic():
        store = Store.objects.select_for_update().get(account=account, pk=store_id)
        store.status = StoreStatus.DISCONNECTED
        store.credentials = {}
        store.webhook_secret = ""
        store.save(update_fields=["status", "credentials_token", "webhook_secret_token"])
    return DisconnectResult(store=store, webhooks_removed=removed)
