"""The simulated world moving on its own: one ``world_tick`` at a time, deterministic from the seed.

Each tick covers the sim time since the previous tick and asks each part of the world to
move: customers order and cancel (``sim/channels.py``), suppliers accept, fail, ship and
review refunds (``sim/suppliers.py``), carriers move parcels (``sim/carriers.py``).
The random source of a tick is derived from (seed, tick time), so the same seed and the
same clock give the same history.
"""

from __future__ import annotations

import random
from datetime import datetime

from django.db import transaction

from sandbox.clock import clock_get, sim_now
from sandbox.sim import carriers, channels, suppliers


def tick_rng(seed: int, at: datetime, part: str) -> random.Random:
    return random.Random(f"{seed}:{part}:{at.isoformat()}")


@transaction.atomic
def world_tick(*, now: datetime | None = None) -> dict[str, int]:
    """Move the world to ``now`` (sim time); returns what happened, by kind."""
    clock = clock_get()
    now = now or sim_now()
    happened: dict[str, int] = {}
    for name, part in (("channels", channels), ("suppliers", suppliers), ("carriers", carriers)):
        for kind, count in part.tick(now=now, rng=tick_rng(clock.seed, now, name)).items():
            happened[kind] = happened.get(kind, 0) + count
    return happened
