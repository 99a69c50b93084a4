"""The CJdropshipping API 2.0 client: the ``CJ-Access-Token`` header and CJ's envelope.

Every answer is ``{"code", "result", "message", "data", "requestId"}``: code 200 and result true
on success; a refusal keeps HTTP 200 with result false and CJ's code (see ``errors``). Base URL
``https://developers.cjdropshipping.com/api2.0/v1`` (host rule ``integrations.hosts.CJ_API``).

Retries: 1600200 (call limit, HTTP 429) was refused unseen, so even a write is sent again after
the wait; 1600000 (system busy) and 1600500/5xx on a write may have been done: ``OutcomeUnknown``,
the caller asks ``find``. 1600001 (invalid token) refreshes the token once when the client has a
``token_source``. Any other code is CJ's knowing refusal, raised as ``CjRefusal`` for the provider
to map.
"""

from __future__ import annotations

from typing import Any

from integrations.errors import ProviderError
from integrations.hosts import CJ_API
from integrations.http import (
    Failure,
    Headers,
    Params,
    ProviderHttpClient,
    detail_of,
    json_or_none,
    sanitize,
    short_reason,
)
from integrations.transport import Response
from suppliers.providers.cj import errors

AUTH_PREFIX = "/authentication/"
MESSAGE_LENGTH = 160


class CjRefusal(ProviderError):
    """CJ answered with a non-success code it chose knowingly (HTTP 200, result false)."""

    def __init__(self, code: int, said: str) -> None:
        super().__init__(f"CJdropshipping refused it ({code}): {said}")
        self.code, self.said = code, said


def envelope_of(response: Response) -> tuple[int, bool, str] | None:
    """(code, result, message) of a CJ envelope; None when the answer is not one."""
    body = json_or_none(response)
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    message = body.get("message")
    return code, body.get("result") is True, sanitize(message if isinstance(message, str) else "", MESSAGE_LENGTH)


class CjClient(ProviderHttpClient):
    label = "CJdropshipping"
    provider = "cj"
    host_rule = CJ_API
    credentials_hint = "connect the CJ account again with a current API key (My CJ → Authorization → API)"

    def __init__(self, base_url: str, *, access_token: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.access_token = access_token
        self._refusal: CjRefusal | None = None

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        if AUTH_PREFIX in url:
            return params, {}
        return params, {"CJ-Access-Token": self.attempt_token(self.access_token)}

    def failure_of(self, response: Response) -> Failure | None:
        envelope = envelope_of(response)
        if envelope is None:
            if 200 <= response.status_code < 300:
                return None  # json_of / data() report the unreadable body
            return super().failure_of(response)
        code, result, said = envelope
        detail = detail_of(response)
        if code == errors.SUCCESS and result and 200 <= response.status_code < 300:
            return None
        if code == errors.INVALID_TOKEN:
            message = f"CJdropshipping refused the API key or access token: {self.credentials_hint}"
            return Failure(message, credentials=True, detail=detail, token_refused=AUTH_PREFIX not in response.url)
        if code in errors.RETRYABLE or response.status_code == 429 or response.status_code >= 500:
            refused_unseen = code == errors.TOO_MANY_REQUESTS or response.status_code == 429
            message = short_reason(self.label, response)
            return Failure(message, retryable=True, detail=detail, refused_unseen=refused_unseen)
        self._refusal = CjRefusal(code, said)
        return Failure(str(self._refusal), detail=detail)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[Any, str]:
        """``(data, message)`` of a success; ``CjRefusal`` for CJ's knowing refusal."""
        self._refusal = None
        try:
            body, _ = self.request_json(
                method, path, params=params, json_body=json_body, idempotent=idempotent, shape="object"
            )
        except ProviderError:
            if self._refusal is not None:
                raise self._refusal from None
            raise
        message = body.get("message")
        return body.get("data"), sanitize(message if isinstance(message, str) else "", MESSAGE_LENGTH)
