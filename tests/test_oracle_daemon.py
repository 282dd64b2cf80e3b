"""Unit tests of the oracle operator daemon (no chain): carrier input validation, HMAC,
persistence before the ack, idempotent replays, conflicting content, EIP-712 signing, peer
signatures, leader rotation and the engine's submission logic against a fake chain."""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from oracle import typed_data as td
from oracle.api import create_app
from oracle.engine import Engine
from oracle.errors import ChainUnavailable, ConfigError
from oracle.hmac_auth import sign_headers
from oracle.leader import rotation, turn_delay
from oracle.normalize import canonical_json, evidence_hash, normalize_carrier_event, shipment_id
from oracle.settings import load_settings
from oracle.store import ReportRow, State, Store
from tests.support.oracle import builders as b
from tests.support.oracle.stand_ins import FakeChain, NoPeers, peer_payload, slot
from oracle.samples import customs_event, equipment_event, fx_observation, iso, transport_event


# ----------------------------------------------------------------------------------------- helpers
@pytest.fixture
def service(tmp_path: Path):
    svc = b.service_for(tmp_path)
    yield svc
    svc.store.close()


@pytest.fixture
def client(service) -> TestClient:
    return TestClient(create_app(service))


def post(client: TestClient, obj: Any, *, path: str = "/carrier-events", source: str = b.CARRIER,
         secret: str = b.CARRIER_SECRET, timestamp: int | None = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None):
    body = raw if raw is not None else canonical_json(obj)
    hdrs = sign_headers(source, secret, body, timestamp) if headers is None else headers
    return client.post(path, content=body, headers=hdrs)


