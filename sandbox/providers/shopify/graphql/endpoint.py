"""POST /admin/api/<version>/graphql.json: parse, validate, price, take from the bucket, run.

Shopify's shapes: a body without a ``query`` is a 400 like REST's; a syntax or validation error
is HTTP 200 with ``errors`` (message, locations); a query whose requested cost is above
``MAX_QUERY_COST`` is refused with ``MAX_COST_EXCEEDED`` before running; one that does not fit
in the bucket gets ``THROTTLED`` (HTTP 200, ``data`` absent, ``actualQueryCost`` null). Every
answer past the token check carries ``extensions.cost`` with the bucket's ``throttleStatus``.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from sandbox.http import json_response
from sandbox.models import SimAccount
from sandbox.providers.shopify.api import shopify_api
from sandbox.providers.shopify.errors import ShopifyError
from sandbox.providers.shopify.graphql.cost import MAX_QUERY_COST, QueryCost
from sandbox.providers.shopify.graphql.resolvers import root_value
from sandbox.providers.shopify.graphql.schema import admin_schema
from sandbox.providers.shopify.ratelimit import CostCall, cost_refund, cost_take

MAX_QUERY_BYTES = 100_000
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


def _request_of(request: HttpRequest) -> tuple[str, dict[str, Any], str | None]:
    """(query, variables, operationName) of a JSON body (or an application/graphql one)."""
    refused = ShopifyError(400, {"query": "Required parameter missing or invalid"})
    if len(request.body) > MAX_QUERY_BYTES:
        raise refused
    if request.content_type == "application/graphql":
        return request.body.decode("utf-8", "replace"), {}, None
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise refused from None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        raise refused
    variables = body.get("variables") or {}
    name = body.get("operationName")
    if not isinstance(variables, dict) or not (name is None or isinstance(name, str)):
        raise refused
    return body["query"], variables, name


def _cost(requested: int | None, actual: int | None, call: CostCall) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": call.throttle_status(),
        }
    }


def _errors(errors: list[GraphQLError], call: CostCall, requested: int | None = None) -> HttpResponse:
    return json_response({"errors": [error.formatted for error in errors], "extensions": _cost(requested, None, call)})


def _prepared(
    account: SimAccount, query: str, variables: dict[str, Any], name: str | None
) -> tuple[DocumentNode, OperationDefinitionNode, dict[str, Any]] | HttpResponse:
    """The document, its operation and coerced variables; or the answer refusing them."""
    schema = admin_schema()
    try:
        document = parse(query, max_tokens=20_000)
    except GraphQLError as syntax:
        return _errors([syntax], cost_refund(account, 0))
    invalid = validate(schema, document)
    if invalid:
        return _errors(invalid, cost_refund(account, 0))
    operation = get_operation_ast(document, name)
    if operation is None:
        return _errors([GraphQLError("An operation name is required")], cost_refund(account, 0))
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
    if isinstance(coerced, list):
        return _errors(coerced, cost_refund(account, 0))
    return document, operation, coerced


@shopify_api("POST", rest_bucket=False)
def graphql_endpoint(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    prepared = _prepared(account, *_request_of(request))
    if isinstance(prepared, HttpResponse):
        return prepared
    document, operation, variables = prepared
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    pricing = QueryCost(admin_schema(), fragments, variables)
    requested = pricing.operation(operation)
    if requested > MAX_QUERY_COST:
        too_costly = GraphQLError(
            f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).",
            extensions={"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST},
        )
        return _errors([too_costly], cost_refund(account, 0), requested)
    call = cost_take(account, requested)
    if not call.allowed:
        throttled = GraphQLError("Throttled", extensions={"code": "THROTTLED", "documentation": RATE_LIMITS_DOC})
        return _errors([throttled], call, requested)
    search: list[dict[str, Any]] = []
    result = execute(
        admin_schema(),
        document,
        root_value=root_value(account, search),
        variable_values=variables,
        operation_name=operation.name.value if operation.name else None,
    )
    assert isinstance(result, ExecutionResult)
    actual = min(requested, pricing.operation(operation, result.data or {}))
    call = cost_refund(account, requested - actual)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    body["extensions"] = _cost(requested, actual, call) | ({"search": search} if search else {})
    return json_response(body)
