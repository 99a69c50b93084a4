"""POST /sandbox/_control/<provider>/<name>/webhook {"url": "…"}: the webhook address an account's
dashboard would hold (TikTok Shop, AliExpress and 17TRACK subscribe in a console, not through an
API). Stored as ``SimAccount.options["webhook_url"]``; ``{"url": null}`` unsubscribes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.http import json_response, parse_json_body
from sandbox.models import SimAccount
from sandbox.providers._state import options_update


@csrf_exempt
@require_POST
def webhook_address(request: HttpRequest, provider: str, name: str) -> JsonResponse:
    account = SimAccount.objects.filter(provider=provider, name=name).first()
    if account is None:
        return json_response({"error": f"no {provider} account named {name}"}, status=404)
    try:
        body = parse_json_body(request)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    url = body.get("url") if isinstance(body, dict) else ""
    if url is not None:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            return json_response({"error": "url must be an http(s) URL or null"}, status=400)

    def store(options: dict[str, Any]) -> None:
        if url is None:
            options.pop("webhook_url", None)
        else:
            options["webhook_url"] = url

    options_update(account, store)
    return json_response({"provider": provider, "name": name, "webhook_url": url})
