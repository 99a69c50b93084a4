"""AliExpress Open Platform's authorization, simulated for the operator's app (``SimApp``).

    GET  /sandbox/aliexpress/oauth/authorize?response_type=code&client_id=<app key>&redirect_uri=…&state=…
         the approve page: pick the AliExpress buyer account, Authorize / Cancel
    POST (same) → 302 to ``redirect_uri`` with ``code`` and ``state``; Cancel sends
         ``error=access_denied`` and ``state`` (AliExpress's own cancel answer is not documented)
    POST /sandbox/aliexpress/rest/auth/token/create  (system API, signed with its API path)
         ``code`` (+ optional ``uuid``) → the account's tokens, the same answer as a refresh

Real shape (docs/suppliers.md, "Supplier accounts"): ``https://api-sg.aliexpress.com/oauth/authorize``
with ``response_type=code``, ``client_id`` (the app key), ``redirect_uri`` (the app's registered
callback), optional ``state`` (given back) and ``force_auth``; the code is exchanged with
``/auth/token/create`` (``code``, optional ``uuid``). A code lives 10 minutes and is spent once
(an unknown, used or expired one: ``InvalidCode``, a name chosen, not confirmed). A new
authorization gives the account new tokens (the previous ones stop working).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount, SimApp, SimAuthCode
from sandbox.providers._faults import fault_response
from sandbox.providers.aliexpress.api import FAULTS, request_params
from sandbox.providers.aliexpress.auth import error_answer, refreshed_answer
from sandbox.providers.aliexpress.signing import request_sign

CREATE_PATH = "/auth/token/create"
CODE_LIFETIME = timedelta(minutes=10)
MAX_STATE = 512


def app_for_key(app_key: str) -> SimApp | None:
    return SimApp.objects.filter(provider=Provider.ALIEXPRESS, client_id=app_key).first() if app_key else None


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _redirect_allowed(app: SimApp, redirect_uri: str) -> bool:
    if not redirect_uri.startswith(("http://", "https://")):
        return False
    return not app.redirect_uris or any(redirect_uri.startswith(str(prefix)) for prefix in app.redirect_uris)


def _buyers() -> list[SimAccount]:
    return list(SimAccount.objects.filter(provider=Provider.ALIEXPRESS).order_by("pk"))


def _text(message: str, status: int = 400) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


@csrf_exempt  # the simulated AliExpress page, not our site: no session of ours to protect
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.GET if request.method == "GET" else request.POST
    app = app_for_key(params.get("client_id", ""))
    state, redirect_uri = params.get("state", ""), params.get("redirect_uri", "")
    if app is None:
        return _text("Unknown client_id: no AliExpress app has this app key.")
    if params.get("response_type") != "code":
        return _text("response_type must be code.")
    if len(state) > MAX_STATE:
        return _text("state is too long.")
    if not _redirect_allowed(app, redirect_uri):
        return _text("redirect_uri is not the app's registered callback URL.")
    context = {
        "app": app,
        "buyers": _buyers(),
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if request.method == "GET":
        return render(request, "sandbox/aliexpress_authorize.html", context)
    if params.get("action") != "authorize":
        return HttpResponseRedirect(_with_query(redirect_uri, {"error": "access_denied", "state": state}))
    account = SimAccount.objects.filter(provider=Provider.ALIEXPRESS, pk=params.get("buyer") or 0).first()
    if account is None:
        context["error"] = "Choose the AliExpress account to authorize."
        return render(request, "sandbox/aliexpress_authorize.html", context, status=400)
    code = SimAuthCode.objects.create(
        app=app,
        account=account,
        code=f"3_{app.client_id}_{secrets.token_urlsafe(24)}",
        redirect_uri=redirect_uri,
        expires_at=sim_now() + CODE_LIFETIME,
    )
    return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.code, "state": state}))


@csrf_exempt
def token_create(request: HttpRequest) -> HttpResponse:
    def answer() -> HttpResponse:
        params = request_params(request)
        for required in ("app_key", "sign_method", "timestamp", "sign", "code"):
            if not params.get(required):
                return error_answer("MissingParameter", f"The input parameter “{required}” is mandatory")
        app = app_for_key(params["app_key"])
        if app is None:
            return error_answer("InvalidAppKey", "Specified app key is invalid")
        expected = request_sign(
            app_secret=app.client_secret, params=params, api_path=CREATE_PATH, sign_method=params["sign_method"].lower()
        )
        if not hmac.compare_digest(params["sign"].upper().encode(), expected.encode()):
            return error_answer("IncompleteSignature", "The request signature does not conform to platform standards")
        with transaction.atomic():
            code = SimAuthCode.objects.select_for_update().filter(app=app, code=params["code"]).first()
            if code is None or code.used_at is not None or code.expires_at <= sim_now():
                return error_answer("InvalidCode", "The authorization code is invalid, used or expired")
            code.used_at = sim_now()
            code.save(update_fields=["used_at"])
            account = code.account
        return json_response(refreshed_answer(account))

    return fault_response(Provider.ALIEXPRESS, FAULTS, request, answer)
