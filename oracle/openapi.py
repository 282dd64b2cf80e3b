"""The operator's OpenAPI document: what each route really takes and answers.

The routes read their raw bodies (the HMAC is over the bytes, checked before parsing), so FastAPI
knows neither their bodies nor their errors; this module declares them: the JSON request body,
the tradenet HMAC headers (and DCSA's notification signature) as security schemes, every status a
route can answer (its successes, the request guard's 400/408/413/503, the service's problems) with
the RFC 9457 problem body as ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chain.problems import MEDIA_TYPE, Problem

from .hmac_auth import SIGNATURE_HEADER, SOURCE_HEADER, TIMESTAMP_HEADER

DESCRIPTIONS: dict[int, str] = {
    200: "Done (a replay, a batch's results, or a read)",
    202: "Accepted: persisted and signed (or an intent recorded)",
    204: "Accepted (DCSA subscription callback)",
    400: "Malformed request (not JSON, duplicate keys, too deep, bad Content-Length)",
    401: "Missing, malformed, expired or wrong HMAC signature",
    403: "Authenticated but not allowed (credential kind, carrier standing, another party's event), "
         "or a peer signature that does not recover to an operator",
    404: "Unknown event or report",
    408: "The request body did not arrive in time",
    409: "Changed content for an accepted event or observation",
    413: "Request body too large",
    422: "Invalid field; `field` names it",
    503: "Operator busy (Retry-After) or not ready (a contract address or the registry is unavailable)",
}

#: the guard's answers on every route whose body it reads, and its overload answer on every route
BODY = (400, 408, 413, 503)
GUARDED = (408, 503)

JSON_BODY = {"description": "a JSON document (read as bytes: the signature is over them)"}
EVENT_BODY = {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
              "description": "one DCSA event (v2.2, v3.0.0-Beta-1, v3.0.0), a callback array, or {\"events\": [...]}"}
OBJECT = {"type": "object"}
SIGNATURE_BODY = {"type": "object", "required": ["kind", "message", "signer", "signature"], "properties": {
    "kind": {"type": "string", "description": "the report kind (shipment, retraction, fx)"},
    "message": {"type": "object", "description": "the EIP-712 message"},
    "digest": {"type": "string", "description": "optional: the digest the peer computed"},
    "signer": {"type": "string", "description": "the signing operator's address"},
    "signature": {"type": "string", "description": "0x-hex 65-byte signature"},
    "from": {"type": "string", "description": "the peer operator's name"}}}

TRADENET_AUTH = {"tradenetSource": [], "tradenetTimestamp": [], "tradenetSignature": []}
DCSA_AUTH = {"dcsaSubscription": [], "dcsaSignature": []}
SECURITY_SCHEMES = {
    "tradenetSource": {"type": "apiKey", "in": "header", "name": SOURCE_HEADER,
                       "description": "the credential's source id (carrier or FX source)"},
    "tradenetTimestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER,
                          "description": "unix seconds, within the allowed skew"},
    "tradenetSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                          "description": "sha256=<hex>: HMAC-SHA256(secret, \"<timestamp>.\" + body, or + "
                                         "\"<METHOD> <path>\" on a GET)"},
    "dcsaSubscription": {"type": "apiKey", "in": "header", "name": "Subscription-ID",
                         "description": "DCSA: the subscription whose secret signed the callback"},
    "dcsaSignature": {"type": "apiKey", "in": "header", "name": "Notification-Signature",
                      "description": "DCSA: sha256=<hex> HMAC of the body"},
}

#: (method, path) -> successes (status -> media type and schema, None for no body), problem
#: statuses, request body schema (None: no body), security requirements
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/carrier-events"): {"ok": {200: OBJECT, 202: OBJECT, 204: None},
                                  "errors": BODY + (401, 403, 404, 409, 422), "body": EVENT_BODY,
                                  "security": [TRADENET_AUTH, DCSA_AUTH]},
    ("post", "/events"): {"ok": {200: OBJECT, 202: OBJECT, 204: None}, "errors": BODY + (401, 403, 404, 409, 422),
                          "body": EVENT_BODY, "security": [TRADENET_AUTH, DCSA_AUTH]},
    ("post", "/fx-rates"): {"ok": {200: OBJECT, 202: OBJECT}, "errors": BODY + (401, 403, 409, 422),
                            "body": OBJECT, "security": [TRADENET_AUTH]},
    ("post", "/signatures"): {"ok": {200: OBJECT}, "errors": BODY + (403, 404, 409, 422), "body": SIGNATURE_BODY},
    ("get", "/events/{event_id}"): {"ok": {200: OBJECT}, "errors": GUARDED + (400, 401, 403, 404),
                                    "security": [TRADENET_AUTH]},
    ("get", "/status"): {"ok": {200: OBJECT}, "errors": GUARDED},
    ("get", "/reports/{digest}"): {"ok": {200: OBJECT}, "errors": GUARDED + (404,)},
    ("get", "/healthz"): {"ok": {200: {"type": "object", "required": ["ok", "operator", "address"]}}, "errors": ()},
    ("get", "/metrics"): {"ok": {200: "text/plain"}, "errors": (403, 404)},
}


def _success(status: int, schema: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"description": DESCRIPTIONS[status]}
    if isinstance(schema, str):
        out["content"] = {schema: {"schema": {"type": "string"}}}
    elif schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _problem(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's document in place with :data:`ROUTES`."""
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            route = ROUTES.get((method, path))
            if route is None:
                continue
            op["responses"] = {str(s): _success(s, body) for s, body in route["ok"].items()}
            op["responses"].update({str(s): _problem(s) for s in route["errors"]})
            if route.get("body") is not None:
                op["requestBody"] = {**JSON_BODY, "required": True,
                                     "content": {"application/json": {"schema": route["body"]}}}
            if route.get("security"):
                op["security"] = route["security"]
            if method == "get" and path == "/events/{event_id}":
                for p in op.get("parameters", []):
                    if p.get("name") == "event_id":
                        p["description"] = "the carrier's eventID (signed with the request target)"
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    problem = Problem.model_json_schema()
    problem["additionalProperties"] = True
    schemas["Problem"] = problem
    components["securitySchemes"] = SECURITY_SCHEMES
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(get_openapi(title=app.title, version=app.version,
                                                      description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
