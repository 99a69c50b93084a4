"""The HTTP part every provider client shares: host policy, bounded calls, one retry policy, attempts.

Every request, every attempt:

1. The URL is checked by the host policy (``integrations.hosts``, the client's ``host_rule``):
   a refused host raises ``HostNotAllowed`` and nothing is sent. The transport connects to the
   address that was checked (``integrations.transport``).
2. The call is bounded: one deadline for the whole call, its retries and waits included
   (``OUTBOUND_CALL_DEADLINE``), a timeout per read, a cap on the answer's size
   (``OUTBOUND_MAX_RESPONSE_BYTES``). Redirects are never followed: a 3xx is an error.
3. Retry policy per call. A read (GET, HEAD) is retried on 429, 5xx, timeouts and connection
   errors; a write only when its caller says ``idempotent=True`` (the provider honours an
   idempotency key, or the write is one by nature: a DELETE of one id, a search sent as POST).
   A write without that is sent again only when nothing of it was sent (no connection) or the
   provider refused it unseen (429); one that timed out, was reset or got a 5xx raises
   ``OutcomeUnknown``: the caller asks the provider what happened.
4. Pacing. A client given a ``pacer`` (a call-rate limit shared by every process calling the same
   provider account: ``suppliers.ratelimit``) reserves a slot before every attempt and sleeps
   until it, when that is at most ``OUTBOUND_MAX_INLINE_WAIT`` away (and within the deadline);
   otherwise nothing is sent and ``RateLimited`` says when the next slot is.
5. Waits. A backoff or ``Retry-After`` of at most ``OUTBOUND_MAX_INLINE_WAIT`` seconds is slept
   (``sleep`` is injectable); a longer one is not slept in a worker: the call raises a retryable
   ``ProviderError`` whose ``retry_after`` the task uses as its countdown.
6. Each attempt is recorded (``Attempt``: provider, method, path without the query, status,
   duration, error) in ``attempts`` and given to the ``recorder`` the caller passed (support sees
   them in admin). The merchant only ever sees a short, sanitised reason (``Failure.message``); the
   answer's detail goes to the attempt record (``Failure.detail``).

Subclasses add their authentication per attempt (``prepare``: TikTok and WooCommerce-OAuth
signatures carry a timestamp and nonce), may read rate-limit headers (``observe``), wait before
an attempt (``before_attempt``, through ``pause``) and classify answers (``failure_of``).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.errors import CredentialsError, OutcomeUnknown, ProviderError, RateLimited
from integrations.fields import JsonTooDeep
from integrations.hosts import PUBLIC_HTTPS, HostRule, Resolver, check_url, without_query
from integrations.oauth import TokenSource
from integrations.transport import ConnectFailed, NoAnswer, Response, TlsFailed, TooLarge, Transport

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 20.0  # seconds, the clients' defaults
MAX_ATTEMPTS = 5  # per call: the first and four retries
BACKOFF_BASE, BACKOFF_CAP = 0.5, 16.0  # seconds: 0.5, 1, 2, 4, … (full jitter), never above the cap
RETRY_AFTER_CEILING = 3600.0  # a Retry-After above an hour is read as an hour (a hostile value)
REASON_LENGTH = 120  # characters of a sanitised reason a merchant may see
DETAIL_LENGTH = 1000  # characters of an answer kept in the attempt record for support
READS = frozenset({"GET", "HEAD", "OPTIONS"})

Params = dict[str, str]
Headers = dict[str, str]
Shape = Literal["object", "list"]


@dataclass(frozen=True)
class OutboundLimits:
    """The bounds of every call (settings ``OUTBOUND_*``; see docs/operations.md)."""

    call_deadline: float = 30.0  # seconds for a whole call, retries and waits included
    max_response_bytes: int = 16 * 1024 * 1024
    max_inline_wait: float = 2.0  # a longer wait becomes the task's countdown
    ca_file: str = ""  # a CA bundle instead of the system's (tests; private CAs)

    @classmethod
    def from_settings(cls) -> OutboundLimits:
        return cls(
            call_deadline=settings.OUTBOUND_CALL_DEADLINE,
            max_response_bytes=settings.OUTBOUND_MAX_RESPONSE_BYTES,
            max_inline_wait=settings.OUTBOUND_MAX_INLINE_WAIT,
            ca_file=settings.OUTBOUND_CA_FILE,
        )


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt, as support sees it."""

    provider: str  # "shopify", "woocommerce", …
    method: str
    path: str  # the URL path, never the query (it may carry signatures)
    status: int | None  # None when no answer came (refused, timeout, connection error)
    duration: float  # seconds
    error: str = ""  # empty on success; the answer's sanitised detail otherwise

    def as_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(self.duration * 1000),
            "error": self.error,
        }


