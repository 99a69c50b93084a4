"""The simulated world's clock. One row; tests advance it, demos speed it up."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sandbox.models import SimClock


def clock_get() -> SimClock:
    clock = SimClock.objects.order_by("pk").first()
    if clock is None:
        now = timezone.now()
        clock, _ = SimClock.objects.get_or_create(pk=1, defaults={"sim_epoch": now, "real_epoch": now})
    return clock


def sim_now() -> datetime:
    clock = clock_get()
    elapsed = (timezone.now() - clock.real_epoch).total_seconds() * clock.speed
    return clock.sim_epoch + timedelta(seconds=elapsed)


@transaction.atomic
def clock_set(*, advance_seconds: float = 0.0, speed: float | None = None, seed: int | None = None) -> datetime:
    """Advance the simulated time and/or change its speed; returns the new sim time."""
    clock = SimClock.objects.select_for_update().get(pk=clock_get().pk)
    now_real = timezone.now()
    current = clock.sim_epoch + timedelta(seconds=(now_real - clock.real_epoch).total_seconds() * clock.speed)
    clock.sim_epoch = current + timedelta(seconds=advance_seconds)
    clock.real_epoch = now_real
    if speed is not None:
        clock.speed = speed
    if seed is not None:
        clock.seed = seed
    clock.save()
    return clock.sim_epoch
