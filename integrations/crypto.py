"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key from the settings.

``FIELD_ENCRYPTION_KEY`` holds one key or several separated by commas (the first encrypts,
every one decrypts: rotate by putting the new key first, running ``manage.py rotate_secrets``
(``reencrypt`` below), then dropping the old key). Each entry is a Fernet key or any string,
which is stretched with HKDF-SHA256. Unset (dev profile only: the production profile requires
it), the key is derived from ``SECRET_KEY``; that derived key is the one an entry equal to the
``SECRET_KEY`` value gives, so such an entry reads secrets stored before a key was set.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_INFO = b"zopi field encryption v1"


def _fernet_for(secret: str) -> Fernet:
    try:
        return Fernet(secret.encode())
    except ValueError:  # not a Fernet key: derive one
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
        return Fernet(base64.urlsafe_b64encode(derived))


@cache
def _fernets(keys: str) -> tuple[Fernet, ...]:
    entries = [key.strip() for key in keys.split(",") if key.strip()]
    if not entries:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY (or SECRET_KEY) must be set to store secrets.")
    return tuple(_fernet_for(entry) for entry in entries)


def _keys() -> tuple[Fernet, ...]:
    return _fernets(settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY)


def _current() -> MultiFernet:
    return MultiFernet(list(_keys()))


def encrypt_json(value: Any) -> str:
    return _current().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


class SecretUnreadable(ValueError):
    """A stored secret no configured key can read (a wrong key, or one dropped before rotating)."""


def decrypt_json(token: str) -> Any:
    """The stored value; raises ``SecretUnreadable`` if no key can read it (wrong or rotated key)."""
    try:
        return json.loads(_current().decrypt(token.encode()))
    except InvalidToken as error:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured key") from error


def reencrypt(token: str) -> str | None:
    """``token`` encrypted with the newest key, or None when it already is (nothing to write).

    Raises ``ValueError`` when no configured key reads it. Used by ``manage.py rotate_secrets``."""
    newest = _keys()[0]
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        pass
    else:
        return None
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("stored secret cannot be decrypted with any configured key") from error
