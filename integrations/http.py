"""The HTTP part every provider client shares: one Session, timeouts, retries, attempt records.

Retried (with exponential backoff and full jitter, at most ``max_attempts`` calls): 429, 5xx,
timeouts and connection errors. A ``Retry-After`` header is honored (seconds, float); one longer
than ``MAX_RETRY_AFTER`` is not slept in a worker: the call fails retryable and the task retries
later. 401/403 raise ``CredentialsError`` at once with a message a merchant can act on; any
other failure raises ``ProviderError`` (not retryable). Each HTTP attempt is appended to
``attempts`` (method, path, status, duration, error) so the sync core can keep them where support
sees them. ``sleep`` is injectable: the only waiting a client does is what a rate limit or a
backoff asks for, and tests replace it.

Subclasses add their authentication per attempt (``prepare``: TikTok and WooCommerce-OAuth
signatures carry a timestamp and nonce, so they are computed again for every attempt), may
read rate-limit headers (``observe``) and may classify answers their own way (``failure_of``:
TikTok answers errors inside a JSON envelope).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from integrations.errors import CredentialsError, ProviderError

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 20.0  # seconds, the clients' defaults
MAX_ATTEMPTS = 5  # per call: the first and four retries (429, 5xx, timeouts)
BACKOFF_BASE, BACKOFF_CAP = 0.5, 16.0  # seconds: 0.5, 1, 2, 4, … (full jitter), never above the cap
MAX_RETRY_AFTER = 30.0  # a longer Retry-After is left to the task's own retry, not slept here
ERROR_SNIPPET = 300  # characters of an error body kept in messages and attempt records

Params = dict[str, str]
Headers = dict[str, str]


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt, as support sees it."""

    method: str
    path: str  # the URL path, never the query (it may carry signatures)
    status: int | None  # None when no answer came (timeout, connection error)
    duration: float  # seconds
    error: str = ""  # empty on success

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(self.duration * 1000),
            "error": self.error,
        }


@dataclass(frozen=True)
class Failure:
    """Why an answer is not a success, and whether trying again may help."""

    message: str
    retryable: bool = False
    credentials: bool = False


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (webhook headers come as any Mapping)."""
    if name in headers:
        return headers[name]
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def retry_after_seconds(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP-date: rare from these APIs; fall back to the backoff


def snippet(response: requests.Response) -> str:
    return " ".join(response.text[:ERROR_SNIPPET].split())


class ProviderHttpClient:
    """Base of every provider's HTTP client; see the module docstring."""

    label = "The channel"  # "Shopify", … in messages
    credentials_hint = "check the credentials in the store settings"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.jitter = jitter
        self.attempts: list[Attempt] = []

    # Hooks for subclasses -------------------------------------------------------------------

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        """Query parameters and headers for one attempt (authentication goes here)."""
        return params, {}

    def before_attempt(self) -> None:
        """Called before every attempt (Shopify waits here when its bucket is nearly full)."""

    def observe(self, response: requests.Response) -> None:
        """Called with every answer (Shopify reads its call-limit header here)."""

    def waited(self, seconds: float) -> None:
        """Called after a backoff or Retry-After wait (Shopify's bucket leaked meanwhile)."""

    def credentials_message(self, response: requests.Response) -> str:
        return f"{self.label} refused the credentials ({response.status_code}): {self.credentials_hint}"

    def failure_of(self, response: requests.Response) -> Failure | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status in (401, 403):
            return Failure(self.credentials_message(response), credentials=True)
        retryable = status == 429 or status >= 500
        return Failure(f"{self.label} answered {status}: {snippet(response)}", retryable=retryable)

    # The call ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json_body: Any = None
    ) -> requests.Response:
        """Call until a success, a non-retryable failure or the last attempt; returns the answer."""
        url = self.url(path)
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        for attempt in range(1, self.max_attempts + 1):
            self.before_attempt()
            query, headers = self.prepare(method, url, dict(params or {}), body)
            if body:
                headers = {"Content-Type": "application/json", **headers}
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, params=query, data=body or None, headers=headers, timeout=self.timeout
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "could not be reached"
                self._record(method, url, None, started, f"{kind}: {type(exc).__name__}")
                if attempt == self.max_attempts:
                    raise ProviderError(f"{self.label} {kind} ({attempt} attempts)", retryable=True) from exc
                self._wait(self._backoff(attempt))
                continue
            self.observe(response)
            failure = self.failure_of(response)
            self._record(method, url, response.status_code, started, failure.message if failure else "")
            if failure is None:
                return response
            if failure.credentials:
                raise CredentialsError(failure.message, status=response.status_code)
            if not failure.retryable:
                raise ProviderError(failure.message, status=response.status_code)
            wait = retry_after_seconds(response)
            if attempt == self.max_attempts or (wait is not None and wait > MAX_RETRY_AFTER):
                raise ProviderError(
                    f"{failure.message} ({attempt} attempts)", status=response.status_code, retryable=True
                )
            self._wait(wait if wait is not None else self._backoff(attempt))
        raise AssertionError("unreachable: the loop returns or raises")

    def request_json(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json_body: Any = None
    ) -> tuple[Any, requests.Response]:
        response = self.request(method, path, params=params, json_body=json_body)
        return self.json_of(response), response

    def json_of(self, response: requests.Response) -> Any:
        """The parsed body. A body cut short is a transport failure: retryable by the task (not here)."""
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                f"{self.label} sent a body that is not valid JSON ({len(response.content)} bytes)",
                status=response.status_code,
                retryable=True,
            ) from None

    def _wait(self, seconds: float) -> None:
        self.sleep(seconds)
        self.waited(seconds)

    def _backoff(self, attempt: int) -> float:
        return self.jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))

    def _record(self, method: str, url: str, status: int | None, started: float, error: str) -> None:
        duration = time.monotonic() - started
        self.attempts.append(Attempt(method, urlsplit(url).path, status, duration, error[:ERROR_SNIPPET]))
