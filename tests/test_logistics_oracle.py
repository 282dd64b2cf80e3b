"""LogisticsOracle: k-of-n EIP-712 reports, one slot per transport call (transshipment),
retraction with a freshness-checked time, the notify list, governance of the operator set; every
revert by name and the review's findings 5 and 12."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import eip712, errors
from chain.clients import LogisticsOracle, Notify, ShipmentEvent, shipment_id
from chain.clients.oracle import event_tag
from chain.vocabulary import EVENT_CODES, ContractKind, EventStatus, MilestoneStatus

from tests.support.deals import (DAY, ORACLES, add_oracle_members, assert_quorum_rules, confirm, deploy_escrow,
                                 engine, ensure_money, event, lens, open_deal, oracle, report, retract, sign,
                                 sign_retraction)
from tests.support.tokens import checksum, govern, govern_fails, outsider, suspend, unchanged

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_deployment_configures_two_of_three(net):
    o = oracle(net)
    assert o.operators() == [net.addr(k) for k in ORACLES]
    assert o.threshold() == 2 and o.staleness_window() == 3 * DAY
    assert o._call("MAX_OPERATORS") == 16 and o._call("MIN_THRESHOLD") == 2
    assert o._call("MAX_NOTIFY_PER_REPORT") == 16 and o._call("NOTIFY_GAS") == 150_000
    reg = net.registry()
    assert reg.contract_kind(net.deployment.deal_engine) == ContractKind.ESCROW  # what reports may call
    assert reg.contract_kind(net.deployment.logistics_oracle) == ContractKind.NONE  # it holds nothing


def test_two_of_three_confirm_one_slot_per_transport_call(net):
    o = oracle(net)
    ev = event(net, "MAEU-240001", "DEPA", "CNSZX")
    assert o.event_digest(ev) == o.local_event_id(ev)
    event_id = o.submit_report(ev, sign(net, ev, ("oracle_3", "oracle_1")))
    assert event_id == o.local_event_id(ev)
    (log,) = o.events(o.last_receipt, "EventConfirmed")
    assert (log["eventId"], log["shipmentId"], log["eventCode"], log["location"]) == (
        event_id, ev.shipment_id, b"DEPA", b"CNSZX")
    assert (log["eventTime"], log["evidenceHash"], log["submitter"]) == (ev.event_time, ev.evidence_hash,
                                                                          net.addr("carrier"))
    assert log["signers"] == [net.addr("oracle_3"), net.addr("oracle_1")]
    assert o.confirmed_tag(ev.shipment_id, "DEPA", "CNSZX") == event_tag(event_id)
    assert o.confirmed_tag(ev.shipment_id, "DEPA", "CNYTN") is None  # another transport call
    assert o.confirmed_calls(ev.shipment_id, "DEPA") == 1 and o.confirmed_calls(ev.shipment_id, "ARRI") == 0
    assert o.event_status(ev) == EventStatus.CONFIRMED and not o.is_retracted(event_id)
    # all three signatures are fine too
    ev2 = event(net, "MAEU-240001", "ARRI", "NLRTM")
    o.submit_report(ev2, sign(net, ev2, ORACLES))
    assert o.confirmed_calls(ev2.shipment_id, "ARRI") == 1


def test_transshipment_confirms_each_leg_in_its_own_slot(net):
    """ARRI at SGSIN and again at NLRTM for one B/L: two slots, two transport calls; a different
    event for a filled slot is refused; retracting one leg frees only its slot."""
    o = oracle(net)
    ref = "MAEU-TRANSSHIP-1"
    sgsin, nlrtm = event(net, ref, "ARRI", "SGSIN"), event(net, ref, "ARRI", "NLRTM")
    sg_id, rtm_id = confirm(net, sgsin), confirm(net, nlrtm)
    ship = shipment_id(ref)
    assert o.confirmed_calls(ship, "ARRI") == 2
    assert (o.confirmed_tag(ship, "ARRI", "SGSIN"), o.confirmed_tag(ship, "ARRI", "NLRTM")) == (
        event_tag(sg_id), event_tag(rtm_id))
    other = event(net, ref, "ARRI", "SGSIN", age=300, evidence="a second message for the Singapore call")
    with unchanged(net, lambda: o.confirmed_calls(ship, "ARRI")):
        with pytest.raises(errors.EventAlreadyConfirmed) as exc:
            o.submit_report(other, sign(net, other))
    err = exc.value
    assert (err["shipmentId"], err["eventCode"], err["location"], err["confirmedEventTag"]) == (
        ship, b"ARRI", b"SGSIN", event_tag(sg_id))
    retract(net, sgsin)
    assert o.confirmed_calls(ship, "ARRI") == 1 and o.confirmed_tag(ship, "ARRI", "SGSIN") is None
    assert o.confirmed_tag(ship, "ARRI", "NLRTM") == event_tag(rtm_id)
    fixed_id = confirm(net, other)  # the freed slot takes the corrected event
    assert o.confirmed_tag(ship, "ARRI", "SGSIN") == event_tag(fixed_id) and o.confirmed_calls(ship, "ARRI") == 2


def test_attested_codes_accepted_others_refused(net):
    o = oracle(net)
    for code in EVENT_CODES:
        assert o.is_event_code(code)
        ev = event(net, "MSCU-CODES", code, "SGSIN")
        o.submit_report(ev, sign(net, ev))
        assert o.confirmed_calls(ev.shipment_id, code) == 1
    for code in ("XXXX", "depa", "DEP ", "STUF", "\x00\x00\x00\x00"):
        assert not o.is_event_code(code)
        ev = event(net, "MSCU-CODES-2", code, "SGSIN")
        with pytest.raises(errors.InvalidEventCode):
            o.submit_report(ev, sign(net, ev))


def test_malformed_fields_are_refused(net):
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
    no_evidence = ShipmentEvent(shipment_id("HLCU-2"), "LOAD", "CNSZX", net.now() - 10, bytes(32))
    with pytest.raises(errors.MissingEvidence):
        o.submit_report(no_evidence, sign(net, no_evidence))


# ---------------------------------------------------------------------------- the quorum


def test_fewer_than_k_signatures_are_refused(net):
    o = oracle(net)
    ev = event(net, "COSU-1")
    with pytest.raises(errors.InsufficientSignatures) as exc:
        o.submit_report(ev, sign(net, ev, ("oracle_1",)))
    assert (exc.value["provided"], exc.value["required"]) == (1, 2)
    with pytest.raises(errors.InsufficientSignatures):
        o.submit_report(ev, [])
    assert o.event_status(ev) == EventStatus.NONE


def test_the_same_operator_twice_is_refused(net):
    o = oracle(net)
    ev = event(net, "COSU-2")
    (s1,) = sign(net, ev, ("oracle_1",))
    with pytest.raises(errors.DuplicateSigner) as exc:
        o.submit_report(ev, [s1, s1])
    assert checksum(exc.value["signer"]) == net.addr("oracle_1")
    # a different-looking signature by the same key (high-s malleated) is refused too
    r, s, v = s1[:32], int.from_bytes(s1[32:64], "big"), s1[64]
    malleated = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises(errors.InvalidSignature):
        o.submit_report(ev, [s1, malleated])


def test_signatures_of_non_operators_are_refused(net):
    o = oracle(net)
    ev = event(net, "COSU-3")
    # a member without the operator seat (the carrier), a non-member, and an ORACLE member that
    # is not in the operator set
    (spare,) = add_oracle_members(net, 1)
    for stranger in (net.keys["carrier"], outsider("oracle-stranger"), spare):
        with pytest.raises(errors.NotOperator) as exc:
            o.submit_report(ev, sign(net, ev, ("oracle_1",)) + [o.sign_event(stranger, ev)])
        assert checksum(exc.value["signer"]) == stranger.address


def test_more_signatures_than_operators_and_malformed_signatures_are_refused(net):
    o = oracle(net)
    ev = event(net, "COSU-4")
    with pytest.raises(errors.TooManySignatures) as exc:
        o.submit_report(ev, sign(net, ev, ORACLES) + sign(net, ev, ("oracle_1",)))
    assert (exc.value["provided"], exc.value["operators"]) == (4, 3)
    for garbage in (b"\x01" * 10, b"\x00" * 65, b""):
        with pytest.raises(errors.InvalidSignature) as exc:
            o.submit_report(ev, sign(net, ev, ("oracle_1",)) + [garbage])
        assert exc.value["index"] == 1


def test_a_suspended_operator_no_longer_counts(net):
    o = oracle(net)
    suspend(net, "oracle_2", "key compromise under investigation")
    ev = event(net, "COSU-6")
    with pytest.raises(errors.OperatorNotActive) as exc:
        o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_2")))
    assert checksum(exc.value["operator"]) == net.addr("oracle_2")
    o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_3")))


def test_replays_are_refused(net):
    o = oracle(net)
    ev = event(net, "ONEY-1", "ARRI", "NLRTM")
    sigs = sign(net, ev)
    event_id = o.submit_report(ev, sigs)
    with pytest.raises(errors.EventReplayed) as exc:
        o.submit_report(ev, sigs)
    assert exc.value["eventId"] == event_id
    with pytest.raises(errors.EventReplayed):  # other signers, same content: the same eventId
        o.submit_report(ev, sign(net, ev, ("oracle_2", "oracle_3")))
    # once retracted, the event can never be confirmed again, although its slot is free
    retract(net, ev)
    assert o.event_status(ev) == EventStatus.RETRACTED and o.is_retracted(event_id)
    with pytest.raises(errors.EventReplayed):
        o.submit_report(ev, sigs)
    assert o.confirmed_tag(ev.shipment_id, "ARRI", "NLRTM") is None


def test_stale_and_future_events_are_refused(net):
    o = oracle(net)
    window, skew = o.staleness_window(), o._call("MAX_CLOCK_SKEW")
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


def _typed(domain_name: str, version: str, chain_id: int, contract: str, ev: ShipmentEvent) -> dict:
    return eip712.typed_data(eip712.Domain(domain_name, version, chain_id, contract), "ShipmentEvent", ev.message())


def test_signatures_for_another_domain_recover_to_non_operators(net):
    o = oracle(net)
    ev = event(net, "ZIMU-1")
    k1, k2 = net.keys["oracle_1"], net.keys["oracle_2"]
    cid = net.chain.chain_id
    for domain in (("tradenet LogisticsOracle", "2", cid + 1, o.address),
                   ("tradenet LogisticsOracle", "2", cid, net.deployment.fx_rate_store),
                   ("tradenet LogisticsOracle", "1", cid, o.address),  # the previous version's types
                   ("tradenet FxRateStore", "2", cid, o.address)):
        msg = _typed(*domain, ev)
        with pytest.raises(errors.NotOperator):
            o.submit_report(ev, [eip712.sign(k1, msg), eip712.sign(k2, msg)])
    # a signature over different content is a signature by "someone else" too
    tampered = ShipmentEvent(ev.shipment_id, ev.event_code, "USLAX", ev.event_time, ev.evidence_hash)
    with pytest.raises(errors.NotOperator):
        o.submit_report(tampered, sign(net, ev))
    assert o.domain_separator() == o.domain().separator()
    o.submit_report(ev, sign(net, ev))


def test_daemon_typed_data_agrees_with_the_contract(net):
    """The operator daemon (oracle/typed_data.py) signs the same digest."""
    td = pytest.importorskip("oracle.typed_data")
    o = oracle(net)
    ev = event(net, "CMDU-DAEMON", "CUSC", "NLRTM")
    theirs = td.ShipmentEvent(ev.shipment_id, ev.event_code, ev.location, ev.event_time, ev.evidence_hash)
    assert theirs.as_tuple() == ev.as_tuple() and theirs.message() == ev.message()
    assert td.logistics_domain(net.chain.chain_id, o.address).as_dict() == o.event_typed_data(ev)["domain"]


# ---------------------------------------------------------------------------- retraction


def test_retraction_frees_the_slot_and_a_corrected_event_may_follow(net):
    o = oracle(net)
    ev = event(net, "MAEU-R-1", "ARRI", "NLRTM")
    event_id = confirm(net, ev)
    at = net.now()
    receipt = retract(net, ev, reason="wrong port", retracted_at=at)
    (log,) = o.events(receipt, "EventRetracted")
    assert (log["eventId"], log["shipmentId"], log["eventCode"], log["location"]) == (
        event_id, ev.shipment_id, b"ARRI", b"NLRTM")
    assert (log["reasonHash"], log["retractedAt"], log["submitter"]) == (keccak(text="wrong port"), at,
                                                                          net.addr("carrier"))
    assert log["signers"] == [net.addr("oracle_1"), net.addr("oracle_2")]
    assert o.confirmed_tag(ev.shipment_id, "ARRI", "NLRTM") is None
    assert o.confirmed_calls(ev.shipment_id, "ARRI") == 0
    corrected = event(net, "MAEU-R-1", "ARRI", "NLRTM", evidence="corrected arrival")
    new_id = confirm(net, corrected)
    assert o.confirmed_tag(ev.shipment_id, "ARRI", "NLRTM") == event_tag(new_id) != event_tag(event_id)
    # retracting again, or an event never confirmed
    with pytest.raises(errors.EventNotConfirmed) as exc:
        retract(net, ev)
    assert exc.value["eventId"] == event_id
    with pytest.raises(errors.EventNotConfirmed):
        retract(net, event(net, "MAEU-R-1", "DEPA"))


def test_retraction_needs_a_quorum_of_its_own(net):
    o = oracle(net)
    ev = event(net, "MAEU-R-2")
    event_id = confirm(net, ev)
    reason, at = keccak(text="r"), net.now()
    s1, s2 = sign_retraction(net, ev, reason, at)
    with pytest.raises(errors.InsufficientSignatures):
        o.submit_retraction(ev, reason, at, [s1])
    with pytest.raises(errors.DuplicateSigner):
        o.submit_retraction(ev, reason, at, [s1, s1])
    with pytest.raises(errors.NotOperator):
        o.submit_retraction(ev, reason, at, [s1, o.sign_retraction(net.keys["carrier"], event_id, reason, at)])
    with pytest.raises(errors.NotOperator):  # signatures over the event are not a retraction
        o.submit_retraction(ev, reason, at, sign(net, ev))
    with pytest.raises(errors.NotOperator):  # another reason, another time
        o.submit_retraction(ev, reason, at, [s1, *sign_retraction(net, ev, keccak(text="other"), at, ("oracle_2",))])
    with pytest.raises(errors.NotOperator):
        o.submit_retraction(ev, reason, at, [s1, *sign_retraction(net, ev, reason, at - 1, ("oracle_2",))])
    assert o.retraction_digest(event_id, reason, at) == eip712.digest(o.retraction_typed_data(event_id, reason, at))
    assert o.event_status(ev) == EventStatus.CONFIRMED
    o.submit_retraction(ev, reason, at, [s2, s1])
    assert o.event_status(ev) == EventStatus.RETRACTED


def test_finding5_retractions_expire_like_reports(net):
    """A retraction signed 40 days earlier (report window: 3 days) is refused (StaleReport); a
    fresh one works; one dated ahead of the clock is refused (FutureReport). (The old retraction
    typed data had no time at all, so an abandoned retraction stayed valid for ever.)"""
    o = oracle(net)
    assert [f["name"] for f in o.retraction_typed_data(bytes(32), bytes(32), 0)["types"]["Retraction"]] == [
        "eventId", "reasonHash", "retractedAt"]
    ev = event(net, "MAEU-R-STALE")
    confirm(net, ev)
    reason, signed_at = keccak(text="abandoned"), net.now()
    abandoned = sign_retraction(net, ev, reason, signed_at)
    net.advance_time(40 * DAY)
    with unchanged(net, lambda: o.event_status(ev)):
        with pytest.raises(errors.StaleReport) as exc:
            oracle(net, "seller_ops").submit_retraction(ev, reason, signed_at, abandoned)
    assert exc.value["observedAt"] == signed_at and exc.value["oldestAllowed"] > signed_at
    skew = o._call("MAX_CLOCK_SKEW")
    with pytest.raises(errors.FutureReport):
        retract(net, ev, retracted_at=net.now() + skew + 60)
    retract(net, ev, retracted_at=net.now() - 60)
    assert o.event_status(ev) == EventStatus.RETRACTED


# ---------------------------------------------------------------------------- the notify list


def test_notify_list_failures_are_logged_never_reverting(net):
    """Named listeners that are not registered escrows, or that revert, are logged as
    ListenerFailed; the report and the retraction go through, and a deal named with them is
    released / undone all the same."""
    ensure_money(net)
    setup = open_deal(net)
    foreign = deploy_escrow(net, "foreign listener")  # a registered escrow without the callbacks
    eng = net.deployment.deal_engine
    notify = [Notify(net.addr("carrier"), 1), Notify(net.deployment.invoice_token, 2), Notify(foreign, 3),
              Notify(eng, setup.deal_id), Notify(eng, 10**9)]  # an unknown deal is simply ignored
    ev = event(net, setup.reference, "DEPA")
    r = report(net, ev, notify)
    event_id = oracle(net).local_event_id(ev)
    failed = [(bytes(f["eventId"]), f["listener"], f["ref"]) for f in oracle(net).events(r, "ListenerFailed")]
    assert failed == [(event_id, net.addr("carrier"), 1), (event_id, net.deployment.invoice_token, 2),
                      (event_id, foreign, 3)]
    assert [x["dealId"] for x in engine(net).events(r, "MilestoneReleased")] == [setup.deal_id]
    r = retract(net, ev, notify)
    assert len(oracle(net).events(r, "ListenerFailed")) == 3
    assert [x["dealId"] for x in engine(net).events(r, "MilestoneReversed")] == [setup.deal_id]
    assert lens(net).milestones(setup.deal_id)[0].status == MilestoneStatus.PENDING


def test_more_than_sixteen_notifications_are_refused(net):
    o = oracle(net)
    ev = event(net, "MAEU-NOTIFY-17")
    seventeen = [Notify(net.deployment.deal_engine, i) for i in range(17)]
    with pytest.raises(errors.TooManyNotifications) as exc:
        o.submit_report(ev, sign(net, ev), seventeen)
    assert (exc.value["named"], exc.value["maximum"]) == (17, 16)
    event_id = o.submit_report(ev, sign(net, ev), seventeen[:16])
    at = net.now()
    sigs = sign_retraction(net, ev, bytes(32), at)
    with pytest.raises(errors.TooManyNotifications):
        o.submit_retraction(ev, bytes(32), at, sigs, seventeen)
    assert o.confirmed_tag(ev.shipment_id, "DEPA", "CNSZX") == event_tag(event_id)


def test_a_report_with_too_little_gas_for_its_listeners_reverts_instead_of_skipping_them(net):
    ensure_money(net)
    setup = open_deal(net)
    o = oracle(net)
    ev = event(net, setup.reference, "DEPA")
    sigs = sign(net, ev)
    bare = net.w3.eth.estimate_gas({"from": net.addr("carrier"), "to": o.address,
                                    "data": o.encode("submitReport", ev.as_tuple(), sigs, [])})
    named = [Notify(net.deployment.deal_engine, setup.deal_id)]
    with pytest.raises(errors.InsufficientNotificationGas) as exc:
        o.submit_report(ev, sigs, named, gas=bare + 60_000)
    assert exc.value["needed"] == 150_000 * 64 // 63 + 30_000
    assert o.event_status(ev) == EventStatus.NONE
    assert lens(net).milestones(setup.deal_id)[0].status == MilestoneStatus.PENDING
    o.submit_report(ev, sigs, named)  # the estimate covers the named listener's stipend
    assert lens(net).milestones(setup.deal_id)[0].status == MilestoneStatus.RELEASED


# ---------------------------------------------------------------------------- governance


def test_operator_set_only_through_governance(net):
    ops = [net.addr(k) for k in ORACLES]
    for key in ("admin_a", "oracle_1", "carrier"):
        o = oracle(net, key)
        for fn, args in (("setOperators", (ops, 2)), ("setThreshold", (2,)), ("setStalenessWindow", (60,))):
            with pytest.raises(errors.NotGovernance):
                o._tx(fn, *args)
    assert oracle(net).threshold() == 2


def test_finding12_k_must_be_at_least_two_and_a_strict_majority(net):
    """k = 1 is refused for any n, and so is any k <= n/2 (InvalidOperatorSet), for setOperators
    and setThreshold. (The old contract allowed 1 <= k <= n.)"""
    assert_quorum_rules(net, oracle(net))


def test_invalid_operator_sets_are_refused(net):
    o = oracle(net)
    ops = [net.addr(k) for k in ORACLES]
    reads = (o.operators, o.threshold)
    govern_fails(net, errors.InvalidOperatorSet, o.call_set_operators([], 2), reads=reads)
    govern_fails(net, errors.InvalidOperator, o.call_set_operators(ops + [ops[0]], 3), reads=reads)
    govern_fails(net, errors.InvalidOperator, o.call_set_operators(ops + ["0x" + "00" * 20], 3), reads=reads)
    govern_fails(net, errors.MissingRole, o.call_set_operators(ops + [net.addr("carrier")], 3), reads=reads)
    govern_fails(net, errors.NotMember, o.call_set_operators(ops + [outsider("op").address], 3), reads=reads)
    many = [outsider(f"op{i}").address for i in range(17)]
    govern_fails(net, errors.InvalidOperatorSet, o.call_set_operators(many, 9), reads=reads)
    for bad in (59, 30 * DAY + 1):
        govern_fails(net, errors.InvalidStalenessWindow, o.call_set_staleness_window(bad), reads=reads)
    assert o.operators() == ops and o.threshold() == 2


def test_reconfigure_to_three_of_five(net):
    extra = add_oracle_members(net, 2)
    o = oracle(net)
    ops = [net.addr(k) for k in ORACLES] + [a.address for a in extra]
    version = o._call("operatorSetVersion")
    govern(net, o.call_set_operators(ops, 3))
    assert o.operators() == ops and o.threshold() == 3 and o._call("operatorSetVersion") == version + 1

    ev = event(net, "MAEU-35-1", "LOAD", "CNNGB")
    with pytest.raises(errors.InsufficientSignatures) as exc:
        o.submit_report(ev, sign(net, ev, ("oracle_1", "oracle_2")))
    assert exc.value["required"] == 3
    sigs = [o.sign_event(net.keys["oracle_2"], ev), o.sign_event(extra[0], ev), o.sign_event(extra[1], ev)]
    o.submit_report(ev, sigs)
    assert o.events(o.last_receipt, "EventConfirmed")[0]["signers"] == [net.addr("oracle_2"), extra[0].address,
                                                                        extra[1].address]
    # a removed operator no longer counts; the threshold alone can change
    govern(net, o.call_set_operators(ops[1:], 3))
    ev3 = event(net, "MAEU-35-1", "GTOT", "NLRTM")
    with pytest.raises(errors.NotOperator):
        o.submit_report(ev3, sign(net, ev3, ("oracle_1", "oracle_2", "oracle_3")))
    govern(net, o.call_set_threshold(4))
    with pytest.raises(errors.InsufficientSignatures):
        o.submit_report(ev3, sign(net, ev3, ("oracle_2", "oracle_3")) + [o.sign_event(extra[0], ev3)])


def test_staleness_window_change(net):
    o = oracle(net)
    govern(net, o.call_set_staleness_window(3600))
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
