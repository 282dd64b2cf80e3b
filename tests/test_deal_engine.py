"""DealEngine core, run through the receivable product: EIP-712 terms and contract-assigned ids,
escrow, advance / push / pull releases, transshipment legs, the retraction rule, waterfall,
overdue, default, cancellation, withdrawal, lender assignment, the lens against the compiler's
storage layout, the balance invariant, the review's regression tests and an authorization matrix
(every engine function x every role x every deal state)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest
from eth_utils import keccak, to_checksum_address

from chain import eip712, errors
from chain.clients import ADVANCE, ZERO_ADDRESS, Milestone, shipment_id
from chain.eip712 import Domain
from chain.vocabulary import EIP712_TYPES, DealState, InvoiceState, MilestoneStatus, Product, Role

from tests.support.deals import (DAY, FACE, Ledger, accept, accept_refused, admit_members, approve_collateral,
                                 assert_conserved, assert_engine_backed, call_as, confirm, confirmed_invoice,
                                 deploy_escrow, engine, ensure_money, event, fund, lens, make_terms, module, open_deal,
                                 oracle, publish_rate, repay, report, retract, sign_both, sign_terms, travel_to,
                                 with_terms, withdraw)
from tests.support.tokens import checksum, outsider, sanction, suspend, unchanged

REVOKED = 2**256 - 1  # DealEngine.dealByTerms of revoked terms
PRINCIPAL = 8_000_001  # odd on purpose: shares do not divide it evenly
FEE = 120_000


@pytest.fixture
def funded_net(net):
    ensure_money(net)
    return net


def test_full_lifecycle_exact_balances_and_waterfall(funded_net):
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    ledger = Ledger(net)
    invoice_id = confirmed_invoice(net, FACE)
    schedule = ((ADVANCE, 1000), ("DEPA", 3000), ("ARRI", 3000, "NLRTM"), ("CUSC", 3000))
    setup = make_terms(net, invoice_id, PRINCIPAL, FEE, schedule)
    adv, dep, arr, cus = setup.amounts
    assert (adv, dep, arr, cus) == (800_000, 2_400_000, 2_400_000, 2_400_001)

    # Accepted (submitted by the lender with the seller's signature): the invoice moves into the
    # product's custody and is anchored to the deal's shipment; no money moves
    count = e.deal_count()
    deal_id = accept(net, setup, submitter="lender")
    assert deal_id == count + 1
    (acc,) = e.events(setup.receipts["accept"], "DealAccepted")
    assert acc["termsDigest"] == e.local_terms_digest(setup.terms) == e.terms_digest(setup.terms)
    assert acc["obligor"] == net.addr("buyer") and acc["obligation"] == FACE
    assert acc["submitter"] == net.addr("lender") and acc["collateralId"] == invoice_id
    d = lz.deal(deal_id)
    assert d.state == DealState.ACCEPTED and d.product == Product.RECEIVABLE and d.milestone_count == 4
    assert (d.borrower, d.lender, d.obligor) == (net.addr("seller"), net.addr("lender"), net.addr("buyer"))
    assert (d.principal, d.fee, d.obligation, d.released, d.claim_total) == (PRINCIPAL, FEE, FACE, 0, 0)
    assert d.shipment_id == setup.shipment and d.collateral_id == invoice_id and d.obligation_currency == "USD"
    inv = net.invoices().invoice(invoice_id)
    assert inv.holder == module(net) and inv.shipment_id is None  # anchored at funding, not before
    assert [m.amount for m in lz.milestones(deal_id)] == setup.amounts
    assert e.deal_by_terms(acc["termsDigest"]) == deal_id
    assert ledger.changes() == {}

    # Funded: lender -> engine; the advance is released at once; the invoice is Financed
    r = fund(net, setup)
    assert e.events(r, "DealFunded")[0]["principal"] == PRINCIPAL
    (rel,) = e.events(r, "MilestoneReleased")
    assert (rel["milestone"], rel["amount"], rel["eventId"], rel["totalReleased"]) == (0, adv, bytes(32), adv)
    assert ledger.changes() == {"lender": -PRINCIPAL, "engine": PRINCIPAL}
    assert net.invoices().invoice(invoice_id).state == InvoiceState.FINANCED
    assert net.invoices().invoice(invoice_id).shipment_id == setup.shipment
    assert e.claimable(deal_id, net.addr("seller")) == adv
    assert lz.escrow_balance(deal_id) == PRINCIPAL and lz.releasable(deal_id) == []
    assert_engine_backed(net)

    # DEPA confirmed, the deal named in the report: released in the report's transaction
    dep_ev = event(net, setup.reference, "DEPA", "CNSZX")
    r = report(net, dep_ev, [deal_id])
    dep_id = oracle(net).local_event_id(dep_ev)
    (rel,) = e.events(r, "MilestoneReleased")
    assert (rel["dealId"], rel["milestone"], rel["eventId"], rel["amount"]) == (deal_id, 1, dep_id, dep)
    assert e.claimable(deal_id, net.addr("seller")) == adv + dep
    assert ledger.changes() == {"lender": -PRINCIPAL, "engine": PRINCIPAL}  # a credit, not a transfer

    # the seller withdraws both releases
    assert withdraw(net, deal_id, "seller") == adv + dep
    assert ledger.changes() == {"lender": -PRINCIPAL, "engine": PRINCIPAL - adv - dep, "seller": adv + dep}
    assert [m.status for m in lz.milestones(deal_id)] == [MilestoneStatus.PAID_OUT] * 2 + [MilestoneStatus.PENDING] * 2
    assert lz.escrow_balance(deal_id) == PRINCIPAL - adv - dep

    # transshipment: ARRI at SGSIN is not the NLRTM milestone; ARRI at NLRTM, reported without
    # naming the deal, is pulled by anyone's poke
    r = report(net, event(net, setup.reference, "ARRI", "SGSIN"), [deal_id])
    assert e.events(r, "MilestoneReleased") == []
    confirm(net, event(net, setup.reference, "ARRI", "NLRTM"), submitter="oracle_2")
    assert lz.releasable(deal_id) == [2]
    assert e.poke(deal_id) == 1
    assert e.claimable(deal_id, net.addr("seller")) == arr and lz.releasable(deal_id) == []

    # the buyer repays the face value: the waterfall
    assert e.amount_due(deal_id) == FACE
    r = repay(net, setup)
    (w,) = e.events(r, "DealRepaid")
    wf = w["waterfall"]
    released = adv + dep + arr
    assert (wf.amountDue, wf.toLender, wf.unreleasedReturned) == (FACE, PRINCIPAL + FEE, cus)
    assert wf.toBorrower == FACE - released - FEE == 4_280_000
    assert e.claimable(deal_id, net.addr("lender")) == PRINCIPAL + FEE
    assert e.claimable(deal_id, net.addr("seller")) == arr + 4_280_000
    assert lz.deal(deal_id).state == DealState.REPAID
    inv = net.invoices().invoice(invoice_id)
    assert inv.state == InvoiceState.PAID and inv.holder == module(net)
    assert lz.escrow_balance(deal_id) == PRINCIPAL - adv - dep + FACE
    assert_engine_backed(net)

    # both withdraw; the deal closes with nothing left
    assert withdraw(net, deal_id, "lender") == PRINCIPAL + FEE
    assert lz.deal(deal_id).state == DealState.REPAID
    seller = engine(net, "seller")
    assert seller.withdraw(deal_id) == arr + 4_280_000
    assert e.events(seller.last_receipt, "DealClosed")[0]["dealId"] == deal_id
    d = lz.deal(deal_id)
    assert d.state == DealState.CLOSED and d.claim_total == 0 and lz.escrow_balance(deal_id) == 0
    assert ledger.changes() == {"lender": FEE, "seller": FACE - FEE, "buyer": -FACE}
    assert_engine_backed(net)

    # afterwards: the abandoned milestone's event changes nothing; a retraction of a paid-out
    # release is recorded as contested, nothing moves
    r = report(net, event(net, setup.reference, "CUSC", "NLRTM"), [deal_id])
    assert e.events(r, "MilestoneReleased") == []
    with pytest.raises(errors.NothingToSync):
        e.poke(deal_id)
    (c,) = e.events(retract(net, dep_ev, [deal_id]), "MilestoneContested")
    assert (c["dealId"], c["milestone"], c["eventId"], c["amount"]) == (deal_id, 1, dep_id, dep)
    assert lz.milestones(deal_id)[1].status == MilestoneStatus.CONTESTED
    assert ledger.changes() == {"lender": FEE, "seller": FACE - FEE, "buyer": -FACE}


# ---------------------------------------------------------------------------- schedules and releases


def test_shares_round_down_and_the_last_milestone_takes_the_remainder(funded_net):
    net = funded_net
    for principal, schedule in ((1, (("DEPA", 5000), ("ARRI", 5000))),
                                (7, (("DEPA", 1), ("ARRI", 9999))),
                                (999_999_999, (("LOAD", 1111), ("DEPA", 2222), ("ARRI", 3333), ("DISC", 3334))),
                                (10_000, (("DEPA", 10_000),))):
        setup = open_deal(net, face_value=principal * 2, principal=principal, fee=0, schedule=schedule, funded=False)
        amounts = [m.amount for m in lens(net).milestones(setup.deal_id)]
        assert sum(amounts) == principal and amounts == setup.amounts
        for (_, bps), amount in zip(schedule[:-1], amounts):
            assert amount == principal * bps // 10_000


def test_advance_milestone_is_released_at_funding(funded_net):
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    # an advance-only deal needs no shipment at all
    setup = open_deal(net, schedule=((ADVANCE, 10_000),), funded=False)
    assert setup.shipment == bytes(32) and lz.deal(setup.deal_id).shipment_id is None
    r = fund(net, setup)
    assert [(x["milestone"], x["amount"]) for x in e.events(r, "MilestoneReleased")] == [(0, 8_000_000)]
    assert lz.deal(setup.deal_id).released == 8_000_000 and lz.escrow_balance(setup.deal_id) == 8_000_000
    assert e.claimable(setup.deal_id, net.addr("seller")) == 8_000_000
    with pytest.raises(errors.NothingToSync):  # nothing waits for the oracle
        e.poke(setup.deal_id)
    # an advance with a location, or two advances, are not schedules
    inv = confirmed_invoice(net)
    for schedule, index in ((((ADVANCE, 5000, "NLRTM"), ("DEPA", 5000)), 0),
                            (((ADVANCE, 5000), (ADVANCE, 5000)), 1)):
        with pytest.raises(errors.InvalidMilestone) as exc:
            accept(net, make_terms(net, inv, schedule=schedule))
        assert exc.value["index"] == index


def test_push_releases_the_named_deals_and_poke_the_others(funded_net):
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    ref = "MAEU-PUSHPULL-1"
    named, unnamed = open_deal(net, reference=ref), open_deal(net, reference=ref)
    other_ship = open_deal(net)  # named too, but waits for another shipment
    accepted = open_deal(net, reference=ref, funded=False)  # named, not funded yet
    ev = event(net, ref, "DEPA")
    r = report(net, ev, [named.deal_id, other_ship.deal_id, accepted.deal_id])
    event_id = oracle(net).local_event_id(ev)
    assert [(x["dealId"], x["eventId"], x["amount"]) for x in e.events(r, "MilestoneReleased")] == [
        (named.deal_id, event_id, 2_400_000)]
    assert oracle(net).events(r, "ListenerFailed") == []  # the engine ignores what is not for it
    assert lz.releasable(named.deal_id) == [] and lz.releasable(unnamed.deal_id) == [0]
    assert lz.releasable(other_ship.deal_id) == [] and lz.releasable(accepted.deal_id) == []  # not funded
    assert e.claimable(unnamed.deal_id, net.addr("seller")) == 0
    # anyone pulls the unnamed deal's release
    assert e.poke(unnamed.deal_id) == 1
    (rel,) = e.events(e.last_receipt, "MilestoneReleased")
    # a pulled any-location milestone names no single event (met at some transport call)
    assert (rel["milestone"], rel["amount"], rel["eventId"]) == (0, 2_400_000, bytes(32))
    assert e.claimable(unnamed.deal_id, net.addr("seller")) == 2_400_000 and lz.releasable(unnamed.deal_id) == []
    with pytest.raises(errors.NothingToSync) as exc:
        e.poke(unnamed.deal_id)
    assert exc.value["dealId"] == unnamed.deal_id
    with pytest.raises(errors.InvalidDealState):
        e.poke(accepted.deal_id)
    with pytest.raises(errors.UnknownDeal):
        e.poke(e.deal_count() + 1)
    assert_engine_backed(net)


def test_event_confirmed_before_funding_is_pulled_after_it(funded_net):
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    setup = open_deal(net, schedule=((ADVANCE, 2000), ("DEPA", 3000), ("ARRI", 5000)), funded=False)
    confirm(net, event(net, setup.reference, "DEPA"), [setup.deal_id])
    assert lz.releasable(setup.deal_id) == []  # an accepted deal releases nothing
    r = fund(net, setup)
    assert [x["milestone"] for x in e.events(r, "MilestoneReleased")] == [0]  # funding releases advances only
    assert lz.releasable(setup.deal_id) == [1]
    assert e.poke(setup.deal_id) == 1
    assert lz.deal(setup.deal_id).released == 1_600_000 + 2_400_000


def test_transshipment_legs_release_the_milestone_of_their_location(funded_net):
    """ARRI at SGSIN then ARRI at NLRTM for one B/L: a milestone for "ARRI at NLRTM" waits for the
    Rotterdam leg, one for ARRI anywhere is met by the first leg; retracting one leg un-meets the
    any-location milestone only when no ARRI leg remains confirmed."""
    net = funded_net
    e, lz, o = engine(net), lens(net), oracle(net)
    setup = open_deal(net, schedule=(("DEPA", 2000), ("ARRI", 3000), ("ARRI", 5000, "NLRTM")))
    did, (_, any_arr, rtm) = setup.deal_id, setup.amounts
    sgsin, nlrtm = event(net, setup.reference, "ARRI", "SGSIN"), event(net, setup.reference, "ARRI", "NLRTM")
    released = lambda r: [(x["milestone"], x["amount"]) for x in e.events(r, "MilestoneReleased")]  # noqa: E731
    status = lambda: [m.status for m in lz.milestones(did)]  # noqa: E731
    P, R = MilestoneStatus.PENDING, MilestoneStatus.RELEASED

    assert released(report(net, sgsin, [did])) == [(1, any_arr)]
    assert o.confirmed_calls(setup.shipment, "ARRI") == 1
    assert released(report(net, nlrtm, [did])) == [(2, rtm)]
    assert o.confirmed_calls(setup.shipment, "ARRI") == 2
    assert status() == [P, R, R]

    # the SGSIN leg is retracted: the NLRTM leg still meets "ARRI anywhere"
    r = retract(net, sgsin, [did])
    assert e.events(r, "MilestoneReversed") == [] and status() == [P, R, R]
    assert o.confirmed_calls(setup.shipment, "ARRI") == 1
    # the NLRTM leg is retracted too: no ARRI leg is left, both releases are undone
    r = retract(net, nlrtm, [did])
    assert sorted((x["milestone"], x["amount"]) for x in e.events(r, "MilestoneReversed")) == [(1, any_arr), (2, rtm)]
    assert status() == [P, P, P] and lz.deal(did).released == 0
    assert o.confirmed_calls(setup.shipment, "ARRI") == 0
    assert e.claimable(did, net.addr("seller")) == 0 and lz.escrow_balance(did) == 8_000_000
    # a corrected NLRTM report releases both again (pulled this time)
    confirm(net, event(net, setup.reference, "ARRI", "NLRTM", evidence="corrected arrival"))
    assert lz.releasable(did) == [1, 2]
    assert engine(net, "carrier").poke(did) == 2
    assert status() == [P, R, R] and e.claimable(did, net.addr("seller")) == any_arr + rtm
    assert_engine_backed(net)


def test_unnamed_deal_learns_of_a_retraction_when_poked(funded_net):
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    setup = open_deal(net)
    dep = event(net, setup.reference, "DEPA")
    confirm(net, dep, [setup.deal_id])
    retract(net, dep)  # the deal is not named
    assert lz.deal(setup.deal_id).released == 2_400_000
    assert e.poke(setup.deal_id) == 1
    (rev,) = e.events(e.last_receipt, "MilestoneReversed")
    assert (rev["milestone"], rev["amount"], rev["eventId"], rev["totalReleased"]) == (0, 2_400_000, bytes(32), 0)
    assert lz.milestones(setup.deal_id)[0].status == MilestoneStatus.PENDING
    assert e.claimable(setup.deal_id, net.addr("seller")) == 0 and lz.escrow_balance(setup.deal_id) == 8_000_000


# ---------------------------------------------------------------------------- overdue, default, cancellation


def test_flag_overdue_warns_at_maturity_and_counts_after_grace(funded_net):
    net = funded_net
    anyone, lz = engine(net, "auditor"), lens(net)
    setup = open_deal(net, maturity_in=100 * DAY, grace=5 * DAY)
    late = open_deal(net, maturity_in=100 * DAY, grace=5 * DAY)  # first flagged only after grace
    d = lz.deal(setup.deal_id)
    with pytest.raises(errors.NotOverdue) as exc:
        anyone.flag_overdue(setup.deal_id)
    assert exc.value["maturity"] == d.maturity

    travel_to(net, d.maturity + 1)
    r = anyone.flag_overdue(setup.deal_id)  # stage 1: the early warning, by anyone
    (w,) = anyone.events(r, "DealOverdue")
    assert (w["dealId"], w["obligor"], w["borrower"], w["lender"]) == (
        setup.deal_id, net.addr("buyer"), net.addr("seller"), net.addr("lender"))
    assert (w["maturity"], w["owed"]) == (d.maturity, 8_000_000 + 120_000)
    assert anyone.events(r, "DealOverdueCounted") == []
    d = lz.deal(setup.deal_id)
    assert d.overdue_flagged and not d.overdue_counted
    with pytest.raises(errors.AlreadyFlaggedOverdue):
        anyone.flag_overdue(setup.deal_id)

    risk = net.clients().risk
    later = lz.deal(late.deal_id)  # accepted a few seconds after the first
    travel_to(net, max(d.maturity, later.maturity) + d.grace_period + 1)
    r = anyone.flag_overdue(setup.deal_id)  # stage 2: counted by the risk rules
    assert anyone.events(r, "DealOverdue") == []
    (c,) = anyone.events(r, "DealOverdueCounted")
    assert (c["dealId"], c["obligor"], c["borrower"]) == (setup.deal_id, net.addr("buyer"), net.addr("seller"))
    assert lz.deal(setup.deal_id).overdue_counted
    assert risk.party(net.addr("seller")).overdue_run == 1 and risk.party(net.addr("buyer")).overdue_run == 1
    with pytest.raises(errors.AlreadyFlaggedOverdue):
        anyone.flag_overdue(setup.deal_id)
    # first flagged after grace: both stages at once
    r = anyone.flag_overdue(late.deal_id)
    assert len(anyone.events(r, "DealOverdue")) == 1 and len(anyone.events(r, "DealOverdueCounted")) == 1
    # only funded deals are flagged
    repay(net, late)
    with pytest.raises(errors.InvalidDealState):
        anyone.flag_overdue(late.deal_id)


def test_default_only_after_maturity_and_grace(funded_net):
    net = funded_net
    ledger = Ledger(net)
    setup = open_deal(net, maturity_in=100 * DAY, grace=5 * DAY)
    did = setup.deal_id
    lender = engine(net, "lender")
    confirm(net, event(net, setup.reference, "DEPA"), [did])  # releases 2,400,000 of 8,000,000
    assert withdraw(net, did, "seller") == 2_400_000
    d = lens(net).deal(did)
    defaultable_after = d.maturity + d.grace_period
    with pytest.raises(errors.GracePeriodRunning) as exc:
        lender.declare_default(did)
    assert exc.value["defaultableAfter"] == defaultable_after
    travel_to(net, defaultable_after - 30)  # overdue, still in grace
    with pytest.raises(errors.GracePeriodRunning):
        lender.declare_default(did)
    for key in ("seller", "buyer", "lender_b", "admin_a"):
        with pytest.raises(errors.NotLender):
            engine(net, key).declare_default(did)

    travel_to(net, defaultable_after + 1)
    r = lender.declare_default(did)
    (dflt,) = lender.events(r, "DealDefaulted")
    assert (dflt["unreleasedReturned"], dflt["released"], dflt["lender"]) == (5_600_000, 2_400_000, net.addr("lender"))
    assert len(lender.events(r, "DealOverdueCounted")) == 1  # a default counts as overdue
    d = lens(net).deal(did)
    assert d.state == DealState.DEFAULTED and d.overdue_counted and d.settled_at > 0
    inv = net.invoices().invoice(setup.collateral_id)
    assert inv.state == InvoiceState.DEFAULTED and inv.holder == net.addr("lender")
    assert lender.claimable(did, net.addr("lender")) == 5_600_000
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)
    with pytest.raises(errors.InvalidDealState):
        lender.declare_default(did)
    # a late ARRI releases nothing any more
    r = report(net, event(net, setup.reference, "ARRI", "NLRTM"), [did])
    assert lender.events(r, "MilestoneReleased") == []
    assert withdraw(net, did, "lender") == 5_600_000
    assert lens(net).deal(did).state == DealState.CLOSED
    # non-recourse: the lender lost what was released, the seller keeps it
    assert ledger.changes() == {"lender": -2_400_000, "seller": 2_400_000}


def test_default_with_nothing_left_in_escrow_closes_at_once(funded_net):
    net = funded_net
    setup = open_deal(net, schedule=(("DEPA", 10_000),), maturity_in=100 * DAY, grace=0)
    confirm(net, event(net, setup.reference, "DEPA"), [setup.deal_id])
    withdraw(net, setup.deal_id, "seller")
    travel_to(net, lens(net).deal(setup.deal_id).maturity + 1)
    lender = engine(net, "lender")
    r = lender.declare_default(setup.deal_id)
    assert lender.events(r, "DealClosed")[0]["dealId"] == setup.deal_id
    assert lender.state(setup.deal_id) == DealState.CLOSED
    with pytest.raises(errors.NothingToWithdraw):
        lender.withdraw(setup.deal_id)
    assert_engine_backed(net)


def test_finding6_default_releases_confirmed_milestones_first(funded_net):
    """A milestone whose event is confirmed but was never pushed nor poked is released by
    declareDefault before the default is computed: the lender does not take back the seller's
    confirmed share. (The old contract returned the whole unreleased escrow to the lender.)"""
    net = funded_net
    ledger = Ledger(net)
    setup = open_deal(net, schedule=(("DEPA", 3000), ("ARRI", 7000)), maturity_in=100 * DAY, grace=DAY)
    did = setup.deal_id
    confirm(net, event(net, setup.reference, "DEPA"))  # nobody names or pokes the deal
    assert lens(net).deal(did).released == 0 and lens(net).releasable(did) == [0]
    travel_to(net, lens(net).deal(did).maturity + DAY + 1)
    lender = engine(net, "lender")
    r = lender.declare_default(did)
    (rel,) = lender.events(r, "MilestoneReleased")
    assert (rel["dealId"], rel["milestone"], rel["amount"]) == (did, 0, 2_400_000)
    (dflt,) = lender.events(r, "DealDefaulted")
    assert (dflt["unreleasedReturned"], dflt["released"]) == (5_600_000, 2_400_000)
    assert lender.claimable(did, net.addr("seller")) == 2_400_000
    assert lender.claimable(did, net.addr("lender")) == 5_600_000
    withdraw(net, did, "seller")
    withdraw(net, did, "lender")
    assert ledger.changes() == {"lender": -2_400_000, "seller": 2_400_000}


def test_default_undoes_an_unwithdrawn_release_whose_event_was_retracted(funded_net):
    net = funded_net
    setup = open_deal(net, maturity_in=100 * DAY, grace=DAY)
    dep = event(net, setup.reference, "DEPA")
    confirm(net, dep, [setup.deal_id])
    retract(net, dep)  # the deal is not told; its default syncs it
    travel_to(net, lens(net).deal(setup.deal_id).maturity + DAY + 1)
    lender = engine(net, "lender")
    r = lender.declare_default(setup.deal_id)
    assert len(lender.events(r, "MilestoneReversed")) == 1
    assert lender.events(r, "DealDefaulted")[0]["unreleasedReturned"] == 8_000_000
    assert lender.claimable(setup.deal_id, net.addr("seller")) == 0


def test_cancel_before_funding_returns_the_invoice(funded_net):
    net = funded_net
    for canceller in ("seller", "lender"):
        setup = open_deal(net, funded=False)
        did = setup.deal_id
        for key in ("buyer", "lender_b", "seller_ops", "admin_a", "carrier"):
            with pytest.raises(errors.NotDealParty):
                engine(net, key).cancel(did)
        e = engine(net, canceller)
        r = e.cancel(did)
        assert e.events(r, "DealCancelled")[0]["by"] == net.addr(canceller)
        d = lens(net).deal(did)
        assert d.state == DealState.CANCELLED and d.settled_at > 0 and lens(net).escrow_balance(did) == 0
        inv = net.invoices().invoice(setup.collateral_id)
        assert inv.holder == net.addr("seller") and inv.state == InvoiceState.CONFIRMED
        with pytest.raises(errors.InvalidDealState):
            fund(net, setup)
        with pytest.raises(errors.InvalidDealState):
            e.cancel(did)
        # the invoice can be financed again (its shipment stays anchored), under a new id
        again = make_terms(net, setup.collateral_id, reference=setup.reference)
        assert accept(net, again) == did + 1
        fund(net, again)
    with pytest.raises(errors.InvalidDealState):
        engine(net, "lender").cancel(again.deal_id)
    with pytest.raises(errors.UnknownDeal):
        engine(net, "lender").cancel(10**6)
    assert_engine_backed(net)


# ---------------------------------------------------------------------------- withdrawals


def test_withdraw_pays_only_the_caller_its_own_credit(funded_net):
    net = funded_net
    setup = open_deal(net)
    did = setup.deal_id
    for key in ("seller", "lender", "buyer", "carrier"):
        with pytest.raises(errors.NothingToWithdraw) as exc:
            engine(net, key).withdraw(did)
        assert checksum(exc.value["account"]) == net.addr(key)
    confirm(net, event(net, setup.reference, "DEPA"), [did])
    for key in ("seller_ops", "lender", "buyer"):  # another account of the seller's LEI included
        with pytest.raises(errors.NothingToWithdraw):
            engine(net, key).withdraw(did)
    ledger = Ledger(net)
    seller = engine(net, "seller")
    assert seller.withdraw(did) == 2_400_000
    (w,) = seller.events(seller.last_receipt, "Withdrawn")
    assert (w["dealId"], w["account"], w["amount"]) == (did, net.addr("seller"), 2_400_000)
    assert ledger.changes() == {"seller": 2_400_000, "engine": -2_400_000}
    assert lens(net).milestones(did)[0].status == MilestoneStatus.PAID_OUT
    with pytest.raises(errors.NothingToWithdraw):
        seller.withdraw(did)
    with pytest.raises(errors.UnknownDeal):
        seller.withdraw(10**6)


def test_sanctioned_seller_cannot_withdraw_and_cannot_block_the_deal(funded_net):
    """Pull payouts: a payee who may not receive blocks neither releases, nor repayment, nor the
    lender's withdrawal; a suspended seller still receives what it earned."""
    net = funded_net
    setup = open_deal(net)
    did = setup.deal_id
    sanction(net, "seller")
    r = report(net, event(net, setup.reference, "DEPA"), [did])  # released in the report all the same
    assert len(engine(net).events(r, "MilestoneReleased")) == 1
    with pytest.raises(errors.MemberIsSanctioned):
        engine(net, "seller").withdraw(did)
    repay(net, setup)
    assert withdraw(net, did, "lender") == 8_120_000
    assert engine(net).claimable(did, net.addr("seller")) == 10_000_000 - 120_000
    assert lens(net).deal(did).state == DealState.REPAID  # the seller's credit waits
    assert_engine_backed(net)

    other = open_deal(net, seller="seller_ops")
    confirm(net, event(net, other.reference, "DEPA"), [other.deal_id])
    suspend(net, "seller_ops")
    assert withdraw(net, other.deal_id, "seller_ops") == 2_400_000