def assert_problem(resp, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status and body["type"].startswith("urn:tradenet:problem:")
    if field is not None:
        assert body.get("field") == field, body
    return body


def rows(db: Path, sql: str) -> list[tuple]:
    """Read the operator's database through an independent sqlite3 connection."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ----------------------------------------------------------------------------------------- validation
def _set(obj: dict, path: str, value: Any) -> dict:
    obj = copy.deepcopy(obj)
    parts = path.split(".")
    cur: Any = obj
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    if value is _DELETE:
        del cur[parts[-1]]
    elif isinstance(cur, list):
        cur[int(parts[-1])] = value
    else:
        cur[parts[-1]] = value
    return obj


_DELETE = object()
NOW = time.time()

INVALID_EVENTS = [
    ("eventID", "not-a-uuid", "eventID"),
    ("eventID", _DELETE, "eventID"),
    ("eventType", "TELEPORT", "eventType"),
    ("eventClassifierCode", "MAYBE", "eventClassifierCode"),
    ("eventDateTime", "2025-01-01T10:00:00", "eventDateTime"),  # no UTC offset
    ("eventDateTime", "yesterday", "eventDateTime"),
    ("eventDateTime", iso(NOW + 86_400), "eventDateTime"),  # an actual event in the future
    ("eventCreatedDateTime", _DELETE, "eventCreatedDateTime"),
    ("eventCreatedDateTime", iso(NOW - 86_400), "eventCreatedDateTime"),  # recorded before it happened
    ("transportEventTypeCode", "DEPT", "transportEventTypeCode"),
    ("transportEventTypeCode", _DELETE, "transportEventTypeCode"),
    ("equipmentEventTypeCode", "LOAD", "equipmentEventTypeCode"),  # belongs to EQUIPMENT events
    ("transportCall.location.UNLocationCode", "Rotterdam", "transportCall.location.UNLocationCode"),
    ("transportCall.location.UNLocationCode", "nlrtm", "transportCall.location.UNLocationCode"),
    ("transportCall.location", _DELETE, "transportCall.location.UNLocationCode"),  # no location at all
    ("transportCall.modeOfTransport", "ROCKET", "transportCall.modeOfTransport"),
    ("documentReferences", _DELETE, "documentReferences"),  # no shipment reference
    ("documentReferences.1.documentReferenceType", "XYZ", "documentReferences.1.documentReferenceType"),
    ("documentReferences.1.documentReferenceValue", "", "documentReferences.1.documentReferenceValue"),
    ("transportDocumentReference", "ANOTHERDOCUMENT", "documentReferences.1.documentReferenceValue"),  # contradicts
    ("transportDocumentReference", "X" * 21, "transportDocumentReference"),
    ("carrierBookingReference", "has space", "carrierBookingReference"),
    ("emptyIndicatorCode", "HALF", "emptyIndicatorCode"),
    ("equipmentReference", "lower-case", "equipmentReference"),
]


@pytest.mark.parametrize("path,value,field", INVALID_EVENTS, ids=[f"{p}={v if v is not _DELETE else 'missing'}"
                                                                    for p, v, _ in INVALID_EVENTS])
def test_invalid_field_is_named_in_a_422_problem(client, service, path, value, field):
    event = _set(transport_event(), path, value)
    resp = post(client, event)
    body = assert_problem(resp, 422, field)
    assert body["detail"]
    assert service.store.counts()["reports"] == {}


def test_equipment_customs_and_warehouse_events_validate(client):
    assert post(client, equipment_event(code="GTIN")).status_code == 202
    assert post(client, customs_event()).status_code == 202
    warehouse = customs_event(reference="MAEU240099999", eventType="WAREHOUSE", warehouseEventTypeCode="WHIN")
    del warehouse["customsEventTypeCode"]
    assert post(client, warehouse).status_code == 202
    bad = customs_event()
    del bad["location"]
    assert_problem(post(client, bad), 422, "location.UNLocationCode")


@pytest.mark.parametrize("raw,detail", [
    (b"{not json", "invalid JSON"),
    (b'{"eventID": "a", "eventID": "b"}', "duplicate key"),
    (b'{"x": NaN}', "NaN"),
    (b"\xff\xfe", "UTF-8"),
])
def test_malformed_json_is_a_400_problem(client, raw, detail):
    body = assert_problem(post(client, None, raw=raw), 400)
    assert detail in body["detail"]


def test_an_array_is_a_batch_of_events(client):
    # an array is a DCSA subscription callback body: its items must be events
    assert "event object" in assert_problem(post(client, None, raw=b"[1, 2]"), 422, "0")["detail"]
    assert_problem(post(client, None, raw=b'"an event"'), 422, "body")


def test_planned_and_non_milestone_events_are_acknowledged_not_signed(client, service):
    planned = post(client, transport_event(classifier="EST"))
    assert planned.status_code == 200 and planned.json()["status"] == "ignored"
    assert "only ACT" in planned.json()["detail"]
    stuffing = post(client, equipment_event(code="STUF"))
    assert stuffing.status_code == 200 and stuffing.json()["status"] == "ignored"
    assert service.store.counts()["reports"] == {}
    assert service.store.counts()["carrier_events"] == {"ignored": 2}


def test_body_size_limit(client):
    event = transport_event(padding="x" * 300_000)
    assert_problem(post(client, event), 413)


# ----------------------------------------------------------------------------------------- HMAC
def test_missing_signature_is_401(client, service):
    body = canonical_json(transport_event())
    resp = client.post("/carrier-events", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(resp, 401, "X-Tradenet-Signature")
    assert "missing" in problem["detail"]
    assert resp.headers["www-authenticate"].startswith("HMAC-SHA256")
    assert service.store.counts()["carrier_events"] == {}


@pytest.mark.parametrize("case", ["wrong-secret", "tampered-body", "unknown-carrier", "bad-scheme",
                                  "missing-timestamp", "missing-carrier"])
def test_bad_signature_is_401(client, service, case):
    event = transport_event()
    body = canonical_json(event)
    headers = sign_headers(b.CARRIER, b.CARRIER_SECRET, body)
    if case == "wrong-secret":
        headers = sign_headers(b.CARRIER, "another-secret-0123456789abcdef", body)
    elif case == "tampered-body":
        body = canonical_json(_set(event, "transportCall.location.UNLocationCode", "NLRTM"))
    elif case == "unknown-carrier":
        headers = sign_headers("pirate-lines", b.CARRIER_SECRET, body)
    elif case == "bad-scheme":
        headers["X-Tradenet-Signature"] = headers["X-Tradenet-Signature"].replace("sha256=", "md5=")
    elif case == "missing-timestamp":
        del headers["X-Tradenet-Timestamp"]
    elif case == "missing-carrier":
        del headers["X-Tradenet-Carrier"]
    assert_problem(client.post("/carrier-events", content=body, headers=headers), 401)
    assert service.store.counts()["carrier_events"] == {}


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_expired_or_future_timestamp_is_401(client, offset):
    resp = post(client, transport_event(), timestamp=int(time.time()) + offset)
    problem = assert_problem(resp, 401, "X-Tradenet-Timestamp")
    assert "window" in problem["detail"]


def test_second_secret_of_a_source_is_accepted_for_rotation(client):
    resp = post(client, fx_observation(), path="/fx-rates", source=b.FX_SOURCE, secret=b.FX_SECRET)
    assert resp.status_code == 202, resp.text


# ----------------------------------------------------------------------------------------- persistence
def test_event_is_persisted_and_signed_before_the_ack(client, service, tmp_path):
    event = transport_event()
    resp = post(client, event)
    assert resp.status_code == 202, resp.text
    ack = resp.json()
    assert ack["status"] == "accepted" and ack["state"] == "signed"
    db = tmp_path / "op1.db"
    stored = rows(db, "select event_id, evidence, canonical, status from carrier_events")
    assert stored == [(event["eventID"], ack["evidenceHash"], canonical_json(event).decode(), "attested")]
    reports = rows(db, "select digest, state, own_signature is not null from reports")
    assert reports == [(ack["digest"], "signed", 1)]
    # our signature is queued for both peers
    assert sorted(rows(db, "select peer from deliveries where delivered_at is null")) == [("op2",), ("op3",)]


def test_no_ack_when_persistence_fails(client, service, monkeypatch):
    def broken(*_: Any, **__: Any):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service.store, "record_carrier_event", broken)
    resp = post(TestClient(client.app, raise_server_exceptions=False), transport_event())
    assert resp.status_code == 500
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_ack_stands_if_signing_fails_and_the_engine_signs_later(client, service, monkeypatch, tmp_path):
    real_sign = td.sign
    monkeypatch.setattr(td, "sign", lambda *a: (_ for _ in ()).throw(RuntimeError("HSM busy")))
    resp = post(client, transport_event())
    assert resp.status_code == 202 and resp.json()["state"] == "accepted"
    monkeypatch.setattr(td, "sign", real_sign)
    engine = Engine(service, service.store, NoPeers(), None)
    engine.tick()
    assert service.store.report(resp.json()["digest"]).state == State.SIGNED


# ----------------------------------------------------------------------------------------- replay / conflict
def test_identical_replay_is_idempotent(client, service):
    event = transport_event()
    first = post(client, event)
    second = post(client, event)
    third = post(client, json.loads(json.dumps(event, indent=2)))  # same content, other formatting
    assert first.status_code == 202
    for again in (second, third):
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
        assert again.json()["digest"] == first.json()["digest"]
    assert service.store.counts()["reports"] == {"signed": 1}
    assert len(service.store.signatures(first.json()["digest"])) == 1


def test_same_event_id_with_different_content_is_409_and_never_signed(client, service):
    event = transport_event()
    first = post(client, event)
    changed = _set(event, "transportCall.location.UNLocationCode", "NLRTM")
    resp = post(client, changed)
    problem = assert_problem(resp, 409, "eventID")
    assert "different content" in problem["detail"]
    assert problem["acceptedEvidence"] == first.json()["evidenceHash"]
    assert service.store.counts()["reports"] == {"signed": 1}


def test_second_content_for_the_same_shipment_code_and_location_is_refused(client, service, caplog):
    first = post(client, transport_event(code="DEPA", unlocode="CNSZX"))
    # new eventID, same (shipment, DEPA, CNSZX), another time: a second content for one slot
    other = transport_event(code="DEPA", unlocode="CNSZX", when=time.time() - 900)
    with caplog.at_level(logging.WARNING):
        resp = post(client, other)
    problem = assert_problem(resp, 409, "eventID")
    assert problem["acceptedDigest"] == first.json()["digest"]
    assert service.store.counts()["reports"] == {"signed": 1}
    status = client.get("/status").json()
    assert status["conflicts"][0]["origin"] == "carrier"
    assert any("refused" in r.message for r in caplog.records)


def test_unique_constraint_guards_one_content_per_subject(service, client):
    post(client, transport_event())
    with pytest.raises(IntegrityError):
        with service.store._sessions.begin() as s:
            existing = s.query(ReportRow).one()
            s.add(ReportRow(kind=existing.kind, subject=existing.subject, digest=existing.digest,
                            state="accepted", created_at=0.0))


def test_state_survives_a_restart(tmp_path):
    svc = b.service_for(tmp_path)
    app = TestClient(create_app(svc))
    event = transport_event()
    digest = post(app, event).json()["digest"]
    svc.store.close()
    again = b.service_for(tmp_path)
    app2 = TestClient(create_app(again))
    resp = post(app2, event)
    assert resp.status_code == 200 and resp.json()["status"] == "duplicate"
    assert again.store.report(digest).state == State.SIGNED
    assert_problem(post(app2, _set(event, "eventDateTime", iso(NOW - 999))), 409)
    again.store.close()


def test_database_of_another_operator_is_refused(tmp_path):
    store = Store(tmp_path / "x.db")
    store.bind_identity({"operator": b.key("op1").address, "chain_id": "1"})
    with pytest.raises(ConfigError):
        store.bind_identity({"operator": b.key("op2").address, "chain_id": "1"})


def test_database_of_the_previous_build_gets_the_new_columns_and_keeps_its_reports(tmp_path, client, service):
    """A database written before slot generations and the keeper: the columns are added in place,
    a report's slot is its subject, and the one-content-per-slot rule still holds."""
    event = transport_event()
    digest = post(client, event).json()["digest"]
    path = service.store.path
    service.store.close()
    con = sqlite3.connect(path)
    con.execute("DROP INDEX ix_reports_slot")
    for column in ("slot", "generation", "retracted_tx", "retracted_block", "notified", "keeper_done"):
        con.execute(f"ALTER TABLE reports DROP COLUMN {column}")
    con.commit()
    con.close()
    store = Store(path)
    report = store.report(digest)
    assert report.slot == report.subject and report.generation == 0 and report.state == State.SIGNED
    assert not report.keeper_done and report.notified is None
    assert store.report_for_subject("shipment", report.subject).digest == digest
    store.close()


# ----------------------------------------------------------------------------------------- signing
def test_retraction_digest_matches_hand_computed_eip712():
    r = td.Retraction(b"\x31" * 32, b"\x32" * 32, 1_735_000_000)
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                                  [domain_type, keccak(text="tradenet LogisticsOracle"), keccak(text="2"), b.CHAIN_ID,
                                   b.ORACLE_ADDRESS]))
    type_hash = keccak(text="Retraction(bytes32 eventId,bytes32 reasonHash,uint64 retractedAt)")
    struct_hash = keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint64"],
                                    [type_hash, r.event_id, r.reason_hash, r.retracted_at]))
    assert td.digest(r, td.logistics_domain(b.CHAIN_ID, b.ORACLE_ADDRESS)) == keccak(b"\x19\x01" + separator + struct_hash)


