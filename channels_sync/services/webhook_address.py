"""Rotating a store's webhook address: a new public id, the channel's subscriptions moved to it.

An address is a secret shared with the channel; once it leaks (floods of junk use up the
store's intake limit) the owner gives the store a new one. Decisions:

* **The old address stops at once**, for every channel: deliveries to it get 404 from the
  moment the new id is saved. There is no grace period: a leaked address that keeps working
  until someone confirms is the problem rotation exists to end. What the channel sends to the
  old address in between is sent again by the channel or read by the next pull.
* **Shopify and WooCommerce** (subscriptions through the API): the new address is subscribed
  first; only when that worked is the new id saved, then the old subscriptions are deleted.
  When subscribing fails nothing changes (what was subscribed to the new address is removed
  again). When deleting the old ones fails they deliver into a 404 until the channel drops
  them or the merchant deletes them; the page says so.
* **TikTok Shop** (subscribed in its app dashboard): the new address is shown, to be set in
  the dashboard; until it is, TikTok's events for the store are refused and the pull (every
  few minutes) brings its orders in.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import ChannelProvider
from channels_sync.services.stores import store_provider, webhook_url_for
from integrations.crypto import SecretUnreadable
from integrations.errors import NotSupported, ProviderError

logger = logging.getLogger(__name__)


class AddressRotationError(Exception):
    """The address was not changed; the message says why, for the merchant."""


@dataclass(frozen=True)
class RotationResult:
    store: Store
    webhook_url: str  # the new address
    # The channel's subscriptions now deliver to the new address; False when they are set in
    # the channel's dashboard (TikTok Shop), where the merchant sets the new address.
    subscribed: bool
    # Subscriptions to the old address deleted at the channel; None when they could not be.
    old_removed: int | None


def store_webhook_address_rotate(*, account: Account, store_id: int) -> RotationResult:
    """Give the store a new webhook address and move the channel's subscriptions to it.

    Raises ``Store.DoesNotExist`` for a store not in ``account`` and ``AddressRotationError``
    when the address cannot be changed (then nothing was). The channel is called outside any
    transaction; the id moves by one conditional UPDATE, so two rotations at once cannot both
    win (the loser takes back what it subscribed).
    """
    store = Store.objects.get(account=account, pk=store_id)
    if store.status in (StoreStatus.DISCONNECTED, StoreStatus.NOT_CONNECTED, StoreStatus.CONNECTING):
        raise AddressRotationError(_("%(name)s is not connected: it has no webhook address.") % {"name": store.name})
    if store.connect_state(timezone.now()) == "connecting":  # that check subscribes the current address
        raise AddressRotationError(
            _("%(name)s is being connected: change its address once that is done.") % {"name": store.name}
        )
    old_url = webhook_url_for(channel=store.channel, public_id=store.public_id)
    new_id = uuid.uuid4()
    new_url = webhook_url_for(channel=store.channel, public_id=new_id)
    try:
        provider = store_provider(store, interactive=True)  # the merchant is waiting on the page
    except SecretUnreadable as error:  # a key removed too early
        raise AddressRotationError(_("The store's credentials cannot be read: reconnect it.")) from error
    subscribed = _subscribe(provider, store=store, address=new_url)
    moved = Store.objects.filter(pk=store.pk, public_id=store.public_id).update(public_id=new_id)
    if not moved:
        if subscribed:
            _unsubscribe(provider, store=store, address=new_url)
        raise AddressRotationError(_("The address of %(name)s was changed meanwhile.") % {"name": store.name})
    store.public_id = new_id
    old_removed = _unsubscribe(provider, store=store, address=old_url) if subscribed else None
    return RotationResult(store=store, webhook_url=new_url, subscribed=subscribed, old_removed=old_removed)


def _subscribe(provider: ChannelProvider, *, store: Store, address: str) -> bool:
    try:
        provider.register_webhooks(address=address)
    except NotSupported:
        return False
    except ProviderError as error:
        _unsubscribe(provider, store=store, address=address)  # whatever part of it was created
        raise AddressRotationError(
            _("%(channel)s did not take the new address, so nothing was changed: %(reason)s")
            % {"channel": store.get_channel_display(), "reason": error}
        ) from error
    return True


def _unsubscribe(provider: ChannelProvider, *, store: Store, address: str) -> int | None:
    """Best effort: a subscription left behind delivers into a 404 and is dropped by the channel."""
    try:
        return provider.unregister_webhooks(address=address)
    except ProviderError as error:
        logger.info("store %s: subscriptions to %s not removed at the channel: %s", store.pk, address, error)
        return None