# ---------------------------------------------------------------------------- lender assignment


def test_lender_assigns_its_position_to_another_active_lender(funded_net):
    net = funded_net
    setup = open_deal(net)
    did = setup.deal_id
    lender = engine(net, "lender")
    with pytest.raises(errors.InvalidDealState):  # only funded deals
        lender.assign_lender(open_deal(net, funded=False).deal_id, net.addr("lender_b"))
    for key in ("seller", "buyer", "lender_b", "admin_a"):
        with pytest.raises(errors.NotLender):
            engine(net, key).assign_lender(did, net.addr(key))
    with pytest.raises(errors.InvalidAssignee):
        lender.assign_lender(did, net.addr("lender"))
    with pytest.raises(errors.InvalidAssignee):
        lender.assign_lender(did, net.addr("seller"))
    with pytest.raises(errors.MissingRole):
        lender.assign_lender(did, net.addr("buyer"))
    with pytest.raises(errors.NotMember):
        lender.assign_lender(did, outsider("assignee").address)
    suspend(net, "lender_b")
    with pytest.raises(errors.MemberIsSuspended):
        lender.assign_lender(did, net.addr("lender_b"))
    net.registry().govern(net.admins, [net.registry().call_reinstate(net.addr("lender_b"))], "reinstate")

    r = lender.assign_lender(did, net.addr("lender_b"))
    (a,) = lender.events(r, "LenderAssigned")
    assert (a["dealId"], a["previousLender"], a["newLender"]) == (did, net.addr("lender"), net.addr("lender_b"))
    assert lens(net).deal(did).lender == net.addr("lender_b")
    risk = net.clients().risk
    assert risk.pair(net.addr("lender"), net.addr("buyer")).exposure == 0
    assert risk.pair(net.addr("lender_b"), net.addr("buyer")).exposure == 8_000_000
    # the new lender holds the position: it is repaid, it may default; the old one may not
    with pytest.raises(errors.NotLender):
        lender.declare_default(did)
    with pytest.raises(errors.NotLender):
        lender.approve_assignment(did, net.addr("lender"))
    ledger = Ledger(net)
    repay(net, setup)
    assert engine(net).claimable(did, net.addr("lender_b")) == 8_120_000
    assert engine(net).claimable(did, net.addr("lender")) == 0
    assert withdraw(net, did, "lender_b") == 8_120_000
    assert ledger.changes() == {"buyer": -FACE, "lender_b": 8_120_000, "engine": FACE - 8_120_000}


