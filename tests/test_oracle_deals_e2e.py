"""End to end with deals (issue 12 items 2 and 3): three real operator processes, the deployed
LogisticsOracle v2 and DealEngine on the session anvil (k = 2).

- a report names the deals waiting on the shipment (at most 16) and releases them in its own
  transaction; the submitter pokes the others;
- a transshipment (ARRI at SGSIN, then at NLRTM, one B/L) releases the milestone of the right leg;
- a carrier's v3 retraction of a confirmed event is signed k-of-n and submitted: it undoes the
  release of a deal whose borrower has not withdrawn and records Contested the one that was;
- a v3 update (same eventID, later eventUpdatedDateTime, other content) retracts the old content
  and confirms the new one, and the deal follows.
Every step is checked on chain (DealLens, the oracle's logs), in the carrier's status
(``GET /events/{eventID}``) and for conservation of funds."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from chain.vocabulary import MilestoneStatus
from oracle.keeper import MAX_NOTIFY_PER_REPORT
from oracle.normalize import evidence_hash
from oracle.samples import transport_event, v3_retraction, v3_transport_event
from tests.support.deals import Ledger, assert_engine_backed, engine, ensure_money, lens, open_deal, withdraw
from tests.support.oracle.harness import carrier_for, cluster, wait_for  # noqa: F401 (fixture)
from tests.support.oracle.onchain import confirmed, oracle, oracle_logs, post_all, selector, submissions

pytestmark = pytest.mark.slow

AT_ROTTERDAM = [("ARRI", 10_000, "NLRTM")]


def bill_of_lading() -> str:
    return "OCLU" + uuid.uuid4().hex[:10].upper()


def statuses(answers: list[Any]) -> list[int]:
    return [a.status_code for a in answers]


def released(net, setup) -> int:
    return lens(net).deal(setup.deal_id).released


def milestone(net, setup, index: int = 0):
    return lens(net).milestones(setup.deal_id)[index]


def engine_events(net, tx_hash: str, name: str) -> list[dict[str, Any]]:
    return engine(net).events(net.w3.eth.get_transaction_receipt(tx_hash), name)


def deals_in(net, tx_hash: str, name: str) -> set[int]:
    return {e["dealId"] for e in engine_events(net, tx_hash, name)}


def view(op, event_id: str) -> list[dict[str, Any]]:
    """The carrier's status of an event at one operator: its records."""
    client = carrier_for(op)
    try:
        resp = client.event_status(event_id)
    finally:
        client.close()
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]


def intents_done(ops, event_id: str) -> bool:
    return all(i["state"] == "done" for op in ops for r in view(op, event_id) for i in r.get("intents", []))


# ------------------------------------------------------------------------------------------- releases
def test_the_keepers_cap_is_the_contracts(net):
    assert oracle(net)._call("MAX_NOTIFY_PER_REPORT") == MAX_NOTIFY_PER_REPORT


def test_transshipment_releases_the_milestone_of_the_right_leg(net, cluster):
    ensure_money(net)
    ref = bill_of_lading()
    at_rotterdam = open_deal(net, schedule=AT_ROTTERDAM, reference=ref)
    anywhere = open_deal(net, schedule=[("ARRI", 10_000)], reference=ref)  # any transport call
    cluster.start()
    ops = list(cluster.ops.values())

    singapore = transport_event(ref, "ARRI", "SGSIN", when=time.time() - 3_600)
    assert statuses(post_all(ops, singapore)) == [202, 202, 202]
    wait_for(lambda: released(net, anywhere) == anywhere.terms.principal, 30, what="release at the first call")
    sg_tx = oracle_logs(net, "EventConfirmed", cluster.from_block)[0]["txHash"]
    assert deals_in(net, sg_tx, "MilestoneReleased") == {anywhere.deal_id}  # released in the report itself
    assert released(net, at_rotterdam) == 0 and milestone(net, at_rotterdam).status == MilestoneStatus.PENDING

    rotterdam = transport_event(ref, "ARRI", "NLRTM", when=time.time() - 60)
    assert statuses(post_all(ops, rotterdam)) == [202, 202, 202]
    wait_for(lambda: released(net, at_rotterdam) == at_rotterdam.terms.principal, 30, what="release at NLRTM")
    logs = oracle_logs(net, "EventConfirmed", cluster.from_block)
    assert [bytes(log["location"]) for log in logs] == [b"SGSIN", b"NLRTM"]
    assert deals_in(net, logs[1]["txHash"], "MilestoneReleased") == {at_rotterdam.deal_id}
    shipment = at_rotterdam.shipment
    assert oracle(net).confirmed_calls(shipment, "ARRI") == 2
    assert [loc for loc, _ in oracle(net).confirmed_locations(shipment, "ARRI")] == ["SGSIN", "NLRTM"]
    assert released(net, anywhere) == anywhere.terms.principal  # once, not twice
    assert_engine_backed(net)


