"""The simulated AliExpress gateway ``/sync``: method-style business APIs (GET or form POST).

Order of checks, as IOP does them: method → app_key → sign_method/timestamp → sign →
access_token (or session) → the method. Errors are HTTP 200 with
``{"error_response": {"type", "code", "msg", "sub_code", "sub_msg", "request_id"}}``; results are
``{"<method with _>_response": {..., "request_id"}}``.

Codes: MissingParameter, InvalidParameter, IncompleteSignature, IllegalAccessToken, InvalidApiPath
(unknown method), InvalidAppKey, ApiCallLimit (rate limit: HTTP 200, as the gateway answers),
isp.service-unavailable (5xx). See docs/sandbox.md.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount, SimApp
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers._state import rate_admit
from sandbox.providers.aliexpress.signing import request_sign

Method = Callable[[SimAccount, dict[str, str]], dict[str, Any]]
METHODS: dict[str, Method] = {}


class AeError(Exception):
    def __init__(self, code: str, msg: str, *, sub_code: str = "", sub_msg: str = "", kind: str = "ISV") -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.sub_code, self.sub_msg, self.kind = code, msg, sub_code, sub_msg, kind


def request_id() -> str:
    return secrets.token_hex(7)[:13]


def error_json(exc: AeError) -> dict[str, Any]:
    body = {"type": exc.kind, "code": exc.code, "msg": exc.msg, "request_id": request_id()}
    if exc.sub_code:
        body.update(sub_code=exc.sub_code, sub_msg=exc.sub_msg)
    return {"error_response": body}


def missing(name: str) -> AeError:
    return AeError(
        "MissingParameter",
        f"The input parameter “{name}” that is mandatory for processing this request is not supplied.",
    )


def method(name: str) -> Callable[[Method], Method]:
    def decorate(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return decorate


def json_param(params: dict[str, str], name: str, *, required: bool = True) -> Any:
    """A business parameter sent as a JSON string (objects are JSON-encoded by the SDKs)."""
    raw = params.get(name)
    if raw in (None, ""):
        if required:
            raise missing(name)
        return None
    try:
        return json.loads(raw)  # type: ignore[arg-type]
    except json.JSONDecodeError:
        raise AeError("InvalidParameter", f"The input parameter “{name}” is not valid JSON.") from None


def _server_error(request: HttpRequest, status: int) -> HttpResponse:
    exc = AeError("isp.service-unavailable", "The service is temporarily unavailable", kind="ISP")
    return json_response(error_json(exc), status=status)


def _rate_limited(request: HttpRequest) -> HttpResponse:
    exc = AeError(
        "ApiCallLimit",
        "The request has exceeded the limit of frequency",
        sub_code="isv.api-call-limit",
        sub_msg="This ban will last for 1 more seconds",
        kind="ISP",
    )
    return json_response(error_json(exc))


FAULTS = FaultShape(server_error=_server_error, rate_limited=_rate_limited)


def _authenticate(params: dict[str, str]) -> tuple[SimAccount, Method]:
    name = params.get("method", "")
    if not name:
        raise missing("method")
    for required in ("app_key", "sign_method", "timestamp", "sign"):
        if not params.get(required):
            raise missing(required)
    # The operator's app (a SimApp: one app key for every merchant, the account found by its
    # access token), or an account's own app key (the older tests' accounts).
    app = SimApp.objects.filter(provider=Provider.ALIEXPRESS, client_id=params["app_key"]).first()
    token = params.get("access_token") or params.get("session") or ""
    if app is not None:
        secret = app.client_secret
        account = (
            SimAccount.objects.filter(provider=Provider.ALIEXPRESS, credentials__access_token=token).first()
            if token
            else None
        )
    else:
        account = SimAccount.objects.filter(
            provider=Provider.ALIEXPRESS, credentials__app_key=params["app_key"]
        ).first()
        if account is None:
            raise AeError("InvalidAppKey", "Specified app key is invalid")
        secret = account.credentials["app_secret"]
    sign_method = params["sign_method"].lower()
    if sign_method not in ("sha256", "md5"):
        raise AeError("InvalidParameter", "The input parameter “sign_method” is invalid: use sha256")
    expected = request_sign(app_secret=secret, params=params, sign_method=sign_method)
    if not hmac.compare_digest(params["sign"].upper().encode(), expected.encode()):
        raise AeError("IncompleteSignature", "The request signature does not conform to platform standards")
    if not token:
        raise missing("access_token")
    if account is None:
        raise AeError("IllegalAccessToken", "The specified access token is invalid or expired")
    if not hmac.compare_digest(token.encode(), str(account.credentials["access_token"]).encode()):
        raise AeError("IllegalAccessToken", "The specified access token is invalid or expired")
    handler = METHODS.get(name)
    if handler is None:
        raise AeError("InvalidApiPath", f"The specified API path is invalid: {name}")
    return account, handler


def request_params(request: HttpRequest) -> dict[str, str]:
    """The call's parameters: the query, then a form body's (the SDKs send either)."""
    params = {key: request.GET[key] for key in request.GET}
    if request.method == "POST":
        params.update({key: request.POST[key] for key in request.POST})
    return params


@csrf_exempt
def sync(request: HttpRequest) -> HttpResponse:
    def answer() -> HttpResponse:
        params = request_params(request)
        try:
            account, handler = _authenticate(params)
            if not rate_admit(account, params["method"]):
                return _rate_limited(request)
            result = handler(account, params)
        except AeError as exc:
            return json_response(error_json(exc))
        key = params["method"].replace(".", "_") + "_response"
        return json_response({key: {**result, "request_id": request_id()}})

    return fault_response(Provider.ALIEXPRESS, FAULTS, request, answer)
