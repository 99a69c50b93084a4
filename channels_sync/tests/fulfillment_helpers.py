"""What the fulfillment push tests share: the parcel's lines as our mapping reads them, and a
recorder that makes something happen at the channel between two of our calls (a real race)."""

from __future__ import annotations

from collections.abc import Callable

from channels_sync.fulfillment import FulfillmentLine
from channels_sync.providers.base import ChannelProvider
from integrations.http import Attempt


def order_lines(provider: ChannelProvider, order_id: str) -> tuple[FulfillmentLine, ...]:
    """The order's lines as ``OrderLine`` keeps them (the channel mapping's ``channel_line_id``)."""
    (order,) = provider.fetch_orders([order_id])
    return tuple(FulfillmentLine(line.channel_line_id, line.quantity) for line in order.data.lines)


class AfterAttempt:
    """An ``AttemptRecorder`` that runs ``action`` once, right after attempt number ``count``."""

    def __init__(self, count: int, action: Callable[[], object]) -> None:
        self.count, self.action = count, action
        self.seen: list[Attempt] = []

    def __call__(self, attempt: Attempt) -> None:
        self.seen.append(attempt)
        if len(self.seen) == self.count:
            self.action()
