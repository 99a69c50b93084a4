"""Connecting a store, and updating a store's credentials in place, checked with the channel by
a task (``channels_sync.connect_store``), never inside the web request.

``store_connect_start`` (the form) writes the details to check on the store row, new or
existing, and queues the task; ``store_connect_check`` (the task) checks them live, subscribes
the webhooks, then applies them. One row per account and name: a form sent twice while its
connect is under way finds it and queues nothing; connecting again under a store's name
updates that store (same row, same orders, same webhook address), a disconnected one included.
``store_connect`` does both at once, for the command line and tests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Account
from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import REGISTRY, ChannelProvider
from channels_sync.services.attempts import AttemptLog
from channels_sync.services.pull_queue import store_pull_enqueue
from channels_sync.services.stores import webhook_url_for
from channels_sync.services.tokens import token_group_of
from integrations.crypto import SecretUnreadable
from integrations.errors import CredentialsError, MalformedPayload, NotSupported, ProviderError
from integrations.oauth import TokenGrant
from orders.enums import Channel

logger = logging.getLogger(__name__)

DEFAULT_BASE_URLS: dict[str, str] = {Channel.TIKTOK: "https://open-api.tiktokglobalshop.com"}
NEVER_CONNECTED = (StoreStatus.CONNECTING, StoreStatus.NOT_CONNECTED)
# Channels whose subscriptions carry the webhook secret (each delivery is signed with the secret
# given when it was created): a new secret means new subscriptions.
SECRET_IN_SUBSCRIPTIONS = frozenset({Channel.WOOCOMMERCE})
# What a check stopped by the owner meanwhile leaves alone: a pause or a disconnect stays.
STOPPED = (StoreStatus.PAUSED, StoreStatus.DISCONNECTED)
STOPPED_MEANWHILE = gettext_lazy(
    "The store was paused or disconnected while its details were checked: nothing was changed. "
    "Send them again to apply them."
)


class ConnectError(Exception):
    """The store cannot be connected; the message says why, for the merchant."""


# What a check can get from a hostile or broken channel answer: a refusal, a body of the wrong shape.
CHECK_ERRORS = (ProviderError, MalformedPayload, ValueError, ConnectError)


@dataclass(frozen=True)
class ConnectDetails:
    """What the merchant gave, cleaned, before any call to the channel."""

    channel: str
    name: str
    base_url: str
    domain: str
    credentials: dict[str, str] = field(default_factory=dict)
    webhook_secret: str = ""
    # Connected as the operator's app (tokens from the channel's approval page) or with pasted
    # keys; an app's expiring tokens say when they expire (ISO 8601, "" when they do not).
    auth_kind: str = AuthKind.TOKEN
    token_expires_at: str = ""
    refresh_expires_at: str = ""


@dataclass(frozen=True)
class ConnectStart:
    store: Store
    created: bool  # a new store row
    queued: bool  # a check was queued; False: one is under way already (the form sent twice)


@dataclass(frozen=True)
class ConnectResult:
    store: Store
    identity: str  # what the channel calls the shop
    webhook_url: str
    webhook_topics: list[str]  # subscribed through the API; empty when set up in the channel's dashboard


def connect_details(
    *,
    channel: str,
    name: str,
    base_url: str,
    credentials: Mapping[str, str],
    webhook_secret: str = "",
    domain: str = "",
    grant: TokenGrant | None = None,
) -> ConnectDetails:
    """What to check, cleaned. ``grant``: the store connects as the operator's app with these
    tokens (from the channel's approval page), instead of pasted ``credentials``."""
    if channel not in REGISTRY:
        raise ConnectError(_("%(channel)s is not available yet.") % {"channel": Channel(channel).label})
    base_url = (base_url or DEFAULT_BASE_URLS.get(channel, "")).strip().rstrip("/")
    if not base_url and channel == Channel.SHOPIFY and domain:
        base_url = f"https://{domain.strip()}"
    if not base_url:
        raise ConnectError(_("Give the store's address (its URL)."))
    secrets = {key: value.strip() for key, value in credentials.items() if value and value.strip()}
    webhook_secret = webhook_secret.strip() or secrets.pop("webhook_secret", "")
    secrets.pop("webhook_secret", None)
    if channel == Channel.TIKTOK:
        domain = domain.strip() or secrets.get("shop_cipher", "")
    domain = (domain.strip() or urlsplit(base_url).hostname or "")[:255]
    if grant is None:
        return ConnectDetails(channel, name.strip(), base_url, domain, secrets, webhook_secret)
    return ConnectDetails(
        channel,
        name.strip(),
        base_url,
        domain,
        {**secrets, **grant.credentials()},
        webhook_secret,
        auth_kind=AuthKind.APP,
        token_expires_at=grant.expires_at.isoformat() if grant.expires_at else "",
        refresh_expires_at=grant.refresh_expires_at.isoformat() if grant.refresh_expires_at else "",
    )


def _same_shop(store: Store, details: ConnectDetails) -> None:
    """New credentials for a store must be for the same shop: another address would send its
    orders into this store's (its numbers and ids are another shop's)."""
    if store.channel != details.channel:
        raise ConnectError(
            _("A %(channel)s store named “%(name)s” is already in this account: choose another name.")
            % {"channel": store.get_channel_display(), "name": store.name}
        )
    if _address(store.base_url) != _address(details.base_url) or store.domain != details.domain:
        raise ConnectError(
            _(
                "“%(name)s” is the store at %(address)s: its credentials can be updated, not its address. "
                "Connect another shop under another name."
            )
            % {"name": store.name, "address": store.domain or store.base_url}
        )


def _address(url: str) -> str:
    parts = urlsplit(url.strip().rstrip("/"))
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{parts.path}"


def store_connect_start(
    *, account: Account, enqueue: bool = True, **given: str | Mapping[str, str] | TokenGrant | None
) -> ConnectStart:
    """Save the details to check on the store named so (created as "connecting" when new) and
    queue the check. Raises ``ConnectError`` for what can be told without the channel."""
    from channels_sync import tasks  # tasks import this module

    details = connect_details(**given)  # type: ignore[arg-type]
    now = timezone.now()
    with transaction.atomic():
        store = Store.objects.select_for_update().filter(account=account, name=details.name).first()
        created = store is None
        if store is None:
            store = Store(account=account, name=details.name, status=StoreStatus.CONNECTING)
            _set_pending(store, details, now)
            try:
                with transaction.atomic():  # a savepoint: the same form sent twice at once
                    store.save()
            except IntegrityError:
                store = Store.objects.select_for_update().get(account=account, name=details.name)
                return ConnectStart(store=store, created=False, queued=False)
        elif store.connect_state(now) == "connecting":
            if store.connect_pending not in ({}, asdict(details), asdict(_keeping_secret(store, details))):
                raise ConnectError(
                    _("The details of “%(name)s” are being checked: try again when that check ends.")
                    % {"name": store.name}
                )
            return ConnectStart(store=store, created=False, queued=False)  # the same form sent twice
        else:
            if store.status not in NEVER_CONNECTED:
                _same_shop(store, details)
                details = _keeping_secret(store, details)
            else:
                store.status = StoreStatus.CONNECTING
            _set_pending(store, details, now)
            store.save()
        if enqueue:
            transaction.on_commit(partial(tasks.connect_store.delay, store.pk))
    return ConnectStart(store=store, created=created, queued=True)


def _keeping_secret(store: Store, details: ConnectDetails) -> ConnectDetails:
    """Credentials updated without a webhook secret keep the store's; a store connecting as the
    operator's app does not (a Shopify app's webhooks are signed with the app's own secret, which
    the settings hold: a custom app's secret kept from before would refuse them)."""
    if details.webhook_secret or details.auth_kind == AuthKind.APP:
        return details
    return replace(details, webhook_secret=store.webhook_secret)


def _set_pending(store: Store, details: ConnectDetails, now: datetime) -> None:
    if store.status in NEVER_CONNECTED:  # nothing is synced yet: the row shows what was typed
        store.channel, store.base_url, store.domain = details.channel, details.base_url, details.domain
    store.connect_pending = asdict(details)
    store.connect_started_at = now
    store.connect_error = ""


def _provider(details: ConnectDetails, *, store_id: int) -> ChannelProvider:
    return REGISTRY[details.channel](
        base_url=details.base_url,
        credentials={**details.credentials, "webhook_secret": details.webhook_secret},
        timeout=settings.SYNC_PROVIDER_TIMEOUT,
        recorder=AttemptLog(store_id=store_id),  # every attempt kept for support (ProviderAttempt)
    )


def store_connect_check(*, store_id: int, start_import: bool = True) -> ConnectResult | None:
    """The task's part: check the pending details live, subscribe the webhooks (idempotently),
    then apply them to the store, which syncs from then on; with ``start_import``, its pull is
    queued at once. ``None`` when there is nothing to check (a late duplicate task).

    On failure the reason (with what to do) is kept on the store, a new store's subscriptions
    are removed again, the store keeps its previous credentials, and ``ConnectError`` is raised.
    """
    store = Store.objects.select_related("account").get(pk=store_id)
    started, pending, status = store.connect_started_at, store.connect_pending, store.status
    if started is None or not pending:
        return None
    details = ConnectDetails(**pending)
    provider = _provider(details, store_id=store.pk)
    webhook_url = webhook_url_for(channel=details.channel, public_id=store.public_id)
    subscribing = False  # a failure before any subscription has nothing to remove

    def failed(reason: str) -> ConnectError:
        _record_failure(store, started=started, status=status, reason=reason)
        if subscribing and status in NEVER_CONNECTED:
            _unsubscribe_quietly(provider, webhook_url)  # nothing else delivers to a new store's address
        return ConnectError(reason)

    try:
        identity = provider.check_credentials()
        shop_id = provider.shop_identity()  # the shop its webhooks must name (the intake refuses others)
        _same_shop_id(store, shop_id)
        subscribing = True
        resubscribed = _secret_changed(store, details)
        if resubscribed:  # the existing subscriptions sign with the old secret: made again with the new
            provider.unregister_webhooks(address=webhook_url)
        try:
            topics = provider.register_webhooks(address=webhook_url)
        except NotSupported:
            topics = []  # set up in the channel's dashboard (TikTok Shop): the page shows the address
    except CHECK_ERRORS as error:
        reason = str(error) if isinstance(error, ConnectError) else _failure_reason(error)
        raise failed(reason) from error
    # Any other error (a RecursionError from JSON nested too deep, a TypeError from a list of the
    # wrong shape): a bug or a hostile answer, kept with its traceback; the store is not left
    # "Connecting…" and a new store's subscriptions are removed.
    except Exception as error:
        logger.exception("store %s: its connect check failed unexpectedly", store.pk)
        raise failed(_failure_reason(error)) from error
    with transaction.atomic():
        store = Store.objects.select_for_update().select_related("account").get(pk=store_id)
        ours = store.connect_started_at == started  # else sent again meanwhile, or disconnected
        stopped = store.status != status and store.status in STOPPED  # paused or disconnected meanwhile
        if ours and stopped:
            Store.objects.filter(pk=store.pk).update(
                connect_started_at=None, connect_pending_token="", connect_error=str(STOPPED_MEANWHILE)
            )
        elif ours:
            _apply(store, details, shop_id=shop_id)
            if start_import and store.status == StoreStatus.ACTIVE:
                store_pull_enqueue(store_id=store.pk)  # the first import (or a catch-up) starts now
    if stopped:  # what this check subscribed is not kept: a pause or disconnect stays as it was made
        if status in NEVER_CONNECTED or store.status == StoreStatus.DISCONNECTED or resubscribed:
            _unsubscribe_quietly(provider, webhook_url)
        return None
    if not ours:
        return None  # sent again meanwhile: that check applies its own details
    return ConnectResult(store=store, identity=identity, webhook_url=webhook_url, webhook_topics=topics)


def _secret_changed(store: Store, details: ConnectDetails) -> bool:
    """A connected store's new webhook secret, on a channel whose subscriptions carry it."""
    return (
        details.channel in SECRET_IN_SUBSCRIPTIONS
        and store.status not in NEVER_CONNECTED
        and details.webhook_secret != store.webhook_secret
    )


def _record_failure(store: Store, *, started: datetime, status: str, reason: str) -> None:
    """The check failed: the reason stays on the store, unless another check (or a disconnect)
    replaced this one meanwhile. Only a store never connected changes status (to "not connected"):
    a pause or disconnect made meanwhile stays, and a connected store keeps its previous state."""
    ours = Store.objects.filter(pk=store.pk, connect_started_at=started)
    ours.filter(status__in=NEVER_CONNECTED).update(status=StoreStatus.NOT_CONNECTED)
    ours.update(connect_started_at=None, connect_pending_token="", connect_error=reason)


def _same_shop_id(store: Store, shop_id: str) -> None:
    """Credentials updated in place must be the same shop's by the channel's own account of it
    (the address alone says nothing for TikTok Shop, where every shop has the same API host)."""
    if store.shop_id and shop_id != store.shop_id:
        raise ConnectError(
            _("These credentials are for another shop than “%(name)s”: connect that shop under another name.")
            % {"name": store.name}
        )


def _apply(store: Store, details: ConnectDetails, *, shop_id: str) -> None:
    store.base_url, store.domain = details.base_url, details.domain
    store.shop_id = shop_id[:255]
    store.credentials = dict(details.credentials)
    store.webhook_secret = details.webhook_secret
    store.auth_kind = details.auth_kind
    store.token_expires_at = _when(details.token_expires_at)
    store.refresh_expires_at = _when(details.refresh_expires_at)
    store.token_refreshing_until = None
    store.connected_at = timezone.now()
    store.token_group = token_group_of(details.credentials) if details.auth_kind == AuthKind.APP else ""
    if store.status != StoreStatus.PAUSED:  # a paused store stays paused with its new credentials
        store.status = StoreStatus.ACTIVE  # a store that needed reconnecting syncs again
    if store.import_since is None and store.pull_cursor is None and store.last_pull_at is None:
        days = settings.SYNC_IMPORT_WINDOW_DAYS
        store.import_since = timezone.now() - timedelta(days=days) if days else None
    store.last_error, store.pull_failures, store.next_pull_at = "", 0, None
    store.connect_pending, store.connect_started_at, store.connect_error = {}, None, ""
    store.save()


def _when(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _failure_reason(error: Exception) -> str:
    if isinstance(error, CredentialsError):
        return _("The channel refused these credentials: %(reason)s. Check them and connect again.") % {"reason": error}
    if isinstance(error, ProviderError):
        return _("Could not reach the store: %(reason)s. Check its address, or connect again in a few minutes.") % {
            "reason": error
        }
    return _("The store answered something we could not read (%(reason)s). Check its address and connect again.") % {
        "reason": str(error)[:200] or type(error).__name__
    }


def _unsubscribe_quietly(provider: ChannelProvider, webhook_url: str) -> None:
    try:
        provider.unregister_webhooks(address=webhook_url)
    except (ProviderError, MalformedPayload, SecretUnreadable) as error:  # NotSupported, refused, down
        logger.info("webhooks at %s not removed after a failed connect: %s", webhook_url, error)
    # Best effort after a failure already recorded: a hostile answer (RecursionError, TypeError)
    # only leaves subscriptions behind, logged with its traceback.
    except Exception:
        logger.exception("webhooks at %s not removed after a failed connect", webhook_url)


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
    """Connect (or update) now, in this process: the command line and tests. A refused new store
    leaves nothing behind. Raises ``ConnectError``."""
    start = store_connect_start(
        account=account,
        enqueue=False,
        channel=channel,
        name=name,
        base_url=base_url,
        credentials=credentials,
        webhook_secret=webhook_secret,
        domain=domain,
    )
    if not start.queued:
        raise ConnectError(_("“%(name)s” is being connected already.") % {"name": start.store.name})
    try:
        result = store_connect_check(store_id=start.store.pk, start_import=False)
    except ConnectError:
        if start.created:
            Store.objects.filter(pk=start.store.pk).delete()
        raise
    assert result is not None  # nothing else checks this store's details meanwhile
    return result


def store_discard(*, account: Account, store_id: int) -> None:
    """Remove a store whose first connect failed (it never synced: no orders, no secrets)."""
    Store.objects.filter(account=account, pk=store_id, status=StoreStatus.NOT_CONNECTED).delete()
