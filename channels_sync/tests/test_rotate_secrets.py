"""Key rotation: add a key first in FIELD_ENCRYPTION_KEY, ``manage.py rotate_secrets``, drop the
old key; every store still syncs (a real pull against the sandbox per channel)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command

from channels_sync.models import Store
from channels_sync.services import store_connect, store_pull
from orders.models import Order
from zopi.management.commands.rotate_secrets import secret_models

from .conftest import LIVE_DB

CHANNELS = ("shopify", "woocommerce", "tiktok")


def tokens() -> dict[int, tuple[str, str]]:
    return {pk: (c, w) for pk, c, w in Store.objects.values_list("pk", "credentials_token", "webhook_secret_token")}


def rotate(**options: Any) -> str:
    out = StringIO()
    call_command("rotate_secrets", stdout=out, **options)
    return out.getvalue()


@LIVE_DB
def test_add_a_key_rotate_drop_the_old_key_and_every_store_still_syncs(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    # given a store per channel, connected while only the old key existed, each with 3 orders waiting
    settings.FIELD_ENCRYPTION_KEY = old
    stores = {}
    for channel in CHANNELS:
        shop = control.account(channel, f"rotate-{channel}")
        stores[channel] = store_connect(
            account=account,
            channel=channel,
            name=f"Rotate {channel}",
            base_url=shop["base_url"],
            credentials=shop["credentials"],
        ).store
        control.create_orders(channel, f"rotate-{channel}", count=3, seed=7)
    before = tokens()
    plain = {channel: (store.credentials, store.webhook_secret) for channel, store in stores.items()}
    secrets_stored = sum(bool(token) for pair in before.values() for token in pair)
    assert secrets_stored >= len(CHANNELS)
    # (dropping the old key without rotating would leave every secret unreadable)
    settings.FIELD_ENCRYPTION_KEY = new
    with pytest.raises(ValueError, match="cannot be decrypted"):
        _ = Store.objects.get(pk=stores["shopify"].pk).credentials
    # when the new key is added first and the secrets are rotated, in batches smaller than the table
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    output = rotate(batch_size=2)
    # then every secret was re-encrypted, and said so
    expected = f"channels_sync.Store: 3 rows, {secrets_stored} secrets re-encrypted, 0 already under the newest key"
    assert expected in output
    assert "older keys can be dropped" in output
    after = tokens()
    assert all(after[pk][i] != before[pk][i] for pk in before for i in (0, 1) if before[pk][i])
    # a second run is a no-op
    assert f"0 secrets re-encrypted, {secrets_stored} already under the newest key" in rotate()
    assert tokens() == after
    # when the old key is removed
    settings.FIELD_ENCRYPTION_KEY = new
    # then every store still pulls its orders from its channel
    for channel, store in stores.items():
        result = store_pull(store_id=store.pk)
        assert (channel, result.error, result.orders) == (channel, "", 3)
        assert Order.objects.filter(store=store).count() == 3
        rotated = Store.objects.get(pk=store.pk)
        assert (rotated.credentials, rotated.webhook_secret) == plain[channel]


@pytest.mark.django_db
def test_a_secret_no_key_reads_is_reported_and_the_others_are_rotated(store: Any, settings: Any) -> None:
    old, new, lost = (Fernet.generate_key().decode() for _ in range(3))
    settings.FIELD_ENCRYPTION_KEY = lost
    Store.objects.filter(pk=store.pk).update(credentials_token=Fernet(lost.encode()).encrypt(b'{"a": "b"}').decode())
    settings.FIELD_ENCRYPTION_KEY = old
    readable = Store.objects.create(account=store.account, channel="shopify", name="Readable", domain="r")
    readable.credentials = {"access_token": "shpat_1"}
    readable.save()
    # when rotating with new,old (the lost key is gone)
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    with pytest.raises(CommandError, match=rf"channels_sync.Store pk={store.pk} credentials_token"):
        rotate()
    # then the readable one is under the new key, the unreadable one is left as it was
    settings.FIELD_ENCRYPTION_KEY = new
    assert Store.objects.get(pk=readable.pk).credentials == {"access_token": "shpat_1"}


def test_every_model_that_stores_a_secret_declares_it() -> None:
    # a secret field not in SECRET_FIELDS would keep the old key alive forever
    declared = {model: set(fields) for model, fields in secret_models()}
    assert Store in declared
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            looks_secret = field.name.endswith("_token") or "secret" in field.name
            if looks_secret and model._meta.app_label not in {"sandbox", "sessions"}:
                label = f"{model._meta.label}.{field.name}"
                assert field.name in declared.get(model, set()), f"{label} not in SECRET_FIELDS"
