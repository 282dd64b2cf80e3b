"""DCSA Track & Trace input as published (issue 12 item 1): v2.2 shipment / transport / equipment
events with their own schemas, v3.0.0-Beta-1 and v3.0.0, the attested / ignored decision first,
v3 identities, retractions and updates recorded as intents, transshipment legs as distinct events,
batches on the v3 subscriber endpoint."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oracle.api import create_app
from oracle.engine import Engine
from oracle.hmac_auth import notification_headers, sign_headers
from oracle.intents import IntentDecision
from oracle.normalize import canonical_json, shipment_id
from oracle.samples import equipment_event, iso, transport_event
from tests.support.oracle import builders as b

NOW = time.time()


@pytest.fixture
def service(tmp_path: Path):
    svc = b.service_for(tmp_path)
    yield svc
    svc.store.close()


@pytest.fixture
def client(service) -> TestClient:
    return TestClient(create_app(service))


def post(client: TestClient, obj: Any, path: str = "/carrier-events"):
    body = canonical_json(obj)
    return client.post(path, content=body, headers=sign_headers(b.CARRIER, b.CARRIER_SECRET, body))


def problem(resp, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    if field is not None:
        assert body["field"] == field, body
    return body


# ----------------------------------------------------------------------------------------- builders
def v22_shipment(code: str = "ISSU", document: str = "MAEU240012345", doc_type: str = "TRD",
                 when: float | None = None, **extra: Any) -> dict[str, Any]:
    when = NOW - 600 if when is None else when
    ev = {"eventID": str(uuid.uuid4()), "eventType": "SHIPMENT", "eventClassifierCode": "ACT",
          "eventDateTime": iso(when), "eventCreatedDateTime": iso(when), "shipmentEventTypeCode": code,
          "documentTypeCode": doc_type, "documentID": document, "reason": "All good"}
    ev.update(extra)
    return ev


def beta_transport(event_id: str | None = None, code: str = "ARRI", unlocode: str = "NLRTM", ref: str = "MAEU240012345",
                   classifier: str = "ACT", carrier: str = "MAEU", call: str = "TC-1", seq: int = 1,
                   when: float | None = None) -> dict[str, Any]:
    when = NOW - 600 if when is None else when
    return {
        "metadata": {"eventID": event_id or f"evt-{uuid.uuid4().hex}", "eventCreatedDateTime": iso(when + 60),
                     "eventType": "TRANSPORT", "publisher": {"partyName": "Maersk", "carrierCode": carrier,
                                                            "carrierCodeListProvider": "SMDG"},
                     "publisherRole": "CA"},
        "payload": {"eventClassifierCode": classifier, "eventDateTime": iso(when), "transportEventTypeCode": code,
                    "transportCall": {"transportCallReference": call, "transportCallSequenceNumber": seq,
                                      "modeOfTransport": "VESSEL",
                                      "location": {"locationType": "UNLO", "UNLocationCode": unlocode}},
                    "relatedDocumentReferences": [{"type": "BKG", "value": "ABC123059"}, {"type": "TRD", "value": ref}]},
    }


def beta_retraction(target: str, carrier: str = "MAEU") -> dict[str, Any]:
    return {"metadata": {"eventID": f"evt-{uuid.uuid4().hex}", "eventCreatedDateTime": iso(NOW - 30),
                         "eventType": "TRANSPORT", "retractedEventID": target,
                         "publisher": {"carrierCode": carrier, "carrierCodeListProvider": "SMDG"},
                         "publisherRole": "CA"}}


def v300(event_id: str = "event-HHL71800000-ARRI-NLRTM", updated: float | None = None, unlocode: str = "NLRTM",
         word: str = "ARRIVED", classifier: str = "ACTUAL", when: float | None = None, **extra: Any) -> dict[str, Any]:
    when = NOW - 900 if when is None else when
    ev = {
        "eventRouting": {"originatingParties": [{"partyCode": "HLCU", "codeListProvider": "SMDG",
                                                 "codeListName": "LCL", "partyFunction": "CA"}]},
        "eventID": event_id,
        "eventDateTime": iso(when),
        "eventUpdatedDateTime": iso(updated if updated is not None else when + 60),
        "eventLocation": {"UNLocationCode": unlocode},
        "eventClassification": {"eventType": "TRANSPORT", "eventClassifier": classifier, "transportEventType": word},
        "shipmentDetails": {"documentReference": {"type": "TRANSPORT_DOCUMENT", "reference": "HHL71800000"}},
        "transportDetails": {"transportCall": {"transportCallReference": "tc-" + unlocode,
                                               "transportCallSequenceNumber": 2, "modeOfTransport": "VESSEL"}},
    }
    ev.update(extra)
    return ev


# ----------------------------------------------------------------------------------------- v2.2
@pytest.mark.parametrize("code", ["ISSU", "RECE", "CONF"])
def test_v22_shipment_events_are_attested_with_their_document_not_a_location(client, service, code):
    doc_type = "BKG" if code == "CONF" else "TRD"
    ev = v22_shipment(code, document="MAEU240012345" if doc_type == "TRD" else "BKG240012345", doc_type=doc_type)
    resp = post(client, ev)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "accepted" and body["location"] == "ZZZZZ" and body["eventCode"] == code
    assert body["shipmentId"] == "0x" + shipment_id(ev["documentID"]).hex()


def test_v22_shipment_event_about_another_document_is_ignored(client, service):
    resp = post(client, v22_shipment("ISSU", doc_type="SHI"))
    assert resp.status_code == 200 and resp.json()["status"] == "ignored"
    assert "TRD" in resp.json()["detail"]
    problem(post(client, v22_shipment("ISSU", doc_type="XYZ")), 422, "documentTypeCode")
    missing = v22_shipment("ISSU")
    del missing["documentID"]
    problem(post(client, missing), 422, "documentID")


def test_ignored_decision_comes_before_validation(client, service):
    stuffing = equipment_event(code="STUF")
    del stuffing["transportCall"]  # no location at all: irrelevant for an event that is not attested
    resp = post(client, stuffing)
    assert resp.status_code == 200 and resp.json()["status"] == "ignored", resp.text
    estimated = transport_event(classifier="EST")
    estimated["transportCall"] = {"location": {"UNLocationCode": "not a locode"}}
    estimated["eventDateTime"] = "tomorrow-ish"
    assert post(client, estimated).json()["status"] == "ignored"
    assert service.store.counts()["reports"] == {}
    # the decision fields themselves are validated
    problem(post(client, transport_event(classifier="MAYBE")), 422, "eventClassifierCode")


# ----------------------------------------------------------------------------------------- transshipment
def test_transshipment_legs_are_distinct_events(client, service):
    """The same B/L arrives at its transshipment port and at its destination: two ARRI events,
    two subjects (shipment, ARRI, location), both signed (before: 409 for the second)."""
    first = post(client, transport_event(code="ARRI", unlocode="SGSIN", when=NOW - 7200))
    second = post(client, transport_event(code="ARRI", unlocode="NLRTM", when=NOW - 600))
    assert first.status_code == 202 and second.status_code == 202, second.text
    assert first.json()["digest"] != second.json()["digest"]
    assert {first.json()["transportCall"]["id"], second.json()["transportCall"]["id"]} == {"TC-SGSIN", "TC-NLRTM"}
    assert service.store.counts()["reports"] == {"signed": 2}
    # v3 legs, keyed by their transport call reference and location as well
    a = post(client, v300("hl-arri-1", unlocode="SGSIN"))
    c = post(client, v300("hl-arri-2", unlocode="DEHAM"))
    assert a.status_code == 202 and c.status_code == 202
    assert a.json()["transportCall"] == {"reference": "tc-SGSIN", "sequence": 2, "mode": "VESSEL"}


# ----------------------------------------------------------------------------------------- v3.0.0-Beta-1
def test_beta1_event_identity_is_publisher_plus_event_id(client, service):
    ev = beta_transport("not-a-uuid-but-fine")
    assert post(client, ev).status_code == 202
    other = beta_transport("not-a-uuid-but-fine", carrier="HLCU", ref="HLCU11111")  # same id, another publisher
    resp = post(client, other)
    assert resp.status_code == 202 and resp.json()["originatingParty"] == "SMDG:HLCU", resp.text
    changed = copy.deepcopy(ev)
    changed["payload"]["eventDateTime"] = iso(NOW - 700)
    problem(post(client, changed), 409, "eventID")  # Beta-1 has no versions: a changed event is a conflict


def test_beta1_strict_validation_names_the_field(client):
    ev = beta_transport()
    del ev["payload"]["transportCall"]["transportCallReference"]
    problem(post(client, ev), 422, "payload.transportCall.transportCallReference")
    ev = beta_transport()
    ev["payload"]["transportCall"]["location"]["UNLocationCode"] = "Rotterdam"
    problem(post(client, ev), 422, "payload.transportCall.location.UNLocationCode")
    ev = beta_transport()
    ev["metadata"]["eventID"] = "x" * 101
    problem(post(client, ev), 422, "metadata.eventID")
    ev = beta_transport()
    del ev["payload"]
    problem(post(client, ev), 422, "payload")


def test_beta1_retraction_of_an_accepted_event_is_recorded_and_holds_the_report(client, service):
    ev = beta_transport()
    digest = post(client, ev).json()["digest"]
    resp = post(client, beta_retraction(ev["metadata"]["eventID"]))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "retraction" and body["intent"]["kind"] == "retraction"
    assert body["intent"]["originalDigest"] == digest
    [intent] = service.store.intents()
    assert intent.state == "pending" and intent.original_digest == digest
    assert "retracted" in service.store.report(digest).held_reason
    # the engine never submits a held report, even with a quorum
    from tests.support.oracle.stand_ins import FakeChain, NoPeers, peer_payload
    from oracle import typed_data as td

    struct = td.struct_from_json("shipment", service.store.report(digest).message)
    client.post("/signatures", json=peer_payload(struct, "op2"))
    fake = FakeChain(tuple(b.key(n).address for n in ("op1", "op2", "op3")))
    engine = Engine(service, service.store, NoPeers(), fake)
    engine.refresh_operator_sets(force=True)
    for _ in range(3):
        engine.tick()
    assert fake.submissions == []
    assert "waiting for the on-chain retraction" in service.store.intents()[0].detail


def test_beta1_retraction_before_the_event_supersedes_it(client, service):
    ev = beta_transport()
    resp = post(client, beta_retraction(ev["metadata"]["eventID"]))
    assert resp.status_code == 200 and resp.json()["status"] == "retraction"
    late = post(client, ev)
    assert late.status_code == 200 and late.json()["status"] == "superseded", late.text
    assert service.store.counts()["reports"] == {}


# ----------------------------------------------------------------------------------------- v3.0.0
def test_v300_event_with_words_and_a_long_event_id(client, service):
    resp = post(client, v300("e" * 500))
    assert resp.status_code == 202, resp.text
    assert resp.json()["eventCode"] == "ARRI" and resp.json()["originatingParty"] == "SMDG/LCL:HLCU"
    problem(post(client, v300("e" * 501)), 422, "eventID")
    problem(post(client, v300(classifier="PROBABLY")), 422, "eventClassification.eventClassifier")
    approaching = post(client, v300("approach-1", word="APPROACHING"))
    assert approaching.status_code == 200 and approaching.json()["status"] == "ignored"
    no_update_time = v300("no-update-time")
    del no_update_time["eventUpdatedDateTime"]
    problem(post(client, no_update_time), 422, "eventUpdatedDateTime")


def test_v300_retraction_and_versions(client, service):
    first = post(client, v300("hl-1", updated=NOW - 800))
    assert first.status_code == 202
    digest = first.json()["digest"]
    # an older version arriving late is superseded, never signed
    older = v300("hl-1", updated=NOW - 850, unlocode="DEHAM")
    assert post(client, older).json()["status"] == "superseded"
    # the same version time with another content is a conflict
    problem(post(client, v300("hl-1", updated=NOW - 800, unlocode="DEHAM")), 409, "eventUpdatedDateTime")
    # a newer version: an update intent, not a second signature
    newer = post(client, v300("hl-1", updated=NOW - 700, when=NOW - 1000))
    assert newer.status_code == 202 and newer.json()["status"] == "update", newer.text
    assert newer.json()["intent"]["kind"] == "update" and newer.json()["intent"]["originalDigest"] == digest
    assert service.store.counts()["reports"] == {"signed": 1}  # no second report, no second signature
    # and then the carrier retracts it: the update intent is superseded by the retraction
    retraction = {"eventRouting": v300()["eventRouting"], "eventID": "hl-1", "isRetracted": True,
                  "eventUpdatedDateTime": iso(NOW - 600)}
    resp = post(client, retraction)
    assert resp.status_code == 202 and resp.json()["intent"]["kind"] == "retraction", resp.text
    states = {(i.kind, i.state) for i in service.store.intents()}
    assert states == {("update", "obsolete"), ("retraction", "pending")}
    assert service.store.report(digest).held_reason
    # the same retraction again: a duplicate
    assert post(client, retraction).json()["status"] == "duplicate"


def test_intent_handler_interface(tmp_path):
    """The chain side plugs in a handler; its decisions are stored."""
    svc = b.service_for(tmp_path)
    client = TestClient(create_app(svc))
    post(client, v300("hl-9", updated=NOW - 800))
    post(client, {"eventRouting": v300()["eventRouting"], "eventID": "hl-9", "isRetracted": True,
                  "eventUpdatedDateTime": iso(NOW - 700)})
    seen = []

    class Submitter:
        def handle(self, intent, original, store):
            seen.append((intent.kind, original.digest, intent.reason_hash))
            return IntentDecision("done", "retraction confirmed in 0xabc")

    from tests.support.oracle.stand_ins import NoPeers

    Engine(svc, svc.store, NoPeers(), None, intent_handler=Submitter()).tick()
    assert seen and seen[0][0] == "retraction"
    assert svc.store.intents()[0].state == "done"
    svc.store.close()


def test_originating_party_must_be_the_carriers(tmp_path):
    doc = b.credentials(parties=[{"partyCode": "MAEU", "codeListProvider": "SMDG"}])
    svc = b.service_for(tmp_path, credentials_doc=doc)
    client = TestClient(create_app(svc))
    assert post(client, beta_transport()).status_code == 202
    problem(post(client, beta_transport(carrier="HLCU", ref="HLCU1")), 403, "metadata.publisher")
    problem(post(client, v300()), 403, "eventRouting.originatingParties")
    svc.store.close()


# ----------------------------------------------------------------------------------------- batches
def test_v300_subscriber_endpoint_takes_a_batch(client, service):
    body = {"events": [v300("b-1", unlocode="SGSIN"), v300("b-2", word="APPROACHING"), v300("b-3", unlocode="NLRTM")]}
    resp = post(client, body, path="/events")
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "ignored", "accepted"]
    assert [r["propertyPath"] for r in results] == ["$.events[0]", "$.events[1]", "$.events[2]"]
    assert resp.json()["feedbackElements"][1]["severity"] == "INFO"
    # one bad event: its field is named under its place in the batch, the others are processed
    bad = v300("b-4", unlocode="nlrtm")
    resp = post(client, {"events": [v300("b-5", unlocode="BEANR"), bad]}, path="/events")
    body = problem(resp, 422, "events.1.eventLocation.UNLocationCode")
    assert [r["status"] for r in body["results"]] == ["accepted", "refused"]
    assert post(client, {"events": [v300("b-5", unlocode="BEANR")]}, path="/events").json()["results"][0]["status"] \
        == "duplicate"


def test_beta1_callback_is_a_bare_array(client, service):
    resp = post(client, [beta_transport(), beta_transport(classifier="EST")], path="/events")
    assert resp.status_code == 200 and [r["status"] for r in resp.json()["results"]] == ["accepted", "ignored"]


def test_v22_subscription_callback_with_notification_signature_answers_204(tmp_path):
    from tests.test_oracle_credentials import DCSA_SECRET, SUBSCRIPTION

    doc = b.credentials(subscriptions=[{"id": SUBSCRIPTION, "secrets": [{"base64": DCSA_SECRET}]}])
    svc = b.service_for(tmp_path, credentials_doc=doc)
    client = TestClient(create_app(svc))
    body = json.dumps([transport_event(), v22_shipment("ISSU", document="MAEU240099999")], indent=2).encode()
    resp = client.post("/events", content=body, headers=notification_headers(SUBSCRIPTION, base64.b64decode(DCSA_SECRET),
                                                                             body))
    assert resp.status_code == 204, resp.text
    assert svc.store.counts()["reports"] == {"signed": 2}
    svc.store.close()


def test_batch_limits(client):
    problem(post(client, {"events": [transport_event()] * 201}, path="/events"), 422, "events")
    problem(post(client, {"events": "nope"}, path="/events"), 422, "events")