def test_report_names_sixteen_deals_and_its_submitter_pokes_the_rest(net, cluster):
    ensure_money(net)
    ref = bill_of_lading()
    setups = [open_deal(net, principal=1_000_000, schedule=[("DEPA", 10_000, "CNSZX")], reference=ref)
              for _ in range(17)]
    cluster.start()
    ops = list(cluster.ops.values())
    departure = transport_event(ref, "DEPA", "CNSZX", when=time.time() - 60)
    assert statuses(post_all(ops, departure)) == [202, 202, 202]
    wait_for(lambda: all(released(net, s) == s.terms.principal for s in setups), 40, what="all 17 deals released")

    [conf] = oracle_logs(net, "EventConfirmed", cluster.from_block)
    ids = sorted(s.deal_id for s in setups)
    assert deals_in(net, conf["txHash"], "MilestoneReleased") == set(ids[:16])  # MAX_NOTIFY_PER_REPORT
    pokes = submissions(net, net.deployment.deal_engine, selector(engine(net), "poke"), cluster.from_block)
    assert len(pokes) == 1 and pokes[0]["status"] == 1
    assert pokes[0]["from"] == conf["submitter"]  # the report's submitter keeps the others moving
    assert deals_in(net, pokes[0]["hash"], "MilestoneReleased") == {ids[16]}
    assert_engine_backed(net)


# ------------------------------------------------------------------------------------------- retraction
def test_retraction_undoes_a_release_not_withdrawn_and_contests_a_withdrawn_one(net, cluster):
    ensure_money(net)
    ref = bill_of_lading()
    kept = open_deal(net, schedule=AT_ROTTERDAM, reference=ref)  # the borrower leaves the release in the deal
    spent = open_deal(net, schedule=AT_ROTTERDAM, reference=ref)  # the borrower withdraws it
    cluster.start()
    ops = list(cluster.ops.values())

    arrival = v3_transport_event(ref, "ARRI", "NLRTM", when=time.time() - 300)
    assert statuses(post_all(ops, arrival)) == [202, 202, 202]
    wait_for(lambda: all(released(net, s) == s.terms.principal for s in (kept, spent)), 30, what="both released")
    [conf] = oracle_logs(net, "EventConfirmed", cluster.from_block)
    event_id = bytes(conf["eventId"])
    assert deals_in(net, conf["txHash"], "MilestoneReleased") == {kept.deal_id, spent.deal_id}

    ledger = Ledger(net)
    assert withdraw(net, spent.deal_id, spent.borrower) == spent.terms.principal

    retraction = v3_retraction(arrival)
    answers = post_all(ops, retraction)
    assert statuses(answers) == [202, 202, 202], [a.text for a in answers]
    assert all(a.json()["intent"]["kind"] == "retraction" for a in answers)
    wait_for(lambda: oracle(net).is_retracted(event_id), 40, what="the retraction on chain")

    [ret] = oracle_logs(net, "EventRetracted", cluster.from_block)
    assert bytes(ret["eventId"]) == event_id and bytes(ret["location"]) == b"NLRTM"
    assert bytes(ret["reasonHash"]) == evidence_hash(retraction)  # the carrier's retracting message
    assert len(ret["signers"]) == 2 and abs(ret["retractedAt"] - net.now()) < 120
    # the deals learnt it in the retraction's own transaction
    assert deals_in(net, ret["txHash"], "MilestoneReversed") == {kept.deal_id}
    assert deals_in(net, ret["txHash"], "MilestoneContested") == {spent.deal_id}
    # not withdrawn: undone, the share back in escrow, the milestone waits again
    assert milestone(net, kept).status == MilestoneStatus.PENDING and released(net, kept) == 0
    assert lens(net).escrow_balance(kept.deal_id) == kept.terms.principal
    # withdrawn: the funds moved on; recorded Contested for the parties
    assert milestone(net, spent).status == MilestoneStatus.CONTESTED
    assert lens(net).deal(spent.deal_id).borrower_withdrawn == spent.terms.principal
    assert oracle(net).confirmed_calls(kept.shipment, "ARRI") == 0
    assert ledger.changes() == {spent.borrower: spent.terms.principal, "engine": -spent.terms.principal}
    assert_engine_backed(net)
    retractions = submissions(net, net.deployment.logistics_oracle, selector(oracle(net), "submitRetraction"),
                              cluster.from_block)
    assert len(retractions) == 1 and retractions[0]["status"] == 1, retractions

    # the carrier sees the outcome at every operator: the event retracted, by which transaction
    wait_for(lambda: intents_done(ops, arrival["eventID"]), 20, what="every operator to close its intent")
    timed: dict[str, bool] = {}
    for op in ops:
        original, retracting = view(op, arrival["eventID"])
        assert original["status"] == "attested" and retracting["status"] == "retraction"
        chain_view = original["report"]["chain"]
        assert chain_view["status"] == "retracted" and chain_view["txHash"] == conf["txHash"]
        assert chain_view["retraction"]["txHash"] == ret["txHash"]
        assert chain_view["retraction"]["blockNumber"] == ret["blockNumber"]
        assert "retracted on chain in transaction " + ret["txHash"] in retracting["intents"][0]["detail"]
        # and the operators' metrics (loopback, no credential) counted it
        metrics = httpx.get(op.url + "/metrics", timeout=5).text
        assert 'tradenet_oracle_carrier_events_total{state="retracted"} 1.0' in metrics
        timed[op.name] = 'tradenet_oracle_confirmation_seconds_count{kind="retraction"} 1.0' in metrics
    # the time to confirm a retraction is observed by the operators that signed it: at least k of
    # them (an operator that learnt of the retraction on chain before it saw the original confirmed
    # never signed one, and has nothing to time)
    assert sum(timed.values()) >= 2, timed


