"""Reading fields out of channel JSON for the pure mappings: every failure is a ``MalformedPayload``
whose message names the field (``order 450789469: line_items[1].price is not a number: 'abc'``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.errors import MalformedPayload

JsonObject = Mapping[str, Any]


class JsonTooDeep(ValueError):
    """JSON nested too deeply to parse (``[[[[…`` thousands deep: a hostile body), a ``ValueError``
    like any other unreadable JSON, so every reader that handles one handles this."""


def json_parse(raw: bytes | str) -> Any:
    """``json.loads``, whose ``RecursionError`` on a deep body becomes ``JsonTooDeep``."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None


def json_object(body: bytes, what: str = "body") -> JsonObject:
    try:
        data = json_parse(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload(f"the {what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedPayload(f"the {what} is not a JSON object")
    return data


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def present(data: JsonObject, key: str, where: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise MalformedPayload(f"{where}: missing '{key}'")
    return value


def obj(data: JsonObject, key: str, where: str, *, required: bool = True) -> JsonObject:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}: '{key}' is {'missing' if value is None else 'not an object'}")
    return value


def objects(data: JsonObject, key: str, where: str) -> list[JsonObject]:
    value = data.get(key)
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}: '{key}' is {'missing' if value is None else 'not a list'}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedPayload(f"{where}: {key}[{index}] is not an object")
    return value


def text(data: JsonObject, key: str) -> str:
    """An optional string field ("" when absent or null)."""
    value = data.get(key)
    return "" if value is None else str(value)


def ident(data: JsonObject, key: str, where: str) -> str:
    """A required id (integer or string in the JSON), as a string."""
    value = present(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"{where}: '{key}' is not an id: {value!r}")
    return str(value)


def optional_ident(data: JsonObject | None, key: str, *, max_length: int = 64) -> str:
    """An optional id (integer or string in the JSON), as a string; "" when absent, null, not an
    id, or longer than ``max_length`` (no id of ours is: such a value is garbage, not an id)."""
    value = data.get(key) if isinstance(data, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    result = str(value).strip()
    return result if len(result) <= max_length else ""


def money(data: JsonObject, key: str, where: str) -> Decimal:
    value = present(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedPayload(f"{where}: '{key}' is not a number: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MalformedPayload(f"{where}: '{key}' is not a number: {value!r}") from None
    if not amount.is_finite():
        raise MalformedPayload(f"{where}: '{key}' is not a number: {value!r}")
    return amount


def quantity(data: JsonObject, key: str, where: str) -> int:
    value = present(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayload(f"{where}: '{key}' is not a whole number of items: {value!r}")
    return value


def iso_datetime(data: JsonObject, key: str, where: str, *, naive_tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 time; one without an offset is read in ``naive_tz`` (an error when None)."""
    value = present(data, key, where)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise MalformedPayload(f"{where}: '{key}' is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        if naive_tz is None:
            raise MalformedPayload(f"{where}: '{key}' has no UTC offset: {value!r}")
        moment = moment.replace(tzinfo=naive_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+08:00 is before the first representable UTC time
        raise MalformedPayload(f"{where}: '{key}' is out of range: {value!r}") from None


def unix_datetime(data: JsonObject, key: str, where: str) -> datetime:
    value = present(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedPayload(f"{where}: '{key}' is not a unix time: {value!r}")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedPayload(f"{where}: '{key}' is not a unix time: {value!r}") from None
