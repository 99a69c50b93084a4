"""TikTok Shop's seller authorization, simulated: the authorization page, the auth host's token
answers for the operator's app (``SimApp``), and a
control call that revokes a seller's grants.

    GET  /sandbox/tiktok/open/authorize?service_id=…&state=…   the page: pick a seller, Authorize / Cancel
    POST (same)   → 302 to the app's registered redirect URL with ``code`` and ``state``; Cancel
                    sends ``error=access_denied`` and ``state`` instead (TikTok's cancel is not documented)
    POST /sandbox/_control/tiktok/<name>/revoke → 200 {"revoked": n}: that shop's seller deauthorized

Token errors (envelope codes reported by integrators, HTTP 200): 36004003 bad app key or secret,
36004005 unknown, used, expired or revoked code or refresh token, 36004001 refresh token expired.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response
from sandbox.models import SimAccount, SimApp, SimAuthCode, SimGrant
from sandbox.providers.tiktok.api import TikTokError, envelope
from sandbox.providers.tiktok.sellers import (
    app_for_service,
    grant_issue,
    grants_revoke,
    sellers,
    token_data,
)

CODE_LIFETIME = timedelta(minutes=10)
MAX_STATE = 512
BAD_APP, NO_AUTH_RECORD, REFRESH_EXPIRED = 36004003, 36004005, 36004001


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@csrf_exempt  # the simulated TikTok page, not our site: no session of ours to protect
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.GET if request.method == "GET" else request.POST
    app = app_for_service(params.get("service_id", ""))
    state = params.get("state", "")
    if app is None:
        return HttpResponse("Unknown service_id: no TikTok Shop app has it.", status=400, content_type="text/plain")
    if len(state) > MAX_STATE:
        return HttpResponse("state is too long.", status=400, content_type="text/plain")
    if not app.redirect_uris:
        return HttpResponse("The app has no redirect URL registered.", status=400, content_type="text/plain")
    redirect_uri = str(app.redirect_uris[0])
    if request.method == "GET":
        context = {"app": app, "sellers": sellers(), "service_id": params["service_id"], "state": state}
        return render(request, "sandbox/tiktok_authorize.html", context)
    if params.get("action") != "authorize":
        return HttpResponseRedirect(_with_query(redirect_uri, {"error": "access_denied", "state": state}))
    return _authorized(request, app, params, redirect_uri=redirect_uri, state=state)


def _authorized(request: HttpRequest, app: SimApp, params: QueryDict, *, redirect_uri: str, state: str) -> HttpResponse:
    shops = sellers().get(params.get("seller", ""))
    if not shops:
        context = {"app": app, "sellers": sellers(), "service_id": params["service_id"], "state": state}
        context["error"] = "Choose the seller account to authorize."
        return render(request, "sandbox/tiktok_authorize.html", context, status=400)
    code = SimAuthCode.objects.create(
        app=app,
        account=shops[0],
        code="TTC_" + secrets.token_urlsafe(32),
        redirect_uri=redirect_uri,
        expires_at=sim_now() + CODE_LIFETIME,
    )
    return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.code, "state": state}))


def app_token_answer(app: SimApp, params: QueryDict, grant_kind: str) -> HttpResponse:
    """token/get or token/refresh for the operator's app."""
    if not hmac.compare_digest(params.get("app_secret", "").encode(), app.client_secret.encode()):
        return envelope(BAD_APP, "app_key or app_secret is invalid")
    try:
        with transaction.atomic():
            grant = _code_grant(app, params) if grant_kind == "get" else _refresh_grant(app, params)
    except TikTokError as error:
        return envelope(error.code, error.message, status=error.status)
    return envelope(0, "success", token_data(grant))


def _code_grant(app: SimApp, params: QueryDict) -> SimGrant:
    if params.get("grant_type") != "authorized_code":
        raise TikTokError(NO_AUTH_RECORD, "grant_type must be authorized_code")
    code = SimAuthCode.objects.select_for_update().filter(app=app, code=params.get("auth_code", "")).first()
    if code is None or code.used_at is not None or code.expires_at <= sim_now():
        raise TikTokError(NO_AUTH_RECORD, "can not find related auth record")
    code.used_at = sim_now()
    code.save(update_fields=["used_at"])
    return grant_issue(app, code.account)


def _refresh_grant(app: SimApp, params: QueryDict) -> SimGrant:
    if params.get("grant_type") != "refresh_token":
        raise TikTokError(NO_AUTH_RECORD, "grant_type must be refresh_token")
    token = params.get("refresh_token", "")
    root = SimGrant.objects.select_for_update().filter(app=app, refresh_token=token).first() if token else None
    if root is None or root.revoked_at is not None:
        raise TikTokError(NO_AUTH_RECORD, "can not find related auth record")
    if root.refresh_expires_at is not None and root.refresh_expires_at <= sim_now():
        raise TikTokError(REFRESH_EXPIRED, "rt has expired")
    root.refreshed_at = sim_now()
    root.save(update_fields=["refreshed_at"])
    return grant_issue(app, root.account, parent=root)


@csrf_exempt
@require_POST
def revoke(request: HttpRequest, name: str) -> HttpResponse:
    account = SimAccount.objects.filter(provider=Provider.TIKTOK, name=name).first()
    if account is None:
        return json_response({"error": f"no tiktok shop {name}"}, status=404)
    return json_response({"revoked": grants_revoke(account)})


def shop_json(account: SimAccount) -> dict[str, Any]:
    """One entry of ``/authorization/202309/shops``."""
    credentials, region = account.credentials, account.options.get("region", "US")
    return {
        "id": credentials["shop_id"],
        "name": account.name,
        "region": region,
        "seller_type": "LOCAL",
        "cipher": credentials["shop_cipher"],
        "code": f"{region}LC{credentials['shop_id'][-6:]}",
    }
