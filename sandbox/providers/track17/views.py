"""17TRACK Tracking API v2.2: register, gettrackinfo, stoptrack, retrack, deletetrack, getquota.

All POST with a JSON array body (at most 40 items) and the ``17token`` header. Envelope
``{"code": 0, "data": {"accepted": [...], "rejected": [{"number", "error": {"code", "message"}}]}}``;
a request-level error is ``{"code": <code>, "data": {"errors": [{"code", "message"}]}}``
(invalid key: HTTP 401). Codes are 17TRACK's (see docs/sandbox.md for the few chosen ones).
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import Parcel, SimAccount, TrackingRegistration
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers._state import options_update
from sandbox.providers.track17.render import tracking_json
from sandbox.sim import carriers

MAX_ITEMS = 40
DEFAULT_QUOTA = 10_000  # the free plan has 100 a month; set options["quota_total"] to simulate it
INVALID_KEY, INTERNAL, EMPTY, BAD_NUMBER, BAD_DATA, TOO_MANY = (
    -18010002,
    -18010003,
    -18010010,
    -18010011,
    -18010012,
    -18010014,
)
BAD_VALUE = -18010015
ALREADY, NOT_REGISTERED, NO_CARRIER, NOT_STOPPED, RETRACKED, STOPPED, NO_QUOTA = (
    -18019901, -18019902, -18019903, -18019904, -18019905, -18019906, -18019908,
)  # fmt: skip
MESSAGES = {
    ALREADY: "The tracking number is already registered.",
    NOT_REGISTERED: "The tracking number is not registered yet.",
    NO_CARRIER: "The carrier cannot be detected automatically, please specify it.",
    NOT_STOPPED: "Only stopped numbers can be retracked.",
    RETRACKED: "A number can be retracked only once.",
    STOPPED: "The tracking number is already stopped.",
    NO_QUOTA: "The tracking quota is insufficient.",
    BAD_NUMBER: "The tracking number is invalid.",
    BAD_VALUE: "The value of carrier is invalid.",
}


class RequestError(Exception):
    def __init__(self, code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def errors(code: int, message: str, status: int = 200) -> HttpResponse:
    return json_response({"code": code, "data": {"errors": [{"code": code, "message": message}]}}, status=status)


FAULTS = FaultShape(
    server_error=lambda request, status: errors(INTERNAL, "Internal service error.", status),
    rate_limited=lambda request: errors(429, "Request rate exceeded: at most 3 requests per second.", 429),
)

Handler = Callable[[SimAccount, list[dict[str, Any]], datetime], tuple[list[Any], list[Any]]]


def track17_api(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @functools.wraps(handler)
    def endpoint(request: HttpRequest) -> HttpResponse:
        def answer() -> HttpResponse:
            try:
                if request.method != "POST":
                    raise RequestError(BAD_DATA, "Only POST is supported.", 405)
                key = request.headers.get("17token", "")
                account = (
                    SimAccount.objects.filter(provider=Provider.TRACK17, credentials__token=key).first()
                    if key
                    else None
                )
                if account is None or not hmac.compare_digest(key.encode(), account.credentials["token"].encode()):
                    raise RequestError(INVALID_KEY, "Security key is invalid.", 401)
                try:
                    items = json.loads(request.body or b"")
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise RequestError(BAD_DATA, "The format of data is invalid: a JSON array is expected.") from None
                if not isinstance(items, list):
                    raise RequestError(BAD_DATA, "The format of data is invalid: a JSON array is expected.")
                if not items:
                    raise RequestError(EMPTY, "The data cannot be empty.")
                if len(items) > MAX_ITEMS:
                    raise RequestError(TOO_MANY, f"The number of tracking numbers exceeds {MAX_ITEMS}.")
                accepted, rejected = handler(account, items, sim_now())
            except RequestError as exc:
                return errors(exc.code, exc.message, exc.status)
            return json_response({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

        return fault_response(Provider.TRACK17, FAULTS, request, answer)

    return endpoint


def _rejected(number: Any, code: int) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": MESSAGES[code]}}


def _number(item: Any) -> str | None:
    number = item.get("number") if isinstance(item, dict) else None
    return number.strip().upper() if isinstance(number, str) and 5 <= len(number.strip()) <= 50 else None


def _registrations(account: SimAccount, items: list[Any]) -> dict[str, TrackingRegistration]:
    numbers = [n for n in (_number(i) for i in items) if n]
    rows = account.registrations.filter(parcel__number__in=numbers).select_related("parcel", "account")
    return {row.parcel.number: row for row in rows}


def _parcel_for(number: str, carrier: Any, now: datetime) -> Parcel | int:
    parcel = Parcel.objects.filter(number=number).first()
    if parcel:
        return parcel
    if carrier not in (None, "", 0):
        known = carriers.CARRIERS_BY_KEY.get(carrier) if isinstance(carrier, int) else None
        if known is None:
            return BAD_VALUE
    else:
        known = carriers.carrier_detect(number)
        if known is None:
            return NO_CARRIER
    parcel, _ = Parcel.objects.get_or_create(
        number=number,
        defaults={
            "carrier_code": known.key,
            "carrier_name": known.name,
            "fate": carriers.UNKNOWN_FATE,
            "created_at": now,
            "updated_at": now,
        },
    )
    return parcel


@track17_api
def register(account: SimAccount, items: list[Any], now: datetime) -> tuple[list[Any], list[Any]]:
    accepted, rejected = [], []
    existing = _registrations(account, items)
    for item in items:
        number = _number(item)
        if number is None:
            rejected.append(
                {
                    "number": item.get("number") if isinstance(item, dict) else None,
                    "error": {"code": BAD_NUMBER, "message": MESSAGES[BAD_NUMBER]},
                }
            )
            continue
        if number in existing:
            rejected.append(_rejected(number, ALREADY))
            continue
        parcel = _parcel_for(number, item.get("carrier"), now)
        if isinstance(parcel, int):
            rejected.append(_rejected(number, parcel))
            continue

        def take(options: dict[str, Any]) -> bool:
            used = int(options.get("quota_used", 0))
            if used >= int(options.get("quota_total", DEFAULT_QUOTA)):
                return False
            options["quota_used"] = used + 1
            return True

        if not options_update(account, take):
            rejected.append(_rejected(number, NO_QUOTA))
            continue
        try:
            with transaction.atomic():
                TrackingRegistration.objects.create(
                    account=account, parcel=parcel, tag=str(item.get("tag") or "")[:100], created_at=now
                )
        except IntegrityError:  # a concurrent register of the same number
            rejected.append(_rejected(number, ALREADY))
            continue
        existing[number] = TrackingRegistration(account=account, parcel=parcel)
        entry = {"origin": 1, "number": number, "carrier": parcel.carrier_code}
        if item.get("tag"):
            entry["tag"] = item["tag"]
        accepted.append(entry)
    return accepted, rejected


def _each_registered(
    account: SimAccount, items: list[Any], act: Callable[[TrackingRegistration], dict[str, Any] | int]
) -> tuple[list[Any], list[Any]]:
    accepted, rejected = [], []
    existing = _registrations(account, items)
    for item in items:
        number = _number(item)
        if number is None:
            rejected.append(
                {
                    "number": item.get("number") if isinstance(item, dict) else None,
                    "error": {"code": BAD_NUMBER, "message": MESSAGES[BAD_NUMBER]},
                }
            )
        elif number not in existing:
            rejected.append(_rejected(number, NOT_REGISTERED))
        else:
            result = act(existing[number])
            (rejected.append(_rejected(number, result)) if isinstance(result, int) else accepted.append(result))
    return accepted, rejected


@track17_api
def gettrackinfo(account: SimAccount, items: list[Any], now: datetime) -> tuple[list[Any], list[Any]]:
    return _each_registered(account, items, lambda row: tracking_json(row, now))


def _stop(row: TrackingRegistration) -> dict[str, Any] | int:
    if row.stopped:
        return STOPPED
    row.stopped = True
    row.save(update_fields=["stopped"])
    return {"number": row.parcel.number, "carrier": row.parcel.carrier_code}


@track17_api
def stoptrack(account: SimAccount, items: list[Any], now: datetime) -> tuple[list[Any], list[Any]]:
    return _each_registered(account, items, _stop)


def _retrack(row: TrackingRegistration) -> dict[str, Any] | int:
    if not row.stopped:
        return NOT_STOPPED
    retracked = row.account.options.get("retracked", [])
    if row.parcel.number in retracked:
        return RETRACKED
    options_update(row.account, lambda options: options.setdefault("retracked", []).append(row.parcel.number))
    row.stopped = False
    row.save(update_fields=["stopped"])
    return {"number": row.parcel.number, "carrier": row.parcel.carrier_code}


@track17_api
def retrack(account: SimAccount, items: list[Any], now: datetime) -> tuple[list[Any], list[Any]]:
    return _each_registered(account, items, _retrack)


def _delete(row: TrackingRegistration) -> dict[str, Any]:
    number, carrier = row.parcel.number, row.parcel.carrier_code
    row.delete()
    return {"number": number, "carrier": carrier}


@track17_api
def deletetrack(account: SimAccount, items: list[Any], now: datetime) -> tuple[list[Any], list[Any]]:
    return _each_registered(account, items, _delete)


@csrf_exempt
def getquota(request: HttpRequest) -> HttpResponse:
    def answer() -> HttpResponse:
        key = request.headers.get("17token", "")
        account = SimAccount.objects.filter(provider=Provider.TRACK17, credentials__token=key).first() if key else None
        if request.method != "POST" or account is None:
            return errors(INVALID_KEY, "Security key is invalid.", 401)
        total, used = int(account.options.get("quota_total", DEFAULT_QUOTA)), int(account.options.get("quota_used", 0))
        return json_response(
            {"code": 0, "data": {"quota_total": total, "quota_used": used, "quota_remain": max(0, total - used)}}
        )

    return fault_response(Provider.TRACK17, FAULTS, request, answer)