def test_update_retracts_the_old_content_and_confirms_the_new(net, cluster):
    ensure_money(net)
    ref = bill_of_lading()
    deal = open_deal(net, schedule=AT_ROTTERDAM, reference=ref)
    cluster.start()
    ops = list(cluster.ops.values())
    t1 = time.time() - 900
    first = v3_transport_event(ref, "ARRI", "NLRTM", when=t1, updated=t1 + 60)
    assert statuses(post_all(ops, first)) == [202, 202, 202]
    wait_for(lambda: released(net, deal) == deal.terms.principal, 30, what="release on the first version")
    old_id = confirmed(net, first)

    # the carrier corrects the arrival time: same identity, later eventUpdatedDateTime
    newer = v3_transport_event(ref, "ARRI", "NLRTM", when=t1 + 240, updated=t1 + 600, event_id=first["eventID"])
    answers = post_all(ops, newer)
    assert statuses(answers) == [202, 202, 202] and {a.json()["status"] for a in answers} == {"update"}
    wait_for(lambda: confirmed(net, newer) not in (None, old_id), 60, what="the newer version confirmed")
    new_id = confirmed(net, newer)
    assert oracle(net).is_retracted(old_id)

    [ret] = oracle_logs(net, "EventRetracted", cluster.from_block)
    assert bytes(ret["eventId"]) == old_id and bytes(ret["reasonHash"]) == evidence_hash(newer)
    confirmations = oracle_logs(net, "EventConfirmed", cluster.from_block)
    assert [bytes(c["eventId"]) for c in confirmations] == [old_id, new_id]
    assert confirmations[1]["eventTime"] == int(t1 + 240) and bytes(confirmations[1]["evidenceHash"]) == \
        evidence_hash(newer)
    # the deal followed: reversed by the retraction, released again by the newer version
    assert deals_in(net, ret["txHash"], "MilestoneReversed") == {deal.deal_id}
    assert deals_in(net, confirmations[1]["txHash"], "MilestoneReleased") == {deal.deal_id}
    assert released(net, deal) == deal.terms.principal and milestone(net, deal).status == MilestoneStatus.RELEASED
    assert_engine_backed(net)
    reports = submissions(net, net.deployment.logistics_oracle, selector(oracle(net), "submitReport"),
                          cluster.from_block)
    assert len(reports) == 2 and all(r["status"] == 1 for r in reports)

    wait_for(lambda: intents_done(ops, first["eventID"]), 20, what="every operator to close its intent")
    for op in ops:
        original, update = view(op, first["eventID"])
        assert original["report"]["chain"]["status"] == "retracted"
        assert original["report"]["chain"]["retraction"]["txHash"] == ret["txHash"]
        assert update["status"] == "update" and update["report"]["digest"] == "0x" + new_id.hex()
        assert update["report"]["chain"]["status"] == "confirmed"
        assert update["report"]["chain"]["txHash"] == confirmations[1]["txHash"]
        assert update["report"]["generation"] == 1  # the slot's second content, after the first was retracted
