"""Small helpers the provider views share."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.http import HttpRequest, JsonResponse


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(data, status=status, headers=headers, safe=False, json_dumps_params={"separators": (",", ":")})


def parse_json_body(request: HttpRequest) -> Any:
    """The request's JSON body; raises ValueError with a readable message when it is not JSON."""
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed JSON: {exc}") from exc


def token(prefix: str = "", nbytes: int = 16) -> str:
    return prefix + secrets.token_hex(nbytes)


def absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)
