"""Oracle operators at fault, with real operator processes on the session chain (k = 2 of 3):
one operator down (the other two reach the quorum: tests/test_oracle_e2e.py covers it, and the
operator killed mid-stream), one lying (its signature over another event, presented for this
one, is refused and never counted), one replaying old signatures (refused by the operators and
by the contract: EventReplayed).

oracle_3 is the faulty one: its process is not started; the test speaks for it with its key."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from chain import errors
from chain.clients import ShipmentEvent
from oracle import typed_data as td
from oracle.normalize import normalize_carrier_event
from oracle.samples import transport_event
from tests.support.oracle.harness import carrier_for, cluster, wait_for  # noqa: F401 (fixture)
from tests.support.oracle.onchain import confirmed, oracle

pytestmark = pytest.mark.slow

FAULTY = "oracle_3"


def new_event(code: str = "DEPA", unlocode: str = "CNSZX", age: float = 120) -> dict:
    return transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), code=code, unlocode=unlocode,
                           when=time.time() - age)


def signature_payload(net, message_of: dict, signed: dict, signer: str = FAULTY) -> dict:
    """What operator `signer` posts to /signatures: the message of `message_of`, with a signature
    over `signed` (the same event when honest)."""
    domain = td.logistics_domain(net.w3.eth.chain_id, net.deployment.logistics_oracle)
    claimed = normalize_carrier_event(message_of).struct
    actual = normalize_carrier_event(signed).struct
    sig = td.sign(net.keys[signer], actual, domain)
    return {"kind": claimed.kind, "message": claimed.to_json(), "digest": "0x" + td.digest(claimed, domain).hex(),
            "signer": net.addr(signer), "signature": "0x" + sig.hex(), "from": signer}


def signers_held(op, digest: str) -> set[str]:
    report = httpx.get(f"{op.url}/reports/{digest}", timeout=10).json()
    return {s["signer"].lower() if isinstance(s, dict) else str(s).lower() for s in report["signatures"]}


def chain_event(struct) -> ShipmentEvent:
    return ShipmentEvent(struct.shipment_id, struct.event_code, struct.location, struct.event_time,
                         struct.evidence_hash)


def test_fault_lying_operator_signature_on_another_event_is_refused_and_never_counted(net, cluster):
    cluster.start(["oracle_1"])
    op1 = cluster["oracle_1"]
    honest, other = new_event(), new_event("ARRI", "NLRTM")
    digest = carrier_for(op1).post_event(honest).json()["digest"]

    lie = signature_payload(net, message_of=honest, signed=other)
    r = httpx.post(f"{op1.url}/signatures", json=lie, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == "signature_rejected", r.text
    time.sleep(3)  # past the leader timeout: one honest signature is no quorum
    assert confirmed(net, honest) is None
    assert net.addr(FAULTY).lower() not in signers_held(op1, digest)

    cluster.start(["oracle_2"])  # the second honest operator: 2 of 3
    second = carrier_for(cluster["oracle_2"]).post_event(honest)
    assert second.status_code in (200, 202), second.text
    wait_for(lambda: confirmed(net, honest), 30, what="confirmation by the two honest operators")
    assert net.addr(FAULTY).lower() not in signers_held(op1, digest)


def test_fault_replayed_old_signatures_are_refused_by_operators_and_contract(net, cluster):
    cluster.start(["oracle_1", "oracle_2"])
    op1, op2 = cluster["oracle_1"], cluster["oracle_2"]
    old = new_event(age=600)
    for op in (op1, op2):
        assert carrier_for(op).post_event(old).status_code == 202
    wait_for(lambda: confirmed(net, old), 30, what="the old event confirmed")
    struct = normalize_carrier_event(old).struct
    o = oracle(net)
    old_sigs = [o.sign_event(net.keys[k], chain_event(struct)) for k in ("oracle_1", FAULTY)]

    # the faulty operator replays the old report on chain: the contract refuses it
    with pytest.raises(errors.EventReplayed):
        oracle(net).using(net.keys["oracle_1"]).submit_report(chain_event(struct), old_sigs)

    # and presents its old signature as a signature on a new event (same slot kind, new shipment)
    fresh = new_event()
    digest = carrier_for(op1).post_event(fresh).json()["digest"]
    replay = signature_payload(net, message_of=fresh, signed=old)
    r = httpx.post(f"{op1.url}/signatures", json=replay, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == "signature_rejected", r.text
    assert net.addr(FAULTY).lower() not in signers_held(op1, digest)
    # the honest quorum still confirms the new event, once
    assert carrier_for(op2).post_event(fresh).status_code == 202
    wait_for(lambda: confirmed(net, fresh), 30, what="the new event confirmed by the honest quorum")
