"""Shopify's install (authorization code grant) and token endpoint, simulated.

    GET  /sandbox/shopify/<shop>/admin/oauth/authorize?client_id&scope&redirect_uri&state[&grant_options[]]
         → the "Install app?" page (app name, shop, scopes; Install / Cancel)
    POST the same address (the page's buttons)
         Install → 302 redirect_uri?code&hmac&host&shop&state&timestamp (hmac: ``callback_hmac``,
                   Shopify's documented rule; host: ``admin_host``, padded standard base64)
         Cancel  → 302 redirect_uri?error=access_denied&state (the sandbox's choice: Shopify documents
                   no cancel redirect; see docs/channels.md)
    POST /sandbox/shopify/<shop>/admin/oauth/access_token   (JSON or form body)
         {client_id, client_secret, code[, expiring=1]}                          → a grant
         {client_id, client_secret, grant_type=refresh_token, refresh_token}    → a child grant
         answer {access_token, scope[, expires_in, refresh_token, refresh_token_expires_in]};
         errors {error, error_description} (400 invalid_request / invalid_grant, 401 invalid_client)

Control (tests): ``/sandbox/_control/shopify/<name>/grants`` (GET the chain),
``…/grants/revoke`` (POST: every grant of the shop revoked), ``…/grants/lose-next-refresh``
(POST ``{"hold_seconds": N}``: the next refresh is done, then its answer is held N seconds, past
the client's read timeout — a lost answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.grants import (
    GrantError,
    app_authenticated,
    app_find,
    code_issue,
    code_redeem,
    grant_refresh,
    grants_chain,
    grants_revoke,
    redirect_allowed,
)
from sandbox.http import json_response, parse_json_body
from sandbox.models import SimAccount, SimApp, SimGrant
from sandbox.providers._faults import fault_response
from sandbox.providers._state import options_update
from sandbox.providers.shopify.api import FAULTS

LOSE_NEXT_REFRESH = "lose_next_refresh_answer"  # account option: seconds to hold the next refresh's answer
MAX_HOLD_SECONDS = 30


def shop_domain(account: SimAccount) -> str:
    return f"{account.name}.myshopify.com"


def callback_hmac(params: dict[str, str], secret: str) -> str:
    """What Shopify signs a redirect with (its documented rule): hex HMAC-SHA256, keyed with the
    app's client secret, of every other parameter as ``name=value``, unencoded but for ``%`` → %25
    and ``&`` → %26 (and ``=`` → %3D in a name), sorted and joined by ``&``."""
    escape = {ord("%"): "%25", ord("&"): "%26"}
    written = sorted(
        f"{name.translate({**escape, ord('='): '%3D'})}={value.translate(escape)}"
        for name, value in params.items()
        if name != "hmac"
    )
    return hmac.new(secret.encode(), "&".join(written).encode(), hashlib.sha256).hexdigest()


def admin_host(account: SimAccount) -> str:
    """The callback's ``host``: the shop's admin address, ``admin.shopify.com/store/<name>``, in
    standard base64 with its padding (as Shopify sends it: ``+``, ``/`` and ``=`` included)."""
    return base64.b64encode(f"admin.shopify.com/store/{account.name}".encode()).decode()


@dataclass(frozen=True)
class AuthorizeRequest:
    account: SimAccount
    app: SimApp
    scope: str
    redirect_uri: str
    state: str


def _refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "sandbox/shopify_authorize.html", {"error": message}, status=status)


def _authorize_request(request: HttpRequest, shop: str, params: Any) -> AuthorizeRequest | HttpResponse:
    """The authorize parameters checked as Shopify does, or the error page to show."""
    account = SimAccount.objects.filter(provider=Provider.SHOPIFY, name=shop).first()
    if account is None:
        return _refusal(request, "There is no store at this address.", 404)
    app = app_find(Provider.SHOPIFY, str(params.get("client_id", "")))
    if app is None:
        return _refusal(request, "Oauth error invalid_request: the client_id is not an app's.", 400)
    redirect_uri = str(params.get("redirect_uri", ""))
    if len(redirect_uri) > 1000 or not redirect_allowed(app, redirect_uri):
        return _refusal(request, "Oauth error invalid_request: The redirect_uri is not whitelisted.", 400)
    scope, state = str(params.get("scope", "")), str(params.get("state", ""))
    if len(scope) > 1000 or len(state) > 500:
        return _refusal(request, "Oauth error invalid_request: a parameter is too long.", 400)
    return AuthorizeRequest(account=account, app=app, scope=scope, redirect_uri=redirect_uri, state=state)


def _back(redirect_uri: str, params: dict[str, str]) -> HttpResponseRedirect:
    separator = "&" if "?" in redirect_uri else "?"
    return HttpResponseRedirect(f"{redirect_uri}{separator}{urlencode(params)}")


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, shop: str) -> HttpResponse:
    """The merchant's "Install app?" page; its buttons post back here."""
    asked = _authorize_request(request, shop, request.GET if request.method == "GET" else request.POST)
    if isinstance(asked, HttpResponse):
        return asked
    if request.method == "GET":
        scopes = [scope for scope in asked.scope.split(",") if scope.strip()]
        context = {"asked": asked, "shop": shop_domain(asked.account), "scopes": scopes}
        return render(request, "sandbox/shopify_authorize.html", context)
    if request.POST.get("decision") != "install":
        return _back(asked.redirect_uri, {"error": "access_denied", "state": asked.state})
    code = code_issue(app=asked.app, account=asked.account, redirect_uri=asked.redirect_uri, scope=asked.scope)
    params = {
        "code": code.code,
        "host": admin_host(asked.account),
        "shop": shop_domain(asked.account),
        "state": asked.state,
        "timestamp": str(int(sim_now().timestamp())),
    }
    params["hmac"] = callback_hmac(params, asked.app.client_secret)
    return _back(asked.redirect_uri, params)


