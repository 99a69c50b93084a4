"""Secrets at rest with several keys, newest first: the first encrypts, every one decrypts, and
``reencrypt`` moves a secret to the newest key (once)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from integrations.crypto import decrypt_json, encrypt_json, reencrypt

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_the_first_key_encrypts_and_every_key_decrypts(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = OLD
    under_old = encrypt_json({"access_token": "shpat_1"})
    settings.FIELD_ENCRYPTION_KEY = f" {NEW} , {OLD} "  # spaces around the comma are allowed
    assert decrypt_json(under_old) == {"access_token": "shpat_1"}
    under_new = encrypt_json("whsec")
    settings.FIELD_ENCRYPTION_KEY = NEW
    assert decrypt_json(under_new) == "whsec"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        decrypt_json(under_old)


def test_reencrypt_moves_a_secret_to_the_newest_key_once(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = encrypt_json({"k": "v"})
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    rotated = reencrypt(token)
    assert rotated is not None
    assert reencrypt(rotated) is None  # already under the newest key: nothing to write
    settings.FIELD_ENCRYPTION_KEY = NEW
    assert decrypt_json(rotated) == {"k": "v"}


def test_reencrypt_refuses_a_secret_no_key_reads(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    token = encrypt_json("lost")
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    with pytest.raises(ValueError, match="any configured key"):
        reencrypt(token)


def test_an_entry_equal_to_the_secret_key_reads_secrets_stored_before_a_key_was_set(settings: Any) -> None:
    # the upgrade path of a deployment that relied on the key derived from SECRET_KEY
    settings.FIELD_ENCRYPTION_KEY = ""
    token = encrypt_json("legacy")
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{settings.SECRET_KEY}"
    assert decrypt_json(token) == "legacy"
