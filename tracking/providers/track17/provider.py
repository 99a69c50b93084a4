"""17TRACK (Tracking API v2.2) as a ``TrackingProvider``.

- ``register``: ``POST register [{"number", "carrier"?, "tag"?}]``; accepted items carry the
  carrier 17TRACK detected; -18019901 (already registered) counts as accepted (``already``).
  One quota per accepted number [C: help.17track.net].
- ``poll``: ``POST gettrackinfo [{"number"}]``; an accepted item is read by
  ``payload.track_info_of`` (an item we cannot read is rejected with code ``"malformed"``, the
  others of the batch are kept); -18019902 (not registered) is a rejection.
- ``stop``: ``POST stoptrack [{"number"}]``; -18019906 (already stopped) counts as accepted.
- ``quota``: ``POST getquota`` → ``data {"quota_total", "quota_used", "quota_remain"}`` (the
  sandbox's names; 17TRACK's own field names are not confirmed [U]).

At most 40 numbers per call; larger inputs are split by ``TrackingProvider`` (one call each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.errors import CredentialsError, MalformedPayload
from integrations.http import CONNECT_TIMEOUT, MAX_ATTEMPTS, AttemptRecorder, Pacer, sanitize
from tracking.providers.base import (
    MALFORMED,
    Accepted,
    PollResult,
    Quota,
    RegisterResult,
    Registration,
    Rejected,
    StopResult,
    TrackInfo,
    TrackingProvider,
    normalize_number,
    register,
)
from tracking.providers.track17.client import (
    ALREADY_REGISTERED,
    ALREADY_STOPPED,
    MESSAGE_LENGTH,
    Track17Client,
)
from tracking.providers.track17.payload import MAX_TAG_LENGTH, carrier_key, optional_list, track_info_of

REGISTER, GETTRACKINFO, STOPTRACK, GETQUOTA = "register", "gettrackinfo", "stoptrack", "getquota"


def _rejection(item: Any, where: str) -> tuple[str, int | None, str]:
    """(number, code, message) of a ``rejected`` item; MalformedPayload when it is not one."""
    if not isinstance(item, dict):
        raise MalformedPayload(f"17TRACK {where}: a rejected item is not an object")
    number = item.get("number")
    error = item.get("error")
    if not isinstance(number, str) or not isinstance(error, dict):
        raise MalformedPayload(f"17TRACK {where}: a rejected item has no 'number' or 'error'")
    code = error.get("code")
    message = error.get("message")
    return (
        normalize_number(number),
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        sanitize(message, MESSAGE_LENGTH) if isinstance(message, str) else "",
    )


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayload(f"17TRACK getquota: '{key}' is not a count: {str(value)[:40]!r}")
    return value


def _batch_result(
    data: Mapping[str, Any], where: str, *, already: int, accepted_item: Callable[[Any], Accepted]
) -> RegisterResult:
    accepted = [accepted_item(item) for item in optional_list(data, "accepted", f"17TRACK {where}")]
    rejected: list[Rejected] = []
    for item in optional_list(data, "rejected", f"17TRACK {where}"):
        number, code, message = _rejection(item, where)
        if code == already:
            accepted.append(Accepted(number=number, already=True))
        else:
            rejected.append(Rejected(number=number, code=str(code) if code is not None else "", reason=message))
    return RegisterResult(accepted=tuple(accepted), rejected=tuple(rejected))


def _accepted(where: str) -> Callable[[Any], Accepted]:
    def read(item: Any) -> Accepted:
        if not isinstance(item, dict) or not isinstance(item.get("number"), str):
            raise MalformedPayload(f"17TRACK {where}: an accepted item has no 'number'")
        return Accepted(number=normalize_number(item["number"]), carrier_code=carrier_key(item.get("carrier")))

    return read


@register
class Track17Provider(TrackingProvider):
    provider = "track17"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 20.0,
        max_attempts: int = MAX_ATTEMPTS,
        recorder: AttemptRecorder | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """``base_url`` / ``api_key`` default to the settings ``TRACK17_API_URL`` / ``TRACK17_API_KEY``."""
        self.base_url = (settings.TRACK17_API_URL if base_url is None else base_url).rstrip("/")
        self.api_key = settings.TRACK17_API_KEY if api_key is None else api_key
        options: dict[str, Any] = {
            "timeout": (min(CONNECT_TIMEOUT, timeout), timeout),
            "max_attempts": max_attempts,
            "recorder": recorder,
            "pacer": pacer,
        }
        if sleep is not None:
            options["sleep"] = sleep
        self.client = Track17Client(self.base_url, api_key=self.api_key, **options)

    def close(self) -> None:
        self.client.close()

    def _call(self, endpoint: str, items: list[dict[str, Any]] | None) -> Mapping[str, Any]:
        if not self.api_key:
            raise CredentialsError(_("17TRACK has no security key: set TRACK17_API_KEY"))
        return self.client.call(endpoint, items)

    def register_batch(self, items: Sequence[Registration]) -> RegisterResult:
        body: list[dict[str, Any]] = []
        for item in items:
            entry: dict[str, Any] = {"number": item.number}
            if item.carrier_code:
                entry["carrier"] = item.carrier_code
            if item.tag:
                entry["tag"] = item.tag[:MAX_TAG_LENGTH]
            body.append(entry)
        data = self._call(REGISTER, body)
        return _batch_result(data, REGISTER, already=ALREADY_REGISTERED, accepted_item=_accepted(REGISTER))

    def poll_batch(self, numbers: Sequence[str]) -> PollResult:
        data = self._call(GETTRACKINFO, [{"number": number} for number in numbers])
        tracked: list[TrackInfo] = []
        rejected: list[Rejected] = []
        for index, item in enumerate(optional_list(data, "accepted", f"17TRACK {GETTRACKINFO}")):
            try:
                tracked.append(track_info_of(item, f"17TRACK gettrackinfo accepted[{index}]"))
            except MalformedPayload as error:
                number = item.get("number") if isinstance(item, dict) else None
                shown = normalize_number(number) if isinstance(number, str) else ""
                rejected.append(Rejected(number=shown, code=MALFORMED, reason=str(error)))
        for item in optional_list(data, "rejected", f"17TRACK {GETTRACKINFO}"):
            number, code, message = _rejection(item, GETTRACKINFO)
            rejected.append(Rejected(number=number, code=str(code) if code is not None else "", reason=message))
        return PollResult(tracked=tuple(tracked), rejected=tuple(rejected))

    def stop_batch(self, numbers: Sequence[str]) -> StopResult:
        data = self._call(STOPTRACK, [{"number": number} for number in numbers])
        return _batch_result(data, STOPTRACK, already=ALREADY_STOPPED, accepted_item=_accepted(STOPTRACK))

    def quota(self) -> Quota:
        data = self._call(GETQUOTA, None)
        total, used = _count(data, "quota_total"), _count(data, "quota_used")
        remain = data.get("quota_remain")
        remaining = _count(data, "quota_remain") if remain is not None else max(0, total - used)
        return Quota(total=total, used=used, remaining=remaining)