def _token_params(request: HttpRequest) -> dict[str, str]:
    """The token request's fields, from a JSON or a form body (Shopify takes both)."""
    if (request.content_type or "").startswith("application/json"):
        try:
            body = parse_json_body(request)
        except ValueError:
            raise GrantError("invalid_request", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise GrantError("invalid_request", "The request body must be a JSON object.")
        return {str(key): str(value) for key, value in body.items() if isinstance(value, str | int)}
    return {key: str(value) for key, value in request.POST.items()}


def _grant_json(grant: SimGrant) -> dict[str, Any]:
    answer: dict[str, Any] = {"access_token": grant.access_token, "scope": grant.scope}
    if grant.access_expires_at is not None and grant.refresh_expires_at is not None:
        now = sim_now()
        answer["expires_in"] = max(1, int((grant.access_expires_at - now).total_seconds()))
        answer["refresh_token"] = grant.refresh_token
        answer["refresh_token_expires_in"] = max(1, int((grant.refresh_expires_at - now).total_seconds()))
    return answer


def _hold_lost_answer(account: SimAccount) -> None:
    """A test asked for the next refresh's answer to be lost: it is held past the client's timeout."""

    def take(options: dict[str, Any]) -> float:
        value = options.pop(LOSE_NEXT_REFRESH, 0)
        return float(value) if isinstance(value, int | float) else 0.0

    seconds = options_update(account, take)
    if seconds > 0:
        time.sleep(min(seconds, MAX_HOLD_SECONDS))


def _token_answer(request: HttpRequest, shop: str) -> HttpResponse:
    account = SimAccount.objects.filter(provider=Provider.SHOPIFY, name=shop).first()
    if account is None:
        return json_response({"errors": "Not Found"}, status=404)
    try:
        params = _token_params(request)
        app = app_authenticated(Provider.SHOPIFY, params.get("client_id", ""), params.get("client_secret", ""))
        if params.get("grant_type") == "refresh_token":
            grant = grant_refresh(app=app, account=account, refresh_token=params.get("refresh_token", ""))
            _hold_lost_answer(account)
            return json_response(_grant_json(grant))
        if params.get("grant_type") not in (None, "", "authorization_code"):
            raise GrantError("unsupported_grant_type", "The grant_type is not supported.")
        expiring = params.get("expiring") in ("1", "true")
        issued = code_redeem(app=app, account=account, code=params.get("code", ""), expiring=expiring)
    except GrantError as refused:
        return json_response({"error": refused.error, "error_description": refused.description}, status=refused.status)
    return json_response(_grant_json(issued.grant))


@csrf_exempt  # server to server: the app authenticates with its client secret
@require_http_methods(["POST"])
def access_token(request: HttpRequest, shop: str) -> HttpResponse:
    return fault_response(Provider.SHOPIFY, FAULTS, request, lambda: _token_answer(request, shop))


# Control ----------------------------------------------------------------------------------------


def _control_account(name: str) -> SimAccount | None:
    return SimAccount.objects.filter(provider=Provider.SHOPIFY, name=name).first()


def _no_shop(name: str) -> JsonResponse:
    return json_response({"error": f"no shopify shop {name}"}, status=404)


@csrf_exempt
@require_http_methods(["GET"])
def control_grants(request: HttpRequest, name: str) -> JsonResponse:
    account = _control_account(name)
    return _no_shop(name) if account is None else json_response({"grants": grants_chain(account=account)})


@csrf_exempt
@require_http_methods(["POST"])
def control_revoke(request: HttpRequest, name: str) -> JsonResponse:
    account = _control_account(name)
    return _no_shop(name) if account is None else json_response({"revoked": grants_revoke(account=account)})


@csrf_exempt
@require_http_methods(["POST"])
def control_lose_next_refresh(request: HttpRequest, name: str) -> JsonResponse:
    account = _control_account(name)
    if account is None:
        return _no_shop(name)
    try:
        body = parse_json_body(request)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    hold = body.get("hold_seconds") if isinstance(body, dict) else None
    if isinstance(hold, bool) or not isinstance(hold, int | float) or not 0 < hold <= MAX_HOLD_SECONDS:
        return json_response({"error": f"hold_seconds must be a number in (0, {MAX_HOLD_SECONDS}]"}, status=400)

    def keep(options: dict[str, Any]) -> None:
        options[LOSE_NEXT_REFRESH] = hold

    options_update(account, keep)
    return json_response({"hold_seconds": hold})