def _eip712_reference_digest(ev: td.ShipmentEvent, chain_id: int, contract: str) -> bytes:
    """EIP-712 computed by hand (eth_abi + keccak), independent of eth_account."""
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                                  [domain_type, keccak(text="tradenet LogisticsOracle"), keccak(text="2"), chain_id,
                                   contract]))
    type_hash = keccak(text="ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,"
                            "bytes32 evidenceHash)")
    struct_hash = keccak(abi_encode(["bytes32", "bytes32", "bytes4", "bytes5", "uint64", "bytes32"],
                                    [type_hash, ev.shipment_id, ev.event_code.encode(), ev.location.encode(),
                                     ev.event_time, ev.evidence_hash]))
    return keccak(b"\x19\x01" + separator + struct_hash)


def test_digest_matches_hand_computed_eip712():
    ev = td.ShipmentEvent(shipment_id("MAEU240012345"), "DEPA", "CNSZX", 1_735_000_000, b"\x42" * 32)
    ours = td.digest(ev, td.logistics_domain(b.CHAIN_ID, b.ORACLE_ADDRESS))
    assert ours == _eip712_reference_digest(ev, b.CHAIN_ID, b.ORACLE_ADDRESS)


def test_fx_digest_matches_hand_computed_eip712():
    rate = td.FxRate("EUR", "USD", 108_420_000, 1_735_000_000)
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                                  [domain_type, keccak(text="tradenet FxRateStore"), keccak(text="1"), b.CHAIN_ID,
                                   b.FX_ADDRESS]))
    type_hash = keccak(text="FxRate(bytes3 baseCurrency,bytes3 quoteCurrency,uint256 rate,uint64 observedAt)")
    struct_hash = keccak(abi_encode(["bytes32", "bytes3", "bytes3", "uint256", "uint64"],
                                    [type_hash, b"EUR", b"USD", 108_420_000, 1_735_000_000]))
    assert td.digest(rate, td.fx_domain(b.CHAIN_ID, b.FX_ADDRESS)) == keccak(b"\x19\x01" + separator + struct_hash)


