"""Retractions and updates carried to the chain (``oracle.intents``), on a stand-in chain: who
proposes a retraction and which proposals an operator signs, the k-of-n retraction report, the
update's replacement signed only once the original is retracted (never two live contents in one
slot), a corrected event in a freed slot, and conflicts that are not conflicts."""

from __future__ import annotations

import time

import pytest

from oracle import typed_data as td
from oracle.errors import ContentConflict
from oracle.leader import rotation
from oracle.samples import v3_retraction, v3_transport_event
from oracle.store import State
from tests.support.oracle import builders as b
from tests.support.oracle.stand_ins import (FakeChain, add_signature, carrier_status, operator_on, peer_payload,
                                            post_event, run_until, slot)


def confirmed_event(tmp_path, chain: FakeChain, *, leader_timeout: float = 0.0001, not_leader: bool = False,
                    **event_kw):
    """op1 with one v3 event confirmed on chain (by another operator); with `not_leader`, an
    event whose retraction op1 does not propose first."""
    svc, client, engine = operator_on(tmp_path, chain, leader_timeout_seconds=leader_timeout)
    for attempt in range(100):
        another = {"reference": f"OCLU24{attempt:07d}"} if attempt else {}  # a retry: another shipment
        event = v3_transport_event(**{"when": time.time() - 600, **another, **event_kw})
        answer = post_event(client, event)
        if not not_leader or rotation(answer["digest"], chain.operators)[0] != svc.address:
            break
    digest = answer["digest"]
    struct = td.struct_from_json("shipment", svc.store.report(digest).message)
    chain.confirm(struct)
    assert run_until(engine, svc, digest, lambda r: r.state == State.CONFIRMED).state == State.CONFIRMED
    return svc, client, engine, event, struct, digest


def proposals(svc, event_id: str):
    return svc.store.reports_for_slot("retraction", event_id)


def test_retraction_of_a_confirmed_event_is_proposed_signed_by_k_and_submitted(tmp_path):
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain)
    retraction = v3_retraction(event)
    answer = post_event(client, retraction)
    assert answer["status"] == "retraction" and answer["intent"]["originalDigest"] == digest
    for _ in range(5):
        engine.tick()
        time.sleep(0.001)
    [mine] = proposals(svc, digest)
    proposal = td.Retraction.from_json(mine.message)
    assert proposal.retracted_at == chain.now  # fresh by the chain's clock
    assert "0x" + proposal.reason_hash.hex() == answer["evidenceHash"]  # the carrier's retracting message
    assert mine.own_signature and chain.submissions == []  # one signature: no quorum yet
    add_signature(svc, client, mine.digest, "op3")
    run_until(engine, svc, mine.digest, lambda r: r.state == State.CONFIRMED)
    assert chain.submissions == [("0x" + digest[2:], 2)] and slot(struct) not in chain.slots
    original = svc.store.report(digest)
    assert original.state == State.RETRACTED and original.retracted_tx == chain.retracted[bytes.fromhex(digest[2:])].tx_hash
    engine.tick()
    [intent] = svc.store.intents()
    assert intent.state == "done" and original.retracted_tx in intent.detail
    view = carrier_status(client, event["eventID"]).json()["records"]
    assert view[0]["report"]["chain"]["status"] == "retracted"
    assert view[0]["report"]["chain"]["retraction"]["reports"][0]["signedBy"] == sorted(
        [svc.address, b.key("op3").address])
    svc.store.close()


def test_a_retraction_sent_before_a_stop_is_counted_as_ours_once_learnt_from_the_chain(tmp_path):
    """The retraction mined but its sender stopped before recording it: the EventRetracted log
    names this operator the submitter; its proposal is confirmed with one submission, no resend."""
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain)
    post_event(client, v3_retraction(event))
    for _ in range(5):
        engine.tick()
        time.sleep(0.001)
    [mine] = proposals(svc, digest)
    add_signature(svc, client, mine.digest, "op3")
    chain.lost_by = svc.address
    for _ in range(5):
        engine.tick()
        if chain.submissions:
            break
        time.sleep(0.001)
    assert len(chain.submissions) == 1 and svc.store.report(mine.digest).submissions == 0
    chain.lost_by = None
    svc.store.update_report(mine.digest, state=State.SUBMITTED)  # the row as the stop left it
    run_until(engine, svc, mine.digest, lambda r: r.state == State.CONFIRMED)
    proposal = svc.store.report(mine.digest)
    assert proposal.submissions == 1 and proposal.confirmed_by == svc.address
    assert proposal.tx_hash == chain.retracted[bytes.fromhex(digest[2:])].tx_hash
    assert svc.store.report(digest).state == State.RETRACTED and len(chain.submissions) == 1
    svc.store.close()


