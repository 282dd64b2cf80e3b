"""LogisticsOracle: k-of-n EIP-712 reports, every revert by name, governance, retraction, fan-out."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from chain import errors
from chain.contracts import ContractKind
from chain.oracle_client import (SHIPMENT_EVENT_TYPE, LogisticsOracle, ShipmentEvent, sign_typed_data, typed_data,
                                 typed_data_digest)

from .deal_support import (DAY, ORACLES, add_oracle_members, confirm, ensure_money, event, financing, govern,
                           open_deal, oracle, retract, sign)


def test_deployment_configures_two_of_three(net):
    o = oracle(net)
    assert o.operators() == [net.addr(k) for k in ORACLES]
    assert o.threshold() == 2
    assert o.staleness_window() == 3 * DAY
    assert o._call("MAX_OPERATORS") == 16
    # the deal contract is a registered escrow; the oracle itself holds nothing
    reg = net.registry()
    assert reg.is_system_contract(net.deployment.receivable_financing)
    assert not reg.is_system_contract(net.deployment.logistics_oracle)


def test_report_with_two_of_three_confirms_in_one_transaction(net):
    o = oracle(net)
    ev = event(net, "MAEU-240001", "DEPA", "CNSZX")
    assert o.event_digest(ev) == o.local_event_id(ev)
    sigs = sign(net, ev, ("oracle_3", "oracle_1"))
    event_id = o.submit_report(ev, sigs)
    assert event_id == o.local_event_id(ev)
    (log,) = o.events(o.last_receipt, "EventConfirmed")
    assert log["eventId"] == event_id and log["shipmentId"] == ev.shipment_id
    assert log["eventCode"] == b"DEPA" and log["location"] == b"CNSZX"
    assert log["eventTime"] == ev.event_time and log["evidenceHash"] == ev.evidence_hash
    assert log["submitter"] == net.addr("carrier")
    assert log["signers"] == [net.addr("oracle_3"), net.addr("oracle_1")]
    assert o.is_confirmed(ev.shipment_id, "DEPA")
    assert o.confirmed_event(ev.shipment_id, "DEPA") == event_id
    assert not o.is_confirmed(ev.shipment_id, "ARRI")
    assert o.confirmed_event(ev.shipment_id, "ARRI") is None
    rec = o.event_record(event_id)
    assert rec.status == 1 and rec.event_code == "DEPA" and rec.shipment_id == ev.shipment_id
    # all three signatures are fine too
    ev2 = event(net, "MAEU-240001", "ARRI", "NLRTM")
    o.submit_report(ev2, sign(net, ev2, ORACLES))
    assert o.is_confirmed(ev2.shipment_id, "ARRI")


def test_all_attested_codes_accepted_others_rejected(net):
    o = oracle(net)
    for code in ("DEPA", "ARRI", "LOAD", "DISC", "GTIN", "GTOT", "RECE", "CONF", "ISSU", "CUSC", "WHIN", "WHOU"):
        ev = event(net, "MSCU-CODES", code, "SGSIN")
        o.submit_report(ev, sign(net, ev))
        assert o.is_confirmed(ev.shipment_id, code)
    for code in ("XXXX", "depa", "DEP ", "STUF", "\x00\x00\x00\x00"):
        ev = event(net, "MSCU-CODES-2", code, "SGSIN")
        with pytest.raises(errors.InvalidEventCode):
            o.submit_report(ev, sign(net, ev))


def test_malformed_fields_revert(net):
    o = oracle(net)
    for bad_location in ("cnszx", "C1SZX", "CN-SZ", "CNSZ\x00"):
        ev = event(net, "HLCU-1", "LOAD", bad_location)
        with pytest.raises(errors.InvalidLocode):
            o.submit_report(ev, sign(net, ev))
    ev = event(net, "HLCU-1", "LOAD", "CN2ZX")  # digits allowed in the last three
    o.submit_report(ev, sign(net, ev))
    zero_ship = ShipmentEvent(bytes(32), "LOAD", "CNSZX", net.now() - 10, keccak(text="e"))
    with pytest.raises(errors.InvalidShipmentId):
        o.submit_report(zero_ship, sign(net, zero_ship))
    no_evidence = ShipmentEvent(keccak(text="HLCU-2"), "LOAD", "CNSZX", net.now() - 10, bytes(32))
    with pytest.raises(errors.MissingEvidence):
        o.submit_report(no_evidence, sign(net, no_evidence))


def test_fewer_than_k_signatures_revert(net):
    o = oracle(net)
    ev = event(net, "COSU-1")
    with pytest.raises(errors.InsufficientSignatures) as e:
        o.submit_report(ev, sign(net, ev, ("oracle_1",)))
    assert e.value["provided"] == 1 and e.value["required"] == 2
    with pytest.raises(errors.InsufficientSignatures):
        o.submit_report(ev, [])
    assert not o.is_confirmed(ev.shipment_id, "DEPA")


def test_same_signer_twice_reverts(net):
    o = oracle(net)
    ev = event(net, "COSU-2")
    (s1,) = sign(net, ev, ("oracle_1",))
    with pytest.raises(errors.DuplicateSigner) as e:
        o.submit_report(ev, [s1, s1])
    assert e.value["signer"].lower() == net.addr("oracle_1").lower()
    # a second, different-looking signature by the same key (high-s malleated) is rejected as well
    r, s, v = s1[:32], int.from_bytes(s1[32:64], "big"), s1[64]
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    malleated = r + (n - s).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises((errors.InvalidSignature, errors.DuplicateSigner)):
        o.submit_report(ev, [s1, malleated])


def test_non_operator_signers_revert(net):
    o = oracle(net)
    ev = event(net, "COSU-3")
    # a member without the operator seat (the carrier), and a key unknown to the network
    for outsider in (net.keys["carrier"], Account.from_key(keccak(text="random outsider"))):
        sigs = sign(net, ev, ("oracle_1",)) + [o.sign_event(outsider, ev)]
        with pytest.raises(errors.NotOperator) as e:
            o.submit_report(ev, sigs)
        assert e.value["signer"].lower() == outsider.address.lower()


def test_more_signatures_than_operators_revert(net):
    o = oracle(net)
    ev = event(net, "COSU-4")
    sigs = sign(net, ev, ORACLES) + sign(net, ev, ("oracle_1",))
    with pytest.raises(errors.TooManySignatures):
        o.submit_report(ev, sigs)


def test_malformed_signature_reverts(net):
    o = oracle(net)
    ev = event(net, "COSU-5")
    with pytest.raises(errors.InvalidSignature) as e:
        o.submit_report(ev, sign(net, ev, ("oracle_1",)) + [b"\x01" * 10])
    assert e.value["index"] == 1


def test_operator_suspended_in_registry_no_longer_counts(net):
    o = oracle(net)
    reg = net.registry()
    govern(net, [reg.call_suspend(net.addr("oracle_2"), "key compromise under investigation")])
    ev = event(net, "COSU-6")
    with pytest.raises(errors.OperatorNotActive) as e:
        o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_2")))
    assert e.value["operator"].lower() == net.addr("oracle_2").lower()
    o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_3")))


def test_replayed_and_already_confirmed_events_revert(net):
    o = oracle(net)
    ev = event(net, "ONEY-1", "ARRI", "NLRTM")
    sigs = sign(net, ev)
    event_id = o.submit_report(ev, sigs)
    with pytest.raises(errors.EventReplayed) as e:
        o.submit_report(ev, sigs)
    assert e.value["eventId"] == event_id
    # other signers, same content: same eventId, still a replay
    with pytest.raises(errors.EventReplayed):
        o.submit_report(ev, sign(net, ev, ("oracle_2", "oracle_3")))
    # different content for the same (shipment, code) slot: one confirmation per slot
    other = event(net, "ONEY-1", "ARRI", "NLRTM", age=300, evidence="another carrier message")
    with pytest.raises(errors.EventAlreadyConfirmed) as e:
        o.submit_report(other, sign(net, other))
    assert e.value["confirmedEventId"] == event_id


def test_stale_and_future_events_revert(net):
    o = oracle(net)
    window = o.staleness_window()
    skew = o._call("MAX_CLOCK_SKEW")
    old = ShipmentEvent.from_strings("EGLV-1", "GTIN", "CNSHA", net.now() - window - 60, "x")
    with pytest.raises(errors.StaleReport):
        o.submit_report(old, sign(net, old))
    future = ShipmentEvent.from_strings("EGLV-1", "GTIN", "CNSHA", net.now() + skew + 60, "x")
    with pytest.raises(errors.FutureReport):
        o.submit_report(future, sign(net, future))
    # slightly ahead of the block clock is tolerated, and so is an event just inside the window
    ahead = ShipmentEvent.from_strings("EGLV-1", "GTIN", "CNSHA", net.now() + 60, "x")
    o.submit_report(ahead, sign(net, ahead))
    edge = ShipmentEvent.from_strings("EGLV-1", "GTOT", "CNSHA", net.now() - window + 120, "x")
    o.submit_report(edge, sign(net, edge))
    # a signed event goes stale while it waits
    late = event(net, "EGLV-2", "GTIN", "CNSHA", age=60)
    sigs = sign(net, late)
    net.advance_time(window + 1)
    with pytest.raises(errors.StaleReport):
        o.submit_report(late, sigs)


def test_signatures_for_another_chain_or_contract_recover_to_non_operators(net):
    o = oracle(net)
    ev = event(net, "ZIMU-1")
    k1, k2 = net.keys["oracle_1"], net.keys["oracle_2"]
    wrong_chain = typed_data("tradenet LogisticsOracle", net.chain.chain_id + 1, o.address, "ShipmentEvent",
                             _fields(), ev.message())
    with pytest.raises(errors.NotOperator):
        o.submit_report(ev, [sign_typed_data(k1, wrong_chain), sign_typed_data(k2, wrong_chain)])
    other_contract = typed_data("tradenet LogisticsOracle", net.chain.chain_id, net.deployment.fx_rate_store,
                                "ShipmentEvent", _fields(), ev.message())
    with pytest.raises(errors.NotOperator):
        o.submit_report(ev, [sign_typed_data(k1, other_contract), sign_typed_data(k2, other_contract)])
    wrong_name = typed_data("tradenet FxRateStore", net.chain.chain_id, o.address, "ShipmentEvent", _fields(),
                            ev.message())
    with pytest.raises(errors.NotOperator):
        o.submit_report(ev, [sign_typed_data(k1, wrong_name), sign_typed_data(k2, wrong_name)])
    # a signature over different content is a signature by "someone else" too
    tampered = ShipmentEvent(ev.shipment_id, ev.event_code, "USLAX", ev.event_time, ev.evidence_hash)
    with pytest.raises(errors.NotOperator):
        o.submit_report(tampered, sign(net, ev))
    o.submit_report(ev, sign(net, ev))


def _fields():
    return SHIPMENT_EVENT_TYPE


def test_daemon_typed_data_module_agrees_with_the_contract(net):
    """The operator daemon (oracle/typed_data.py, another team) signs the same digest."""
    td = pytest.importorskip("oracle.typed_data")
    o = oracle(net)
    ev = event(net, "CMDU-DAEMON", "CUSC", "NLRTM")
    theirs = td.ShipmentEvent(ev.shipment_id, ev.event_code, ev.location, ev.event_time, ev.evidence_hash)
    assert theirs.as_tuple() == ev.as_tuple()
    assert theirs.message() == ev.message()
    assert td.logistics_domain(net.chain.chain_id, o.address).as_dict() == o.event_typed_data(ev)["domain"]


# ---------------------------------------------------------------------------- governance


def test_operator_set_only_through_governance(net):
    o = oracle(net, "admin_a")
    ops = [net.addr(k) for k in ORACLES]
    for key in ("admin_a", "oracle_1", "carrier"):
        with pytest.raises(errors.NotGovernance):
            oracle(net, key)._tx("setOperators", ops, 1)
        with pytest.raises(errors.NotGovernance):
            oracle(net, key)._tx("setThreshold", 1)
        with pytest.raises(errors.NotGovernance):
            oracle(net, key)._tx("setStalenessWindow", 60)
    assert o.threshold() == 2


def test_invalid_operator_sets_revert(net):
    o = oracle(net)
    ops = [net.addr(k) for k in ORACLES]
    for bad_k in (0, 4):
        with pytest.raises(errors.InvalidOperatorSet):
            govern(net, [o.call_set_operators(ops, bad_k)])
    with pytest.raises(errors.InvalidOperatorSet):
        govern(net, [o.call_set_operators([], 1)])
    with pytest.raises(errors.InvalidOperator):
        govern(net, [o.call_set_operators(ops + [ops[0]], 2)])
    with pytest.raises(errors.InvalidOperator):
        govern(net, [o.call_set_operators(ops + ["0x" + "00" * 20], 2)])
    with pytest.raises(errors.MissingRole):  # the carrier is a member but not an ORACLE
        govern(net, [o.call_set_operators(ops + [net.addr("carrier")], 2)])
    with pytest.raises(errors.NotMember):
        govern(net, [o.call_set_operators(ops + [Account.from_key(keccak(text="nobody")).address], 2)])
    with pytest.raises(errors.InvalidOperatorSet):  # more than MAX_OPERATORS
        govern(net, [o.call_set_operators([Account.from_key(keccak(text=f"op{i}")).address for i in range(17)], 9)])
    with pytest.raises(errors.InvalidOperatorSet):
        govern(net, [o.call_set_threshold(4)])
    for bad in (59, 30 * DAY + 1):
        with pytest.raises(errors.InvalidStalenessWindow):
            govern(net, [o.call_set_staleness_window(bad)])
    assert o.operators() == ops and o.threshold() == 2


def test_reconfigure_to_three_of_five_through_governance(net):
    extra = add_oracle_members(net, 2)
    o = oracle(net)
    ops = [net.addr(k) for k in ORACLES] + [a.address for a in extra]
    version = o._call("operatorSetVersion")
    govern(net, [o.call_set_operators(ops, 3)], "oracle quorum 3 of 5")
    assert o.operators() == ops and o.threshold() == 3
    assert o._call("operatorSetVersion") == version + 1

    ev = event(net, "MAEU-35-1", "LOAD", "CNNGB")
    with pytest.raises(errors.InsufficientSignatures) as e:
        o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_2")))
    assert e.value["required"] == 3
    sigs = [o.sign_event(net.keys["oracle_2"], ev), o.sign_event(extra[0], ev), o.sign_event(extra[1], ev)]
    event_id = o.submit_report(ev, sigs)
    assert o.events(o.last_receipt, "EventConfirmed")[0]["signers"] == [
        net.addr("oracle_2"), extra[0].address, extra[1].address]
    assert o.confirmed_event(ev.shipment_id, "LOAD") == event_id
    # five signatures are fine too; a removed operator no longer counts
    ev2 = event(net, "MAEU-35-1", "DISC", "NLRTM")
    o.submit_report(ev2, sign(net, ev2, ORACLES) + [o.sign_event(a, ev2) for a in extra])
    govern(net, [o.call_set_operators(ops[1:], 3)], "oracle_1 leaves")
    ev3 = event(net, "MAEU-35-1", "GTOT", "NLRTM")
    with pytest.raises(errors.NotOperator):
        o.submit_report(ev3, sign(net, ev3, ("oracle_1", "oracle_2", "oracle_3")))
    # threshold alone, then back to 2-of-n
    govern(net, [o.call_set_threshold(2)])
    o.submit_report(ev3, sign(net, ev3, ("oracle_2", "oracle_3")))


def test_staleness_window_change(net):
    o = oracle(net)
    govern(net, [o.call_set_staleness_window(3600)])
    assert o.staleness_window() == 3600
    ev = event(net, "OOLU-1", age=2 * 3600)
    with pytest.raises(errors.StaleReport):
        o.submit_report(ev, sign(net, ev))


def test_unconfigured_oracle_refuses_reports(net):
    addr, _ = net.chain.deploy("LogisticsOracle", net.keys["admin_a"], net.deployment.registry, 3600)
    fresh = LogisticsOracle(net.chain, addr, net.keys["carrier"])
    assert fresh.threshold() == 0 and fresh.operators() == []
    ev = event(net, "UNCONF-1")
    with pytest.raises(errors.QuorumNotConfigured):
        fresh.submit_report(ev, [fresh.sign_event(net.keys[k], ev) for k in ORACLES[:2]])


# ---------------------------------------------------------------------------- retraction


def test_retraction_clears_the_slot_and_a_corrected_event_can_follow(net):
    o = oracle(net)
    ev = event(net, "MAEU-R-1", "ARRI", "NLRTM")
    event_id = confirm(net, ev)
    receipt = retract(net, event_id, "wrong port")
    (log,) = o.events(receipt, "EventRetracted")
    assert log["eventId"] == event_id and log["reasonHash"] == keccak(text="wrong port")
    assert log["shipmentId"] == ev.shipment_id and log["eventCode"] == b"ARRI"
    assert len(log["signers"]) == 2
    assert not o.is_confirmed(ev.shipment_id, "ARRI")
    assert o.event_record(event_id).status == 2
    # the retracted event can never come back; a corrected one can
    with pytest.raises(errors.EventReplayed):
        o.submit_report(ev, sign(net, ev))
    corrected = event(net, "MAEU-R-1", "ARRI", "BEANR", evidence="corrected")
    new_id = confirm(net, corrected)
    assert o.confirmed_event(ev.shipment_id, "ARRI") == new_id != event_id
    # retracting twice / unknown events
    with pytest.raises(errors.EventNotConfirmed):
        retract(net, event_id)
    with pytest.raises(errors.EventNotConfirmed):
        retract(net, keccak(text="never reported"))


def test_retraction_needs_a_quorum_of_its_own(net):
    o = oracle(net)
    ev = event(net, "MAEU-R-2")
    event_id = confirm(net, ev)
    reason = keccak(text="r")
    with pytest.raises(errors.InsufficientSignatures):
        o.submit_retraction(event_id, reason, [o.sign_retraction(net.keys["oracle_1"], event_id, reason)])
    s1 = o.sign_retraction(net.keys["oracle_1"], event_id, reason)
    with pytest.raises(errors.DuplicateSigner):
        o.submit_retraction(event_id, reason, [s1, s1])
    with pytest.raises(errors.NotOperator):
        o.submit_retraction(event_id, reason, [s1, o.sign_retraction(net.keys["carrier"], event_id, reason)])
    # signatures over the event itself are not a retraction
    with pytest.raises(errors.NotOperator):
        o.submit_retraction(event_id, reason, sign(net, ev))
    # a signature over another reason does not count for this one
    other = keccak(text="other")
    with pytest.raises(errors.NotOperator):
        o.submit_retraction(event_id, reason, [s1, o.sign_retraction(net.keys["oracle_2"], event_id, other)])
    assert o.retraction_digest(event_id, reason) == typed_data_digest(o.retraction_typed_data(event_id, reason))
    assert o.is_confirmed(ev.shipment_id, "DEPA")


# ---------------------------------------------------------------------------- waiters and fan-out


def test_only_registered_escrows_may_wait_and_waitlist_is_bounded(net):
    o = oracle(net)
    ship = keccak(text="WAIT-1")
    for key in ("seller", "lender", "admin_a"):
        with pytest.raises(errors.NotEscrowContract):
            oracle(net, key)._tx("watch", ship, b"DEPA", 1)
    # an EOA registered as escrow stands in for a deal contract here
    reg = net.registry()
    govern(net, [reg.call_set_network_contract(net.addr("lender_b"), ContractKind.ESCROW)])
    w = oracle(net, "lender_b")
    with pytest.raises(errors.InvalidEventCode):
        w._tx("watch", ship, b"NOPE", 1)
    with pytest.raises(errors.InvalidShipmentId):
        w._tx("watch", bytes(32), b"DEPA", 1)
    cap = o._call("MAX_WAITERS_PER_SLOT")
    for ref in range(cap):
        w._tx("watch", ship, b"DEPA", ref)
    with pytest.raises(errors.AlreadyWatching):
        w._tx("watch", ship, b"DEPA", 0)
    with pytest.raises(errors.WaitlistFull):
        w._tx("watch", ship, b"DEPA", cap)
    assert len(o.waiters(ship, "DEPA")) == cap
    w._tx("unwatch", ship, b"DEPA", 3)
    with pytest.raises(errors.NotWatching):
        w._tx("unwatch", ship, b"DEPA", 3)
    w._tx("watch", ship, b"DEPA", cap)
    refs = sorted(r for _, r in o.waiters(ship, "DEPA"))
    assert refs == [r for r in range(cap + 1) if r != 3]
    # a report on a slot whose waiters have no code still lands (they are reported as failed)
    ev = event(net, "WAIT-1")
    confirm(net, ev)
    assert o.is_confirmed(ship, "DEPA")


def test_codeless_waiters_cannot_block_reports_or_retractions(net):
    reg = net.registry()
    govern(net, [reg.call_set_network_contract(net.addr("lender_b"), ContractKind.ESCROW)])
    ev = event(net, "WAIT-2")
    oracle(net, "lender_b")._tx("watch", ev.shipment_id, b"DEPA", 7)
    o = oracle(net)
    event_id = o.submit_report(ev, sign(net, ev))
    (failed,) = o.events(o.last_receipt, "ListenerFailed")
    assert failed["listener"] == net.addr("lender_b") and failed["ref"] == 7
    retract(net, event_id)
    assert not o.is_confirmed(ev.shipment_id, "DEPA")


def test_fan_out_is_capped_and_the_rest_are_poked(net):
    """Nine deals wait for the same departure: the report releases eight in its own transaction
    and defers the ninth, which anyone can poke."""
    ensure_money(net)
    o = oracle(net)
    cap = o._call("MAX_NOTIFY_PER_REPORT")
    reference = "MAEU-FANOUT-1"
    deals = [open_deal(net, face_value=1_000_000, principal=500_000, fee=1_000, reference=reference,
                       shares=(("DEPA", 4000), ("ARRI", 6000))) for _ in range(cap + 1)]
    ev = event(net, reference, "DEPA", "CNSZX")
    event_id = o.submit_report(ev, sign(net, ev))
    receipt = o.last_receipt
    fin = financing(net, "auditor")
    released = fin.events(receipt, "MilestoneReleased")
    assert len(released) == cap
    (deferred,) = o.events(receipt, "ReleasesDeferred")
    assert deferred["notified"] == cap and deferred["waiting"] == cap + 1
    waiting_order = [ref >> 8 for _, ref in o.waiters(ev.shipment_id, "DEPA")]
    seq_to_deal = {fin.deal(d.deal_id).seq: d for d in deals}
    notified = {seq_to_deal[s].deal_id for s in waiting_order[:cap]}
    (left,) = [seq_to_deal[s] for s in waiting_order[cap:]]
    for d in deals:
        ms = fin.milestones(d.deal_id)
        if d.deal_id in notified:
            assert ms[0].status == 1 and ms[0].released_by == event_id
            assert fin.claimable(d.deal_id, net.addr("seller")) == 200_000
        else:
            assert ms[0].status == 0
    assert fin.releasable(left.deal_id) == [0]
    assert fin.poke(left.deal_id) == 1
    assert fin.claimable(left.deal_id, net.addr("seller")) == 200_000
    assert fin.releasable(left.deal_id) == []
    with pytest.raises(errors.NothingToRelease):
        fin.poke(left.deal_id)
    print(f"report releasing {cap} deals in-transaction: {receipt['gasUsed']:,} gas")


def test_report_with_too_little_gas_reverts_instead_of_skipping_releases(net):
    ensure_money(net)
    setup = open_deal(net)
    ev = event(net, setup.reference, "DEPA")
    o = oracle(net)
    with pytest.raises(errors.InsufficientNotificationGas):
        o.submit_report(ev, sign(net, ev), gas=190_000)
    assert not o.is_confirmed(ev.shipment_id, "DEPA")
    assert financing(net).milestones(setup.deal_id)[0].status == 0
    o.submit_report(ev, sign(net, ev))  # estimated gas covers the in-transaction release
    assert financing(net).milestones(setup.deal_id)[0].status == 1