def test_signing_is_deterministic_and_recoverable():
    ev = td.ShipmentEvent(shipment_id("MAEU240012345"), "ARRI", "NLRTM", 1_735_000_000, b"\x01" * 32)
    domain = td.logistics_domain(b.CHAIN_ID, b.ORACLE_ADDRESS)
    sig1 = td.sign(b.key("op1"), ev, domain)
    sig2 = td.sign(b.key("op1"), ev, domain)
    assert sig1 == sig2 and len(sig1) == 65 and sig1[64] in (27, 28)
    assert td.recover(ev, domain, sig1) == b.key("op1").address
    other_domain = td.logistics_domain(b.CHAIN_ID + 1, b.ORACLE_ADDRESS)
    assert td.recover(ev, other_domain, sig1) != b.key("op1").address


def test_operators_derive_the_same_struct_from_the_same_event(tmp_path):
    event = transport_event()
    a = normalize_carrier_event(event)
    b2 = normalize_carrier_event(json.loads(json.dumps(event, indent=1, sort_keys=False)))
    assert a.struct == b2.struct
    assert a.struct.shipment_id == keccak(text="MAEU240012345")  # TRD wins over BKG
    assert a.struct.evidence_hash == evidence_hash(event)
    # booking reference is the fallback
    bkg_only = transport_event(documentReferences=[{"documentReferenceType": "BKG",
                                                    "documentReferenceValue": "BKG012345"}])
    assert normalize_carrier_event(bkg_only).struct.shipment_id == keccak(text="BKG012345")


