"""Stores: their provider client, webhook address, pausing and disconnecting (connecting: ``connect.py``)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import MAX_ATTEMPTS, REGISTRY, ChannelProvider
from channels_sync.services.attempts import AttemptLog
from channels_sync.services.tokens import StoreTokens
from integrations.crypto import SecretUnreadable
from integrations.errors import MalformedPayload, ProviderError

logger = logging.getLogger(__name__)


def webhook_url_for(*, channel: str, public_id: uuid.UUID | str) -> str:
    path = reverse("channels_sync:webhook", kwargs={"channel": channel, "public_id": public_id})
    return f"{settings.SITE_URL}{path}"


def store_provider(
    store: Store, *, max_attempts: int = MAX_ATTEMPTS, interactive: bool = False, finish_by: float | None = None
) -> ChannelProvider:
    """The provider client of a store, with its decrypted credentials (never logged, never
    rendered); every attempt it makes is kept for support (``ProviderAttempt``).

    ``interactive``: a merchant waits on the page (disconnect, a new webhook address): one attempt
    per call, and all the calls together end within ``OUTBOUND_INTERACTIVE_BUDGET`` seconds (the
    web server's own timeout would otherwise kill the request half-way through).
    ``finish_by``: a ``time.monotonic()`` deadline no call may outlive (a fulfillment push ends
    within its worker's hold on it); with ``interactive``, the earlier of the two.
    """
    if interactive:
        budget = time.monotonic() + settings.OUTBOUND_INTERACTIVE_BUDGET
        finish_by = budget if finish_by is None else min(finish_by, budget)
    provider_class = REGISTRY[store.channel]
    return provider_class(
        base_url=store.base_url,
        credentials=store.signing_credentials(),
        timeout=settings.SYNC_PROVIDER_TIMEOUT,
        max_attempts=1 if interactive else max_attempts,
        recorder=AttemptLog(store_id=store.pk),
        finish_by=finish_by,
        # An app-connected store's token expires: read (and refreshed) per attempt, under its claim.
        token_source=StoreTokens(store.pk) if store.auth_kind == AuthKind.APP else None,
    )


@transaction.atomic
def store_set_paused(*, account: Account, store_id: int, paused: bool) -> Store:
    """Pause (webhooks are acknowledged but ignored, no pulls) or resume (the next pull catches up)."""
    store = Store.objects.select_for_update().get(account=account, pk=store_id)
    if store.status not in (StoreStatus.ACTIVE, StoreStatus.ERROR, StoreStatus.PAUSED):
        return store  # disconnected, or never connected: nothing to pause (resuming would make it active)
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
            removed = store_provider(store, interactive=True).unregister_webhooks(
                address=webhook_url_for(channel=store.channel, public_id=store.public_id)
            )
        # NotSupported, refused, down; an answer that is not the list we asked for; unreadable
        # secrets. The store is disconnected all the same; the merchant is told.
        except (ProviderError, MalformedPayload, SecretUnreadable) as error:
            logger.info("store %s: webhooks not removed at the channel: %s", store.pk, error)
    store = store_forget(store_id=store.pk)
    return DisconnectResult(store=store, webhooks_removed=removed)


# What a disconnected store keeps of its access: nothing. Its tokens' times and claims go with them.
_FORGOTTEN = {
    "status": StoreStatus.DISCONNECTED,
    "credentials_token": "",
    "webhook_secret_token": "",
    # A connect check under way is dropped with it: it would make the store active again.
    "connect_pending_token": "",
    "connect_started_at": None,
    "token_expires_at": None,
    "refresh_expires_at": None,
    "token_refreshing_until": None,
    "token_group": "",
}


def store_forget(*, store_id: int, reason: str = "") -> Store:
    """Mark the store disconnected and forget its secrets and tokens, without calling the channel.

    From then on nothing calls the shop: pulls, token refreshes, resyncs and webhook intake all
    leave a disconnected store alone. ``reason`` (the channel uninstalled the app, the shop's
    data was erased) is kept as the store's last error for the merchant and support.
    """
    with transaction.atomic():
        store = Store.objects.select_for_update().get(pk=store_id)
        for field, value in _FORGOTTEN.items():
            setattr(store, field, value)
        fields = list(_FORGOTTEN)
        if reason:
            store.last_error = reason
            fields.append("last_error")
        store.save(update_fields=fields)
    return store


def store_uninstalled(*, store_id: int) -> Store:
    """The channel says our app was uninstalled from the store's shop (Shopify ``app/uninstalled``):
    disconnected at once, tokens and webhook secret forgotten. The shop is not called (its tokens
    are revoked, and Shopify removes the app's webhook subscriptions itself); the orders stay."""
    reason = _("The app was uninstalled from the shop: connect it again to sync.")
    return store_forget(store_id=store_id, reason=reason)
