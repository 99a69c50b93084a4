"""Reading 17TRACK's tracking JSON (a ``gettrackinfo`` accepted item, a webhook push's ``data``)
into ``TrackInfo``. Every body is hostile: a wrong type or a missing field is a
``MalformedPayload`` whose message names the field; nothing here crashes on bad input.

The item [C-sdk; external-apis.md section 5]::

    {"number": "RR123456789CN", "carrier": 3011, "param": null, "tag": "order-1001",
     "track_info": {"latest_status": {"status": "InTransit", "sub_status": "InTransit_Arrival"},
                    "latest_event": {...},
                    "tracking": {"providers": [{"provider": {"key": 3011, "name": "China Post"},
                                                "events": [{"time_iso", "time_utc", "description",
                                                            "location", "stage", "sub_status"}, ...]}]}}}

Events come newest first, one list per carrier of the journey (origin and last mile): they are
merged, de-duplicated and returned oldest first. ``track_info`` null (nothing known yet) reads
as NotFound with no events. An event that cannot be read (no time, a wrong type) is left out and
counted (``TrackInfo.dropped_events`` and the first reason): one bad scan never hides the parcel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integrations.errors import MalformedPayload
from integrations.fields import iso_datetime
from integrations.http import sanitize
from tracking.providers.base import TrackEvent, TrackInfo, normalize_number
from tracking.providers.track17 import mapping

MAX_NUMBER_LENGTH = 64  # tracking.Shipment.tracking_number
MAX_STATUS_LENGTH = 48
MAX_DESCRIPTION_LENGTH, MAX_LOCATION_LENGTH = 500, 200  # tracking.TrackingEvent
MAX_TAG_LENGTH, MAX_CARRIER_NAME_LENGTH = 100, 100
MAX_DROPPED_REASON_LENGTH = 200


def _object(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}: '{key}' is not an object")
    return value


def optional_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """An optional list field ([] when absent or null)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}: '{key}' is not a list")
    return value


def _text(data: Mapping[str, Any], key: str, where: str, limit: int) -> str:
    """An optional text field ("" when absent or null), sanitised and capped."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}: '{key}' is not text: {str(value)[:40]!r}")
    return sanitize(value, limit)


def _status(data: Mapping[str, Any], key: str, where: str) -> str:
    """A status word as received (trimmed; never sanitised beyond its length: it is compared)."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}: '{key}' is not text: {str(value)[:40]!r}")
    return value.strip()[:MAX_STATUS_LENGTH]


def carrier_key(value: Any) -> int | None:
    """17TRACK's carrier key (an integer; digits in a string accepted); None when absent or 0."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value < 2**31:
        return value
    return None


def number_of(item: Mapping[str, Any], where: str) -> str:
    value = item.get("number")
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload(f"{where}: 'number' is missing or not text")
    number = normalize_number(value)
    if len(number) > MAX_NUMBER_LENGTH:
        raise MalformedPayload(f"{where}: 'number' is longer than {MAX_NUMBER_LENGTH} characters")
    return number


def _event_time(event: Mapping[str, Any], where: str) -> datetime:
    for key in ("time_utc", "time_iso"):
        if event.get(key) not in (None, ""):
            return iso_datetime(event, key, where)
    raise MalformedPayload(f"{where}: no 'time_utc' or 'time_iso'")


def event_of(event: Any, where: str) -> TrackEvent:
    if not isinstance(event, dict):
        raise MalformedPayload(f"{where} is not an object")
    sub_status = _status(event, "sub_status", where)
    main_status = mapping.main_of_sub_status(sub_status)
    return TrackEvent(
        time=_event_time(event, where),
        description=_text(event, "description", where, MAX_DESCRIPTION_LENGTH),
        location=_text(event, "location", where, MAX_LOCATION_LENGTH),
        provider_status=main_status,
        provider_sub_status=sub_status,
        status=mapping.status_of(main_status, sub_status),
    )


def track_info_of(item: Any, where: str = "tracking") -> TrackInfo:
    """One tracked number; ``MalformedPayload`` naming the field when it cannot be read."""
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    number = number_of(item, where)
    where = f"{where} {number}"
    tag = item.get("tag")
    info = _object(item, "track_info", where)
    if info is None:  # registered, nothing known yet
        return TrackInfo(
            number=number,
            carrier_code=carrier_key(item.get("carrier")),
            carrier_name="",
            provider_status="NotFound",
            provider_sub_status="",
            status=mapping.status_of("NotFound"),
            latest_event_at=None,
            tag=sanitize(tag, MAX_TAG_LENGTH) if isinstance(tag, str) else "",
        )
    latest = _object(info, "latest_status", f"{where}: track_info") or {}
    main_status = _status(latest, "status", f"{where}: latest_status")
    sub_status = _status(latest, "sub_status", f"{where}: latest_status")
    tracking = _object(info, "tracking", f"{where}: track_info") or {}
    carrier_name = ""
    events: dict[tuple[datetime, str, str], TrackEvent] = {}
    dropped: list[str] = []
    for p_index, provider in enumerate(optional_list(tracking, "providers", f"{where}: tracking")):
        here = f"{where}: providers[{p_index}]"
        if not isinstance(provider, dict):
            raise MalformedPayload(f"{here} is not an object")
        named = _object(provider, "provider", here) or {}
        carrier_name = carrier_name or _text(named, "name", f"{here}.provider", MAX_CARRIER_NAME_LENGTH)
        for e_index, raw in enumerate(optional_list(provider, "events", here)):
            try:
                event = event_of(raw, f"{here}.events[{e_index}]")
            except MalformedPayload as error:
                dropped.append(str(error))
                continue
            events.setdefault((event.time, event.description, event.location), event)
    ordered = tuple(sorted(events.values(), key=lambda e: e.time))
    latest_event_at = ordered[-1].time if ordered else None
    try:
        latest_event = _object(info, "latest_event", f"{where}: track_info")
        latest_time = _event_time(latest_event, f"{where}: latest_event") if latest_event is not None else None
    except MalformedPayload as error:
        dropped.append(str(error))
        latest_time = None
    if latest_time is not None:
        latest_event_at = max(latest_event_at, latest_time) if latest_event_at else latest_time
    return TrackInfo(
        number=number,
        carrier_code=carrier_key(item.get("carrier")),
        carrier_name=carrier_name,
        provider_status=main_status,
        provider_sub_status=sub_status,
        status=mapping.status_of(main_status, sub_status),
        latest_event_at=latest_event_at,
        events=ordered,
        tag=sanitize(tag, MAX_TAG_LENGTH) if isinstance(tag, str) else "",
        dropped_events=len(dropped),
        dropped_reason=sanitize(dropped[0], MAX_DROPPED_REASON_LENGTH) if dropped else "",
    )