def test_event_time_is_unix_seconds_of_the_offset_time():
    ev = transport_event(eventDateTime="2025-03-01T10:00:00+02:00", eventCreatedDateTime="2025-03-01T08:05:00Z")
    assert normalize_carrier_event(ev).struct.event_time == 1_740_816_000


# ----------------------------------------------------------------------------------------- FX input
@pytest.mark.parametrize("mutation,field", [
    ({"rate": 1.0842}, "rate"),
    ({"rate": "1.123456789"}, "rate"),
    ({"rate": "0"}, "rate"),
    ({"quoteCurrency": "EUR"}, "quoteCurrency"),
    ({"baseCurrency": "eur"}, "baseCurrency"),
    ({"observedAt": "soon"}, "observedAt"),
    ({"observedAt": int(NOW) + 86_400}, "observedAt"),
    ({"unexpected": 1}, "unexpected"),
])
def test_fx_validation(client, mutation, field):
    obs = {**fx_observation(), **mutation}
    assert_problem(post(client, obs, path="/fx-rates", source=b.FX_SOURCE, secret=b.FX_SECRET), 422, field)


def test_fx_rate_accept_replay_conflict(client, service):
    obs = fx_observation(rate="1.0842")
    first = post(client, obs, path="/fx-rates", source=b.FX_SOURCE, secret=b.FX_SECRET)
    assert first.status_code == 202 and first.json()["rate"] == "108420000"
    again = post(client, obs, path="/fx-rates", source=b.FX_SOURCE, secret=b.FX_SECRET)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    changed = post(client, {**obs, "rate": "1.0900"}, path="/fx-rates", source=b.FX_SOURCE, secret=b.FX_SECRET)
    assert_problem(changed, 409)
    assert service.store.counts()["reports"] == {"signed": 1}