def test_assignment_with_the_lenders_approval_and_to_a_registered_pool(funded_net):
    net = funded_net
    setup = open_deal(net)
    did = setup.deal_id
    lender, b = engine(net, "lender"), engine(net, "lender_b")
    with pytest.raises(errors.NotLender):
        b.approve_assignment(did, net.addr("lender_b"))
    r = lender.approve_assignment(did, net.addr("lender_b"))
    assert lender.events(r, "AssignmentApproved")[0]["assignee"] == net.addr("lender_b")
    assert lender._call("assignmentApproval", did) == net.addr("lender_b")
    # the approval is for the approved assignee itself, taking the position for itself only
    with pytest.raises(errors.NotLender):
        engine(net, "seller_ops").assign_lender(did, net.addr("seller_ops"))
    with pytest.raises(errors.NotLender):
        b.assign_lender(did, net.addr("investor"))
    b.assign_lender(did, net.addr("lender_b"))
    assert lens(net).deal(did).lender == net.addr("lender_b")
    assert lender._call("assignmentApproval", did) == ZERO_ADDRESS  # used up

    # to a registered escrow (an ABS pool contract): no membership needed
    pool = deploy_escrow(net)
    b.assign_lender(did, pool)
    assert lens(net).deal(did).lender == pool
    repay(net, setup)
    assert engine(net).claimable(did, pool) == 8_120_000
    assert_engine_backed(net)


