"""SIMULATED Temu buyer API. Temu has no public API for placing and paying orders as a buyer, so
this shape is the sandbox's own design (a conventional JSON REST API); it is labelled as such
wherever it appears.

Auth ``Authorization: Bearer <api_key>``; writes that create take an ``Idempotency-Key`` header.
Errors: ``{"error": {"type", "code", "message", "param", "request_id"}}`` with HTTP 400
(invalid_request_error), 401 (authentication_error), 402 (payment_error), 404 (not_found),
409 (idempotency_error), 429 (rate_limit_error, Retry-After: 1), 5xx (api_error).
"""

from __future__ import annotations

import functools
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount
from sandbox.providers._faults import FaultShape, fault_response


class TemuError(Exception):
    def __init__(self, status: int, kind: str, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code, self.message, self.param = status, kind, code, message, param


def invalid(message: str, param: str | None = None) -> TemuError:
    return TemuError(400, "invalid_request_error", "parameter_invalid", message, param)


def error_response(exc: TemuError, headers: dict[str, str] | None = None) -> HttpResponse:
    request_id = f"req_{uuid.uuid4().hex[:20]}"
    body = {
        "error": {
            "type": exc.kind,
            "code": exc.code,
            "message": exc.message,
            "param": exc.param,
            "request_id": request_id,
        }
    }
    return json_response(body, status=exc.status, headers={"X-Request-Id": request_id, **(headers or {})})


FAULTS = FaultShape(
    server_error=lambda request, status: error_response(
        TemuError(status, "api_error", "service_unavailable", "Service unavailable")
    ),
    rate_limited=lambda request: error_response(
        TemuError(429, "rate_limit_error", "rate_limited", "Too many requests"), headers={"Retry-After": "1"}
    ),
)


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def temu_api(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap ``view(request, account, **kwargs) -> HttpResponse`` with faults, auth and error rendering."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            def answer() -> HttpResponse:
                try:
                    if request.method not in methods:
                        raise TemuError(
                            405, "invalid_request_error", "method_not_allowed", f"{request.method} is not allowed"
                        )
                    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
                    account = None
                    if scheme == "Bearer" and key:
                        account = SimAccount.objects.filter(provider=Provider.TEMU, credentials__api_key=key).first()
                    if account is None or not hmac.compare_digest(
                        key.encode(), account.credentials["api_key"].encode()
                    ):
                        raise TemuError(401, "authentication_error", "invalid_api_key", "Invalid API key provided.")
                    return view(request, account, **kwargs)
                except TemuError as exc:
                    return error_response(exc)

            return fault_response(Provider.TEMU, FAULTS, request, answer)

        return endpoint

    return decorate