# ----------------------------------------------------------------------------------------- peer signatures
def test_peer_signature_is_verified_and_stored(client, service):
    accepted = post(client, transport_event()).json()
    struct = td.struct_from_json("shipment", service.store.report(accepted["digest"]).message)
    resp = client.post("/signatures", json=peer_payload(struct, "op2"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "stored" and body["signatures"] == 2
    assert body["signature"]["signer"] == service.address  # our own comes back to the sender
    assert client.post("/signatures", json=peer_payload(struct, "op2")).json()["status"] == "duplicate"


def test_peer_signature_refusals(client, service):
    struct = td.ShipmentEvent(shipment_id("X1"), "DEPA", "CNSZX", 1_735_000_000, b"\x05" * 32)
    outsider = peer_payload(struct, "mallory")
    assert_problem(client.post("/signatures", json=outsider), 403, "signer")
    forged = peer_payload(struct, "op2", sign_as="op3")
    assert_problem(client.post("/signatures", json=forged), 403, "signature")
    wrong_domain = peer_payload(struct, "op2", domain=td.logistics_domain(1, b.ORACLE_ADDRESS))
    assert_problem(client.post("/signatures", json=wrong_domain), 422, "digest")
    bad_code = peer_payload(struct, "op2")
    bad_code["message"]["eventCode"] = "ZZZZ"
    assert_problem(client.post("/signatures", json=bad_code), 422, "message.eventCode")
    assert_problem(client.post("/signatures", content=b"nope"), 400)
    assert service.store.counts()["reports"] == {}


def test_peer_signing_a_different_digest_is_a_logged_conflict(client, service, caplog):
    accepted = post(client, transport_event(unlocode="CNSZX")).json()
    ours = td.struct_from_json("shipment", service.store.report(accepted["digest"]).message)
    # the same (shipment, code, location) with another time: a second content for our subject
    lie = td.ShipmentEvent(ours.shipment_id, ours.event_code, ours.location, ours.event_time - 60, ours.evidence_hash)
    with caplog.at_level(logging.WARNING, logger="oracle.service"):
        resp = client.post("/signatures", json=peer_payload(lie, "op3"))
    assert resp.status_code == 200 and resp.json()["conflict"] is True
    lie_digest = resp.json()["digest"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(accepted["digest"] in w and lie_digest in w for w in warnings), warnings
    status = client.get("/status").json()
    conflict = status["conflicts"][0]
    assert conflict["held_digest"] == accepted["digest"] and conflict["other_digest"] == lie_digest
    assert conflict["signer"] == b.key("op3").address
    assert status["reports"][0]["conflicted"] is True
    # our report still only counts signatures over OUR digest
    assert set(service.store.signatures(accepted["digest"])) == {service.address}


# ----------------------------------------------------------------------------------------- leader rotation
def test_rotation_is_deterministic_and_spreads_leaders():
    ops = [b.key(n).address for n in ("op1", "op2", "op3")]
    leaders = set()
    for i in range(30):
        digest = "0x" + keccak(text=str(i)).hex()
        rot = rotation(digest, ops)
        assert rot == rotation(digest, list(reversed(ops)))  # independent of input order
        assert sorted(rot) == sorted(ops)
        leaders.add(rot[0])
        delays = sorted(turn_delay(digest, ops, o, 5.0) for o in ops)
        assert delays == [0.0, 5.0, 10.0]
    assert leaders == set(ops)
    assert turn_delay("0x01", ops, b.key("mallory").address, 5.0) is None


# ----------------------------------------------------------------------------------------- engine, fake chain
def _engine_with_quorum(tmp_path: Path, name: str, fake: FakeChain, *, leader_timeout: float = 0.2,
                        event: dict | None = None):
    svc = b.service_for(tmp_path, name, leader_timeout_seconds=leader_timeout, confirm_poll_seconds=0.01)
    client = TestClient(create_app(svc))
    digest = post(client, event or transport_event()).json()["digest"]
    struct = td.struct_from_json("shipment", svc.store.report(digest).message)
    other = "op2" if name != "op2" else "op3"
    client.post("/signatures", json=peer_payload(struct, other))
    engine = Engine(svc, svc.store, NoPeers(), fake)
    engine.refresh_operator_sets(force=True)
    return svc, engine, digest


def _leader_for(digest: str, ops: tuple[str, ...]) -> str:
    return rotation(digest, ops)[0]


def test_engine_leader_submits_once_and_confirms(tmp_path):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops)
    event = transport_event()  # the same carrier event reached all three operators
    for name in ("op1", "op2", "op3"):
        svc, engine, digest = _engine_with_quorum(tmp_path / name, name, fake, leader_timeout=30, event=event)
        engine.tick()
        report = svc.store.report(digest)
        if _leader_for(digest, ops) == svc.address:
            assert report.state == State.CONFIRMED and report.submissions == 1
            assert report.tx_hash
            break
        # not the leader: quorum is recorded, nothing submitted before the fallback delay
        assert report.state == State.QUORUM and fake.submissions == []
        svc.store.close()
    else:
        pytest.fail("no operator was the leader")
    assert fake.submissions == [(td.struct_from_json("shipment", report.message).subject, 2)]


def test_engine_fallback_submits_after_timeout_and_never_resubmits_confirmed(tmp_path):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops)
    svc, engine, digest = _engine_with_quorum(tmp_path, "op1", fake, leader_timeout=0.2)
    delay = turn_delay(digest, ops, svc.address, 0.2)
    deadline = time.time() + 2
    while svc.store.report(digest).state != State.CONFIRMED and time.time() < deadline:
        engine.tick()
        time.sleep(0.05)
    assert svc.store.report(digest).state == State.CONFIRMED
    assert len(fake.submissions) == 1
    if delay:
        assert svc.store.report(digest).quorum_at is not None
    # a restarted engine over the same DB checks the chain first and never submits again
    svc.store.update_report(digest, state=State.QUORUM)
    Engine(svc, svc.store, NoPeers(), fake).tick()
    assert len(fake.submissions) == 1 and svc.store.report(digest).state == State.CONFIRMED


@pytest.mark.parametrize("stop", ["killed after sending", "receipt timed out"])
def test_a_submission_whose_outcome_was_lost_is_counted_from_the_chain_and_never_resent(tmp_path, stop):
    """The operator sent its report and never heard back (the process was killed between sending
    and recording, or the receipt did not come): the EventConfirmed log names it the submitter,
    so it counts that one transaction as its own, names it, and sends nothing more (seen in CI:
    three operators' counts summed to 5 for 6 events after a kill mid-stream)."""
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops, lost_by=b.key("op1").address)
    svc, engine, digest = _engine_with_quorum(tmp_path, "op1", fake)
    report = svc.store.report(digest)
    with pytest.raises(ChainUnavailable):
        engine.submit(report, td.struct_from_json("shipment", report.message), svc.store.signatures(digest), 2, 0.0)
    assert svc.store.report(digest).submissions == 0 and svc.store.report(digest).attempts == 1
    if stop == "killed after sending":
        svc.store.update_report(digest, state=State.SUBMITTED)  # what the row holds when the process dies
    fake.lost_by = None
    restarted = Engine(svc, svc.store, NoPeers(), fake)
    restarted.refresh_operator_sets(force=True)
    restarted.tick()
    final = svc.store.report(digest)
    assert final.state == State.CONFIRMED and final.submissions == 1 and final.confirmed_by == svc.address
    assert final.tx_hash == "0x" + "1d" * 32 and len(fake.submissions) == 1
    assert svc.status()["counts"]["submissions"] == 1