# ---------------------------------------------------------------------------- acceptance


@pytest.fixture
def offer(funded_net):
    """Valid terms over a confirmed invoice the seller approved to the product (not accepted)."""
    net = funded_net
    setup = make_terms(net, confirmed_invoice(net), reference="MAEU-OFFER-1")
    approve_collateral(net, setup)
    return setup


def test_terms_signatures_wrong_signer_domain_chain_and_expiry(funded_net, offer):
    net = funded_net
    setup = offer
    t = setup.terms
    b, l = sign_terms(net, t, "seller"), sign_terms(net, t, "lender")
    refused = lambda sigs, submitter="carrier": accept_refused(  # noqa: E731
        net, errors.InvalidPartySignature, setup, submitter, sigs)
    assert checksum(refused((b, sign_terms(net, t, "lender_b")))["party"]) == net.addr("lender")
    assert checksum(refused((sign_terms(net, t, "seller_ops"), l))["party"]) == net.addr("seller")
    refused((l, b))  # swapped
    refused((b"\x00" * 65, l))
    refused((b, b""))
    refused((b"", b""), submitter="lender")  # the submitting lender still needs the borrower's
    refused((sign_terms(net, replace(t, fee=t.fee + 1), "seller"), l))  # over other terms
    # the same terms signed under another domain: name, version, chain id, contract
    e = engine(net)
    for domain in (Domain("tradenet DealEngine", "2", net.chain.chain_id, e.address),
                   Domain("tradenet Receivables", "1", net.chain.chain_id, e.address),
                   Domain("tradenet DealEngine", "1", net.chain.chain_id + 1, e.address),
                   Domain("tradenet DealEngine", "1", net.chain.chain_id, net.deployment.receivable_financing)):
        msg = eip712.typed_data(domain, "DealTerms", t.message())
        refused((eip712.sign(net.keys["seller"], msg), eip712.sign(net.keys["lender"], msg)))
    assert e.domain_separator() == e.domain().separator()
    # expired: acceptBy has passed
    travel_to(net, t.accept_by + 1)
    assert accept_refused(net, errors.TermsExpired, setup)["acceptBy"] == t.accept_by
    # a third party may submit terms both parties signed in time (it only relays their deal)
    fresh = with_terms(setup, accept_by=net.now() + 3600)
    deal_id = accept(net, fresh, submitter="carrier", approve=False)
    assert engine(net).events(fresh.receipts["accept"], "DealAccepted")[0]["submitter"] == net.addr("carrier")
    assert lens(net).deal(deal_id).borrower == net.addr("seller")


def test_acceptance_rules_of_the_engine(funded_net, offer):
    net = funded_net
    setup, t = offer, offer.terms
    R = lambda **c: with_terms(setup, **c)  # noqa: E731
    now = net.now()
    assert accept_refused(net, errors.UnknownProduct, R(product=net.deployment.deal_lens))["product"]
    accept_refused(net, errors.UnknownProduct, R(product=outsider("product").address))
    # parties' roles and standing
    accept_refused(net, errors.MissingRole, replace(R(borrower=net.addr("lender_b")), borrower="lender_b"))
    accept_refused(net, errors.MissingRole, replace(R(lender=net.addr("buyer")), lender="buyer"))
    (same_lei_bank,) = admit_members(net, Role.LENDER, 1, "sellerbank", lei=net.participants["seller"].lei)
    same = R(lender=same_lei_bank.address)
    sig = sign_terms(net, same.terms, same_lei_bank)
    assert accept_refused(net, errors.SameParty, same, "seller", (b"", sig))["lei"] == \
        net.participants["seller"].lei.encode()
    # dates
    for maturity, grace in ((now - 1, 10 * DAY), (2**40, 10 * DAY), (t.maturity, 365 * DAY + 1)):
        accept_refused(net, errors.InvalidMaturity, R(maturity=maturity, grace_period=grace))
    accept(net, R(grace_period=365 * DAY), approve=False)  # the longest grace is fine


