"""The approval flow's shared part: a state is the digest of a nonce, bound to one session, spent once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_sync.enums import AuthorizationState
from channels_sync.models import ChannelAuthorization
from channels_sync.services.install import (
    InstallError,
    authorization_claim,
    authorization_start,
    authorizations_prune,
)
from integrations.oauth import state_digest

pytestmark = pytest.mark.django_db


def _start(account: Any, owner: Any, **more: Any) -> Any:
    given = {"channel": "shopify", "store_name": "Shop", "shop": "shop-a.myshopify.com", **more}
    return authorization_start(account=account, user_id=owner.pk, session_key="session-1", **given)


def test_the_state_is_kept_only_as_its_digest_and_claimed_once(account: Any, owner: Any) -> None:
    started = _start(account, owner)
    row = ChannelAuthorization.objects.get()
    assert row.state_digest == state_digest(started.state)
    assert started.state not in str(ChannelAuthorization.objects.values().get())

    claimed = authorization_claim(channel="shopify", state=started.state, session_key="session-1")
    assert claimed.pk == row.pk
    assert claimed.used_at is not None
    with pytest.raises(InstallError, match="used already"):
        authorization_claim(channel="shopify", state=started.state, session_key="session-1")


@pytest.mark.parametrize(
    ("channel", "session", "message"),
    [
        ("shopify", "session-2", "another browser session"),
        ("tiktok", "session-1", "not one we asked for"),
    ],
)
def test_a_state_from_another_session_or_channel_is_refused_and_left_unspent(
    account: Any, owner: Any, channel: str, session: str, message: str
) -> None:
    started = _start(account, owner)
    with pytest.raises(InstallError, match=message):
        authorization_claim(channel=channel, state=started.state, session_key=session)
    assert ChannelAuthorization.objects.get().used_at is None


@pytest.mark.parametrize("state", ["", "x" * 500, "not-a-state", "é\x00"])
def test_unknown_or_hostile_states_are_refused(account: Any, owner: Any, state: str) -> None:
    _start(account, owner)
    with pytest.raises(InstallError):
        authorization_claim(channel="shopify", state=state, session_key="session-1")


def test_an_expired_or_finished_authorization_is_refused(account: Any, owner: Any) -> None:
    expired = _start(account, owner)
    ChannelAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InstallError, match="expired"):
        authorization_claim(channel="shopify", state=expired.state, session_key="session-1")

    canceled = _start(account, owner)
    ChannelAuthorization.objects.filter(state_digest=state_digest(canceled.state)).update(
        state=AuthorizationState.CANCELED
    )
    with pytest.raises(InstallError, match="used already"):
        authorization_claim(channel="shopify", state=canceled.state, session_key="session-1")


def test_a_server_to_server_claim_has_no_session_to_check(account: Any, owner: Any) -> None:
    started = _start(account, owner, channel="woocommerce", shop="https://shop.example")
    assert (
        authorization_claim(channel="woocommerce", state=started.state, session_key=None).shop == "https://shop.example"
    )


def test_reconnecting_a_store_of_another_account_is_refused(account: Any, owner: Any, other_store: Any) -> None:
    with pytest.raises(InstallError, match="not in this account"):
        _start(account, owner, store=other_store)
    assert not ChannelAuthorization.objects.exists()


def test_authorizations_older_than_a_week_are_pruned(account: Any, owner: Any) -> None:
    _start(account, owner)
    kept = _start(account, owner)
    ChannelAuthorization.objects.exclude(state_digest=state_digest(kept.state)).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    assert authorizations_prune() == 1
    assert list(ChannelAuthorization.objects.values_list("state_digest", flat=True)) == [state_digest(kept.state)]


def test_an_expired_authorization_drops_the_grant_it_holds(account: Any, owner: Any) -> None:
    waiting = _start(account, owner, channel="tiktok")
    expired = _start(account, owner, channel="tiktok")
    for started in (waiting, expired):
        row = ChannelAuthorization.objects.get(state_digest=state_digest(started.state))
        row.grant = {"access_token": "live", "refresh_token": "live-refresh"}
        row.state = AuthorizationState.CHOOSING
        row.save()
    ChannelAuthorization.objects.filter(state_digest=state_digest(expired.state)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    authorizations_prune()

    grants = dict(ChannelAuthorization.objects.values_list("state_digest", "grant_token"))
    assert grants[state_digest(expired.state)] == ""
    assert grants[state_digest(waiting.state)] != ""