def test_a_lost_submission_confirmed_by_another_operator_is_not_counted_as_ours(tmp_path, monkeypatch):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops)
    svc, engine, digest = _engine_with_quorum(tmp_path, "op1", fake)
    report = svc.store.report(digest)
    struct = td.struct_from_json("shipment", report.message)

    def never_mined(*_a, **_k):
        raise ChainUnavailable("connection reset")

    monkeypatch.setattr(fake, "submit_shipment", never_mined)
    with pytest.raises(ChainUnavailable):
        engine.submit(report, struct, svc.store.signatures(digest), 2, 0.0)
    fake.confirm(struct, tx_hash="0x" + "c2" * 32, submitter=b.key("op2").address)
    engine.tick()
    final = svc.store.report(digest)
    assert final.state == State.CONFIRMED and final.attempts == 1
    assert final.submissions == 0 and final.confirmed_by is None and final.tx_hash == "0x" + "c2" * 32


def test_engine_treats_already_confirmed_revert_as_success(tmp_path, monkeypatch):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops, race_error="EventAlreadyConfirmed")
    svc, engine, digest = _engine_with_quorum(tmp_path, "op1", fake, leader_timeout=0.0001)
    report = svc.store.report(digest)
    struct = td.struct_from_json("shipment", report.message)
    real_check = engine.check_final
    calls = []

    def racy_check(r, s):  # the race: not yet confirmed when checked before submitting
        calls.append(r.digest)
        return False if len(calls) == 1 else real_check(r, s)

    monkeypatch.setattr(engine, "check_final", racy_check)
    engine.submit(report, struct, svc.store.signatures(digest), 2, 0.0)
    final = svc.store.report(digest)
    assert final.state == State.CONFIRMED and final.last_error is None
    assert len(fake.submissions) == 1


def test_engine_marks_conflict_when_chain_confirmed_other_content(tmp_path):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops)
    svc, engine, digest = _engine_with_quorum(tmp_path, "op1", fake)
    struct = td.struct_from_json("shipment", svc.store.report(digest).message)
    fake.slots[slot(struct)] = b"\x99" * 32  # another event fills the slot
    engine.tick()
    assert svc.store.report(digest).state == State.CONFLICT
    assert fake.submissions == []
    assert svc.status()["conflicts"][0]["origin"] == "chain"


def test_no_quorum_without_k_agreeing_signatures(tmp_path):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops)
    svc = b.service_for(tmp_path, leader_timeout_seconds=0.0001)
    client = TestClient(create_app(svc))
    digest = post(client, transport_event()).json()["digest"]
    ours = td.struct_from_json("shipment", svc.store.report(digest).message)
    lie = td.ShipmentEvent(ours.shipment_id, ours.event_code, ours.location, ours.event_time + 1, ours.evidence_hash)
    client.post("/signatures", json=peer_payload(lie, "op2"))
    engine = Engine(svc, svc.store, NoPeers(), fake)
    engine.refresh_operator_sets(force=True)
    for _ in range(3):
        engine.tick()
    assert svc.store.report(digest).state == State.SIGNED and fake.submissions == []


def test_report_that_can_no_longer_be_accepted_stops_being_polled(tmp_path):
    ops = tuple(b.key(n).address for n in ("op1", "op2", "op3"))
    fake = FakeChain(ops, staleness_window=3600)
    svc = b.service_for(tmp_path)
    client = TestClient(create_app(svc))
    digest = post(client, transport_event(when=time.time() - 2 * 3600)).json()["digest"]
    engine = Engine(svc, svc.store, NoPeers(), fake)
    engine.refresh_operator_sets(force=True)
    engine.tick()
    report = svc.store.report(digest)
    assert report.state == State.REJECTED and "stale" in report.last_error
    assert fake.submissions == []


