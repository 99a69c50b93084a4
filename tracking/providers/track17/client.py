"""The 17TRACK Tracking API v2.2 client: the ``17token`` header and 17TRACK's envelope.

Every call is ``POST <base>/<endpoint>`` with a JSON array body (at most 40 items) [C]. A
success is ``{"code": 0, "data": {"accepted": [...], "rejected": [{"number", "error": {"code",
"message"}}]}}``; a request-level refusal is ``{"code": <code>, "data": {"errors": [{"code",
"message"}]}}`` [C: help.17track.net "Error Codes and Troubleshooting"; sandbox].

How answers become errors:
- HTTP 429, or the envelope code 429 (the sandbox's; 17TRACK documents the HTTP status [C]):
  ``RateLimited`` with ``retry_after`` (the Retry-After header, else ``RATE_LIMIT_WAIT``), at
  once: the task waits, this worker does not.
- 5xx, timeouts, no connection, -18010003 (internal error): retried here within the call's
  deadline (every 17TRACK call is safe to repeat: a number registered or stopped twice is
  refused as "already"), then a retryable ``ProviderError``.
- HTTP 401 or -18010001 / -18010002 / -18010004 / -18010005 (IP not allowed, invalid key,
  account disabled, unauthorized): ``CredentialsError``.
- Any other request-level code: ``Track17Refusal`` (a ``ProviderError``, not retryable).
- A body we cannot read (not JSON, not the envelope): ``MalformedPayload``.

Base URL ``https://api.17track.net/track/v2.2`` (``TRACK17_API``; setting ``TRACK17_API_URL``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from integrations.errors import MalformedPayload, ProviderError, RateLimited
from integrations.fields import json_parse
from integrations.hosts import HostRule
from integrations.http import (
    Failure,
    Headers,
    Params,
    ProviderHttpClient,
    detail_of,
    json_or_none,
    retry_after_seconds,
    sanitize,
    short_reason,
)
from integrations.transport import Response

# 17TRACK's one API host (the sandbox on loopback is allowed by the dev profile and the tests).
TRACK17_API = HostRule(allowed="https://api.17track.net/track/v2.2", hosts=frozenset({"api.17track.net"}))

SUCCESS = 0
RATE_LIMITED = 429  # the sandbox's envelope code beside its HTTP 429
IP_NOT_ALLOWED, INVALID_KEY, INTERNAL, ACCOUNT_DISABLED, UNAUTHORIZED = (
    -18010001,
    -18010002,
    -18010003,
    -18010004,
    -18010005,
)
TOO_MANY_NUMBERS = -18010014
ALREADY_REGISTERED, NOT_REGISTERED, NO_CARRIER = -18019901, -18019902, -18019903
ALREADY_STOPPED = -18019906  # the sandbox's; 17TRACK's list is cut short there [U]
CREDENTIAL_CODES = frozenset({IP_NOT_ALLOWED, INVALID_KEY, ACCOUNT_DISABLED, UNAUTHORIZED})
RETRYABLE_CODES = frozenset({INTERNAL})
RATE_LIMIT_WAIT = 1.0  # seconds, when a 429 says no Retry-After (17TRACK allows about 3 calls a second [U])
MESSAGE_LENGTH = 160


class Track17Refusal(ProviderError):
    """17TRACK refused the whole request knowingly (a request-level error code)."""

    def __init__(self, code: int, said: str) -> None:
        super().__init__(_("17TRACK refused the request (%(code)s): %(said)s") % {"code": code, "said": said})
        self.code, self.said = code, said


def envelope_code(body: Any) -> int | None:
    """The envelope's ``code`` (an integer; digits in a string accepted), None when there is none."""
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def request_error(body: Any) -> str:
    """The first ``data.errors[].message`` of a request-level refusal, sanitised ("" when none)."""
    data = body.get("data") if isinstance(body, dict) else None
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    message = first.get("message") if isinstance(first, dict) else None
    return sanitize(message, MESSAGE_LENGTH) if isinstance(message, str) else ""


class Track17Client(ProviderHttpClient):
    label = "17TRACK"
    provider = "track17"
    host_rule = TRACK17_API
    credentials_hint = "set TRACK17_API_KEY to the security key of the 17TRACK API dashboard (Settings → Security)"

    def __init__(self, base_url: str, *, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.api_key = api_key
        self._rate_limited: float | None = None
        self._refusal: Track17Refusal | None = None

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        return params, {"17token": self.api_key}

    def credentials_message(self, response: Response) -> str:
        return _("17TRACK refused the security key (%(status)s): %(hint)s") % {
            "status": response.status_code,
            "hint": self.credentials_hint,
        }

    def failure_of(self, response: Response) -> Failure | None:
        body = json_or_none(response)
        code = envelope_code(body)
        status = response.status_code
        detail = detail_of(response)
        if status == 429 or code == RATE_LIMITED:
            wait = retry_after_seconds(response)
            self._rate_limited = RATE_LIMIT_WAIT if wait is None else wait
            return Failure(short_reason(self.label, response), detail=detail)  # raised as RateLimited by call()
        if status == 401 or code in CREDENTIAL_CODES:
            return Failure(self.credentials_message(response), credentials=True, detail=detail)
        if status >= 500 or code in RETRYABLE_CODES:
            return Failure(short_reason(self.label, response), retryable=True, detail=detail)
        if not 200 <= status < 300:
            return super().failure_of(response)
        if code is None or code == SUCCESS:
            return None  # call() reads the body (and says when it is not the envelope)
        self._refusal = Track17Refusal(code, request_error(body))
        return Failure(str(self._refusal), detail=detail)

    def call(self, endpoint: str, items: list[dict[str, Any]] | None) -> Mapping[str, Any]:
        """``data`` of a success (an object). See the module docstring for what it raises."""
        self._rate_limited, self._refusal = None, None
        try:
            response = self.request("POST", endpoint, json_body=items, idempotent=True)
        except ProviderError as error:
            if self._rate_limited is not None:
                raise RateLimited(
                    _("17TRACK is rate limiting our calls: try again in %(seconds)s s")
                    % {"seconds": round(self._rate_limited, 1)},
                    retry_after=self._rate_limited,
                ) from error
            if self._refusal is not None:
                raise self._refusal from None
            raise
        try:
            body = json_parse(response.content)
        except (UnicodeDecodeError, ValueError):
            raise MalformedPayload(
                f"17TRACK {endpoint}: the answer is not valid JSON ({len(response.content)} bytes)"
            ) from None
        if envelope_code(body) != SUCCESS:
            raise MalformedPayload(f"17TRACK {endpoint}: the answer is not 17TRACK's envelope (no 'code' 0)")
        data = body.get("data")
        if not isinstance(data, dict):
            raise MalformedPayload(f"17TRACK {endpoint}: 'data' is missing or not an object")
        return data
