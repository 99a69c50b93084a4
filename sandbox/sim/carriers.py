"""The carriers part of the simulated world (see sandbox/world.py): parcels moving through 17TRACK statuses.

A parcel's whole journey is planned when it is handed to a carrier: ``itinerary`` is a pure
function of (number, fate, handover time), so the same world gives the same history however
often it is ticked. A tick reveals the steps that are due: it appends their events, moves
the 17TRACK status and tells the listeners (17TRACK webhooks) about parcels that changed.

``Parcel.fate`` is ``"<fate>@<destination country>[~<pace>]"``, e.g. ``"pickup@US"`` (a demo
parcel ``"pickup@US~60"``: its journey 60 times quicker); ``"unknown"``
for a number no carrier in the world issued (it stays NotFound).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.models import Parcel


@dataclass(frozen=True)
class Carrier:
    slug: str
    key: int  # 17TRACK carrier key
    name: str
    pattern: str  # how its numbers look (used for auto-detection on register)
    origin: str


CARRIERS: dict[str, Carrier] = {
    c.slug: c
    for c in (
        Carrier("cainiao", 190271, "Cainiao", r"^LP\d{14}$", "Guangzhou, CN"),
        Carrier("yunexpress", 190008, "YunExpress", r"^YT\d{16}$", "Shenzhen, CN"),
        Carrier("4px", 190094, "4PX", r"^4PX\d{13}CN$", "Shenzhen, CN"),
        Carrier("yanwen", 190012, "Yanwen", r"^UG\d{9}YP$", "Yiwu, CN"),
        Carrier("china_post", 3011, "China Post", r"^[A-Z]{2}\d{9}CN$", "Guangzhou, CN"),
        Carrier("usps", 21051, "USPS", r"^9[2-5]\d{20}$", "Ontario, CA, US"),
    )
}
CARRIERS_BY_KEY = {c.key: c for c in CARRIERS.values()}

# Fates and how often the world picks them for a new parcel.
FATES: tuple[tuple[str, float], ...] = (
    ("delivered", 0.70),
    ("pickup", 0.08),
    ("failed_attempt", 0.07),
    ("exception", 0.05),
    ("silent", 0.10),
)
FINAL_STATUSES = {"Delivered", "Expired"}
EXPIRED_AFTER = timedelta(days=30)  # 17TRACK: "in transit for an extended period"
UNKNOWN_FATE = "unknown"

# (city, last-mile carrier) per destination country.
DESTINATIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "US": (("Louisville, KY, US", "Austin, TX, US", "Portland, OR, US", "Columbus, OH, US", "Denver, CO, US"), "USPS"),
    "CA": (("Toronto, ON, CA", "Mississauga, ON, CA"), "Canada Post"),
    "GB": (("Manchester, GB", "London, GB"), "Royal Mail"),
    "DE": (("Berlin, DE", "Leipzig, DE"), "DHL Paket"),
    "AU": (("Melbourne, VIC, AU", "Sydney, NSW, AU"), "Australia Post"),
    "BR": (("São Paulo, SP, BR", "Curitiba, PR, BR"), "Correios"),
}
GATEWAYS = {"US": "Los Angeles, CA, US", "CA": "Vancouver, BC, CA", "GB": "London Heathrow, GB", "BR": "Curitiba, BR"}


@dataclass(frozen=True)
class Step:
    at: datetime
    status: str  # 17TRACK main status
    sub_status: str
    description: str  # "" for a status change without a carrier event (Expired)
    location: str


ParcelListener = Callable[[Parcel, datetime], None]
# Told about every parcel whose status or events changed in a tick (17TRACK pushes webhooks).
PARCEL_LISTENERS: list[ParcelListener] = []


def carrier_detect(number: str) -> Carrier | None:
    return next((c for c in CARRIERS.values() if re.fullmatch(c.pattern, number)), None)


def tracking_number_draw(carrier: Carrier, rng: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return {
        "cainiao": lambda: "LP" + digits(14),
        "yunexpress": lambda: "YT" + digits(16),
        "4px": lambda: "4PX" + digits(13) + "CN",
        "yanwen": lambda: "UG" + digits(9) + "YP",
        "china_post": lambda: letters + digits(9) + "CN",
        "usps": lambda: "94" + digits(20),
    }[carrier.slug]()


def fate_draw(rng: random.Random) -> str:
    roll, threshold = rng.random(), 0.0
    for fate, weight in FATES:
        threshold += weight
        if roll < threshold:
            return fate
    return FATES[0][0]


def parcel_create(
    *, carrier: Carrier, country_code: str, now: datetime, rng: random.Random, pace: float = 1.0
) -> Parcel:
    """A parcel handed to ``carrier`` at ``now`` for ``country_code``; its journey is drawn from
    ``rng``. ``pace`` > 1 makes the journey that many times quicker (the demo's parcels: a
    supplier account's ``demo_pace`` option), written into the fate as ``~<pace>``."""
    number = tracking_number_draw(carrier, rng)
    while Parcel.objects.filter(number=number).exists():
        number = tracking_number_draw(carrier, rng)
    fate = f"{fate_draw(rng)}@{country_code if country_code in DESTINATIONS else 'US'}"
    if pace > 1:
        fate += f"~{pace:g}"
    return Parcel.objects.create(
        number=number, carrier_code=carrier.key, carrier_name=carrier.name, fate=fate, created_at=now, updated_at=now
    )


def destination_and_pace(rest: str) -> tuple[str, str, float]:
    """``"US~60"`` → ("US", "~", 60.0); no pace, or one that is not a number above 1: 1."""
    country, mark, pace_text = rest.partition("~")
    try:
        pace = float(pace_text) if pace_text else 1.0
    except ValueError:
        pace = 1.0
    return country, mark, pace if 1 < pace < 100_000 else 1.0


def itinerary(number: str, fate: str, start: datetime, carrier_code: int = 0) -> list[Step]:
    """Every step the parcel will take, in time order (pure: same inputs, same journey)."""
    if "@" not in fate:
        return []
    kind, rest = fate.split("@", 1)
    country, _, pace = destination_and_pace(rest)
    rng = random.Random(f"itinerary:{number}:{fate}:{start.isoformat()}")
    carrier = CARRIERS_BY_KEY.get(carrier_code)
    origin = carrier.origin if carrier else "Shenzhen, CN"
    cities, last_mile = DESTINATIONS.get(country, DESTINATIONS["US"])
    city, gateway = rng.choice(cities), GATEWAYS.get(country, cities[0])
    domestic = origin.endswith(country)
    steps: list[Step] = []
    at = start

    def add(hours: tuple[float, float], status: str, sub: str, text: str, where: str) -> None:
        nonlocal at
        minutes = rng.uniform(*hours) * 60
        at = at + timedelta(minutes=round(minutes) if pace == 1 else minutes / pace)
        steps.append(Step(at, status, sub, text, where))

    add((2, 12), "InfoReceived", "InfoReceived", "Shipment information received, awaiting item", origin)
    add((6, 30), "InTransit", "InTransit_PickedUp", "Picked up by the carrier", origin)
    add((6, 30), "InTransit", "InTransit_Departure", "Departed from sorting center", origin)
    if kind == "silent":
        steps.append(Step(at + EXPIRED_AFTER, "Expired", "Expired_Other", "", ""))
        return steps
    if not domestic:
        add((24, 72), "InTransit", "InTransit_Other", "Departed from origin country, in flight", origin)
        add((20, 60), "InTransit", "InTransit_Arrival", "Arrived at destination country", gateway)
        add((4, 30), "InTransit", "InTransit_CustomsProcessing", "Customs clearance in progress", gateway)
        if kind == "exception" and rng.random() < 0.5:
            add((24, 96), "Exception", "Exception_Returning", "Customs hold: returned to sender", gateway)
            add((240, 480), "Exception", "Exception_Returned", "Returned to sender", origin)
            return steps
        add((4, 24), "InTransit", "InTransit_CustomsReleased", "Customs clearance completed", gateway)
    add((12, 48), "InTransit", "InTransit_Other", f"Handed over to {last_mile}, arrived at regional facility", city)
    if kind == "exception":
        add(
            (24, 96),
            "Exception",
            rng.choice(("Exception_Lost", "Exception_Damage")),
            "Item could not be processed",
            city,
        )
        return steps
    if kind == "pickup":
        add((12, 36), "AvailableForPickup", "AvailableForPickup_Other", "Available for pickup at post office", city)
        if rng.random() < 0.7:
            add((24, 120), "Delivered", "Delivered_Other", "Picked up by the recipient", city)
        return steps
    add((12, 36), "OutForDelivery", "OutForDelivery_Other", "Out for delivery", city)
    if kind == "failed_attempt":
        add(
            (3, 9),
            "DeliveryFailure",
            "DeliveryFailure_NoBody",
            "Delivery attempted: no one available, notice left",
            city,
        )
        if rng.random() < 0.6:
            add((16, 30), "OutForDelivery", "OutForDelivery_Other", "Out for delivery (second attempt)", city)
            add((2, 9), "Delivered", "Delivered_Other", "Delivered, in/at mailbox", city)
        return steps
    add((2, 9), "Delivered", "Delivered_Other", "Delivered, in/at mailbox", city)
    return steps


# 17TRACK milestone stage of an event, by its sub-status (others have no stage).
STAGES = {
    "InfoReceived": "InfoReceived",
    "InTransit_PickedUp": "PickedUp",
    "InTransit_Departure": "Departure",
    "InTransit_Arrival": "Arrival",
    "AvailableForPickup_Other": "AvailableForPickup",
    "OutForDelivery_Other": "OutForDelivery",
    "Delivered_Other": "Delivered",
    "Exception_Returning": "Returning",
    "Exception_Returned": "Returned",
}


def event_json(step: Step) -> dict[str, str | None]:
    return {
        "time_utc": step.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": step.description,
        "location": step.location,
        "stage": STAGES.get(step.sub_status),
        "sub_status": step.sub_status,
    }


def parcel_advance(parcel: Parcel, now: datetime) -> bool:
    """Reveal the steps due by ``now``; True if the parcel changed (the caller saves it)."""
    steps = itinerary(parcel.number, parcel.fate, parcel.created_at, parcel.carrier_code)
    status_changes = [s for s in steps if not s.description and s.at <= now]
    new_events = [s for s in steps if s.description][len(parcel.events) :]
    new_events = [s for s in new_events if s.at <= now]
    last = max([*new_events, *status_changes], key=lambda s: s.at, default=None)
    if last is None or (not new_events and parcel.status == last.status):
        return False
    parcel.events = [*parcel.events, *(event_json(s) for s in new_events)]
    parcel.status, parcel.sub_status, parcel.updated_at = last.status, last.sub_status, last.at
    return True


def tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    """Move every parcel still on its way to ``now``; returns counts of what happened."""
    moved = 0
    parcels = Parcel.objects.exclude(status__in=FINAL_STATUSES).exclude(fate=UNKNOWN_FATE).order_by("created_at", "id")
    for parcel in parcels.iterator():
        if parcel_advance(parcel, now):
            parcel.save(update_fields=["events", "status", "sub_status", "updated_at"])
            moved += 1
            for listener in PARCEL_LISTENERS:
                listener(parcel, now)
    return {"parcels_moved": moved} if moved else {}