class Pacer(Protocol):
    """A call-rate limit shared across processes (``suppliers.ratelimit``)."""

    def reserve(self, operation: str, *, max_wait: float) -> tuple[bool, float]:
        """Reserve the next call slot of ``operation`` (a path, or AliExpress's method name).

        ``(True, wait)``: the slot is ``wait`` seconds away (``wait <= max_wait``), the caller
        sleeps that long and sends. ``(False, wait)``: the next slot is ``wait`` seconds away,
        more than ``max_wait``; nothing was reserved."""
        ...


class AttemptRecorder(Protocol):
    """Keeps an attempt where support sees it; must not raise (a failed write never breaks a call)."""

    def __call__(self, attempt: Attempt) -> None: ...


@dataclass(frozen=True)
class Failure:
    """Why an answer is not a success, and whether trying again may help."""

    message: str  # short and sanitised: may reach the merchant
    retryable: bool = False
    credentials: bool = False
    detail: str = ""  # for the attempt record (support)
    # The access token sent was refused as expired or revoked (a 401; TikTok says so in its
    # envelope): with a ``token_source``, the call is tried once more with a refreshed token.
    token_refused: bool = False
    # How long to wait before trying again, when the answer says so other than by Retry-After
    # (Shopify's GraphQL cost bucket: THROTTLED in the body of an HTTP 200).
    wait: float | None = None
    # The provider refused it before doing anything (like a 429), so a write may be sent again.
    refused_unseen: bool = False


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (webhook headers come as any Mapping)."""
    if name in headers:
        return headers[name]
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def retry_after_seconds(response: Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # an HTTP-date: rare from these APIs; fall back to the backoff
    return min(max(0.0, seconds), RETRY_AFTER_CEILING) if seconds == seconds else None  # NaN


_MARKUP = re.compile(r"<[^>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str, limit: int = REASON_LENGTH) -> str:
    """Markup and control characters out, whitespace collapsed, at most ``limit`` characters."""
    cleaned = " ".join(_CONTROL.sub(" ", _MARKUP.sub(" ", text)).split())
    return cleaned if len(cleaned) <= limit else f"{cleaned[: limit - 1]}…"


def json_or_none(response: Response) -> Any:
    """The answer's JSON, or None when it is not JSON (or nested too deeply: ``JsonTooDeep``): for
    reading an error's details, where an unreadable body only means there are none."""
    try:
        return response.json()
    except ValueError:
        return None


def _known_error(response: Response) -> str:
    """The provider's error code or message from a JSON object answer ("" when none)."""
    body = json_or_none(response)
    if not isinstance(body, dict):
        return ""
    for key in ("code", "error_code", "error", "errors", "message"):
        value = body.get(key)
        if isinstance(value, bool) or value in (None, "", 0):
            continue
        if isinstance(value, str | int):
            return str(value)
        if isinstance(value, dict):
            return ", ".join(str(name) for name in list(value)[:3])
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
    return ""


