"""Expiring access tokens of app-connected stores: refreshed ahead of expiry and after a 401, by one
worker at a time per store, so a refresh token is never spent twice.

The refresh of a store is claimed with one conditional UPDATE (``token_refreshing_until``, held
``TOKEN_REFRESH_CLAIM``) that also requires the credentials to be the ones the worker read: a
worker that read tokens another one has replaced meanwhile claims nothing and uses the new ones.
The channel is called outside any transaction; the new tokens are written only if the claim is
still this worker's. A worker killed after the channel answered leaves the claim to lapse: the
next one spends the same refresh token again, which the channel still takes because its
replacement was never used (Shopify keeps the previous refresh token until then; so does the
sandbox) — a lost refresh answer is recovered. A refresh the channel refuses for good
(``GrantRefused``: revoked, uninstalled, expired) marks the store "needs reconnecting" and drops
its tokens: nothing calls the shop again until the merchant connects it again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import REGISTRY
from channels_sync.services.attempts import AttemptLog
from integrations.errors import CredentialsError, ProviderError
from integrations.oauth import GrantRefused, TokenGrant

logger = logging.getLogger(__name__)

# Statuses in which a store's tokens are used (and so refreshed).
IN_USE = (StoreStatus.ACTIVE, StoreStatus.ERROR, StoreStatus.PAUSED, StoreStatus.CONNECTING)
TOKEN_KEYS = ("access_token", "refresh_token")
WAIT_STEP = 0.1  # seconds between looks at a refresh another worker is doing


def refresh_due(store: Store, now: datetime) -> bool:
    """The access token expires within ``TOKEN_REFRESH_AHEAD`` (never, for a token that does not expire)."""
    return store.token_expires_at is not None and store.token_expires_at - settings.TOKEN_REFRESH_AHEAD <= now


class StoreTokens:
    """The ``TokenSource`` of one app-connected store (``integrations.oauth.TokenSource``)."""

    def __init__(
        self,
        store_id: int,
        *,
        now: Callable[[], datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
    ) -> None:
        self.store_id = store_id
        self.now = now
        self.sleep = sleep
        # How long to wait for another worker's refresh before giving up for now (a retryable error).
        self.max_wait = settings.OUTBOUND_MAX_INLINE_WAIT if max_wait is None else max_wait

    def _load(self) -> Store:
        return Store.objects.get(pk=self.store_id)

    def current(self) -> str:
        store = self._load()
        token = _token_of(store)
        if store.auth_kind == AuthKind.APP and (store.status not in IN_USE or not token):
            # Disconnected, or needing reconnecting, meanwhile (a pull under way): nothing is sent.
            raise CredentialsError(_("The store is not connected any more: reconnect it to sync."))
        if store.auth_kind == AuthKind.APP and refresh_due(store, self.now()):
            try:
                return self._refresh(store, stale=token, proactive=True)
            except GrantRefused:
                raise
            except (ProviderError, CredentialsError) as error:
                # The refresh ahead of time failed (the token endpoint down, a bad app secret):
                # the token still works until it expires; beat and the next call try again.
                if store.token_expires_at is not None and store.token_expires_at > self.now():
                    logger.warning("store %s: token refresh ahead of expiry failed: %s", store.pk, error)
                    return token
                raise
        return token

    def refreshed(self, stale: str) -> str:
        store = self._load()
        token = _token_of(store)
        if token and token != stale:
            return token  # another worker refreshed meanwhile
        if store.auth_kind != AuthKind.APP:
            raise CredentialsError(_("The channel refused the store's access token: connect it again."))
        return self._refresh(store, stale=stale, proactive=False)

    def _refresh(self, store: Store, *, stale: str, proactive: bool) -> str:
        now = self.now()
        held_until = now + settings.TOKEN_REFRESH_CLAIM
        free = Q(token_refreshing_until__isnull=True) | Q(token_refreshing_until__lt=now)
        holder = _claim_row(store)
        claimed = holder.filter(free, status__in=IN_USE, auth_kind=AuthKind.APP).update(
            token_refreshing_until=held_until
        )
        if not claimed:
            return self._wait_for_other(store, stale=stale, proactive=proactive)
        credentials = store.credentials
        try:
            grant = REGISTRY[store.channel].refresh_grant(
                base_url=store.base_url, credentials=credentials, recorder=AttemptLog(store_id=store.pk)
            )
        except GrantRefused as refused:
            _needs_reconnect(store, held_until=held_until, reason=str(refused))
            raise
        except BaseException:
            holder.filter(token_refreshing_until=held_until).update(token_refreshing_until=None)
            raise
        if not _keep(store, grant, held_until=held_until, spent=credentials.get("refresh_token", "")):
            # The claim lapsed and another worker refreshed meanwhile: its tokens are the store's now.
            logger.warning("store %s: a token refresh finished after its claim lapsed", store.pk)
            return _token_of(self._load())
        return grant.access_token

    def _wait_for_other(self, store: Store, *, stale: str, proactive: bool) -> str:
        """Another worker holds the refresh (or replaced the tokens since they were read)."""
        waited = 0.0
        while True:
            fresh = self._load()
            if fresh.status == StoreStatus.RECONNECT:
                raise GrantRefused(fresh.last_error or _("The channel refused the store's refresh token."))
            token = _token_of(fresh)
            if token and token != stale:
                return token
            if proactive and fresh.token_expires_at is not None and fresh.token_expires_at > self.now():
                return stale  # still valid for a while: used while the other worker refreshes
            if waited >= self.max_wait:
                raise ProviderError(
                    _("The store's access token is being renewed: try again in a few seconds."),
                    retryable=True,
                    retry_after=5,
                )
            self.sleep(WAIT_STEP)
            waited += WAIT_STEP


def _token_of(store: Store) -> str:
    return str(store.credentials.get("access_token", ""))


def token_group_of(credentials: Mapping[str, str]) -> str:
    """The group of stores holding this refresh token (its SHA-256), "" without one."""
    refresh_token = credentials.get("refresh_token", "")
    return hashlib.sha256(refresh_token.encode()).hexdigest() if refresh_token else ""


def _group(store: Store) -> QuerySet[Store]:
    """The stores refreshed with ``store``'s refresh token: those of its account and channel in
    its token group (TikTok Shop: the shops of one authorization), or the store alone."""
    if not store.token_group:
        return Store.objects.filter(pk=store.pk)
    return Store.objects.filter(
        account_id=store.account_id, channel=store.channel, auth_kind=AuthKind.APP, token_group=store.token_group
    )


def _claim_row(store: Store) -> QuerySet[Store]:
    """The row whose ``token_refreshing_until`` holds the group's refresh: its first store, while the
    group still holds the tokens read (a group whose tokens were replaced meanwhile claims nothing)."""
    if not store.token_group:
        return Store.objects.filter(pk=store.pk, credentials_token=store.credentials_token)
    first = _group(store).order_by("pk").values_list("pk", flat=True).first()
    if first is None:  # no longer an app store of that group: nothing to claim
        return Store.objects.none()
    return Store.objects.filter(pk=first, token_group=store.token_group)


def _keep(store: Store, grant: TokenGrant, *, held_until: datetime, spent: str) -> bool:
    """Write the new tokens to every store of the group, if the claim is still this worker's;
    False when it is not. Each store keeps its own other credentials (a TikTok shop's cipher)."""
    new_group = token_group_of(grant.credentials()) or store.token_group
    with transaction.atomic():
        if not _claim_row(store).select_for_update().filter(token_refreshing_until=held_until).exists():
            return False
        for member in _group(store).select_for_update().order_by("pk"):
            credentials = member.credentials
            if credentials.get("refresh_token", "") != spent:
                continue  # not holding the token spent (changed under a lapsed claim): left alone
            member.credentials = {**credentials, **grant.credentials()}  # no new refresh token: kept
            member.token_expires_at = grant.expires_at
            if grant.refresh_expires_at is not None or grant.refresh_token:
                member.refresh_expires_at = grant.refresh_expires_at
            member.token_refreshing_until = None
            member.token_group = new_group if member.token_group else ""
            fields = ["credentials_token", "token_expires_at", "refresh_expires_at", "token_refreshing_until"]
            member.save(update_fields=[*fields, "token_group"])
        _claim_row(store).filter(token_refreshing_until=held_until).update(token_refreshing_until=None)
    return True


def _needs_reconnect(store: Store, *, held_until: datetime, reason: str) -> None:
    """The channel refused the refresh for good: every store of the group drops the tokens and
    shows "Reconnect"."""
    with transaction.atomic():
        if not _claim_row(store).select_for_update().filter(token_refreshing_until=held_until).exists():
            return
        _group_reconnect(store, reason=reason)
    logger.info("store %s (and its token group): refresh refused, needs reconnecting: %s", store.pk, reason)


def _group_reconnect(store: Store, *, reason: str) -> None:
    message = _("The channel no longer accepts this store's access (%(reason)s): reconnect it.") % {"reason": reason}
    for member in _group(store).select_for_update().order_by("pk"):
        member.credentials = {key: value for key, value in member.credentials.items() if key not in TOKEN_KEYS}
        member.status = StoreStatus.RECONNECT
        member.last_error = message
        member.token_refreshing_until = None
        member.token_expires_at = None
        member.token_group = ""
        fields = ["credentials_token", "status", "last_error", "token_refreshing_until", "token_expires_at"]
        member.save(update_fields=[*fields, "token_group"])


def store_access_revoked(*, store_id: int, reason: str) -> None:
    """The channel says the seller withdrew our app's access (TikTok Shop's SELLER_DEAUTHORIZATION):
    the store, and the stores sharing its tokens, need reconnecting; nothing calls the shop meanwhile."""
    with transaction.atomic():
        store = Store.objects.select_for_update().filter(pk=store_id, auth_kind=AuthKind.APP, status__in=IN_USE).first()
        if store is not None:
            _group_reconnect(store, reason=reason)


def store_token_refresh(*, store_id: int) -> bool:
    """Refresh one store's token if it is due (beat's ``refresh_due_tokens``); True when a token
    was refreshed or was fresh already, False when the store is not app-connected or not in use."""
    store = Store.objects.filter(pk=store_id, auth_kind=AuthKind.APP, status__in=IN_USE).first()
    if store is None:
        return False
    StoreTokens(store.pk).current()
    return True


def stores_due_for_refresh(now: datetime | None = None) -> list[int]:
    """App-connected stores whose access token expires within twice ``TOKEN_REFRESH_AHEAD``."""
    now = now or timezone.now()
    soon = now + 2 * settings.TOKEN_REFRESH_AHEAD
    return list(
        Store.objects.filter(auth_kind=AuthKind.APP, status__in=IN_USE, token_expires_at__lte=soon)
        .exclude(token_refreshing_until__gt=now)
        .values_list("pk", flat=True)
    )
