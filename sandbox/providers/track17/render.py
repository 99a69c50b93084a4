"""17TRACK v2.2 ``track_info`` for a sandbox parcel, and the signed TRACKING_UPDATED push."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sandbox.models import Parcel, TrackingRegistration
from sandbox.sim import carriers
from sandbox.webhooks import webhook_enqueue

MILESTONES = (
    "InfoReceived",
    "PickedUp",
    "Departure",
    "Arrival",
    "AvailableForPickup",
    "OutForDelivery",
    "Delivered",
    "Returning",
    "Returned",
)
WEBHOOK_ATTEMPTS = 6


def webhook_sign(body: bytes, security_key: str) -> str:
    """The push ``sign`` header: lower hex SHA-256(raw body + "/" + security key) (plain SHA-256, not HMAC)."""
    return hashlib.sha256(body + b"/" + security_key.encode()).hexdigest()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _address(location: str) -> dict[str, Any]:
    parts = [p.strip() for p in location.split(",")] if location else []
    country = parts[-1] if parts and len(parts[-1]) == 2 else None
    return {
        "country": country,
        "state": parts[1] if len(parts) == 3 else None,
        "city": parts[0] if len(parts) >= 2 else None,
        "street": None,
        "postal_code": None,
        "coordinates": {"longitude": None, "latitude": None},
    }


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    at = _utc(event["time_utc"])
    return {
        "time_iso": at.isoformat(),
        "time_utc": event["time_utc"],
        "time_raw": {"date": at.strftime("%Y-%m-%d"), "time": at.strftime("%H:%M:%S"), "timezone": "+00:00"},
        "description": event["description"],
        "location": event["location"],
        "stage": event.get("stage"),
        "sub_status": event["sub_status"],
        "address": _address(event["location"]),
    }


def _hash(value: Any) -> int:
    return int(hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12], 16)


def track_info(parcel: Parcel, now: datetime) -> dict[str, Any]:
    events = [event_json(e) for e in reversed(parcel.events)]  # newest first, as 17TRACK lists them
    first_at = {}
    for event in parcel.events:
        if event.get("stage") and event["stage"] not in first_at:
            first_at[event["stage"]] = event["time_utc"]
    carrier = carriers.CARRIERS_BY_KEY.get(parcel.carrier_code)
    origin = carrier.origin if carrier else ""
    destination = carriers.destination_and_pace(parcel.fate.split("@", 1)[1])[0] if "@" in parcel.fate else None
    picked = _utc(parcel.events[0]["time_utc"]) if parcel.events else None
    delivered = parcel.status == "Delivered"
    transit_end = parcel.updated_at if delivered else now
    last_update = _utc(parcel.events[-1]["time_utc"]) if parcel.events else parcel.created_at
    return {
        "shipping_info": {
            "shipper_address": {**_address(origin), "country": origin[-2:] if origin else None},
            "recipient_address": {**_address(""), "country": destination},
        },
        "latest_status": {"status": parcel.status, "sub_status": parcel.sub_status, "sub_status_descr": None},
        "latest_event": events[0] if events else None,
        "time_metrics": {
            "days_after_order": max(0, (now - parcel.created_at).days),
            "days_of_transit": max(0, (transit_end - picked).days) if picked else 0,
            "days_of_transit_done": max(0, (transit_end - picked).days) if picked and delivered else 0,
            "days_after_last_update": max(0, (now - last_update).days),
            "estimated_delivery_date": {"source": None, "from": None, "to": None},
        },
        "milestone": [
            {
                "key_stage": stage,
                "time_iso": _utc(first_at[stage]).isoformat() if stage in first_at else None,
                "time_utc": first_at.get(stage),
                "time_raw": {"date": None, "time": None, "timezone": None},
            }
            for stage in MILESTONES
        ],
        "misc_info": {
            "risk_factor": 0,
            "service_type": None,
            "weight_raw": None,
            "weight_kg": None,
            "pieces": None,
            "dimensions": None,
            "customer_number": None,
            "reference_number": None,
            "local_number": None,
            "local_provider": None,
            "local_key": 0,
        },
        "tracking": {
            "providers_hash": _hash([parcel.carrier_code]),
            "providers": [
                {
                    "provider": {
                        "key": parcel.carrier_code,
                        "name": parcel.carrier_name,
                        "alias": parcel.carrier_name,
                        "tel": "",
                        "homepage": "",
                        "country": origin[-2:] if origin else "",
                    },
                    "service_type": None,
                    "latest_sync_status": "Success",
                    "latest_sync_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "events_hash": _hash(parcel.events),
                    "events": events,
                }
            ],
        },
    }


def tracking_json(registration: TrackingRegistration, now: datetime) -> dict[str, Any]:
    parcel = registration.parcel
    return {
        "number": parcel.number,
        "carrier": parcel.carrier_code,
        "param": None,
        "tag": registration.tag or None,
        "track_info": track_info(parcel, now),
    }


def push_tracking_updated(parcel: Parcel, now: datetime) -> None:
    """TRACKING_UPDATED to every account tracking ``parcel`` (not stopped) that has a webhook address."""
    for registration in parcel.registrations.filter(stopped=False).select_related("account", "parcel").order_by("id"):
        account = registration.account
        url = account.options.get("webhook_url")
        if not url:
            continue
        body = json.dumps(
            {"event": "TRACKING_UPDATED", "data": tracking_json(registration, now)}, separators=(",", ":")
        )
        webhook_enqueue(
            account=account,
            topic="TRACKING_UPDATED",
            url=url,
            body=body,
            headers={"sign": webhook_sign(body.encode(), account.credentials["token"])},
            max_attempts=WEBHOOK_ATTEMPTS,
        )