def short_reason(label: str, response: Response) -> str:
    """What a merchant may read of a failed answer: its status and the provider's error code."""
    known = sanitize(_known_error(response), 60)
    said = f"{label} answered {response.status_code}" + (f" ({known})" if known else "")
    return sanitize(said)


def detail_of(response: Response) -> str:
    return sanitize(f"{response.status_code}: {response.text[: DETAIL_LENGTH * 2]}", DETAIL_LENGTH)


class _TryAgain(Exception):
    """An attempt failed in a way another attempt may not (429, 5xx, a timeout of a read, no connection)."""

    def __init__(self, reason: str, *, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.wait = reason, status, wait


class _TokenRefused(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class ProviderHttpClient:
    """Base of every provider's HTTP client; see the module docstring."""

    label = "The channel"  # "Shopify", … in messages
    provider = "provider"  # on attempt records
    host_rule: HostRule = PUBLIC_HTTPS
    credentials_hint = "check the credentials in the store settings"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        recorder: AttemptRecorder | None = None,
        limits: OutboundLimits | None = None,
        resolver: Resolver | None = None,
        finish_by: float | None = None,
        token_source: TokenSource | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Our own limit on the provider's call rate (None: not paced); see the module docstring.
        self.pacer = pacer
        self.paced_seconds = 0.0  # slept waiting for a slot, all calls of this client
        # Where the access token comes from, when it expires (an app's OAuth token): read per
        # attempt through ``attempt_token()``; a refused one is refreshed once per call.
        self.token_source = token_source
        self._sent_token = ""
        # A ``time.monotonic()`` by which every call of this client ends (None: each call has its
        # own deadline only): several calls a merchant waits for on one page share one budget.
        self.finish_by = finish_by
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.jitter = jitter
        self.recorder = recorder
        self.limits = limits or OutboundLimits.from_settings()
        self.resolver = resolver
        self.transport = Transport(ca_file=self.limits.ca_file)
        self.attempts: list[Attempt] = []
        self._deadline = 0.0

    # Hooks for subclasses -------------------------------------------------------------------

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        """Query parameters and headers for one attempt (authentication goes here)."""
        return params, {}

    def before_attempt(self) -> None:
        """Called before every attempt (Shopify waits here, through ``pause``, when its bucket is full)."""

    def observe(self, response: Response) -> None:
        """Called with every answer (Shopify reads its call-limit header here)."""

    def waited(self, seconds: float) -> None:
        """Called after a backoff or Retry-After wait (Shopify's bucket leaked meanwhile)."""

    def operation(self, method: str, url: str, params: Params) -> str:
        """What the pacer counts the call against: its path (AliExpress: the method name)."""
        return urlsplit(url).path

    def credentials_message(self, response: Response) -> str:
        return f"{self.label} refused the credentials ({response.status_code}): {self.credentials_hint}"

    def failure_of(self, response: Response) -> Failure | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status in (401, 403):
            return Failure(
                self.credentials_message(response),
                credentials=True,
                detail=detail_of(response),
                token_refused=status == 401,
            )
        retryable = status == 429 or status >= 500
        return Failure(short_reason(self.label, response), retryable=retryable, detail=detail_of(response))

    def attempt_token(self, fallback: str = "") -> str:
        """The token to send with this attempt (from ``token_source`` when there is one), remembered
        so that a refusal refreshes exactly the token that was refused."""
        self._sent_token = self.token_source.current() if self.token_source is not None else fallback
        return self._sent_token

    # The call ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def pause(self, seconds: float, reason: str) -> None:
        """Wait ``seconds`` here if short enough and within the call's deadline; otherwise raise a
        retryable error whose ``retry_after`` the task turns into its countdown."""
        if seconds > self.limits.max_inline_wait or time.monotonic() + seconds > self._deadline:
            raise ProviderError(
                _("%(reason)s: try again in %(seconds)s s") % {"reason": reason, "seconds": round(seconds, 1)},
                retryable=True,
                retry_after=seconds,
            )
        if seconds > 0:
            self.sleep(seconds)
            self.waited(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Response:
        """Call until a success, a failure not worth repeating, or the last attempt; returns the answer.

        ``idempotent``: reads are; a write must say (see the module docstring, point 3).
        """
        method = method.upper()
        if idempotent is None:
            if method not in READS:
                raise TypeError(f"{method} {path}: declare idempotent=True or False for a write")
            idempotent = True
        url = self.url(path)
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        now = time.monotonic()
        self._deadline = now + self.limits.call_deadline
        if self.finish_by is not None:
            if self.finish_by <= now:
                raise ProviderError(
                    _("%(label)s was not asked: this action ran out of time") % {"label": self.label},
                    retryable=True,
                )
            self._deadline = min(self._deadline, self.finish_by)
        refreshed = False
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            if self.pacer is not None:
                self._pace(self.operation(method, url, dict(params or {})))
            self.before_attempt()
            try:
                return self._attempt(method, url, dict(params or {}), body, idempotent=idempotent)
            except _TokenRefused as refused:
                # Refused unseen, so even a write may be sent again: once, with a fresh token
                # (another worker's, or one refreshed now); a second refusal is final.
                if refreshed or self.token_source is None or not self._sent_token:
                    raise CredentialsError(refused.message, status=refused.status) from None
                self.token_source.refreshed(self._sent_token)
                refreshed = True
                attempt -= 1  # the refused attempt does not count against the call's attempts
            except _TryAgain as again:
                if attempt == self.max_attempts:
                    raise ProviderError(
                        f"{again.reason} ({attempt} attempts)", status=again.status, retryable=True
                    ) from again
                self.pause(self._backoff(attempt) if again.wait is None else again.wait, again.reason)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _pace(self, operation: str) -> None:
        """Wait for our own next call slot, or raise ``RateLimited`` (nothing sent) when it is
        further than the inline wait or the call's deadline allows."""
        assert self.pacer is not None
        budget = max(0.0, min(self.limits.max_inline_wait, self._deadline - time.monotonic()))
        granted, wait = self.pacer.reserve(operation, max_wait=budget)
        if not granted:
            raise RateLimited(
                f"{self.label} was not called: its call rate limit is used up for {round(wait, 1)} s",
                retry_after=wait,
            )
        if wait > 0:
            self.sleep(wait)
            self.paced_seconds += wait

    def _attempt(self, method: str, url: str, params: Params, body: bytes, *, idempotent: bool) -> Response:
        """One attempt: the answer, a final error, or ``_TryAgain`` (a failure worth another try)."""
        started = time.monotonic()
        try:
            target = check_url(url, self.host_rule, base=False, resolver=self.resolver)
        except ProviderError as error:  # refused (HostNotAllowed: final), or the name did not resolve
            self._record(method, url, None, started, str(error))
            if error.retryable:
                raise _TryAgain(str(error)) from error
            raise
        query, headers = self.prepare(method, url, params, body)
        if body:
            headers = {"Content-Type": "application/json", **headers}
        try:
            response = self.transport.exchange(
                target,
                method=method,
                path=(target.path or "/") + (f"?{urlencode(query)}" if query else ""),
                headers=headers,
                body=body,
                connect_timeout=self.timeout[0],
                read_timeout=self.timeout[1],
                deadline=self._deadline,
                max_bytes=self.limits.max_response_bytes,
                reuse=idempotent,
            )
        except ConnectFailed as error:  # nothing was sent: any call may be tried again
            self._record(method, url, None, started, f"could not be reached: {error}")
            raise _TryAgain(_("%(label)s could not be reached") % {"label": self.label}) from error
        except NoAnswer as error:
            self._record(method, url, None, started, f"no answer: {error}")
            if not idempotent:
                raise OutcomeUnknown(
                    _("%(label)s did not answer a %(method)s that is not repeated blindly (%(error)s)")
                    % {"label": self.label, "method": method, "error": error}
                ) from error
            if error.deadline:
                raise ProviderError(
                    _("%(label)s did not answer in time (%(error)s)") % {"label": self.label, "error": error},
                    retryable=True,
                ) from error
            raise _TryAgain(
                _("%(label)s did not answer (%(error)s)") % {"label": self.label, "error": error}
            ) from error
        except TooLarge as error:
            self._record(method, url, None, started, str(error))
            raise ProviderError(
                _("%(label)s sent an answer too large to read: %(error)s") % {"label": self.label, "error": error}
            ) from error
        except TlsFailed as error:
            self._record(method, url, None, started, f"TLS: {error}")
            raise ProviderError(
                _("%(label)s: the secure connection failed (%(error)s)") % {"label": self.label, "error": error}
            ) from error
        self.observe(response)
        status = response.status_code
        if 300 <= status < 400:
            location = without_query(response.headers.get("Location", ""))  # its query may carry a token
            self._record(method, url, status, started, f"redirect to {location}")
            raise ProviderError(
                _("%(label)s answered with a redirect (%(status)s), which is not followed: check the address")
                % {"label": self.label, "status": status},
                status=status,
            )
        failure = self.failure_of(response)
        self._record(method, url, status, started, (failure.detail or failure.message) if failure else "")
        if failure is None:
            return response
        if failure.credentials and failure.token_refused and self.token_source is not None:
            raise _TokenRefused(failure.message, status=status)
        if failure.credentials:
            raise CredentialsError(failure.message, status=status)
        if not failure.retryable:
            raise ProviderError(failure.message, status=status)
        if not idempotent and status != 429 and not failure.refused_unseen:  # a 5xx may have been done
            raise OutcomeUnknown(failure.message, status=status)
        wait = failure.wait if failure.wait is not None else retry_after_seconds(response)
        raise _TryAgain(failure.message, status=status, wait=wait)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        shape: Shape | None = None,
    ) -> tuple[Any, Response]:
        """The parsed answer; ``shape`` says what it must be (a JSON object or list), or it is an error."""
        response = self.request(method, path, params=params, json_body=json_body, idempotent=idempotent)
        return self.json_of(response, shape=shape), response

    def json_of(self, response: Response, *, shape: Shape | None = None) -> Any:
        """The parsed body. A body cut short is a transport failure: retryable by the task (not here).
        One of the wrong shape (a list where an object belongs) is not: the address is wrong."""
        try:
            data = response.json()
        except JsonTooDeep:  # a hostile answer ([[[[… thousands deep): not worth another try
            raise ProviderError(
                _("%(label)s sent JSON nested too deeply to read") % {"label": self.label},
                status=response.status_code,
            ) from None
        except ValueError:
            raise ProviderError(
                f"{self.label} sent a body that is not valid JSON ({len(response.content)} bytes)",
                status=response.status_code,
                retryable=True,
            ) from None
        wanted = {"object": dict, "list": list}.get(shape or "")
        if wanted is not None and not isinstance(data, wanted):
            message = (
                _("%(label)s sent an answer that is not a JSON object")
                if shape == "object"
                else _("%(label)s sent an answer that is not a JSON list")
            )
            raise ProviderError(message % {"label": self.label}, status=response.status_code)
        return data

    def close(self) -> None:
        self.transport.close()

    def _backoff(self, attempt: int) -> float:
        return self.jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))

    def _record(self, method: str, url: str, status: int | None, started: float, error: str) -> None:
        duration = time.monotonic() - started
        path = urlsplit(without_query(url)).path
        attempt = Attempt(self.provider, method, path[:500], status, duration, sanitize(error, DETAIL_LENGTH))
        self.attempts.append(attempt)
        if self.recorder is not None:
            self.recorder(attempt)
