"""Provider calls per shipment per day, from the adaptive poll policy (``merge.next_poll_at``)
over simulated parcel journeys (the sandbox's itineraries: 10-20 days from China to the US),
with the provider's webhook pushes on or off. Pure: no database, no network."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orders.enums import TrackingStatus
from sandbox.sim import carriers
from tracking.providers.base import BATCH_SIZE
from tracking.providers.track17 import mapping
from tracking.services.merge import POLL, WEBHOOK, next_poll_at
from tracking.services.registration import FIRST_POLL

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
FOREIGN = [c for c in carriers.CARRIERS.values() if not c.origin.endswith("US")]


@dataclass
class Journeys:
    journeys: int = 0
    polls: int = 0  # numbers asked for (40 to a call)
    pushes: int = 0  # webhook pushes received (no call of ours)
    stops: int = 0
    active_days: float = 0.0  # registered → stopped (or expired by us)

    def as_dict(self, expire_after: timedelta) -> dict[str, object]:
        per_day = self.polls / self.active_days if self.active_days else 0.0
        # register and stop: one number each in a call of 40, over the shipment's active days
        overhead = (self.journeys + self.stops) / self.active_days if self.active_days else 0.0
        return {
            "journeys": self.journeys,
            "mean_active_days": round(self.active_days / max(1, self.journeys), 2),
            "polls_per_shipment": round(self.polls / max(1, self.journeys), 2),
            "polls_per_shipment_per_day": round(per_day, 3),
            "webhook_pushes_per_shipment": round(self.pushes / max(1, self.journeys), 2),
            "provider_calls_per_shipment_per_day": round((per_day + overhead) / BATCH_SIZE, 5),
            "expire_after_days": expire_after.days,
        }


def journeys_simulate(*, count: int, webhook: bool, expire_after: timedelta, seed: int = 7) -> Journeys:
    """Follow ``count`` parcels from registration to the end as our poller would: a poll at each
    ``next_poll_at``; with ``webhook``, each scan also arrives as a push (merged with
    ``source=WEBHOOK``, which spaces the next poll out). Registration comes 2-24 h after the label."""
    rng, out = random.Random(seed), Journeys()
    for _ in range(count):
        carrier = rng.choice(FOREIGN)
        number = carriers.tracking_number_draw(carrier, rng)
        steps = carriers.itinerary(number, f"{carriers.fate_draw(rng)}@US", START, carrier.key)
        registered = START + timedelta(hours=rng.uniform(2, 24))
        end = registered + expire_after  # the expire job stops a parcel that long quiet at the latest
        due, known, t = registered + FIRST_POLL, 0, registered
        while True:
            upcoming = steps[known] if known < len(steps) else None
            if webhook and upcoming is not None and upcoming.at <= due and upcoming.at > t:
                t, source = upcoming.at, WEBHOOK
                out.pushes += 1
            else:
                t, source = due, POLL
                out.polls += 1
            if t >= end:
                break
            known = sum(1 for step in steps if step.at <= t)
            last = steps[known - 1] if known else None
            scans = [step for step in steps[:known] if step.description]
            if last is not None and mapping.is_terminal(last.status, last.sub_status):
                out.stops += 1
                break
            status = mapping.status_of(last.status, last.sub_status) if last else TrackingStatus.NOT_FOUND
            following = next_poll_at(
                status=status,
                terminal=False,
                now=t,
                source=source,
                registered_at=registered,
                last_event_at=scans[-1].at if scans else None,
            )
            assert following is not None
            due = following
        out.journeys += 1
        out.active_days += (min(t, end) - registered).total_seconds() / 86400
    return out
