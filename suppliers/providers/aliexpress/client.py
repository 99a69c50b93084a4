"""The AliExpress Open Platform (IOP) gateway client: signed calls, the gateway's error envelope.

Business APIs are "method" calls: ``POST {base}/sync`` with ``method``, ``app_key``,
``timestamp`` (ms), ``sign_method=sha256``, ``access_token`` and the business parameters (objects
JSON-encoded as strings), signed per attempt (a fresh timestamp each time): ``sign`` = UPPER hex
HMAC-SHA256(app_secret, sorted key+value of every parameter but ``sign``). System APIs (tokens)
are path calls, ``POST {base}/rest/auth/token/refresh``, whose signature is prefixed with the API
path and which send no access token. Sources: docs/suppliers.md ("AliExpress").

The gateway answers HTTP 200 for its own errors: ``{"error_response": {"code", "msg", …}}``
(system calls: a top-level ``code`` other than "0"). ``failure_of`` reads that envelope, so an
expired token (IllegalAccessToken) is refreshed once through the token source, a rate limit
(ApiCallLimit, refused before anything was done) is waited out, and the rest is an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from integrations.errors import ProviderError
from integrations.hosts import ALIEXPRESS_API
from integrations.http import Failure, Headers, Params, ProviderHttpClient, detail_of, json_or_none, sanitize
from integrations.transport import Response

SIGN_METHOD = "sha256"
# Gateway codes that mean the credentials, not the call, are wrong.
CREDENTIAL_CODES = frozenset({"InvalidAppKey", "IncompleteSignature", "isv.invalid-authorization"})
TOKEN_CODES = frozenset({"IllegalAccessToken", "IllegalRefreshToken"})
RATE_LIMITED = frozenset({"ApiCallLimit", "isv.api-call-limit"})
_BAN_SECONDS = re.compile(r"(\d{1,4})\s*more\s*seconds?")


def sign(app_secret: str, params: Mapping[str, str], api_path: str = "") -> str:
    """The IOP signature (see the module docstring); ``api_path`` for system (path) calls only."""
    message = api_path + "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def gateway_error(body: Any) -> dict[str, Any] | None:
    """The gateway's error object of an answer, or None when the answer is not one."""
    if not isinstance(body, dict):
        return None
    error = body.get("error_response")
    if isinstance(error, dict):
        return error
    code = body.get("code")
    if "error_response" in body or (code not in (None, "0", 0) and "access_token" not in body):
        return {"code": code, "msg": body.get("message") or body.get("msg") or ""}
    return None


def error_code(error: Mapping[str, Any]) -> str:
    code = error.get("code")
    return sanitize(str(code), 60) if isinstance(code, str | int) and not isinstance(code, bool) else ""


def error_text(error: Mapping[str, Any]) -> str:
    parts = [error.get(key) for key in ("msg", "sub_code", "sub_msg")]
    return sanitize(" ".join(part for part in parts if isinstance(part, str) and part), 200)


class AliExpressClient(ProviderHttpClient):
    label = "AliExpress"
    provider = "aliexpress"
    host_rule = ALIEXPRESS_API
    credentials_hint = "connect the AliExpress account again on the suppliers page"

    def __init__(self, base_url: str, *, app_key: str, app_secret: str, access_token: str = "", **options: Any):
        super().__init__(base_url, **options)
        self.app_key, self.app_secret, self.access_token = app_key, app_secret, access_token
        self._api_path = ""

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        signed = {**params, "app_key": self.app_key, "sign_method": SIGN_METHOD}
        signed["timestamp"] = str(int(time.time() * 1000))
        if not self._api_path:  # business calls carry the account's token; system calls do not
            signed["access_token"] = self.attempt_token(self.access_token)
        signed["sign"] = sign(self.app_secret, signed, self._api_path)
        return signed, {}

    def operation(self, method: str, url: str, params: Params) -> str:
        """AliExpress limits each API (method) per app key; system calls by their path."""
        return params.get("method") or super().operation(method, url, params)

    def failure_of(self, response: Response) -> Failure | None:
        if response.status_code != 200:
            return super().failure_of(response)
        error = gateway_error(json_or_none(response))  # a body cut short: json_of says so (retryable)
        if error is None:
            return None
        code, detail = error_code(error), sanitize(f"{error_code(error)}: {error_text(error)}", 1000)
        if code in RATE_LIMITED or error.get("sub_code") in RATE_LIMITED:
            ban = _BAN_SECONDS.search(str(error.get("sub_msg") or ""))
            wait = float(ban.group(1)) if ban else None
            message = "AliExpress refused the call: too many calls (ApiCallLimit)"
            return Failure(message, retryable=True, refused_unseen=True, wait=wait, detail=detail)
        if code in TOKEN_CODES:
            message = f"AliExpress refused the access token ({code}): {self.credentials_hint}"
            return Failure(message, credentials=True, token_refused=code == "IllegalAccessToken", detail=detail)
        if code in CREDENTIAL_CODES:
            return Failure(f"AliExpress refused the app's credentials ({code})", credentials=True, detail=detail)
        if code.startswith("isp."):  # the platform's own trouble (isp.service-unavailable, …)
            return Failure(f"AliExpress is unavailable ({code})", retryable=True, detail=detail)
        return Failure(f"AliExpress refused the call ({code or 'no code'})", detail=detail or detail_of(response))

    def call(self, method: str, business: Mapping[str, Any], *, idempotent: bool) -> dict[str, Any]:
        """A business method's result object (``<method>_response`` without its wrapper)."""
        params = {"method": method, "format": "json", "v": "2.0"}
        params.update({key: value if isinstance(value, str) else _json(value) for key, value in business.items()})
        self._api_path = ""
        body, _ = self.request_json("POST", "sync", params=params, idempotent=idempotent, shape="object")
        wrapper = body.get(method.replace(".", "_") + "_response")
        if not isinstance(wrapper, dict):
            raise ProviderError(f"AliExpress answered {method} without its {method} response object")
        return wrapper

    def system_call(self, api_path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """A system (path) call such as ``/auth/token/refresh``: its answer object."""
        self._api_path = api_path
        try:
            # Sent again after a timeout or a 5xx: if the first refresh was done (its answer lost),
            # the repeat is refused (IllegalRefreshToken) and the account must be connected
            # again, which is where the lost answer would have left it anyway.
            body, _ = self.request_json("POST", f"rest{api_path}", params=dict(params), idempotent=True, shape="object")
        finally:
            self._api_path = ""
        return body


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