def test_acceptance_rules_of_amounts_tokens_and_schedules(funded_net, offer):
    net = funded_net
    setup, t = offer, offer.terms
    R = lambda **c: with_terms(setup, **c)  # noqa: E731
    accept_refused(net, errors.InvalidExtra, R(extra=b"\x01" * 2049))
    max96 = 2**96 - 1
    for principal, fee, limit in ((0, 0, max96), (max96 + 1, 0, max96), (1, max96 + 1, max96),
                                  (FACE + 1, 0, FACE), (8_000_000, FACE - 8_000_000 + 1, FACE)):
        err = accept_refused(net, errors.InvalidAmounts, R(principal=principal, fee=fee))
        assert (err["principal"], err["fee"], err["limit"]) == (principal, fee, limit)
    for not_token in (net.deployment.invoice_token, net.deployment.registry, net.addr("treasury"),
                      net.deployment.deal_engine):
        accept_refused(net, errors.NotSettlementToken, R(settlement_token=not_token))
    # a deal in another currency than the invoice's must lock an FX rate (valid past maturity)
    eur = net.deployment.settlement_tokens["EUR"]
    accept_refused(net, errors.InvalidFxLock, R(settlement_token=eur))
    accept_refused(net, errors.InvalidFxLock, R(settlement_token=eur, fx_valid_until=t.maturity - 1))
    accept_refused(net, errors.InvalidFxLock, R(fx_valid_until=t.maturity + DAY))  # same currency: no lock
    # schedules
    ship = t.shipment_id
    codes = ("DEPA", "ARRI", "LOAD", "DISC", "GTIN", "GTOT", "RECE", "CONF", "ISSU")
    for ms, n, total in (((), 0, 0), ((Milestone("DEPA", 9999),), 1, 9999),
                         (tuple(Milestone(c, 1000) for c in codes) + (Milestone("CUSC", 1000),), 10, 10_000)):
        err = accept_refused(net, errors.InvalidSchedule, R(milestones=ms))
        assert (err["milestones"], err["totalBps"]) == (n, total)
    for ms, index, shipment in (((Milestone("DEPA", 0), Milestone("ARRI", 10_000)), 0, ship),
                                ((Milestone("XXXX", 10_000),), 0, ship),
                                ((Milestone("depa", 10_000),), 0, ship),
                                ((Milestone("DEPA", 10_000),), 0, bytes(32)),  # an event needs a shipment
                                ((Milestone("DEPA", 5000), Milestone("DEPA", 5000)), 1, ship),
                                ((Milestone("ARRI", 5000, "NLRTM"), Milestone("ARRI", 5000, "NLRTM")), 1, ship)):
        assert accept_refused(net, errors.InvalidMilestone, R(milestones=ms, shipment_id=shipment))["index"] == index
    # the same code at two locations and anywhere are three milestones; eight is the maximum
    three = (Milestone("ARRI", 3000, "SGSIN"), Milestone("ARRI", 3000, "NLRTM"), Milestone("ARRI", 4000))
    deal_id = accept(net, R(milestones=three), approve=False)
    assert [(m.event_code, m.location) for m in lens(net).milestones(deal_id)] == [
        ("ARRI", "SGSIN"), ("ARRI", "NLRTM"), ("ARRI", "")]
    eight = tuple(Milestone(c, 1250) for c in codes[:8])
    accept(net, make_terms(net, confirmed_invoice(net), schedule=eight))


def test_receivable_collateral_rules(funded_net):
    net = funded_net
    # maturity before the invoice's due date; principal + fee above the face value
    inv = confirmed_invoice(net, due_in=90 * DAY)
    due = net.invoices().invoice(inv).due_date
    early = make_terms(net, inv, maturity=due - 1)
    approve_collateral(net, early)
    err = accept_refused(net, errors.MaturityBeforeDueDate, early)
    assert (err["maturity"], err["dueDate"]) == (due - 1, due)
    err = accept_refused(net, errors.InvalidAmounts, with_terms(early, maturity=due, principal=FACE, fee=1))
    assert (err["principal"], err["fee"], err["limit"]) == (FACE, 1, FACE)
    on_due = with_terms(early, maturity=due, principal=FACE - 1, fee=1)  # exactly covered
    accept(net, on_due, approve=False)
    assert net.invoices().invoice(inv).holder == module(net)
    # an invoice already in a deal, not confirmed, of another holder, not approved, unknown
    accept_refused(net, errors.NotInvoiceHolder, make_terms(net, inv))
    issued = confirmed_invoice(net, confirm_it=False)
    s = make_terms(net, issued)
    approve_collateral(net, s)
    assert accept_refused(net, errors.InvoiceNotConfirmed, s)["state"] == InvoiceState.ISSUED
    ops_invoice = confirmed_invoice(net, seller="seller_ops")  # same organisation, other account
    accept_refused(net, errors.NotInvoiceHolder, make_terms(net, ops_invoice))
    accept_refused(net, errors.NotOwnerNorApproved, make_terms(net, confirmed_invoice(net)))
    accept_refused(net, errors.UnknownInvoice, make_terms(net, 12345))
    # a suspended seller starts no new business, whoever submits
    s = make_terms(net, confirmed_invoice(net))
    approve_collateral(net, s)
    suspend(net, "seller")
    accept_refused(net, errors.MemberIsSuspended, s, submitter="lender")


def test_funding_rules(funded_net):
    net = funded_net
    setup = open_deal(net, funded=False, maturity_in=100 * DAY)
    did = setup.deal_id
    for key in ("seller", "buyer", "lender_b", "admin_a"):
        with pytest.raises(errors.NotLender):
            engine(net, key).fund(did)
    lender = engine(net, "lender")
    with pytest.raises(errors.ERC20InsufficientAllowance):
        lender.fund(did)
    net.token("USD", "lender").approve(net.deployment.deal_engine, setup.terms.principal)
    reg = net.registry()
    for key in ("seller", "lender"):  # both parties must still be active
        suspend(net, key)
        with unchanged(net, lambda: lens(net).deal(did)):
            with pytest.raises(errors.MemberIsSuspended):
                lender.fund(did)
        reg.govern(net.admins, [reg.call_reinstate(net.addr(key))], "reinstate")
    travel_to(net, lens(net).deal(did).maturity)
    with pytest.raises(errors.MaturityPassed):
        lender.fund(did)
    # a fresh deal funds once
    s2 = open_deal(net)
    with pytest.raises(errors.InvalidDealState) as exc:
        fund(net, s2)
    assert exc.value["state"] == DealState.FUNDED
    with pytest.raises(errors.UnknownDeal):
        lender.fund(10**6)
    assert_engine_backed(net)


def test_repayment_rules(funded_net):
    net = funded_net
    setup = open_deal(net, funded=False, maturity_in=100 * DAY, grace=10 * DAY)
    did = setup.deal_id
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)
    fund(net, setup)
    for key in ("seller", "lender", "lender_b", "admin_a", "oracle_1"):
        with pytest.raises(errors.NotPayer) as exc:
            engine(net, key).repay(did)
        assert checksum(exc.value["payer"]) == net.addr("buyer")
    net.token("USD", "buyer").approve(net.deployment.deal_engine, 0)  # the first attempt had approved
    with pytest.raises(errors.ERC20InsufficientAllowance):
        engine(net, "buyer").repay(did)
    with pytest.raises(errors.InvalidDealState):  # a receivable is repaid, never settled
        engine(net, "auditor").settle(did)
    # late (past maturity, within grace) and suspended: the buyer still closes its obligation
    suspend(net, "buyer")
    travel_to(net, lens(net).deal(did).maturity + 5 * DAY)
    engine(net, "auditor").flag_overdue(did)
    ledger = Ledger(net)
    repay(net, setup)
    assert ledger.changes() == {"buyer": -FACE, "engine": FACE}
    e = engine(net)
    assert e.claimable(did, net.addr("lender")) == 8_120_000
    assert e.claimable(did, net.addr("seller")) == FACE - 120_000  # nothing was released
    assert net.clients().risk.party(net.addr("buyer")).overdue_run == 0  # repaid in grace: not counted
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)


# ---------------------------------------------------------------------------- the review's findings


def test_finding9_sanctioned_obligor_is_not_financed(funded_net):
    """The invoice's buyer is sanctioned: acceptance and (sanctioned between accept and fund)
    funding are refused with ObligorSanctioned. (The old contract financed it.)"""
    net = funded_net
    at_accept = make_terms(net, confirmed_invoice(net))
    at_fund = open_deal(net, funded=False)
    approve_collateral(net, at_accept)
    sanction(net, "buyer")
    err = accept_refused(net, errors.ObligorSanctioned, at_accept)
    assert checksum(err["obligor"]) == net.addr("buyer")
    net.token("USD", "lender").approve(net.deployment.deal_engine, at_fund.terms.principal)
    with unchanged(net, lambda: lens(net).deal(at_fund.deal_id)):
        with pytest.raises(errors.ObligorSanctioned):
            engine(net, "lender").fund(at_fund.deal_id)
    assert lens(net).deal(at_fund.deal_id).state == DealState.ACCEPTED
    engine(net, "seller").cancel(at_fund.deal_id)  # the parties can still walk away


def test_finding10_deal_ids_are_assigned_by_the_contract(funded_net):
    """Terms carry no deal id: the engine numbers deals 1, 2, 3...; a third party can neither take
    a deal's id nor create a deal the parties did not sign; the same signed terms are accepted
    once (TermsUsed), revoked terms never. (The old contract let the parties choose the id in a
    global namespace, so a front-runner could take it: DealExists.)"""
    net = funded_net
    e = engine(net)
    assert "dealId" not in [f["name"] for f in EIP712_TYPES["DealTerms"]]
    start = e.deal_count()
    ids = [open_deal(net, funded=False).deal_id for _ in range(3)]
    assert ids == [start + 1, start + 2, start + 3] and e.deal_count() == start + 3

    # the parties sign terms; an outsider deal accepted in between only shifts the number
    setup = make_terms(net, confirmed_invoice(net))
    approve_collateral(net, setup)
    sigs = (sign_terms(net, setup.terms, "seller"), sign_terms(net, setup.terms, "lender"))
    squatter = open_deal(net, seller="seller_ops", lender="lender_b", funded=False)
    assert squatter.deal_id == start + 4
    # a relayer submitting the signed terms creates exactly the parties' deal
    relayed = accept(net, setup, submitter="carrier", approve=False, signatures=sigs)
    assert relayed == start + 5
    d = lens(net).deal(relayed)
    assert (d.borrower, d.lender, d.collateral_id) == (net.addr("seller"), net.addr("lender"), setup.collateral_id)
    digest = e.local_terms_digest(setup.terms)
    assert e.deal_by_terms(digest) == relayed
    # used once: by the parties themselves, or again by anyone
    for submitter in ("seller", "lender", "carrier"):
        err = accept_refused(net, errors.TermsUsed, setup, submitter, sigs)
        assert (err["termsDigest"], err["dealId"]) == (digest, relayed)
    with pytest.raises(errors.TermsUsed):
        engine(net, "seller").revoke_terms(setup.terms)

    # revoked terms can never be accepted; only a party revokes
    offer = make_terms(net, confirmed_invoice(net))
    approve_collateral(net, offer)
    for key in ("buyer", "carrier", "seller_ops"):
        with pytest.raises(errors.NotDealParty):
            engine(net, key).revoke_terms(offer.terms)
    r = engine(net, "lender").revoke_terms(offer.terms)
    (rv,) = e.events(r, "TermsRevoked")
    revoked = e.local_terms_digest(offer.terms)
    assert (rv["termsDigest"], rv["by"]) == (revoked, net.addr("lender"))
    assert e.deal_by_terms(revoked) == REVOKED
    for submitter in ("seller", "carrier"):
        assert accept_refused(net, errors.TermsUsed, offer, submitter)["dealId"] == REVOKED
    with pytest.raises(errors.TermsUsed):
        engine(net, "seller").revoke_terms(offer.terms)
    # the same collateral under new terms (another nonce) is fine
    assert accept(net, with_terms(offer, nonce=keccak(text="second offer")), approve=False) == start + 6