def test_an_operator_signs_only_fresh_proposals_of_the_retraction_the_carrier_sent_it(tmp_path):
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain, leader_timeout=3600,
                                                                 not_leader=True)
    event_id = bytes.fromhex(digest[2:])
    answer = post_event(client, v3_retraction(event))
    reason = bytes.fromhex(answer["evidenceHash"][2:])
    other_reason = td.Retraction(event_id, b"\x07" * 32, chain.now)
    stale = td.Retraction(event_id, reason, chain.now - chain.staleness_window)
    ahead = td.Retraction(event_id, reason, chain.now + 3600)
    for bad in (other_reason, stale, ahead):
        client.post("/signatures", json=peer_payload(bad, "op2"))
    engine.tick()
    assert proposals(svc, digest) == []  # none signed; op1 waits for the rotation's first operator
    assert "to propose the retraction" in svc.store.intents()[0].detail
    good = td.Retraction(event_id, reason, chain.now - 10)
    client.post("/signatures", json=peer_payload(good, "op2"))
    engine.tick()
    [mine] = proposals(svc, digest)
    assert mine.digest == "0x" + td.digest(good, b.domains()["shipment"]).hex() and mine.own_signature
    chain.retract(struct, reason)  # submitted by the proposer, whose turn it is
    engine.tick()
    assert svc.store.report(mine.digest).state == State.CONFIRMED
    assert svc.store.report(digest).state == State.RETRACTED and chain.submissions == []
    svc.store.close()


def test_no_retraction_is_signed_without_the_carriers_message(tmp_path):
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain)
    proposal = td.Retraction(bytes.fromhex(digest[2:]), b"\x05" * 32, chain.now)
    assert client.post("/signatures", json=peer_payload(proposal, "op2")).json()["status"] == "stored"
    for _ in range(3):
        engine.tick()
    assert proposals(svc, digest) == [] and svc.store.report(digest).state == State.CONFIRMED
    # the retraction submitted by the others is learnt from the chain's logs all the same
    chain.retract(struct)
    engine.tick()
    assert svc.store.report(digest).state == State.RETRACTED
    svc.store.close()


def test_an_event_confirmed_and_retracted_by_others_shows_both_transactions(tmp_path):
    """The operator learns of the retraction before it has looked at the confirmation (another
    operator submitted both): the carrier's view still names the confirming transaction."""
    chain = FakeChain()
    svc, client, engine = operator_on(tmp_path, chain)
    event = v3_transport_event(when=time.time() - 600)
    digest = post_event(client, event)["digest"]
    struct = td.struct_from_json("shipment", svc.store.report(digest).message)
    chain.confirm(struct, tx_hash="0x" + "c1" * 32)
    retraction = chain.retract(struct)
    engine.scan_retractions(force=True)
    report = svc.store.report(digest)
    assert report.state == State.RETRACTED and report.retracted_tx == retraction.tx_hash
    chain_view = carrier_status(client, event["eventID"]).json()["records"][0]["report"]["chain"]
    assert chain_view["status"] == "retracted" and chain_view["txHash"] == "0x" + "c1" * 32
    assert chain_view["blockNumber"] == chain.confirmations[bytes.fromhex(digest[2:])].block_number
    assert chain_view["retraction"]["txHash"] == retraction.tx_hash
    svc.store.close()


