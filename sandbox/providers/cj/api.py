"""What every simulated CJdropshipping API 2.0 request goes through: faults, then the
``CJ-Access-Token`` header (except the authentication endpoints), then the view.

Envelope ``{"code", "result", "message", "data", "requestId"}``: code 200 and result true on
success; errors keep HTTP 200 with result false (rate limit: HTTP 429; faults: 5xx). Codes
(1600001 and 1600200 seen in the wild, the others chosen; see docs/sandbox.md):
1600001 invalid API key / access token, 1600100 not found, 1600101 invalid parameter,
1600200 too many requests, 1600500 internal error, 1602001 insufficient balance,
1602002 payment declined, 1602003 order cannot be paid, 1603001 refund not allowed, 1603002 order
cannot be deleted (paid).
"""

from __future__ import annotations

import functools
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers._state import rate_admit

INVALID_TOKEN, NOT_FOUND, INVALID_PARAM, TOO_MANY_REQUESTS, INTERNAL = 1600001, 1600100, 1600101, 1600200, 1600500
INSUFFICIENT_BALANCE, PAYMENT_DECLINED, NOT_PAYABLE, REFUND_NOT_ALLOWED = 1602001, 1602002, 1602003, 1603001
NOT_DELETABLE = 1603002  # deleteOrder of a paid order (chosen)


class CjError(Exception):
    def __init__(self, code: int, message: str, status: int = 200, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.data = code, message, status, data


def envelope(code: int, message: str, data: Any = None, status: int = 200) -> HttpResponse:
    body = {"code": code, "result": code == 200, "message": message, "data": data, "requestId": uuid.uuid4().hex}
    return json_response(body, status=status)


FAULTS = FaultShape(
    server_error=lambda request, status: envelope(INTERNAL, "Internal server error", status=status),
    rate_limited=lambda request: envelope(
        TOO_MANY_REQUESTS, "Too Many Requests, QPS limit is 1 time/1second", status=429
    ),
)


@dataclass
class Call:
    account: SimAccount
    body: Any


def json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CjError(INVALID_PARAM, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CjError(INVALID_PARAM, "Request body must be a JSON object")
    return body


def token_account(token: str) -> SimAccount | None:
    if not token:
        return None
    for account in SimAccount.objects.filter(provider=Provider.CJ, options__access_token=token):
        if hmac.compare_digest(str(account.options.get("access_token", "")).encode(), token.encode()):
            return account
    return None


def cj_api(method: str, *, authenticated: bool = True) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """Wrap ``view(request, call) -> data`` (``call.account`` is None when not ``authenticated``)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            def answer() -> HttpResponse:
                try:
                    if request.method != method:
                        raise CjError(INVALID_PARAM, f"Request method '{request.method}' not supported", status=405)
                    account = None
                    if authenticated:
                        account = token_account(request.headers.get("CJ-Access-Token", ""))
                        if account is None:
                            raise CjError(INVALID_TOKEN, "Invalid API key or access token")
                        if not rate_admit(account):
                            rate = account.options.get("rate_limit_per_second")
                            raise CjError(
                                TOO_MANY_REQUESTS, f"Too Many Requests, QPS limit is {rate:g} time/1second", status=429
                            )
                    body = json_object(request) if method == "POST" else {}
                    data = view(request, Call(account=account, body=body), **kwargs)  # type: ignore[arg-type]
                except CjError as exc:
                    return envelope(exc.code, exc.message, exc.data, status=exc.status)
                message, data = data if isinstance(data, tuple) else ("Success", data)
                return envelope(200, message, data)

            return fault_response(Provider.CJ, FAULTS, request, answer)

        return endpoint

    return decorate