def test_finding3_no_waitlist_to_exhaust_forty_dust_deals_never_block_a_shipment(funded_net):
    """40 funded deals of 1 minor unit each (three colluding accounts: a seller's second key, the
    buyer, a second lender) "wait" for one B/L: a new deal on that shipment is still accepted,
    funded and released (in the report for the named, by poke for the rest). (The old oracle kept
    at most 32 waiters per (shipment, code) for good: the 33rd deal could never be funded.)"""
    net = funded_net
    e, lz, o = engine(net, "auditor"), lens(net), oracle(net)
    names = {f["name"] for f in o.contract.abi if f.get("type") == "function"}
    assert not names & {"watch", "unwatch", "waiters"}  # no on-chain wait list at all
    ref = "MAEU-DUST-0001"
    dust = [open_deal(net, face_value=1, principal=1, fee=0, schedule=(("DEPA", 10_000),), reference=ref,
                      seller="seller_ops", lender="lender_b") for _ in range(40)]
    honest = open_deal(net, reference=ref)
    assert lz.deal(honest.deal_id).state == DealState.FUNDED
    named = [honest.deal_id] + [d.deal_id for d in dust[:15]]
    r = report(net, event(net, ref, "DEPA"), named)
    assert sorted(x["dealId"] for x in e.events(r, "MilestoneReleased")) == sorted(named)
    assert o.events(r, "ListenerFailed") == []
    assert e.claimable(honest.deal_id, net.addr("seller")) == 2_400_000
    for d in dust[15:]:
        assert lz.releasable(d.deal_id) == [0]
        assert e.poke(d.deal_id) == 1
    assert all(lz.deal(d.deal_id).released == 1 for d in dust)
    assert_engine_backed(net)


def test_finding3_milestones_are_bound_to_the_collateral_shipment(funded_net):
    """An invoice anchored to B/L A cannot be financed with milestones on B/L B; an unanchored
    invoice is anchored to the deal's shipment when the deal is funded (a deal cancelled before
    funding leaves it free). (The old contract let any funded deal wait on any shipment.)"""
    net = funded_net
    bl_a, bl_b = shipment_id("MAEU-ANCHOR-A"), shipment_id("MAEU-ANCHOR-B")
    anchored = confirmed_invoice(net, shipment=bl_a)
    wrong = make_terms(net, anchored, reference="MAEU-ANCHOR-B")
    approve_collateral(net, wrong)
    err = accept_refused(net, errors.ShipmentMismatch, wrong)
    assert (err["id"], err["anchored"], err["requested"]) == (anchored, bl_a, bl_b)
    deal_id = accept(net, with_terms(wrong, shipment_id=bl_a), approve=False)
    assert lens(net).deal(deal_id).shipment_id == bl_a

    loose = confirmed_invoice(net)
    assert net.invoices().invoice(loose).shipment_id is None
    # terms on a mistyped B/L, cancelled before funding, leave the invoice free
    typo = make_terms(net, loose, reference="MAEU-ANCHOR-TYPO")
    accept(net, typo)
    assert net.invoices().events(typo.receipts["accept"], "ShipmentBound") == []
    engine(net, "seller").cancel(typo.deal_id)
    assert net.invoices().invoice(loose).shipment_id is None
    setup = make_terms(net, loose, reference="MAEU-ANCHOR-B")
    accept(net, setup)
    r = fund(net, setup)
    (bound,) = net.invoices().events(r, "ShipmentBound")
    assert (bound["id"], bound["shipmentId"], bound["by"]) == (loose, bl_b, module(net))
    assert net.invoices().invoice(loose).shipment_id == bl_b


def test_finding3_settled_deals_need_no_unwatch(funded_net):
    """A repaid and closed deal leaves nothing behind: later reports on its shipment name it
    harmlessly, and new deals on the shipment run as usual."""
    net = funded_net
    ref = "MAEU-SETTLED-1"
    done = open_deal(net, reference=ref)
    repay(net, done)
    withdraw(net, done.deal_id, "lender")
    withdraw(net, done.deal_id, "seller")
    assert lens(net).deal(done.deal_id).state == DealState.CLOSED
    new = open_deal(net, reference=ref)
    r = report(net, event(net, ref, "DEPA"), [done.deal_id, new.deal_id])
    assert [x["dealId"] for x in engine(net).events(r, "MilestoneReleased")] == [new.deal_id]
    assert oracle(net).events(r, "ListenerFailed") == []
    with pytest.raises(errors.NothingToSync):
        engine(net, "auditor").poke(done.deal_id)


def test_finding4_a_retraction_is_never_vetoed_and_applies_per_deal(funded_net):
    """A 1-unit deal funded after the event and withdrawn at once no longer blocks the retraction.
    Per deal in one retraction: the release is undone where the funds have not moved on
    (MilestoneReversed, the share back in escrow) and recorded as Contested where they have
    (withdrawn, or the deal settled). (The old oracle reverted the whole retraction.)"""
    net = funded_net
    e, lz = engine(net, "auditor"), lens(net)
    ref = "MAEU-VETO-1"
    kept = open_deal(net, reference=ref)  # released, not withdrawn
    settled = open_deal(net, reference=ref)  # released, then repaid
    quiet = open_deal(net, reference=ref)  # released, not named in the retraction
    dep = event(net, ref, "DEPA")
    dep_id = confirm(net, dep, [kept.deal_id, settled.deal_id, quiet.deal_id])
    veto = open_deal(net, face_value=1, principal=1, fee=0, schedule=(("DEPA", 10_000),), reference=ref,
                     seller="seller_ops", lender="lender_b")
    assert e.poke(veto.deal_id) == 1
    assert withdraw(net, veto.deal_id, "seller_ops") == 1
    repay(net, settled)
    ledger = Ledger(net)

    r = retract(net, dep, [veto.deal_id, kept.deal_id, settled.deal_id])
    (rev,) = e.events(r, "MilestoneReversed")
    assert (rev["dealId"], rev["milestone"], rev["eventId"], rev["amount"], rev["totalReleased"]) == (
        kept.deal_id, 0, dep_id, 2_400_000, 0)
    contested = {(c["dealId"], c["milestone"], c["eventId"], c["amount"]) for c in e.events(r, "MilestoneContested")}
    assert contested == {(veto.deal_id, 0, dep_id, 1), (settled.deal_id, 0, dep_id, 2_400_000)}
    assert oracle(net).events(r, "ListenerFailed") == []
    assert ledger.changes() == {}  # nothing moves: credits and escrow are re-booked
    status = lambda d: lz.milestones(d.deal_id)[0].status  # noqa: E731
    assert status(kept) == MilestoneStatus.PENDING
    assert e.claimable(kept.deal_id, net.addr("seller")) == 0 and lz.escrow_balance(kept.deal_id) == 8_000_000
    assert status(veto) == status(settled) == MilestoneStatus.CONTESTED
    assert lz.deal(settled.deal_id).released == 2_400_000  # the settled waterfall stands
    assert status(quiet) == MilestoneStatus.RELEASED  # not told yet: it learns when poked
    assert e.poke(quiet.deal_id) == 1 and status(quiet) == MilestoneStatus.PENDING
    assert_engine_backed(net)

    # a corrected event releases the undone milestones again; contested ones stay as they are
    fixed = event(net, ref, "DEPA", "CNYTN", evidence="corrected departure")
    r = report(net, fixed, [kept.deal_id, veto.deal_id, settled.deal_id, quiet.deal_id])
    assert sorted(x["dealId"] for x in e.events(r, "MilestoneReleased")) == sorted([kept.deal_id, quiet.deal_id])
    assert status(veto) == status(settled) == MilestoneStatus.CONTESTED
    with pytest.raises(errors.NothingToSync):
        e.poke(veto.deal_id)
    assert_engine_backed(net)


# ---------------------------------------------------------------------------- the lens and the invariant


def _engine_layout() -> dict:
    """The compiler's storage layout of DealEngine (from the solc output cached in build/)."""
    from chain import compiler
    from chain.settings import settings

    cfg = settings.compiler
    compiler.compile_contracts(cfg)  # makes sure the cached output exists
    std = {"language": "Solidity", "sources": compiler._sources(cfg), "settings": compiler.solc_settings(cfg)}
    path = cfg.build_dir / f"solc-{compiler._input_hash(std, cfg)[:16]}.json"
    out = json.loads(path.read_text())
    return out["contracts"]["contracts/deals/DealEngine.sol"]["DealEngine"]["storageLayout"]