def test_retraction_before_confirmation_holds_the_report_and_retracts_it_if_another_confirms(tmp_path):
    chain = FakeChain()
    svc, client, engine = operator_on(tmp_path, chain)
    event = v3_transport_event(when=time.time() - 600)
    digest = post_event(client, event)["digest"]
    post_event(client, v3_retraction(event))
    add_signature(svc, client, digest, "op2")
    for _ in range(3):
        engine.tick()
    assert chain.submissions == [] and svc.store.report(digest).held_reason
    assert "waiting for the on-chain retraction" in svc.store.intents()[0].detail
    chain.confirm(td.struct_from_json("shipment", svc.store.report(digest).message))  # an operator not told
    for _ in range(5):
        engine.tick()
        time.sleep(0.001)
    [mine] = proposals(svc, digest)
    add_signature(svc, client, mine.digest, "op2")
    run_until(engine, svc, mine.digest, lambda r: r.state == State.CONFIRMED)
    assert svc.store.report(digest).state == State.RETRACTED
    svc.store.close()


def test_update_signs_the_replacement_only_once_the_original_is_retracted(tmp_path):
    chain = FakeChain()
    t1 = time.time() - 900
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain, when=t1, updated=t1 + 60)
    newer = v3_transport_event(when=t1 + 120, updated=t1 + 300, event_id=event["eventID"])
    answer = post_event(client, newer)
    assert answer["status"] == "update"
    replacement = answer["intent"]["replacementDigest"]
    for _ in range(5):
        engine.tick()
        time.sleep(0.001)
    # the original is still confirmed: the newer content of the same slot is not signed
    assert svc.store.report(replacement) is None
    with pytest.raises(ContentConflict):
        svc.store.create_report(kind="shipment", slot=struct.subject, digest=replacement, message={}, label="x")
    [mine] = proposals(svc, digest)
    add_signature(svc, client, mine.digest, "op2")
    run_until(engine, svc, mine.digest, lambda r: r.state == State.CONFIRMED)
    engine.tick()
    rep = svc.store.report(replacement)
    assert rep.own_signature and rep.generation == 1 and rep.slot == struct.subject
    assert svc.store.report(digest).state == State.RETRACTED
    add_signature(svc, client, replacement, "op2")
    run_until(engine, svc, replacement, lambda r: r.state == State.CONFIRMED)
    engine.tick()
    [intent] = svc.store.intents()
    assert intent.state == "done" and "newer version is confirmed" in intent.detail
    assert chain.slots[slot(struct)] == bytes.fromhex(replacement[2:])
    assert svc.status()["conflicts"] == []
    records = carrier_status(client, event["eventID"]).json()["records"]
    assert [r["status"] for r in records] == ["attested", "update"]
    assert records[1]["report"]["chain"]["status"] == "confirmed"
    svc.store.close()


def test_update_of_an_unconfirmed_event_does_not_hold_it(tmp_path):
    chain = FakeChain()
    svc, client, engine = operator_on(tmp_path, chain)
    t1 = time.time() - 900
    event = v3_transport_event(when=t1, updated=t1 + 60)
    digest = post_event(client, event)["digest"]
    post_event(client, v3_transport_event(when=t1 + 30, updated=t1 + 300, event_id=event["eventID"]))
    assert svc.store.report(digest).held_reason is None  # it goes to the chain, then is retracted and replaced
    add_signature(svc, client, digest, "op2")
    assert run_until(engine, svc, digest, lambda r: r.state == State.CONFIRMED).state == State.CONFIRMED
    svc.store.close()


def test_a_corrected_event_takes_a_slot_freed_by_a_retraction(tmp_path):
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain)
    corrected = v3_transport_event(when=time.time() - 300)  # another eventID, same slot
    assert post_event(client, corrected, expect=409)["field"] == "eventID"  # the slot is live
    chain.retract(struct)
    engine.tick()
    answer = post_event(client, corrected)
    assert answer["status"] == "accepted"
    assert svc.store.report(answer["digest"]).generation == 1
    svc.store.close()


def test_a_peers_content_for_a_settled_slot_is_no_conflict(tmp_path):
    chain = FakeChain()
    svc, client, engine, event, struct, digest = confirmed_event(tmp_path, chain)
    newer = td.ShipmentEvent(struct.shipment_id, struct.event_code, struct.location, struct.event_time + 60,
                             b"\x09" * 32)
    assert client.post("/signatures", json=peer_payload(newer, "op2")).json()["conflict"] is False
    assert svc.status()["conflicts"] == []
    svc.store.close()
