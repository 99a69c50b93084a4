"""What every simulated TikTok Shop request goes through: faults, then app_key → timestamp → sign →
x-tts-access-token → shop_cipher, then the view. Answers are TikTok's envelope
``{"code", "message", "request_id", "data"}``; ``code`` 0 is success.

Error codes (real where seen in the wild, otherwise chosen to look like TikTok's; see docs/sandbox.md):
36009004 invalid parameter/credential (HTTP 400), 106001 signature mismatch (401), 105001 invalid
access token (401), 105002 expired access token (401), 36009003 too many requests (429),
36009001 internal error (5xx), 21011xxx fulfillment business errors (HTTP 200).
"""

from __future__ import annotations

import functools
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount, SimApp, SimGrant
from sandbox.providers._faults import FaultShape, fault_response
from sandbox.providers.tiktok.sellers import app_for_key, grant_root, seller_shops
from sandbox.providers.tiktok.signing import request_sign

TIMESTAMP_WINDOW_SECONDS = 300
INVALID_PARAM = 36009004
TOO_MANY_REQUESTS = 36009003
INTERNAL_ERROR = 36009001
INVALID_SIGN = 106001
INVALID_TOKEN = 105001
EXPIRED_TOKEN = 105002
NO_PERMISSION = 105005  # the app was not granted the API's scope (unconfirmed code)


class TikTokError(Exception):
    def __init__(self, code: int, message: str, status: int = 200, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.data = code, message, status, data


def request_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def envelope(
    code: int, message: str, data: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    body = {"code": code, "message": message, "request_id": request_id(), "data": data}
    return json_response(body, status=status, headers=headers)


def invalid(message: str) -> TikTokError:
    return TikTokError(INVALID_PARAM, message, status=400)


FAULTS = FaultShape(
    server_error=lambda request, status: envelope(
        INTERNAL_ERROR, "Internal system error, please retry.", status=status
    ),
    rate_limited=lambda request: envelope(TOO_MANY_REQUESTS, "Too many requests", status=429),
)


@dataclass
class Call:
    """An authenticated request: the shop's account, its query params and its JSON body; ``shops``:
    every shop the access token opens (a seller's, for the operator's app)."""

    account: SimAccount
    params: dict[str, str]
    body: Any
    shops: list[SimAccount] = field(default_factory=list)


def api_path(request: HttpRequest) -> str:
    """The path TikTok signs: the part after the API host (here after ``/tiktok``)."""
    path = request.path_info
    return path[path.index("/tiktok/") + len("/tiktok") :]


def _authenticate(
    request: HttpRequest, params: dict[str, str], shop_scoped: bool
) -> tuple[SimAccount, list[SimAccount]]:
    """(the shop called, every shop the token opens). The operator's app (``SimApp``) signs with
    its secret and sends a grant's access token, opening its seller's shops; a shop's own
    credentials (the pasted-keys path) open that shop only."""
    app_key = params.get("app_key", "")
    app = app_for_key(app_key)
    account = None
    if app is None and app_key:
        account = SimAccount.objects.filter(provider=Provider.TIKTOK, credentials__app_key=app_key).first()
    if app is None and account is None:
        raise invalid("Invalid credentials. Invalid 'app_key' query parameter.")
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        raise invalid("Invalid credentials. Invalid 'timestamp' query parameter.")
    if abs(time.time() - int(timestamp)) > TIMESTAMP_WINDOW_SECONDS:
        raise invalid("Invalid credentials. The 'timestamp' query parameter is expired.")
    sign = params.get("sign", "")
    if not sign:
        raise invalid("Invalid credentials. Missing 'sign' query parameter.")
    content_type = request.headers.get("Content-Type", "")
    body = (
        request.body.decode("utf-8", "replace") if request.method != "GET" and "multipart" not in content_type else ""
    )
    secret = app.client_secret if app is not None else str(account.credentials["app_secret"])  # type: ignore[union-attr]
    expected = request_sign(app_secret=secret, path=api_path(request), params=params, body=body)
    if not hmac.compare_digest(sign.lower().encode(), expected.encode()):
        raise TikTokError(INVALID_SIGN, "Invalid credentials. The 'sign' query parameter is invalid.", status=401)
    token = request.headers.get("x-tts-access-token", "")
    shops = shops_for_access_token(app, token) if app is not None else [_own_shop(account, token)]  # type: ignore[arg-type]
    if not shop_scoped:
        return shops[0], shops
    cipher = params.get("shop_cipher", "")
    called = next((shop for shop in shops if cipher and cipher == shop.credentials.get("shop_cipher")), None)
    if called is None:
        raise invalid("Invalid credentials. Invalid 'shop_cipher' query parameter.")
    return called, shops


def _own_shop(account: SimAccount, token: str) -> SimAccount:
    """A shop's own access token (the pasted-keys path), expired on demand by a test."""
    if not token or not hmac.compare_digest(token.encode(), str(account.credentials["access_token"]).encode()):
        raise TikTokError(INVALID_TOKEN, "Invalid credentials. The access token is invalid.", status=401)
    if account.options.get("access_token_expired"):
        raise TikTokError(EXPIRED_TOKEN, "access token is expired, please refresh it", status=401)
    return account


def _json_body(request: HttpRequest) -> Any:
    if request.method == "GET" or not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise invalid("Invalid request body: the body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("Invalid request body: a JSON object is expected.")
    return body


def tiktok_api(method: str, *, shop_scoped: bool = True) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """Wrap ``view(request, call, **kwargs) -> data`` as a signed TikTok Shop endpoint."""

    def decorate(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            def answer() -> HttpResponse:
                try:
                    if request.method != method:
                        raise TikTokError(INVALID_PARAM, f"The request method must be {method}.", status=405)
                    params = {key: request.GET[key] for key in request.GET}
                    account, shops = _authenticate(request, params, shop_scoped)
                    call = Call(account=account, params=params, body=_json_body(request), shops=shops)
                    data = view(request, call, **kwargs)
                except TikTokError as exc:
                    return envelope(exc.code, exc.message, exc.data, status=exc.status)
                return envelope(0, "Success", data)

            return fault_response(Provider.TIKTOK, FAULTS, request, answer)

        return endpoint

    return decorate


def shops_for_access_token(app: SimApp, token: str) -> list[SimAccount]:
    """The shops an access token of ``app`` opens; TikTok's envelope error when it opens none."""
    grant = (
        SimGrant.objects.select_related("parent", "account").filter(app=app, access_token=token).first()
        if token
        else None
    )
    if grant is None or grant.revoked_at is not None or grant_root(grant).revoked_at is not None:
        raise TikTokError(INVALID_TOKEN, "Invalid credentials. The access token is invalid.", status=401)
    if grant.access_expires_at is not None and grant.access_expires_at <= sim_now():
        raise TikTokError(EXPIRED_TOKEN, "access token is expired, please refresh it", status=401)
    if grant.used_at is None:
        SimGrant.objects.filter(pk=grant.pk, used_at__isnull=True).update(used_at=sim_now())
    return seller_shops(grant.account)
