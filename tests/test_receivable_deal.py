"""ReceivableFinancing: EIP-712 terms, escrow, oracle-driven releases, waterfall, default, retraction,
and an authorization matrix (every mutating function x every role x every state)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_utils import keccak

from chain import errors
from chain.contracts import InvoiceState
from chain.deal_client import DealState, DealTerms, Milestone, MilestoneStatus

from .deal_support import (DAY, accept, assert_conserved, assert_escrow_backed, balance, confirm, confirmed_invoice,
                           ensure_money, event, financing, fund, govern, make_terms, open_deal, oracle, repay,
                           retract, sign_both)

FACE = 10_000_000  # USD 100,000.00 in cents
PRINCIPAL = 8_000_001  # odd on purpose: shares do not divide it evenly
FEE = 120_000
SHARES = (("DEPA", 3333), ("ARRI", 3333), ("CUSC", 3334))


@pytest.fixture
def funded_net(net):
    ensure_money(net)
    return net


def deal_addr(net) -> str:
    return net.deployment.receivable_financing


# ---------------------------------------------------------------------------- the whole lifecycle


def test_full_lifecycle_exact_balances_and_conservation(funded_net):
    net = funded_net
    fin = financing(net, "auditor")
    supply = net.token().total_supply()
    b0 = assert_conserved(net)

    invoice_id = confirmed_invoice(net, FACE)
    setup = make_terms(net, invoice_id, PRINCIPAL, FEE, SHARES)
    a0, a1, a2 = setup.amounts
    assert (a0, a1, a2) == (2_666_400, 2_666_400, 2_667_201) and a0 + a1 + a2 == PRINCIPAL

    # Accepted: the invoice moves into the deal; no money moves
    r = accept(net, setup, submitter="lender")
    (acc,) = fin.events(r, "DealAccepted")
    assert acc["dealId"] == setup.deal_id and acc["termsDigest"] == fin.local_terms_digest(setup.terms)
    assert acc["terms"].principal == PRINCIPAL and len(acc["terms"].milestones) == 3
    d = fin.deal(setup.deal_id)
    assert d.state == DealState.ACCEPTED and d.buyer == net.addr("buyer") and d.face_value == FACE
    assert net.invoices().owner_of(invoice_id) == deal_addr(net)
    assert [m.amount for m in fin.milestones(setup.deal_id)] == [a0, a1, a2]
    assert assert_conserved(net) == b0

    # Funded: lender -> escrow; invoice Financed; milestones wait at the oracle
    r = fund(net, setup)
    assert fin.events(r, "DealFunded")[0]["principal"] == PRINCIPAL
    b = assert_conserved(net)
    assert b["lender"] == b0["lender"] - PRINCIPAL and b["deal"] == PRINCIPAL
    assert net.invoices().invoice(invoice_id).state == InvoiceState.FINANCED
    o = oracle(net)
    ref0 = (fin.deal(setup.deal_id).seq << 8) | 0
    assert o.waiters(setup.shipment, "DEPA") == [(deal_addr(net), ref0)]
    assert fin.escrow_balance(setup.deal_id) == PRINCIPAL

    # DEPA confirmed: the share is released inside the oracle's transaction
    dep = event(net, setup.reference, "DEPA", "CNSZX")
    dep_id = o.submit_report(dep, _sigs(net, dep))
    (rel,) = fin.events(o.last_receipt, "MilestoneReleased")
    assert rel["dealId"] == setup.deal_id and rel["milestone"] == 0 and rel["eventId"] == dep_id
    assert rel["amount"] == a0 and rel["totalReleased"] == a0
    assert fin.claimable(setup.deal_id, net.addr("seller")) == a0
    assert assert_conserved(net) == b  # a credit, not a transfer
    assert_escrow_backed(net, [setup.deal_id])

    # the seller withdraws the first release
    assert financing(net, "seller").withdraw(setup.deal_id) == a0
    b = assert_conserved(net)
    assert b["seller"] == b0["seller"] + a0 and b["deal"] == PRINCIPAL - a0
    assert fin.milestones(setup.deal_id)[0].status == MilestoneStatus.PAID_OUT

    # ARRI confirmed (submitted by an oracle operator itself); not withdrawn yet
    arr = event(net, setup.reference, "ARRI", "NLRTM")
    oracle(net, "oracle_2").submit_report(arr, _sigs(net, arr, ("oracle_2", "oracle_3")))
    assert fin.claimable(setup.deal_id, net.addr("seller")) == a1
    assert fin.deal(setup.deal_id).released == a0 + a1
    assert assert_conserved(net) == b

    # the buyer repays the face value: waterfall
    r = repay(net, setup)
    (w,) = fin.events(r, "DealRepaid")
    wf = w["waterfall"]
    assert wf.faceValue == FACE and wf.toLender == PRINCIPAL + FEE
    assert wf.toBorrower == FACE - (a0 + a1) - FEE == 4_547_200 and wf.unreleasedReturned == a2
    b = assert_conserved(net)
    assert b["buyer"] == b0["buyer"] - FACE and b["deal"] == PRINCIPAL - a0 + FACE
    assert fin.claimable(setup.deal_id, net.addr("lender")) == PRINCIPAL + FEE == 8_120_001
    assert fin.claimable(setup.deal_id, net.addr("seller")) == a1 + 4_547_200 == 7_213_600
    assert fin.deal(setup.deal_id).state == DealState.REPAID
    assert net.invoices().invoice(invoice_id).state == InvoiceState.PAID
    assert o.waiters(setup.shipment, "CUSC") == []  # the unreleased milestone stopped waiting
    assert_escrow_backed(net, [setup.deal_id])

    # both withdraw; the deal closes with nothing left in escrow
    assert financing(net, "lender").withdraw(setup.deal_id) == 8_120_001
    assert fin.deal(setup.deal_id).state == DealState.REPAID
    seller_fin = financing(net, "seller")
    assert seller_fin.withdraw(setup.deal_id) == 7_213_600
    assert fin.events(seller_fin.last_receipt, "DealClosed")[0]["dealId"] == setup.deal_id
    b = assert_conserved(net)
    assert b["deal"] == 0
    assert b["lender"] == b0["lender"] + FEE  # principal back plus the fee
    assert b["seller"] == b0["seller"] + FACE - FEE  # face value less the lender's fee
    assert b["buyer"] == b0["buyer"] - FACE
    assert net.token().total_supply() == supply  # nothing minted or burned by the deal
    d = fin.deal(setup.deal_id)
    assert d.state == DealState.CLOSED and d.claim_total == 0 and d.closed_at > 0

    # a later event for the abandoned milestone changes nothing; the paid-out releases are final
    cus = event(net, setup.reference, "CUSC", "NLRTM")
    o.submit_report(cus, _sigs(net, cus))
    assert fin.events(o.last_receipt, "MilestoneReleased") == []
    with pytest.raises(errors.FundsAlreadyMovedOn):
        retract(net, dep_id)
    assert assert_conserved(net) == b


def _sigs(net, ev, signers=("oracle_1", "oracle_2")):
    o = oracle(net)
    return [o.sign_event(net.keys[k], ev) for k in signers]


def test_milestone_amounts_always_sum_to_principal(funded_net):
    net = funded_net
    fin = financing(net)
    for principal, shares in ((1, (("DEPA", 5000), ("ARRI", 5000))),
                              (7, (("DEPA", 1), ("ARRI", 9999))),
                              (999_999_999, (("LOAD", 1111), ("DEPA", 2222), ("ARRI", 3333), ("DISC", 3334))),
                              (10_000, (("DEPA", 10_000),))):
        setup = open_deal(net, face_value=principal * 2, principal=principal, fee=0, shares=shares, funded=False)
        amounts = [m.amount for m in fin.milestones(setup.deal_id)]
        assert sum(amounts) == principal and amounts == setup.amounts
        for (_, bps), amount in zip(shares[:-1], amounts):
            assert amount == principal * bps // 10_000


def test_milestones_released_at_funding_if_already_confirmed(funded_net):
    net = funded_net
    setup = open_deal(net, funded=False)
    confirm(net, event(net, setup.reference, "DEPA"))
    r = fund(net, setup)
    fin = financing(net)
    (rel,) = fin.events(r, "MilestoneReleased")
    assert rel["milestone"] == 0 and rel["amount"] == 2_400_000
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 2_400_000
    # it still waits at the oracle, so a retraction reaches it
    assert len(oracle(net).waiters(setup.shipment, "DEPA")) == 1
    assert_conserved(net)


def test_two_deals_on_one_shipment_release_together(funded_net):
    net = funded_net
    ref = "MAEU-SHARED-1"
    s1 = open_deal(net, reference=ref)
    s2 = open_deal(net, face_value=5_000_000, principal=4_000_000, fee=10_000, reference=ref,
                   shares=(("ARRI", 5000), ("DEPA", 5000)))
    o = oracle(net)
    ev = event(net, ref, "DEPA")
    o.submit_report(ev, _sigs(net, ev))
    rel = financing(net).events(o.last_receipt, "MilestoneReleased")
    assert sorted((r["dealId"], r["amount"]) for r in rel) == sorted([(s1.deal_id, 2_400_000), (s2.deal_id, 2_000_000)])
    assert_escrow_backed(net, [s1.deal_id, s2.deal_id])


# ---------------------------------------------------------------------------- default, overdue, cancellation


def test_overdue_warning_and_default_after_grace(funded_net):
    net = funded_net
    b0 = assert_conserved(net)
    setup = open_deal(net, maturity_in=30 * DAY, grace=5 * DAY)
    fin = financing(net, "lender")
    confirm(net, event(net, setup.reference, "DEPA"))  # releases 2,400,000 of 8,000,000
    with pytest.raises(errors.NotOverdue):
        fin.flag_overdue(setup.deal_id)
    with pytest.raises(errors.GracePeriodRunning):
        fin.declare_default(setup.deal_id)

    net.advance_time(30 * DAY + 60)
    r = financing(net, "auditor").flag_overdue(setup.deal_id)  # anyone may raise the early warning
    (w,) = fin.events(r, "DealOverdue")
    assert w["dealId"] == setup.deal_id and w["buyer"] == net.addr("buyer") and w["faceValue"] == 10_000_000
    with pytest.raises(errors.AlreadyFlaggedOverdue):
        fin.flag_overdue(setup.deal_id)
    assert fin.deal(setup.deal_id).overdue_flagged
    with pytest.raises(errors.GracePeriodRunning):  # overdue, but still in grace
        fin.declare_default(setup.deal_id)
    for key in ("seller", "buyer", "lender_b", "admin_a"):
        with pytest.raises(errors.NotLender):
            financing(net, key).declare_default(setup.deal_id)

    net.advance_time(5 * DAY)
    r = fin.declare_default(setup.deal_id)
    (dflt,) = fin.events(r, "DealDefaulted")
    assert dflt["unreleasedReturned"] == 5_600_000 and dflt["released"] == 2_400_000
    inv = net.invoices().invoice(setup.terms.invoice_id)
    assert inv.state == InvoiceState.DEFAULTED and inv.holder == net.addr("lender")
    assert fin.claimable(setup.deal_id, net.addr("lender")) == 5_600_000
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 2_400_000  # non-recourse: the seller keeps it
    assert fin.state(setup.deal_id) == DealState.DEFAULTED
    assert oracle(net).waiters(setup.shipment, "ARRI") == []
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)
    # a late ARRI releases nothing any more
    arr = event(net, setup.reference, "ARRI", "NLRTM")
    o = oracle(net)
    o.submit_report(arr, _sigs(net, arr))
    assert financing(net).events(o.last_receipt, "MilestoneReleased") == []

    assert fin.withdraw(setup.deal_id) == 5_600_000
    assert financing(net, "seller").withdraw(setup.deal_id) == 2_400_000
    b = assert_conserved(net)
    assert fin.state(setup.deal_id) == DealState.CLOSED
    assert b["lender"] == b0["lender"] - 2_400_000 and b["seller"] == b0["seller"] + 2_400_000 and b["deal"] == 0


def test_default_with_nothing_left_closes_at_once(funded_net):
    net = funded_net
    setup = open_deal(net, shares=(("DEPA", 10_000),), maturity_in=10 * DAY, grace=0)
    confirm(net, event(net, setup.reference, "DEPA"))
    financing(net, "seller").withdraw(setup.deal_id)
    net.advance_time(10 * DAY + 1)
    fin = financing(net, "lender")
    r = fin.declare_default(setup.deal_id)
    assert fin.events(r, "DealClosed")
    assert fin.state(setup.deal_id) == DealState.CLOSED
    with pytest.raises(errors.NothingToWithdraw):
        fin.withdraw(setup.deal_id)
    assert_conserved(net)


def test_late_repayment_before_default_and_suspended_buyer_can_repay(funded_net):
    net = funded_net
    setup = open_deal(net, maturity_in=20 * DAY, grace=10 * DAY)
    govern(net, [net.registry().call_suspend(net.addr("buyer"), "KYC review")])
    net.advance_time(25 * DAY)  # past maturity, within grace
    financing(net, "auditor").flag_overdue(setup.deal_id)
    repay(net, setup)
    fin = financing(net)
    assert fin.state(setup.deal_id) == DealState.REPAID
    # nothing was released: the lender is credited principal + fee, the seller face - fee
    assert fin.claimable(setup.deal_id, net.addr("lender")) == 8_120_000
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 10_000_000 - 120_000
    assert_conserved(net)


def test_cancellation_only_before_funding(funded_net):
    net = funded_net
    for canceller in ("seller", "lender"):
        setup = open_deal(net, funded=False)
        fin = financing(net, canceller)
        for key in ("buyer", "lender_b", "admin_a"):
            with pytest.raises(errors.NotDealParty):
                financing(net, key).cancel(setup.deal_id)
        r = fin.cancel(setup.deal_id)
        assert fin.events(r, "DealCancelled")[0]["by"] == net.addr(canceller)
        assert fin.state(setup.deal_id) == DealState.CANCELLED
        inv = net.invoices().invoice(setup.terms.invoice_id)
        assert inv.holder == net.addr("seller") and inv.state == InvoiceState.CONFIRMED
        with pytest.raises(errors.InvalidDealState):
            fund(net, setup)
        with pytest.raises(errors.InvalidDealState):
            fin.cancel(setup.deal_id)
        # the invoice can be financed again, under a new deal id
        again = make_terms(net, setup.terms.invoice_id, 8_000_000, 120_000)
        accept(net, again)
        fund(net, again)
    setup = open_deal(net)
    with pytest.raises(errors.InvalidDealState):
        financing(net, "lender").cancel(setup.deal_id)
    assert_conserved(net)


# ---------------------------------------------------------------------------- acceptance and funding rules


def _try_accept(net, terms: DealTerms, submitter="seller", borrower="seller", lender="lender", sigs=None):
    fin = financing(net, submitter)
    b, l = sigs or sign_both(net, terms, borrower, lender)
    return fin.accept(terms, b, l)


def test_acceptance_rules(funded_net):
    net = funded_net
    inv = confirmed_invoice(net, FACE)
    financing(net, "seller").approve_invoice(net.invoices("seller"), inv)
    base = make_terms(net, inv, 8_000_000, 120_000).terms
    R = dataclasses.replace

    with pytest.raises(errors.NotDealParty):
        _try_accept(net, base, submitter="buyer")
    with pytest.raises(errors.InvalidDealId):
        _try_accept(net, R(base, deal_id=0))
    with pytest.raises(errors.OfferExpired):
        _try_accept(net, R(base, accept_by=net.now() - 1))
    with pytest.raises(errors.SameParty):
        _try_accept(net, R(base, lender=net.addr("seller")), lender="seller")
    # signatures: wrong signer, signature over other terms, garbage
    b, l = sign_both(net, base)
    _, l_other = sign_both(net, base, lender="lender_b")
    with pytest.raises(errors.InvalidPartySignature) as e:
        _try_accept(net, base, sigs=(b, l_other))
    assert e.value["party"].lower() == net.addr("lender").lower()
    b_other, _ = sign_both(net, R(base, fee=1))
    with pytest.raises(errors.InvalidPartySignature):
        _try_accept(net, base, sigs=(b_other, l))
    with pytest.raises(errors.InvalidPartySignature):
        _try_accept(net, base, sigs=(b"\x00" * 65, l))
    with pytest.raises(errors.InvalidPartySignature):  # swapped
        _try_accept(net, base, sigs=(l, b))
    # roles of the signers
    with pytest.raises(errors.MissingRole):
        _try_accept(net, R(base, borrower=net.addr("lender_b")), submitter="lender", borrower="lender_b")
    with pytest.raises(errors.MissingRole):
        _try_accept(net, R(base, lender=net.addr("buyer")), lender="buyer")
    # dates and amounts
    with pytest.raises(errors.InvalidMaturity):
        _try_accept(net, R(base, maturity=net.now() - 1))
    for principal, fee in ((0, 0), (FACE + 1, 0), (8_000_000, FACE - 8_000_000 + 1), (1, 2**255)):
        with pytest.raises(errors.InvalidAmounts):
            _try_accept(net, R(base, principal=principal, fee=fee))
    # currency and token
    with pytest.raises(errors.CurrencyMismatch):
        _try_accept(net, R(base, settlement_token=net.deployment.settlement_tokens["EUR"]))
    for not_token in (net.deployment.invoice_token, net.deployment.registry, net.addr("treasury")):
        with pytest.raises(errors.NotSettlementToken):
            _try_accept(net, R(base, settlement_token=not_token))
    # schedule
    ship = base.milestones[0].shipment_id
    bad_schedules = {
        errors.InvalidSchedule: [(), (Milestone(ship, "DEPA", 9999),),
                                 tuple(Milestone(ship, c, 1250) for c in ("DEPA", "ARRI", "LOAD", "DISC", "GTIN",
                                                                          "GTOT", "RECE", "CONF"))
                                 + (Milestone(ship, "ISSU", 0),)],
        errors.InvalidMilestone: [(Milestone(ship, "DEPA", 0), Milestone(ship, "ARRI", 10_000)),
                                  (Milestone(ship, "XXXX", 10_000),),
                                  (Milestone(bytes(32), "DEPA", 10_000),),
                                  (Milestone(ship, "DEPA", 5000), Milestone(ship, "DEPA", 5000))],
    }
    for err, schedules in bad_schedules.items():
        for ms in schedules:
            with pytest.raises(err):
                _try_accept(net, R(base, milestones=ms))
    # eight milestones is the maximum and fine
    eight = tuple(Milestone(ship, c, 1250) for c in ("DEPA", "ARRI", "LOAD", "DISC", "GTIN", "GTOT", "RECE", "CONF"))
    _try_accept(net, R(base, milestones=eight))
    # the deal id is a nonce: used once
    with pytest.raises(errors.DealExists):
        _try_accept(net, R(base, milestones=eight))
    assert_conserved(net)


def test_acceptance_needs_a_confirmed_invoice_of_the_borrower(funded_net):
    net = funded_net
    issued = confirmed_invoice(net, FACE, confirm_it=False)
    financing(net, "seller").approve_invoice(net.invoices("seller"), issued)
    with pytest.raises(errors.InvoiceNotConfirmed):
        _try_accept(net, make_terms(net, issued, 8_000_000, 0).terms)
    # same organisation, other account: the invoice's seller must be the borrower
    ops_invoice = confirmed_invoice(net, FACE, seller="seller_ops")
    with pytest.raises(errors.NotInvoiceSeller):
        _try_accept(net, make_terms(net, ops_invoice, 8_000_000, 0).terms)
    # not approved: the invoice token refuses
    inv = confirmed_invoice(net, FACE)
    with pytest.raises(errors.ERC721InsufficientApproval):
        _try_accept(net, make_terms(net, inv, 8_000_000, 0).terms)
    with pytest.raises(errors.UnknownInvoice):
        _try_accept(net, make_terms(net, 999_999, 8_000_000, 0).terms)
    # a suspended seller starts no new business
    financing(net, "seller").approve_invoice(net.invoices("seller"), inv)
    govern(net, [net.registry().call_suspend(net.addr("seller"), "KYC expired paperwork")])
    with pytest.raises(errors.MemberIsSuspended):
        _try_accept(net, make_terms(net, inv, 8_000_000, 0).terms, submitter="lender")


def test_funding_rules(funded_net):
    net = funded_net
    setup = open_deal(net, funded=False, maturity_in=10 * DAY)
    for key in ("seller", "buyer", "lender_b", "admin_a"):
        with pytest.raises(errors.NotLender):
            financing(net, key).fund(setup.deal_id)
    with pytest.raises(errors.ERC20InsufficientAllowance):
        financing(net, "lender").fund(setup.deal_id)
    reg = net.registry()
    govern(net, [reg.call_suspend(net.addr("seller"), "review")])
    with pytest.raises(errors.MemberIsSuspended):
        fund(net, setup)
    govern(net, [reg.call_reinstate(net.addr("seller")), reg.call_suspend(net.addr("lender"), "review")])
    with pytest.raises(errors.MemberIsSuspended):
        fund(net, setup)
    govern(net, [reg.call_reinstate(net.addr("lender"))])
    net.advance_time(10 * DAY)
    with pytest.raises(errors.MaturityPassed):
        fund(net, setup)
    # a fresh one funds fine, once
    s2 = open_deal(net)
    with pytest.raises(errors.InvalidDealState):
        fund(net, s2)
    assert_conserved(net)


def test_repayment_rules(funded_net):
    net = funded_net
    setup = open_deal(net, funded=False)
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)
    fund(net, setup)
    for key in ("seller", "lender", "lender_b", "admin_a", "oracle_1"):
        with pytest.raises(errors.NotBuyer):
            financing(net, key).repay(setup.deal_id)
    net.token("USD", "buyer").approve(deal_addr(net), 0)  # the first attempt above had approved
    with pytest.raises(errors.ERC20InsufficientAllowance):
        financing(net, "buyer").repay(setup.deal_id)
    repay(net, setup)
    with pytest.raises(errors.InvalidDealState):
        repay(net, setup)
    assert_conserved(net)


def test_sanctioned_seller_cannot_withdraw_but_cannot_block_the_deal(funded_net):
    """Pull payout: a payee who may not receive does not block releases, repayment or the lender."""
    net = funded_net
    setup = open_deal(net)
    govern(net, [net.registry().call_set_sanctioned(net.addr("seller"), True, "sanctions list")])
    confirm(net, event(net, setup.reference, "DEPA"))  # released inside the report all the same
    fin = financing(net)
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 2_400_000
    with pytest.raises(errors.MemberIsSanctioned):
        financing(net, "seller").withdraw(setup.deal_id)
    repay(net, setup)
    assert financing(net, "lender").withdraw(setup.deal_id) == 8_120_000
    assert_conserved(net)


# ---------------------------------------------------------------------------- retraction


def test_retraction_undoes_an_unwithdrawn_release_and_a_corrected_event_releases_again(funded_net):
    net = funded_net
    setup = open_deal(net)
    fin = financing(net)
    b = assert_conserved(net)
    dep_id = confirm(net, event(net, setup.reference, "DEPA", "CNSZX"))
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 2_400_000
    r = retract(net, dep_id, "vessel did not sail")
    (rev,) = fin.events(r, "MilestoneReversed")
    assert rev["dealId"] == setup.deal_id and rev["eventId"] == dep_id and rev["amount"] == 2_400_000
    assert rev["totalReleased"] == 0
    m = fin.milestones(setup.deal_id)[0]
    assert m.status == MilestoneStatus.PENDING and m.released_by is None
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 0
    assert fin.escrow_balance(setup.deal_id) == 8_000_000
    assert assert_conserved(net) == b
    with pytest.raises(errors.NothingToRelease):
        fin.using(net.keys["auditor"]).poke(setup.deal_id)
    new_id = confirm(net, event(net, setup.reference, "DEPA", "CNYTN", evidence="corrected departure"))
    m = fin.milestones(setup.deal_id)[0]
    assert m.status == MilestoneStatus.RELEASED and m.released_by == new_id != dep_id
    assert fin.claimable(setup.deal_id, net.addr("seller")) == 2_400_000


def test_retraction_after_withdrawal_reverts_funds_already_moved_on(funded_net):
    net = funded_net
    setup = open_deal(net)
    dep_id = confirm(net, event(net, setup.reference, "DEPA"))
    financing(net, "seller").withdraw(setup.deal_id)
    arr_id = confirm(net, event(net, setup.reference, "ARRI", "NLRTM"))
    with pytest.raises(errors.FundsAlreadyMovedOn) as e:
        retract(net, dep_id)
    assert e.value["milestone"] == 0
    o = oracle(net)
    assert o.confirmed_event(setup.shipment, "DEPA") == dep_id  # nothing changed
    # the later release was not withdrawn: it can still be retracted
    retract(net, arr_id)
    assert financing(net).milestones(setup.deal_id)[1].status == MilestoneStatus.PENDING
    assert_conserved(net)


def test_retraction_after_repayment_reverts(funded_net):
    net = funded_net
    setup = open_deal(net)
    dep_id = confirm(net, event(net, setup.reference, "DEPA"))
    repay(net, setup)  # the seller never withdrew, but the deal is settled
    with pytest.raises(errors.FundsAlreadyMovedOn):
        retract(net, dep_id)


def test_retraction_is_atomic_across_deals(funded_net):
    net = funded_net
    ref = "MAEU-ATOMIC-1"
    s1, s2 = open_deal(net, reference=ref), open_deal(net, reference=ref)
    dep_id = confirm(net, event(net, ref, "DEPA"))
    financing(net, "seller").withdraw(s2.deal_id)
    with pytest.raises(errors.FundsAlreadyMovedOn):
        retract(net, dep_id)
    fin = financing(net)
    assert fin.milestones(s1.deal_id)[0].status == MilestoneStatus.RELEASED
    assert fin.claimable(s1.deal_id, net.addr("seller")) == 2_400_000


# ---------------------------------------------------------------------------- authorization matrix

ROLES = ("seller", "buyer", "lender", "lender_b", "oracle_1", "admin_a", "outsider")
FUNCTIONS = ("accept", "fund", "cancel", "repay", "withdraw", "declareDefault", "flagOverdue", "poke",
             "onEventConfirmed", "onEventRetracted")


def _expected(fn: str, d, role: str, net, past_maturity: bool, past_grace: bool, claim: int) -> str | None:
    """The error each call must revert with; None where the call is legitimate."""
    party = role in ("seller", "lender")
    funded = d.state == DealState.FUNDED
    if fn == "accept":
        return "DealExists" if party else "NotDealParty"
    if fn == "fund":
        return "NotLender" if role != "lender" else (None if d.state == DealState.ACCEPTED else "InvalidDealState")
    if fn == "cancel":
        return "NotDealParty" if not party else (None if d.state == DealState.ACCEPTED else "InvalidDealState")
    if fn == "repay":
        return "NotBuyer" if role != "buyer" else (None if funded else "InvalidDealState")
    if fn == "withdraw":
        return None if claim else "NothingToWithdraw"
    if fn == "declareDefault":
        if role != "lender":
            return "NotLender"
        return "InvalidDealState" if not funded else (None if past_grace else "GracePeriodRunning")
    if fn == "flagOverdue":
        if not funded:
            return "InvalidDealState"
        return "NotOverdue" if not past_maturity else ("AlreadyFlaggedOverdue" if d.overdue_flagged else None)
    if fn == "poke":
        return "InvalidDealState" if not funded else "NothingToRelease"
    return "NotOracle"


_SIGS: dict[int, tuple[bytes, bytes]] = {}


def _attempt(net, fn: str, setup, account, event_id: bytes):
    fin = financing(net).using(account)
    did = setup.deal_id
    if fn == "accept":
        if setup.deal_id not in _SIGS:
            _SIGS[setup.deal_id] = sign_both(net, setup.terms)
        return fin.accept(setup.terms, *_SIGS[setup.deal_id])
    if fn in ("onEventConfirmed", "onEventRetracted"):
        ref = (fin.deal(did).seq << 8) | 0
        return fin._tx(fn, event_id, setup.shipment, b"DEPA", ref)
    method = {"declareDefault": "declare_default", "flagOverdue": "flag_overdue"}.get(fn, fn)
    return getattr(fin, method)(did)


def _run_matrix(net, deals: dict[str, object], past_maturity: bool, past_grace: bool, event_id: bytes) -> int:
    keys = dict(net.keys)
    keys["outsider"] = Account.from_key(keccak(text="matrix outsider"))
    fin = financing(net)
    checked = 0
    for label, setup in deals.items():
        d = fin.deal(setup.deal_id)
        before = (d, balance(net, deal_addr(net)), net.invoices().invoice(setup.terms.invoice_id).holder)
        for role in ROLES:
            claim = fin.claimable(setup.deal_id, keys[role].address)
            for fn in FUNCTIONS:
                want = _expected(fn, d, role, net, past_maturity, past_grace, claim)
                if want is None:
                    continue  # legitimate (exercised by the lifecycle tests)
                with pytest.raises(errors.ContractRevert) as e:
                    _attempt(net, fn, setup, keys[role], event_id)
                assert e.value.error_name == want, (label, role, fn, e.value)
                checked += 1
        after = (fin.deal(setup.deal_id), balance(net, deal_addr(net)),
                 net.invoices().invoice(setup.terms.invoice_id).holder)
        assert after == before, label
    return checked


def test_no_path_moves_escrow_outside_the_schedule(funded_net):
    """Every mutating function, as every role, in every state: reverts with the expected error
    unless it is the one legitimate action; escrow balance, deal record and invoice holder unchanged."""
    net = funded_net
    ref = "MAEU-MATRIX-1"
    deals = {
        "accepted": open_deal(net, funded=False, reference=ref),
        "funded": open_deal(net, reference=ref),
        "funded_released": open_deal(net, reference=ref),
        "repaid": open_deal(net, reference=ref),
        "closed": open_deal(net, reference=ref),
        "cancelled": open_deal(net, funded=False, reference=ref),
        "to_default": open_deal(net, reference=ref),
        "overdue": open_deal(net, reference=ref),
    }
    dep_id = confirm(net, event(net, ref, "DEPA"))  # releases for every funded deal
    financing(net, "seller").withdraw(deals["funded"].deal_id)  # funded: released and paid out
    repay(net, deals["repaid"])
    repay(net, deals["closed"])
    financing(net, "seller").withdraw(deals["closed"].deal_id)
    financing(net, "lender").withdraw(deals["closed"].deal_id)
    financing(net, "seller").cancel(deals["cancelled"].deal_id)
    fin = financing(net)
    assert fin.state(deals["closed"].deal_id) == DealState.CLOSED

    checked = _run_matrix(net, deals, past_maturity=False, past_grace=False, event_id=dep_id)

    net.advance_time(60 * DAY + 10 * DAY + 1)  # past maturity and grace
    financing(net, "lender").declare_default(deals["to_default"].deal_id)
    checked += _run_matrix(net, deals, past_maturity=True, past_grace=True, event_id=dep_id)
    assert checked > 900
    assert_conserved(net)
    assert_escrow_backed(net, [s.deal_id for s in deals.values()])


# ---------------------------------------------------------------------------- InvoiceToken rules deals rely on


def test_another_escrow_cannot_change_the_state_of_an_invoice_the_deal_holds(funded_net):
    from chain.contracts import ContractKind

    net = funded_net
    setup = open_deal(net)
    # any registered escrow (here an EOA registered as one, as bench/gas_foundation.py does)
    govern(net, [net.registry().call_set_network_contract(net.addr("lender_b"), ContractKind.ESCROW)])
    with pytest.raises(errors.NotInvoiceHolder):  # only the holding escrow changes financing state
        net.invoices("lender_b").mark_paid(setup.terms.invoice_id)
    with pytest.raises(errors.NotInvoiceHolder):
        net.invoices("lender_b").mark_defaulted(setup.terms.invoice_id)
    repay(net, setup)  # the deal's own flow still works
    assert net.invoices().invoice(setup.terms.invoice_id).state.name == "PAID"


def test_suspended_lender_can_still_enforce_a_default(funded_net):
    net = funded_net
    setup = open_deal(net, maturity_in=10 * DAY, grace=0)
    govern(net, [net.registry().call_suspend(net.addr("lender"), "review")])
    net.advance_time(10 * DAY + 1)
    financing(net, "lender").declare_default(setup.deal_id)  # running obligations close while suspended
    inv = net.invoices().invoice(setup.terms.invoice_id)
    assert inv.holder == net.addr("lender") and inv.state.name == "DEFAULTED"
