"""The contract every tracking provider fulfils (17TRACK-shaped; dataclasses only, no models).

A provider folder ``tracking/providers/<name>/`` holds the HTTP client (on
``integrations.http.ProviderHttpClient``: host policy, deadlines, size cap, a retry policy per
call, attempts for support), the mapping of its statuses onto ``orders.enums.TrackingStatus``
and its webhook helpers; the ``TrackingProvider`` subclass is registered in ``REGISTRY``.

Every call takes any number of tracking numbers and sends them in batches of at most
``BATCH_SIZE`` (one provider call per batch). Numbers are normalised (``normalize_number``:
trimmed, upper case) and de-duplicated first; results carry the normalised number.

What a call can fail with (``integrations.errors``): ``RateLimited`` (the provider said "too
many requests": ``retry_after`` seconds is the task's countdown), ``ProviderError`` with
``retryable`` (5xx, timeouts, the provider's internal error: try again later),
``CredentialsError`` (the key is refused), ``ProviderError`` (any other request-level refusal)
and ``MalformedPayload`` (an answer we cannot read). A batch that failed stops the call; every
call is safe to repeat (a number registered or stopped twice counts as accepted).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from integrations.errors import NotSupported
from orders.enums import TrackingStatus

BATCH_SIZE = 40  # 17TRACK: at most 40 numbers per call (error -18010014 above it)

T = TypeVar("T")


def normalize_number(number: str) -> str:
    """A tracking number as providers compare it: trimmed, upper case."""
    return number.strip().upper()


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique_numbers(numbers: Iterable[str]) -> list[str]:
    """Normalised, de-duplicated, in first-seen order; blanks dropped."""
    seen: dict[str, None] = {}
    for number in numbers:
        normalized = normalize_number(number)
        if normalized:
            seen.setdefault(normalized, None)
    return list(seen)


@dataclass(frozen=True)
class Registration:
    """One number to register; ``carrier_code`` None lets the provider detect the carrier."""

    number: str
    carrier_code: int | None = None
    tag: str = ""  # our own label, sent along and sent back (17TRACK: at most 100 characters)


@dataclass(frozen=True)
class Accepted:
    number: str
    carrier_code: int | None = None  # the provider's carrier key, when it says
    already: bool = False  # it was accepted before ("already registered", "already stopped")


@dataclass(frozen=True)
class Rejected:
    """A number the provider refused (or whose answer could not be read: code ``"malformed"``)."""

    number: str
    code: str  # the provider's error code, as text ("-18019903")
    reason: str  # the provider's message, sanitised (or why we could not read it)


MALFORMED = "malformed"  # ``Rejected.code`` of an item whose answer we could not read


@dataclass(frozen=True)
class BatchResult:
    """What a register or stop call did, number by number."""

    accepted: tuple[Accepted, ...] = ()
    rejected: tuple[Rejected, ...] = ()

    @property
    def accepted_numbers(self) -> tuple[str, ...]:
        return tuple(item.number for item in self.accepted)

    @property
    def rejected_numbers(self) -> tuple[str, ...]:
        return tuple(item.number for item in self.rejected)


RegisterResult = BatchResult
StopResult = BatchResult


@dataclass(frozen=True)
class TrackEvent:
    """One carrier scan, as the provider reports it."""

    time: datetime  # aware, UTC
    description: str
    location: str
    provider_status: str  # the provider's main status for this event ("InTransit"), "" when none
    provider_sub_status: str  # as received ("InTransit_PickedUp"), "" when none
    status: TrackingStatus  # ours (UNKNOWN for a status we do not know)


@dataclass(frozen=True)
class TrackInfo:
    """What the provider knows of one number (a poll answer or a webhook push)."""

    number: str
    carrier_code: int | None
    carrier_name: str
    provider_status: str  # the main status as received ("InTransit"; "" when it sent none)
    provider_sub_status: str  # as received ("InTransit_CustomsProcessing")
    status: TrackingStatus  # ours; UNKNOWN when the provider's status is one we do not know
    latest_event_at: datetime | None  # aware UTC; None before the first scan
    events: tuple[TrackEvent, ...] = ()  # oldest first
    tag: str = ""
    stopped: bool = False  # the provider stopped tracking it (17TRACK's TRACKING_STOPPED push)
    dropped_events: int = 0  # events left out because they could not be read (no time, bad types)
    dropped_reason: str = ""  # why the first of them could not be read


@dataclass(frozen=True)
class PollResult:
    tracked: tuple[TrackInfo, ...] = ()
    rejected: tuple[Rejected, ...] = ()  # not registered, or an item we could not read


@dataclass(frozen=True)
class Quota:
    total: int
    used: int
    remaining: int


@dataclass
class _Merged:
    """Results of several batches, in order."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.accepted.extend(result.accepted)
        self.rejected.extend(result.rejected)

    def result(self) -> BatchResult:
        return BatchResult(accepted=tuple(self.accepted), rejected=tuple(self.rejected))


