"""The client of the SIMULATED Temu buyer API (the sandbox's own design: Temu has none).

``Authorization: Bearer <api key>``; writes that create send an ``Idempotency-Key`` header.
Errors are ``{"error": {"type", "code", "message", "param", "request_id"}}`` with HTTP 400
(invalid request), 401 (API key), 402 (payment), 404 (not found), 409 (idempotency or not
payable), 429 (Retry-After), 5xx. A 4xx other than 401/429 is the simulated Temu's knowing
refusal, raised as ``TemuRefusal`` for the provider to map.

Host rule: no public host at all (there is no Temu buyer API to call); only the sandbox on
loopback, which the dev profile and the tests allow.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.errors import ProviderError
from integrations.hosts import HostRule
from integrations.http import Failure, Headers, Params, ProviderHttpClient, detail_of, json_or_none, sanitize
from integrations.transport import Response

TEMU_SIMULATED = HostRule(allowed="the sandbox only (Temu has no public buyer API)", pattern=re.compile(r"(?!)"))


class TemuRefusal(ProviderError):
    """The simulated Temu refused knowingly (a 4xx with its error object)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Temu (simulated) refused it ({code}): {message}", status=status)
        self.http_status, self.code, self.said = status, code, message


def error_of(response: Response) -> tuple[str, str]:
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code, message = error.get("code"), error.get("message")
    return (
        sanitize(code, 60) if isinstance(code, str) else "",
        sanitize(message, 200) if isinstance(message, str) else "",
    )


class TemuClient(ProviderHttpClient):
    label = "Temu (simulated)"
    provider = "temu"
    host_rule = TEMU_SIMULATED
    credentials_hint = "connect the Temu (simulated) account again with a current API key"

    def __init__(self, base_url: str, *, api_key: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.api_key = api_key
        self.idempotency_key = ""
        self._refusal: TemuRefusal | None = None

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if self.idempotency_key:
            headers["Idempotency-Key"] = self.idempotency_key
        return params, headers

    def failure_of(self, response: Response) -> Failure | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status in (401, 403, 429) or status >= 500:
            return super().failure_of(response)
        code, said = error_of(response)
        self._refusal = TemuRefusal(status, code or f"http_{status}", said)
        return Failure(str(self._refusal), detail=detail_of(response))

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        """The answer object of a success; ``TemuRefusal`` for a knowing refusal."""
        self._refusal, self.idempotency_key = None, idempotency_key
        try:
            body, _ = self.request_json(
                method, path, params=params, json_body=json_body, idempotent=idempotent, shape="object"
            )
        except ProviderError:
            if self._refusal is not None:
                raise self._refusal from None
            raise
        finally:
            self.idempotency_key = ""
        return dict(body)