# ----------------------------------------------------------------------------------------- settings
def test_settings_file_resolves_relative_paths(tmp_path):
    cfg = tmp_path / "op.json"
    b.write_secrets(tmp_path / "s.json")
    cfg.write_text(json.dumps({
        "name": "op1", "listen": {"port": 9999}, "db_path": "state/op1.db",
        "key": {"keystore_dir": "ks", "name": "op1"},
        "chain": {"rpc_url": "http://127.0.0.1:8545", "logistics_oracle": b.ORACLE_ADDRESS},
        "credentials_file": "s.json",
    }))
    s = load_settings(cfg)
    assert s.db_path == tmp_path / "state" / "op1.db" and s.key.keystore_dir == tmp_path / "ks"
    cfg.write_text(json.dumps({"name": "op1"}))
    with pytest.raises(ConfigError, match="listen"):
        load_settings(cfg)


def test_status_endpoint(client, service):
    post(client, transport_event())
    status = client.get("/status").json()
    assert status["operator"] == "op1" and status["address"] == service.address
    assert status["counts"]["reports"] == {"signed": 1}
    assert status["domains"]["shipment"]["name"] == "tradenet LogisticsOracle"
    assert set(status["peers"]) == {"op2", "op3"} and status["peers"]["op2"]["pending"] == 1
    assert client.get("/healthz").json()["ok"] is True
    assert_problem(client.get("/reports/0x00"), 404)
    assert_problem(client.get("/nowhere"), 404)


# ----------------------------------------------------------------------------------------- replay feed, CLI
def test_replay_file_feeds_the_same_intake(service, tmp_path):
    from oracle.feed import replay_file

    events = [transport_event(code="DEPA"), transport_event(code="ARRI", unlocode="NLRTM"),
              transport_event(classifier="PLN", code="ARRI", unlocode="DEHAM")]
    bad = transport_event(code="DEPA", unlocode="nope")
    path = tmp_path / "events.jsonl"
    path.write_text("# carrier replay\n" + "\n".join(json.dumps(e) for e in [*events, bad, events[0]]) + "\n\n")
    counts = replay_file(path, service.ingest_carrier_event, "replay-file")
    assert counts == {"accepted": 2, "ignored": 1, "refused": 1, "duplicate": 1}
    # replaying again (a restart) signs nothing new; an ignored event is answered as a duplicate
    assert replay_file(path, service.ingest_carrier_event, "replay-file") == {"duplicate": 4, "refused": 1}
    assert service.store.counts()["reports"] == {"signed": 2}
    fx = tmp_path / "fx.jsonl"
    fx.write_text(json.dumps(fx_observation()) + "\n")
    assert replay_file(fx, service.ingest_fx_rate, "replay-file") == {"accepted": 1}


def test_digest_agrees_with_the_chain_client():
    """Our EIP-712 struct and the chain client's (used by the contract tests) give one digest."""
    from chain import eip712
    from chain.vocabulary import FX_RATE_STORE_DOMAIN, LOGISTICS_ORACLE_DOMAIN

    ev = td.ShipmentEvent(shipment_id("MAEU240012345"), "GTOT", "NLRTM", 1_735_000_000, b"\x07" * 32)
    theirs = eip712.digest(eip712.typed_data(eip712.Domain.of(LOGISTICS_ORACLE_DOMAIN, b.CHAIN_ID, b.ORACLE_ADDRESS),
                                             "ShipmentEvent", ev.message()))
    assert td.digest(ev, td.logistics_domain(b.CHAIN_ID, b.ORACLE_ADDRESS)) == theirs
    rate = td.FxRate("USD", "CNY", 712_345_678, 1_735_000_000)
    theirs = eip712.digest(eip712.typed_data(eip712.Domain.of(FX_RATE_STORE_DOMAIN, b.CHAIN_ID, b.FX_ADDRESS),
                                             "FxRate", rate.message()))
    assert td.digest(rate, td.fx_domain(b.CHAIN_ID, b.FX_ADDRESS)) == theirs


def test_daemon_cli_refuses_a_bad_config(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "op.json"
    cfg.write_text(json.dumps({"name": "op1", "listen": {"port": 0}}))
    proc = subprocess.run([sys.executable, "-m", "oracle.daemon", "--config", str(cfg)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    assert "listen.port" in proc.stderr