def _decode_struct(layout: dict, struct_type: str, words: list[int]) -> dict:
    """A struct's members decoded from its storage words as the layout says (slot, offset, size)."""
    out = {}
    for m in layout["types"][struct_type]["members"]:
        size = int(layout["types"][m["type"]]["numberOfBytes"])
        raw = (words[int(m["slot"])] >> (8 * m["offset"])) & ((1 << (8 * size)) - 1)
        t = m["type"]
        if t == "t_bool":
            value: object = bool(raw)
        elif t == "t_address":
            value = to_checksum_address(raw.to_bytes(20, "big"))
        elif t.startswith("t_bytes"):
            value = raw.to_bytes(size, "big")
        else:
            value = raw
        out[m["label"]] = value
    return out


def _storage_words(net, base: int, count: int) -> list[int]:
    get = lambda i: net.w3.eth.get_storage_at(net.deployment.deal_engine, base + i)  # noqa: E731
    return [int.from_bytes(get(i), "big") for i in range(count)]


def _mapping_slot(key: int, slot: int) -> int:
    return int.from_bytes(keccak(key.to_bytes(32, "big") + slot.to_bytes(32, "big")), "big")


def test_lens_decoding_matches_the_compilers_storage_layout(funded_net):
    """DealLens decodes raw storage words with the compiler's packing: read every deal and
    milestone straight from storage at the slots the compiler assigned, decode them from the
    layout, and compare with the lens, for deals whose every field is set. A change of the Deal
    or MilestoneState struct that the lens does not follow fails here."""
    net = funded_net
    layout = _engine_layout()
    slots = {s["label"]: (int(s["slot"]), s["type"]) for s in layout["storage"]}
    deals_slot, deals_type = slots["_deals"]
    ms_slot, ms_type = slots["_milestones"]
    deal_struct = layout["types"][deals_type]["value"]
    ms_struct = layout["types"][layout["types"][ms_type]["value"]]["value"]
    assert int(layout["types"][deal_struct]["numberOfBytes"]) == 9 * 32  # DealEngine.dealWords reads 9
    assert int(layout["types"][ms_struct]["numberOfBytes"]) == 32  # milestoneWords reads 1 each
    lz = lens(net)
    deal_abi = next(x for x in lz.contract.abi if x.get("name") == "deal")
    lens_fields = {f["name"] for f in deal_abi["outputs"][0]["components"]}
    assert lens_fields == {m["label"] for m in layout["types"][deal_struct]["members"]}

    # deals with every field non-zero: FX-locked, flagged and counted overdue, released, settled
    publish_rate(net, "EUR", "USD", "1.08250000")
    eur_invoice = confirmed_invoice(net, face_value=FACE, currency="EUR")
    fx = make_terms(net, eur_invoice, schedule=(("DEPA", 4000), ("ARRI", 6000, "NLRTM")), grace=DAY)
    fx = with_terms(fx, fx_valid_until=fx.terms.maturity + 30 * DAY)
    accept(net, fx)
    fund(net, fx)
    confirm(net, event(net, fx.reference, "DEPA"), [fx.deal_id])
    plain = open_deal(net, schedule=((ADVANCE, 1500), ("DEPA", 8500)), grace=DAY)
    travel_to(net, lz.deal(plain.deal_id).maturity + 2 * DAY)
    engine(net, "auditor").flag_overdue(fx.deal_id)
    repay(net, plain)
    withdraw(net, plain.deal_id, "seller")
    deal_ids = [fx.deal_id, plain.deal_id]
    d = lz.deal(fx.deal_id)
    assert d.fx_locked and d.fx_rate == 108_250_000 and d.obligation_currency == "EUR" and d.overdue_counted

    for deal_id in deal_ids:
        words = _storage_words(net, _mapping_slot(deal_id, deals_slot), 9)
        assert [w.to_bytes(32, "big") for w in words] == [bytes(w) for w in engine(net)._call("dealWords", deal_id)]
        from_storage = _decode_struct(layout, deal_struct, words)
        from_lens = lz._call("deal", deal_id)._asdict()
        assert {k: bytes(v) if isinstance(v, (bytes, bytearray)) else v for k, v in from_lens.items()} == from_storage
        base = _mapping_slot(deal_id, ms_slot)
        for i, m in enumerate(lz._call("milestones", deal_id)):
            (word,) = _storage_words(net, _mapping_slot(i, base), 1)
            got = {k: bytes(v) if isinstance(v, (bytes, bytearray)) else v for k, v in m._asdict().items()}
            assert got == _decode_struct(layout, ms_struct, [word])
    # every field of the FX deal is set, so a shifted field cannot hide behind a zero
    fx_record = _decode_struct(layout, deal_struct, _storage_words(net, _mapping_slot(fx.deal_id, deals_slot), 9))
    assert [k for k, v in fx_record.items() if v in (0, False, b"\x00" * 3)] == [
        "gatesRelease", "settledAt", "borrowerWithdrawn", "lenderCredit", "borrowerBonus"]
    # ... and the settlement fields are set on the repaid deal the borrower withdrew from
    plain_record = _decode_struct(layout, deal_struct, _storage_words(net, _mapping_slot(plain.deal_id, deals_slot), 9))
    assert all(plain_record[k] for k in ("settledAt", "borrowerWithdrawn", "lenderCredit", "borrowerBonus"))


def test_engine_balance_equals_the_sum_of_escrow_balances_after_every_step(funded_net):
    """The balance invariant, checked after each step of a scenario of five deals in two currencies
    (release, withdrawal, retraction, repayment, default, cancellation, assignment): the engine
    holds exactly the sum of `escrowBalance` over its deals, and every unit is accounted for."""
    net = funded_net
    ensure_money(net, currency="EUR")
    publish_rate(net, "EUR", "USD", "1.0825")  # the risk rules book EUR deals in USD
    ref = "MAEU-INVARIANT-1"
    steps: list[str] = []

    def check(step: str) -> None:
        steps.append(step)
        backed = assert_engine_backed(net)
        for currency in ("USD", "EUR"):
            assert_conserved(net, currency)
        assert sum(backed.values()) == sum(
            net.token(c).balance_of(net.deployment.deal_engine) for c in ("USD", "EUR"))

    a = open_deal(net, reference=ref, schedule=((ADVANCE, 2000), ("DEPA", 3000), ("ARRI", 5000)))
    check("a funded, advance released")
    b = open_deal(net, reference=ref, currency="EUR", maturity_in=100 * DAY, grace=DAY)
    check("b funded in EUR")
    c = open_deal(net, reference=ref, funded=False)
    check("c accepted")
    d = open_deal(net, reference=ref, principal=5_000_001, fee=0)
    check("d funded")
    dep = event(net, ref, "DEPA")
    confirm(net, dep, [a.deal_id, b.deal_id])
    check("DEPA pushed to a and b")
    engine(net, "carrier").poke(d.deal_id)
    check("d poked")
    withdraw(net, a.deal_id, "seller")
    check("a withdrawn")
    retract(net, dep, [a.deal_id, b.deal_id, d.deal_id])
    check("DEPA retracted: b and d undone, a contested")
    engine(net, "seller").cancel(c.deal_id)
    check("c cancelled")
    confirm(net, event(net, ref, "ARRI", "NLRTM"))
    engine(net, "auditor").poke(a.deal_id)
    check("ARRI pulled by a")
    engine(net, "lender").assign_lender(d.deal_id, net.addr("lender_b"))
    check("d assigned")
    repay(net, a)
    check("a repaid")
    withdraw(net, a.deal_id, "lender")
    check("a lender withdrawn")
    repay(net, d)
    withdraw(net, d.deal_id, "lender_b")
    check("d repaid, lender_b withdrawn")
    travel_to(net, lens(net).deal(b.deal_id).maturity + DAY + 1)
    engine(net, "lender").declare_default(b.deal_id)
    check("b defaulted")
    for deal, key in ((a, "seller"), (b, "lender"), (d, "seller"), (b, "seller")):
        if engine(net).claimable(deal.deal_id, net.addr(key)):
            withdraw(net, deal.deal_id, key)
            check(f"{key} withdrew from {deal.deal_id}")
    assert assert_engine_backed(net) == {"USD": 0, "EUR": 0, "CNY": 0}
    assert len(steps) >= 18


# ---------------------------------------------------------------------------- authorization matrix

#: Every state-changing function of the engine (the test checks the ABI has no other).
FUNCTIONS = ("accept", "revokeTerms", "fund", "cancel", "repay", "declareDefault", "settle", "setObligation",
             "flagOverdue", "poke", "withdraw", "approveAssignment", "approveAssignments", "assignLender",
             "onEventConfirmed",
             "onEventRetracted", "setProduct")
ROLE_KEYS = ("seller", "seller_ops", "buyer", "lender", "lender_b", "oracle_1", "carrier", "admin_a", "auditor")


@dataclass
class _Row:
    """One deal of the matrix; `record` is its current lens record (None: terms not accepted)."""

    setup: object
    deal_id: int
    accepted: bool
    signatures: tuple[bytes, bytes]
    record: object | None = None


