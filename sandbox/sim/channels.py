"""The channels part of the simulated world (see sandbox/world.py)."""

from __future__ import annotations

import random
from datetime import datetime


def tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    """Move this part of the world to ``now``; returns counts of what happened."""
    return {}
