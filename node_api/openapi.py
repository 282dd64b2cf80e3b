"""The OpenAPI document the node publishes: what the API really answers.

- one security scheme, HTTP bearer (the session token), on every route that needs a session
  (``node_api.deps.bearer``; Swagger's *Authorize* uses it);
- every error as ``application/problem+json`` with the :class:`chain.problems.Problem` schema,
  for each status the operation can answer: those a route declares with :func:`problems` (404,
  409, 502...), and those every route of a kind can answer, added here: 401/403 with a session,
  400/408/413/415/422 with a JSON body, 400/408/413 with a raw body, 422 with parameters, 503 on
  every route (the chain node, the read model or the document store unavailable);
- FastAPI's ``HTTPValidationError`` (which the API never answers: its 422 is a problem body) is
  removed.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chain.problems import MEDIA_TYPE, Problem

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (not JSON, too deep, duplicate keys, bad signature or message text)",
    401: "No valid session (missing, unknown or expired bearer token), or the sign-in was refused",
    403: "Not allowed: the caller's role or standing does not permit this",
    404: "Not found, or not visible to the caller",
    408: "The request body did not arrive in time",
    409: "Refused by the contract (the business rule is named), or a conflict with the chain's state",
    413: "Request body too large",
    415: "Unsupported media type (JSON routes take application/json)",
    422: "Invalid input; `field` names it",
    502: "The chain node refused or failed the transaction",
    503: "A dependency is unavailable (the chain node, the read model's database, the document store: kubo "
         "down or disk full); retry later (Retry-After)",
}

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for the problem statuses a route answers beyond those of its kind."""
    return {s: {"description": DESCRIPTIONS[s], "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}}} for s in statuses}


#: a route that reads one object (404 if it is not visible)
READ_ONE = problems(404)
#: a route that sends a transaction about one object: not found, refused by the contract (or no
#: custodial key), refused by the chain node
WRITE = problems(404, 409, 502)


def _add(responses: dict[str, Any], *statuses: int) -> None:
    for s in statuses:
        responses.setdefault(str(s), {"description": DESCRIPTIONS[s]})


def _as_problems(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}


def describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's generated document in place (see the module docstring)."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            if "HTTPValidationError" in str(responses.get("422")):
                del responses["422"]  # FastAPI's own, which the API never answers: a problem instead
            if op.get("security"):
                _add(responses, 401, 403)
            body = op.get("requestBody")
            if body:
                _add(responses, 400, 408, 413, 422)
                if "application/json" in body.get("content", {}):
                    _add(responses, 415)
            if op.get("parameters"):
                _add(responses, 422)
            _add(responses, 503)  # every route reads the chain or the read model
            _as_problems(responses)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = _problem_schema()
    return schema


def _problem_schema() -> dict[str, Any]:
    s = Problem.model_json_schema()
    s["description"] = ("An RFC 9457 problem: `code` is the machine-readable kind, `field` the dotted path of the "
                        "offending input; extensions (`errors`, `arguments`, `standing`...) may follow.")
    s["additionalProperties"] = True
    return s


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
