"""Connecting a store as the operator's app: the part every channel's approval flow shares.

``authorization_start`` records one ``ChannelAuthorization`` (its ``state`` kept as a digest,
bound to the browser session) and gives the ``state`` to send to the channel's approval page;
``authorization_claim`` spends it when the channel sends the merchant back: a state that is
unknown, expired, of another channel, of another browser session, or already presented is
refused with ``InstallError`` and nothing is stored. Each channel's own steps (the approval URL,
the callback's signature, the code exchange) are in ``install_<channel>.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import AuthorizationState
from channels_sync.models import ChannelAuthorization, Store
from integrations.oauth import new_state, state_digest


class InstallError(Exception):
    """The approval cannot be used; the message says why and what to do, for the merchant."""


def session_digest(session_key: str) -> str:
    """What is kept of the browser session that asked (its key itself is a credential)."""
    return hashlib.sha256(f"zopi-install:{session_key}".encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    authorization: ChannelAuthorization
    state: str  # to send to the channel's approval page; never stored


def authorization_start(
    *,
    account: Account,
    user_id: int,
    session_key: str,
    channel: str,
    store_name: str = "",
    shop: str = "",
    store: Store | None = None,
) -> Started:
    """Record an approval about to be asked; ``store``: reconnecting that store (same account)."""
    if not session_key:
        raise InstallError(_("Your session has no key: sign in again, then connect."))
    if store is not None and store.account_id != account.pk:
        raise InstallError(_("That store is not in this account."))
    state = new_state()
    now = timezone.now()
    authorization = ChannelAuthorization.objects.create(
        account=account,
        user_id=user_id,
        channel=channel,
        state_digest=state_digest(state),
        session_digest=session_digest(session_key),
        store_name=store_name[:200],
        shop=shop[:500],
        store=store,
        expires_at=now + settings.CHANNEL_AUTHORIZATION_TTL,
    )
    return Started(authorization=authorization, state=state)


def authorization_claim(*, channel: str, state: str, session_key: str | None) -> ChannelAuthorization:
    """Spend ``state``: the pending authorization it belongs to, now marked used. ``session_key``
    None: a server-to-server callback (WooCommerce posts the keys without the browser), which the
    caller must tie to the authorization some other way (an unguessable id of ours)."""
    if not state or len(state) > 200:
        raise InstallError(_("The channel sent you back without a valid approval: connect again."))
    now = timezone.now()
    with transaction.atomic():
        found = (
            ChannelAuthorization.objects.select_for_update(of=("self",))
            .select_related("account", "store")
            .filter(state_digest=state_digest(state), channel=channel)
            .first()
        )
        if found is None:
            raise InstallError(_("This approval is not one we asked for: connect again from the Stores page."))
        if session_key is not None and found.session_digest != session_digest(session_key):
            raise InstallError(_("This approval was started in another browser session: connect again from here."))
        if found.used_at is not None or found.state != AuthorizationState.PENDING:
            raise InstallError(_("This approval was used already: connect again if the store is not connected."))
        if found.expires_at <= now:
            raise InstallError(_("This approval took too long and expired: connect again."))
        found.used_at = now
        found.save(update_fields=["used_at"])
    return found


def authorization_finish(authorization: ChannelAuthorization, *, state: str, error: str = "") -> None:
    """Record how a claimed authorization ended (approved, canceled, failed) and why; the grant
    kept meanwhile (``grant_token``) is dropped unless the merchant still has to choose shops."""
    authorization.state = state
    authorization.error = error[:2000]
    fields = ["state", "error"]
    if state != AuthorizationState.CHOOSING:
        authorization.grant = {}
        fields.append("grant_token")
    authorization.save(update_fields=fields)


def authorizations_prune(*, older_than_days: int = 7) -> int:
    """Beat, hourly: an expired authorization drops the grant it still holds (TikTok Shop's tokens
    kept while the merchant picks shops: a picking abandoned is not a year of live tokens at
    rest), and authorizations older than ``older_than_days`` go. Returns how many went."""
    now = timezone.now()
    ChannelAuthorization.objects.filter(expires_at__lte=now).exclude(grant_token="").update(grant_token="")
    deleted, _ = ChannelAuthorization.objects.filter(created_at__lt=now - timedelta(days=older_than_days)).delete()
    return deleted