def _expected(fn: str, row: _Row, who: str, net, claim: int) -> str | None:
    """The error the call must revert with (the engine's checks in their order); None where the
    call is legitimate."""
    now, d, t = net.now(), row.record, row.setup.terms
    addr = net.deployment
    if fn == "accept":
        return "TermsExpired" if now > t.accept_by else ("TermsUsed" if d else None)
    if fn == "revokeTerms":
        return "NotDealParty" if who not in (t.borrower, t.lender) else ("TermsUsed" if d else None)
    if fn in ("onEventConfirmed", "onEventRetracted"):
        return None if who == addr.logistics_oracle else "NotOracle"
    if fn == "setProduct":
        return None if who == addr.registry else "NotGovernance"
    if d is None:
        return "UnknownDeal"
    funded, state = d.state == DealState.FUNDED, d.state
    grace_over = now > d.maturity + d.grace_period
    if fn == "fund":
        return ("NotLender" if who != d.lender else "InvalidDealState" if state != DealState.ACCEPTED
                else "MaturityPassed" if now >= d.maturity else None)
    if fn == "cancel":
        return ("NotDealParty" if who not in (d.borrower, d.lender)
                else None if state == DealState.ACCEPTED else "InvalidDealState")
    if fn == "repay":
        return "InvalidDealState" if not funded else ("NotPayer" if who != d.obligor else None)
    if fn == "declareDefault":
        return ("NotLender" if who != d.lender else "InvalidDealState" if not funded
                else None if grace_over else "GracePeriodRunning")
    if fn == "settle":
        return "InvalidDealState"
    if fn == "setObligation":
        return ("NotProduct" if who != addr.receivable_financing
                else None if state in (DealState.ACCEPTED, DealState.FUNDED) else "InvalidDealState")
    if fn == "flagOverdue":
        if not funded:
            return "InvalidDealState"
        if now <= d.maturity:
            return "NotOverdue"
        return "AlreadyFlaggedOverdue" if d.overdue_flagged and (d.overdue_counted or not grace_over) else None
    if fn == "poke":  # by construction every confirmed event was pushed: nothing to sync
        return "InvalidDealState" if state in (DealState.ACCEPTED, DealState.CANCELLED) else "NothingToSync"
    if fn == "withdraw":
        return None if claim else "NothingToWithdraw"
    if fn in ("approveAssignment", "approveAssignments"):
        return None if who == d.lender else "NotLender"
    if fn == "assignLender":
        return "NotLender" if who != d.lender else (None if funded else "InvalidDealState")
    raise AssertionError(fn)


def _args(fn: str, row: _Row, net) -> tuple:
    t, did = row.setup.terms, row.deal_id
    if fn == "accept":
        return (t.as_tuple(), *row.signatures)
    if fn == "revokeTerms":
        return (t.as_tuple(),)
    if fn in ("onEventConfirmed", "onEventRetracted"):
        return (keccak(text="matrix event"), t.shipment_id, b"DEPA", b"CNSZX", did)
    if fn == "setProduct":
        e = engine(net)
        config = e.product_config(net.deployment.receivable_financing)
        return (net.deployment.receivable_financing, config.as_tuple())
    if fn == "setObligation":
        return (did, t.collateral_id, net.addr("buyer"), FACE, b"USD")
    if fn in ("approveAssignment", "assignLender"):
        return (did, net.addr("lender_b"))
    if fn == "approveAssignments":
        return ([did], net.addr("lender_b"))
    return (did,)


def _run_matrix(net, rows: dict[str, _Row], who: dict[str, str]) -> tuple[int, set[str]]:
    """Every function x role x deal, simulated as sent by the role: reverts with the expected
    error, or succeeds where legitimate. Returns (reverts checked, functions with a legal cell)."""
    e = engine(net)
    checked, legal = 0, set()
    for label, row in rows.items():
        row.record = lens(net).deal(row.deal_id) if row.accepted else None
        for role, address in who.items():
            claim = e.claimable(row.deal_id, address) if row.record else 0
            for fn in FUNCTIONS:
                want = _expected(fn, row, address, net, claim)
                try:
                    call_as(net, address, e, fn, *_args(fn, row, net))
                    got = None
                except errors.ContractRevert as exc:
                    got = exc.error_name
                assert got == want, (label, role, fn, got, want)
                if want is None:
                    legal.add(fn)
                else:
                    checked += 1
    return checked, legal


def test_no_path_moves_escrow_outside_the_rules(funded_net):
    """Every state-changing engine function, as every role (members, a non-member, the oracle
    contract, the product module, governance), on a deal in every state and at three times
    (before maturity, in grace, after grace): it reverts with the expected error unless it is
    the legitimate action, which succeeds. Nothing is mined by the probes; balances and the
    invariant hold throughout."""
    net = funded_net
    abi = engine(net).contract.abi
    assert set(FUNCTIONS) == {f["name"] for f in abi if f["type"] == "function"
                              and f["stateMutability"] not in ("view", "pure")}
    setups = {label: open_deal(net, funded=label != "accepted" and label != "cancelled", maturity_in=120 * DAY,
                               grace=10 * DAY)
              for label in ("accepted", "funded", "released", "paid_out", "repaid", "closed", "cancelled",
                            "to_default", "overdue")}
    for label in ("released", "paid_out", "repaid", "closed"):
        confirm(net, event(net, setups[label].reference, "DEPA"), [setups[label].deal_id])
    withdraw(net, setups["paid_out"].deal_id, "seller")
    for label in ("repaid", "closed"):
        repay(net, setups[label])
    withdraw(net, setups["closed"].deal_id, "seller")
    withdraw(net, setups["closed"].deal_id, "lender")
    engine(net, "seller").cancel(setups["cancelled"].deal_id)
    offer = make_terms(net, confirmed_invoice(net), maturity_in=120 * DAY)
    approve_collateral(net, offer)
    offer.deal_id = engine(net).deal_count() + 100
    for key in ("lender", "buyer"):  # so that funding and repaying are possible where legitimate
        net.token("USD", key).approve(net.deployment.deal_engine, 2**255)

    rows = {label: _Row(s, s.deal_id, True, sign_both(net, s)) for label, s in setups.items()}
    rows["offer"] = _Row(offer, offer.deal_id, False, sign_both(net, offer))
    who = {k: net.addr(k) for k in ROLE_KEYS}
    who.update({"outsider": outsider("matrix").address, "oracle": net.deployment.logistics_oracle,
                "product": net.deployment.receivable_financing, "governance": net.deployment.registry})
    assert lens(net).deal(setups["closed"].deal_id).state == DealState.CLOSED
    assert all(lens(net).releasable(s.deal_id) == [] for s in setups.values())

    ledger = Ledger(net)
    maturity = max(lens(net).deal(s.deal_id).maturity for s in setups.values())
    checked, legal = 0, set()
    for phase in ("before maturity", "in grace", "after grace"):
        if phase == "in grace":
            travel_to(net, maturity + 2 * DAY)
            engine(net, "auditor").flag_overdue(setups["overdue"].deal_id)
        elif phase == "after grace":
            travel_to(net, maturity + 12 * DAY)
            engine(net, "lender").declare_default(setups["to_default"].deal_id)
        with unchanged(net):
            n, ok = _run_matrix(net, rows, who)
        checked, legal = checked + n, legal | ok
        assert_engine_backed(net)
    assert checked > 3000
    # every legitimate path succeeded somewhere (a receivable is never settled; poke's legitimate
    # calls, with something to sync, are in the release and retraction tests)
    assert legal == set(FUNCTIONS) - {"settle", "poke"}
    print(f"authorization matrix: {checked} reverts checked")
    assert lens(net).deal(setups["to_default"].deal_id).state == DealState.DEFAULTED
    assert ledger.changes() == {}  # the flag and the default moved no token (the default credits)


def test_the_largest_schedule_is_released_and_undone_within_the_notify_stipend(funded_net):
    """Eight milestones, two of them met by one event (ARRI at NLRTM and ARRI anywhere): the
    push release and the retraction both fit the oracle's fixed stipend (no ListenerFailed)."""
    net = funded_net
    schedule = (("ARRI", 1250, "NLRTM"), ("ARRI", 1250), ("ARRI", 1250, "SGSIN"), ("DEPA", 1250), ("LOAD", 1250),
                ("DISC", 1250), ("GTIN", 1250), ("CUSC", 1250))
    setup = open_deal(net, schedule=schedule)
    arr = event(net, setup.reference, "ARRI", "NLRTM")
    r = report(net, arr, [setup.deal_id])
    assert oracle(net).events(r, "ListenerFailed") == []
    assert [x["milestone"] for x in engine(net).events(r, "MilestoneReleased")] == [0, 1]
    r = retract(net, arr, [setup.deal_id])
    assert oracle(net).events(r, "ListenerFailed") == []
    assert sorted(x["milestone"] for x in engine(net).events(r, "MilestoneReversed")) == [0, 1]


def test_a_report_naming_more_deals_than_the_learned_gas_covers_is_reestimated_not_refused(funded_net):
    """The submission pipeline learns a gas limit per (contract, selector); a report naming 16
    deals needs far more gas than one naming one, and the oracle refuses to skip a named deal for
    lack of gas (`InsufficientNotificationGas`). The larger report is re-estimated and lands, all
    16 deals released. (Before, the precheck at the learned limit raised the error as the answer.)"""
    net = funded_net
    net.chain.gas.forget()
    one = open_deal(net, schedule=(("DEPA", 10_000),), reference="MAEU-GAS-ONE")
    report(net, event(net, "MAEU-GAS-ONE", "DEPA"), [one.deal_id])
    ref = "MAEU-GAS-MANY"
    many = [open_deal(net, face_value=1, principal=1, fee=0, schedule=(("DEPA", 10_000),), reference=ref)
            for _ in range(16)]
    r = report(net, event(net, ref, "DEPA"), [d.deal_id for d in many])
    assert sorted(x["dealId"] for x in engine(net, "auditor").events(r, "MilestoneReleased")) == \
        sorted(d.deal_id for d in many)
    assert_engine_backed(net)
