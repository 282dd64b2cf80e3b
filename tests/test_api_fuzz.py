"""Schemathesis over the node API's OpenAPI document: zero 5xx, zero undeclared statuses, zero
bodies off their schema or media type, as anonymous and as every role.

- anonymous: every operation, positive and negative inputs (mostly 401/422 paths, the auth
  routes and public reads for real);
- each role (on the authz matrix's world: an invoice, receipt, order, deal, offer, pool,
  document, agreement): every operation with generated inputs (the authorization and 404
  paths), then each operation on an object with its path parameters pinned to the world's
  objects, positive and negative (so bodies and queries reach the handlers, the contracts'
  refusals and the read model).

Each test is one identity on a reverted chain and a fresh read model (the suite's snapshot/revert).
Examples per operation and mode in CI: 6 anonymous, 1 per role (positive) on every operation and
2 per role on the pinned ones, 30 on the oracle; TRADENET_FUZZ_EXAMPLES sets them all
(bench/api_fuzz_deep.py runs 50).
"""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis.generation import GenerationMode

from oracle.hmac_auth import sign_headers, sign_request_headers
from tests.support import fuzz
from tests.support.oracle import builders as ob
from tests.support.oracle.stand_ins import FakeChain, operator_on
from tests.support.api import make_api
from tests.test_api_authz import ROLES, world  # noqa: F401  (the authz matrix's objects)

ANONYMOUS_EXAMPLES = fuzz.examples_per_operation(6)
ROLE_SWEEP_EXAMPLES = fuzz.examples_per_operation(1)
ROLE_EXAMPLES = fuzz.examples_per_operation(2)

#: a live stream ends only when the client leaves: the fuzzer asks for a few events from the start
STREAM = "GET /events/stream"
STREAM_QUERY = {"after": "0:0", "max_events": 3}


def stream_pins(op: Any, mode: GenerationMode) -> dict[str, Any]:
    return {"query": STREAM_QUERY} if op.label == STREAM and mode is GenerationMode.POSITIVE else {}


def world_pins(ids: dict[str, Any]) -> fuzz.Pins:
    known = {"invoice_id": ids["invoice"], "receipt_id": ids["receipt"], "order_id": ids["order"],
             "deal_id": ids["deal"], "offer_id": ids["offer"], "pool_id": ids["pool"], "cid": ids["cid"],
             "agreement_hash": ids["agreement"], "address": ids["seller"], "obligor": ids["seller"],
             "currency": "USD", "transport_document": "OOLU-BL-AUTHZ"}

    def pins(op: Any, mode: GenerationMode) -> dict[str, Any]:
        names = [p.name for p in op.path_parameters]
        pinned = {n: str(known[n]) for n in names if n in known}
        return {**stream_pins(op, mode), **({"path_parameters": pinned} if pinned else {})}
    return pins


def has_known_path(op: Any) -> bool:
    return any(True for _ in op.path_parameters)


def assert_clean(report: fuzz.FuzzReport) -> None:
    print(f"\nfuzz: {report.summary()}")
    assert not report.failures, report.explain()
    assert not any(s >= 500 for s in report.statuses)


def test_node_api_fuzz_anonymous_no_server_error_no_schema_violation(net, tmp_path):
    api = make_api(net, tmp_path)
    report = fuzz.fuzz(fuzz.load(api.client.app), examples=ANONYMOUS_EXAMPLES, pins=stream_pins)
    assert report.operations >= 100
    assert_clean(report)


@pytest.mark.parametrize("role", ROLES)
def test_node_api_fuzz_as_role_no_server_error_no_schema_violation(world, net, role):  # noqa: F811
    api, heads, ids = world
    schema = fuzz.load(api.client.app)

    def session() -> dict[str, str]:
        return api.login(role)
    # every operation once as this role (the authorization paths), then the ones on objects pinned
    # to the world's, positive and negative (the handlers' paths)
    report = fuzz.fuzz(schema, headers=session, examples=ROLE_SWEEP_EXAMPLES, pins=stream_pins,
                       modes=(GenerationMode.POSITIVE,))
    report.merge(fuzz.fuzz(schema, headers=session, examples=ROLE_EXAMPLES, include=has_known_path,
                           pins=world_pins(ids), tag=" pinned"))
    assert_clean(report)


