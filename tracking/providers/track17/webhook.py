"""17TRACK's webhook push: verify the ``sign`` header, read the body into ``TrackInfo``.

17TRACK POSTs ``{"event": "TRACKING_UPDATED", "data": {<a gettrackinfo item>}}`` (or
``"TRACKING_STOPPED"``) to the address set in its dashboard, with the header
``sign = lower hex SHA-256(raw body + "/" + security key)`` — plain SHA-256, not an HMAC
[C-sdk: several independent implementations agree; the sandbox signs the same way].

The view (not here) must verify the raw body before parsing it, store it first like channel
webhooks, and answer 200 quickly; ``push_parse`` is for the task that processes it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from typing import Any

from integrations.errors import MalformedPayload
from integrations.fields import json_object
from tracking.providers.base import TrackInfo
from tracking.providers.track17.payload import track_info_of

SIGN_HEADER = "sign"
TRACKING_UPDATED, TRACKING_STOPPED = "TRACKING_UPDATED", "TRACKING_STOPPED"
EVENTS = frozenset({TRACKING_UPDATED, TRACKING_STOPPED})
MAX_ITEMS = 40


def push_sign(body: bytes, key: str) -> str:
    """The ``sign`` 17TRACK puts on ``body``."""
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def push_verify(body: bytes, key: str, sign: str | None) -> bool:
    """The ``sign`` header matches ``body`` under ``key``, compared in constant time. An empty
    key or sign never matches."""
    if not key or not sign:
        return False
    return hmac.compare_digest(push_sign(body, key).encode(), sign.strip().lower().encode("utf-8", "replace"))


def push_event(body: bytes) -> str:
    """The push's ``event`` ("" when absent); ``MalformedPayload`` when the body is not an object."""
    event = json_object(body, "17TRACK push").get("event")
    return event if isinstance(event, str) else ""


def push_parse(body: bytes) -> list[TrackInfo]:
    """The numbers a (verified) push reports. ``TRACKING_STOPPED`` ones come with ``stopped``;
    an event we do not know reports nothing (``[]``: acknowledge it, nothing to do).
    ``MalformedPayload`` (naming the field) for a body that cannot be read."""
    payload = json_object(body, "17TRACK push")
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedPayload("17TRACK push: 'event' is missing or not text")
    if event not in EVENTS:
        return []
    data: Any = payload.get("data")
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_ITEMS or not all(isinstance(item, dict) for item in items):
        raise MalformedPayload("17TRACK push: 'data' is missing or not an object")
    infos = [track_info_of(item, f"17TRACK push {event}") for item in items]
    if event == TRACKING_STOPPED:
        infos = [replace(info, stopped=True) for info in infos]
    return infos