class TrackingProvider:
    """Base class: every method raises ``NotSupported`` unless the provider implements it.

    Subclasses implement the ``*_batch`` methods (at most ``batch_size`` items each); the public
    methods normalise, de-duplicate and split the input, one provider call per batch.
    """

    provider: ClassVar[str]
    batch_size: ClassVar[int] = BATCH_SIZE

    # Public API ----------------------------------------------------------------------------

    def register(self, items: Sequence[Registration]) -> RegisterResult:
        """Start tracking ``items``; a number already registered counts as accepted (``already``)."""
        unique: dict[str, Registration] = {}
        for item in items:
            number = normalize_number(item.number)
            if number and number not in unique:
                unique[number] = Registration(number, item.carrier_code, item.tag)
        merged = _Merged()
        for batch in batches(list(unique.values()), self.batch_size):
            merged.add(self.register_batch(batch))
        return merged.result()

    def poll(self, numbers: Sequence[str]) -> list[TrackInfo]:
        """What the provider knows of ``numbers`` (those it does not track are left out: see ``poll_result``)."""
        return list(self.poll_result(numbers).tracked)

    def poll_result(self, numbers: Sequence[str]) -> PollResult:
        """``poll`` with the numbers the provider refused (not registered) or sent unreadable."""
        tracked: list[TrackInfo] = []
        rejected: list[Rejected] = []
        for batch in batches(unique_numbers(numbers), self.batch_size):
            result = self.poll_batch(batch)
            tracked.extend(result.tracked)
            rejected.extend(result.rejected)
        return PollResult(tracked=tuple(tracked), rejected=tuple(rejected))

    def stop(self, numbers: Sequence[str]) -> StopResult:
        """Stop tracking ``numbers`` (at a terminal state: no more quota, no more pushes);
        a number already stopped counts as accepted (``already``)."""
        merged = _Merged()
        for batch in batches(unique_numbers(numbers), self.batch_size):
            merged.add(self.stop_batch(batch))
        return merged.result()

    def quota(self) -> Quota:
        raise NotSupported(f"{self.provider} does not report a quota")

    def close(self) -> None:
        """Close kept-alive connections (a provider may be used for many calls, then closed)."""

    # One provider call each ----------------------------------------------------------------

    def register_batch(self, items: Sequence[Registration]) -> RegisterResult:
        raise NotSupported(f"{self.provider} cannot register numbers")

    def poll_batch(self, numbers: Sequence[str]) -> PollResult:
        raise NotSupported(f"{self.provider} cannot be polled")

    def stop_batch(self, numbers: Sequence[str]) -> StopResult:
        raise NotSupported(f"{self.provider} cannot stop tracking")


REGISTRY: dict[str, type[TrackingProvider]] = {}


def register(provider: type[TrackingProvider]) -> type[TrackingProvider]:
    REGISTRY[provider.provider] = provider
    return provider