# ------------------------------------------------------------------------------ the oracle operator's API
ORACLE_EXAMPLES = fuzz.examples_per_operation(30)


def hmac_signer(source: str, secret: str) -> fuzz.Signer:
    """Sign as the credential `source` the way a carrier does: the body, or a GET's request target."""
    def sign(method: str, target: str, body: bytes) -> dict[str, str]:
        if method == "GET":
            return sign_request_headers(source, secret, method, target)
        return sign_headers(source, secret, body)
    return sign


@pytest.mark.parametrize("caller", ["anonymous", "carrier", "fx_source"])
def test_oracle_api_fuzz_no_server_error_no_schema_violation(tmp_path, caller):
    svc, client, engine = operator_on(tmp_path, FakeChain())
    signer = {"anonymous": None, "carrier": hmac_signer(ob.CARRIER, ob.CARRIER_SECRET),
              "fx_source": hmac_signer(ob.FX_SOURCE, ob.FX_SECRET)}[caller]
    report = fuzz.fuzz(fuzz.load(client.app), examples=ORACLE_EXAMPLES, sign=signer)
    assert report.operations == 9
    assert_clean(report)
    if signer is not None:  # the signed bodies got past authentication
        assert any(s in report.statuses for s in (200, 202, 403, 422))


# ------------------------------------------------------------------------------ what the fuzzer found
@pytest.mark.parametrize("kind", [{}, ["shipment"], 7, None])
def test_fuzz_finding1_peer_signature_with_a_non_string_kind_is_a_422_not_a_500(tmp_path, kind):
    """oracle/service.py: `kind in td.STRUCTS` on a JSON object/array raised TypeError (500)."""
    svc, client, engine = operator_on(tmp_path, FakeChain())
    r = client.post("/signatures", json={"kind": kind, "message": {}, "signer": "0x" + "11" * 20,
                                         "signature": "0x" + "22" * 65})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "kind" and r.headers["content-type"].startswith("application/problem+json")


def test_fuzz_finding2_event_stream_declares_the_schema_of_one_event(net, tmp_path):
    """node_api/routes/events.py: the SSE response was declared as one string; each event is
    {id, event, data} (what clients and Schemathesis validate)."""
    api = make_api(net, tmp_path)
    schema = api.client.get("/openapi.json").json()
    declared = schema["paths"]["/events/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert declared["schema"]["required"] == ["id", "event", "data"]
    r = api.client.get("/events/stream", params=STREAM_QUERY, headers=api.login("auditor"))
    events = [block for block in r.text.split("\n\n") if block.startswith("id:")]
    assert len(events) == 3 and all("\nevent: " in e and "\ndata: {" in e for e in events)


def test_fuzz_finding3_oracle_openapi_declares_bodies_errors_and_hmac_security(tmp_path):
    """oracle/api.py read raw bodies: its document declared no request body, no error and no
    credential (every 401/403/404/422 was undeclared). oracle/openapi.py declares them."""
    svc, client, engine = operator_on(tmp_path, FakeChain())
    doc = client.get("/openapi.json").json()
    post = doc["paths"]["/carrier-events"]["post"]
    assert {"200", "202", "204", "400", "401", "403", "409", "413", "422", "503"} <= set(post["responses"])
    assert post["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert "application/json" in post["requestBody"]["content"]
    assert {"tradenetSource", "tradenetTimestamp", "tradenetSignature"} <= set(post["security"][0])


@pytest.mark.parametrize("deal_ids", [[-1], [0], [2**256], [1, -355687428095999]])
def test_fuzz_finding4_pool_collection_with_out_of_range_deal_ids_is_a_422_not_a_500(world, net, deal_ids):  # noqa: F811
    """node_api/routes/pools.py: `deal_ids` took any integer; a negative one reached web3's ABI
    encoder (MismatchedABI: a 500)."""
    api, heads, ids = world
    r = api.client.post(f"/pools/{ids['pool']}/collections", json={"deal_ids": deal_ids}, headers=heads["lender"])
    assert r.status_code == 422, r.text
    assert r.json()["field"].startswith("deal_ids")
