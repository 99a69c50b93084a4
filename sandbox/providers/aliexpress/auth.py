"""The simulated IOP system API ``/rest/auth/token/refresh``: a path-style call signed with its
API path (``request_sign(api_path="/auth/token/refresh")``), no access token.

A refresh rotates the account's tokens: the old access token stops working at once (the
gateway then answers IllegalAccessToken) and the old refresh token too. Lifetimes are the
account's options ``token_lifetime`` / ``refresh_lifetime`` (sim seconds; defaults 1 day and
30 days; the real lifetimes are not published). Answer fields as the IOP SDKs read them
(``access_token``, ``refresh_token``, ``expires_in``, ``refresh_expires_in``, ``expire_time`` and
``refresh_token_valid_time`` in ms, ``user_id``, ``seller_id``, ``account``, ``code: "0"``).
Errors: ``{"type", "code", "message", "request_id"}`` with a non-"0" code: MissingParameter,
InvalidAppKey, IncompleteSignature, IllegalRefreshToken (the last name is chosen, not confirmed).
The code grant (``/auth/token/create``) and the approve page are in ``oauth.py``. A refresh signed
with the operator's app (a ``SimApp``, as the dev profile's ``ALIEXPRESS_APP_KEY``) finds the
account by its refresh token; one signed with an account's own app key (older tests) by the key.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount, SimApp
from sandbox.providers._faults import fault_response
from sandbox.providers.aliexpress.api import FAULTS, request_id, request_params
from sandbox.providers.aliexpress.signing import request_sign

REFRESH_PATH = "/auth/token/refresh"
TOKEN_LIFETIME, REFRESH_LIFETIME = 86400, 30 * 86400


def error_answer(code: str, message: str) -> HttpResponse:
    return json_response({"type": "ISV", "code": code, "message": message, "request_id": request_id()})


def refreshed_answer(account: SimAccount) -> dict[str, Any]:
    now = sim_now()
    lifetime = int(account.options.get("token_lifetime", TOKEN_LIFETIME))
    refresh_lifetime = int(account.options.get("refresh_lifetime", REFRESH_LIFETIME))
    credentials = dict(account.credentials)
    credentials["access_token"] = "50000" + secrets.token_hex(24)
    credentials["refresh_token"] = "50001" + secrets.token_hex(24)
    account.credentials = credentials
    account.save(update_fields=["credentials"])
    return {
        "access_token": credentials["access_token"],
        "refresh_token": credentials["refresh_token"],
        "expires_in": lifetime,
        "refresh_expires_in": refresh_lifetime,
        "expire_time": int((now + timedelta(seconds=lifetime)).timestamp() * 1000),
        "refresh_token_valid_time": int((now + timedelta(seconds=refresh_lifetime)).timestamp() * 1000),
        "user_id": credentials["buyer_id"],
        "seller_id": credentials["seller_id"],
        "account": f"{account.name}@example.com",
        "account_platform": "buyerApp",
        "sp": "ae",
        "locale": "en_US",
        "code": "0",
        "request_id": request_id(),
    }


@csrf_exempt
def token_refresh(request: HttpRequest) -> HttpResponse:
    def answer() -> HttpResponse:
        params = request_params(request)
        for required in ("app_key", "sign_method", "timestamp", "sign", "refresh_token"):
            if not params.get(required):
                return error_answer("MissingParameter", f"The input parameter “{required}” is mandatory")
        app = SimApp.objects.filter(provider=Provider.ALIEXPRESS, client_id=params["app_key"]).first()
        account = (
            SimAccount.objects.filter(provider=Provider.ALIEXPRESS, credentials__refresh_token=params["refresh_token"])
            if app is not None
            else SimAccount.objects.filter(provider=Provider.ALIEXPRESS, credentials__app_key=params["app_key"])
        ).first()
        if app is None and account is None:
            return error_answer("InvalidAppKey", "Specified app key is invalid")
        expected = request_sign(
            app_secret=app.client_secret if app is not None else account.credentials["app_secret"],  # type: ignore[union-attr]
            params=params,
            api_path=REFRESH_PATH,
            sign_method=params["sign_method"].lower(),
        )
        if not hmac.compare_digest(params["sign"].upper().encode(), expected.encode()):
            return error_answer("IncompleteSignature", "The request signature does not conform to platform standards")
        if account is None or not hmac.compare_digest(
            params["refresh_token"].encode(), str(account.credentials["refresh_token"]).encode()
        ):
            return error_answer("IllegalRefreshToken", "The specified refresh token is invalid or expired")
        return json_response(refreshed_answer(account))

    return fault_response(Provider.ALIEXPRESS, FAULTS, request, answer)
