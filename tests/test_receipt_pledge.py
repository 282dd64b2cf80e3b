"""Receipt-pledge financing (仓单质押): the warehouse receipt is pledged to the deal when it is
funded, locked while pledged, released on full repayment and enforced (to the lender) only by the
deal's default, after maturity + grace, which must end before the receipt expires."""

from __future__ import annotations

import pytest

from chain import errors
from chain.clients import Milestone
from chain.vocabulary import DealState, Product

from tests.support.products import (
    DAY,
    accept,
    addr,
    c,
    claimable,
    confirm_event,
    deal,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    mint,
    moves,
    receipt,
    refused,
    repay,
    sign,
    state,
    terms,
    unique,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

PRINCIPAL = 200_000_00
FEE = 4_000_00
HALF = PRINCIPAL // 2


@pytest.fixture
def money(net):
    mint(net, "lender", 1_000_000_00)
    mint(net, "seller", 100_000_00)


def pledge_terms(net, receipt_id: int, reference: str | None = None, **kw):
    """Half advanced at funding, half when the goods are received into the warehouse (WHIN)."""
    reference = reference or unique("WH-LOT")
    schedule = (Milestone("", 5_000), Milestone("WHIN", 5_000, "NLRTM"))
    return terms(net, Product.RECEIPT_PLEDGE, receipt_id, PRINCIPAL, FEE, milestones=schedule,
                 reference=reference, **kw)


def funded_pledge(net) -> tuple[int, int]:
    receipt_id = receipt(net)
    deal_id = accept(net, pledge_terms(net, receipt_id))
    fund(net, deal_id)
    return receipt_id, deal_id


def _receipt(net, receipt_id: int):
    return c(net).receipts.receipt(receipt_id)


def _default(net, deal_id: int) -> None:
    d = deal(net, deal_id)
    net.advance_time(d.maturity + d.grace_period - net.now() + 1)
    c(net, "lender").deals.declare_default(deal_id)


# ---------------------------------------------------------------------------- happy paths


def test_pledged_at_acceptance_released_on_repayment_with_a_warehouse_milestone(net, money):
    receipt_id = receipt(net)
    reference = unique("WH-LOT")
    t = pledge_terms(net, receipt_id, reference)
    deal_id = accept(net, t)
    r = _receipt(net, receipt_id)
    assert (r.holder, r.pledgee) == (addr(net, "seller"), net.deployment.receipt_pledge_financing)  # locked at acceptance
    with moves(net, {"lender": -PRINCIPAL, "engine": PRINCIPAL}):
        fund(net, deal_id)
    r = _receipt(net, receipt_id)
    assert (r.holder, r.pledgee, r.pledge_enforceable_after) == (
        addr(net, "seller"), net.deployment.receipt_pledge_financing, 0)
    assert claimable(net, deal_id, "seller") == HALF
    confirm_event(net, reference, "WHIN", "NLRTM", deal_id)
    assert claimable(net, deal_id, "seller") == PRINCIPAL
    with moves(net, {"seller": PRINCIPAL, "engine": -PRINCIPAL}):
        withdraw(net, deal_id, "seller")
    d = deal(net, deal_id)
    assert (d.obligor, d.obligation) == (addr(net, "seller"), 0)  # the depositor repays
    with moves(net, {"seller": -(PRINCIPAL + FEE), "engine": PRINCIPAL + FEE}):
        repay(net, deal_id, "seller")
    assert _receipt(net, receipt_id).pledgee is None
    with moves(net, {"lender": PRINCIPAL + FEE, "engine": -(PRINCIPAL + FEE)}):
        withdraw(net, deal_id, "lender")
    assert state(net, deal_id) is DealState.CLOSED
    # the receipt is free again: the depositor can take the goods out
    c(net, "seller").receipts.request_redemption(receipt_id)
    c(net, "warehouse").receipts.redeem(receipt_id)
    assert _receipt(net, receipt_id).holder is None


def test_default_enforces_the_pledge_the_receipt_goes_to_the_lender(net, money):
    receipt_id, deal_id = funded_pledge(net)
    with moves(net, {}):
        _default(net, deal_id)
    r = _receipt(net, receipt_id)
    assert (r.holder, r.pledgee) == (addr(net, "lender"), None)
    assert claimable(net, deal_id, "lender") == HALF  # the unreleased escrow
    assert claimable(net, deal_id, "seller") == HALF  # the advance stays the depositor's
    with moves(net, {"lender": HALF, "seller": HALF, "engine": -PRINCIPAL}):
        withdraw(net, deal_id, "lender", "seller")
    assert state(net, deal_id) is DealState.CLOSED


@pytest.mark.parametrize("who", ["seller", "lender"])
def test_cancel_before_funding_releases_the_pledge(net, money, who):
    receipt_id = receipt(net)
    deal_id = accept(net, pledge_terms(net, receipt_id))
    receipt_cl = c(net).receipts
    events = receipt_cl.events(c(net, who).deals.cancel(deal_id), "PledgeReleased")
    assert [e["id"] for e in events] == [receipt_id]
    r = _receipt(net, receipt_id)
    assert (r.holder, r.pledgee) == (addr(net, "seller"), None)
    refused(net, errors.InvalidDealState, lambda: c(net, "lender").deals.fund(deal_id))


# ---------------------------------------------------------------------------- the pledge lock


def test_a_pledged_receipt_cannot_be_redeemed_transferred_or_pledged_again(net, money):
    receipt_id, deal_id = funded_pledge(net)
    holder = c(net, "seller").receipts
    reads = (lambda: _receipt(net, receipt_id), lambda: deal(net, deal_id))
    pledgee = net.deployment.receipt_pledge_financing
    e = refused(net, errors.ReceiptPledged, lambda: holder.request_redemption(receipt_id), *reads)
    assert e["pledgee"] == pledgee
    refused(net, errors.ReceiptPledged, lambda: holder.transfer(addr(net, "seller_ops"), receipt_id), *reads)
    refused(net, errors.ReceiptAlreadyPledged,
            lambda: holder.pledge(receipt_id, addr(net, "lender_b"), net.now() + 30 * DAY, 0), *reads)
    # nor into a second deal
    t2 = pledge_terms(net, receipt_id, lender="lender_b")
    refused(net, errors.ReceiptUnavailable, lambda: c(net, "seller").deals.accept(t2, b"", sign(net, t2, "lender_b")),
            *reads)


def test_nobody_enforces_or_releases_a_deal_pledge_outside_the_deals_default(net, money):
    receipt_id, deal_id = funded_pledge(net)
    reads = (lambda: _receipt(net, receipt_id), lambda: deal(net, deal_id))
    for who in ("lender", "seller", "warehouse"):
        rc = c(net, who).receipts
        refused(net, errors.NotPledgee, lambda rc=rc: rc.enforce_pledge(receipt_id, addr(net, "lender")), *reads)
        refused(net, errors.NotPledgee, lambda rc=rc: rc.release_pledge(receipt_id), *reads)
    # the module's hooks answer only the engine
    refused(net, errors.NotEngine,
            lambda: c(net, "lender").pledges._tx("onDefault", deal_id, receipt_id, addr(net, "seller"),
                                                 addr(net, "lender")), *reads)
    # and the deal defaults only after maturity + grace
    d = deal(net, deal_id)
    net.advance_time(d.maturity + d.grace_period - net.now() - 5)
    e = refused(net, errors.GracePeriodRunning, lambda: c(net, "lender").deals.declare_default(deal_id), *reads)
    assert e["defaultableAfter"] == d.maturity + d.grace_period


# ---------------------------------------------------------------------------- acceptance rules


def test_maturity_plus_grace_must_end_before_the_receipt_expires(net, money):
    receipt_id = receipt(net, expiry_in=90 * DAY)
    expiry = _receipt(net, receipt_id).expiry
    c(net, "seller").receipts.approve(net.deployment.receipt_pledge_financing, receipt_id)
    t = pledge_terms(net, receipt_id, maturity_in=80 * DAY, grace=10 * DAY)
    t = type(t)(**{**t.__dict__, "grace_period": expiry - t.maturity})  # ends exactly at expiry
    e = refused(net, errors.ReceiptExpiresFirst,
                lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")),
                lambda: c(net).deals.deal_count())
    assert (e["receiptId"], e["expiry"], e["defaultableAfter"]) == (receipt_id, expiry, expiry)
    ok = type(t)(**{**t.__dict__, "grace_period": expiry - t.maturity - 1})
    deal_id = c(net, "seller").deals.accept(ok, b"", sign(net, ok, "lender"))
    assert state(net, deal_id) is DealState.ACCEPTED


def test_only_the_holder_of_an_unencumbered_receipt_can_pledge_it(net, money):
    receipt_id = receipt(net)
    t = pledge_terms(net, receipt_id, borrower="seller_ops")
    e = refused(net, errors.NotReceiptHolder, lambda: c(net, "seller_ops").deals.accept(t, b"", sign(net, t, "lender")))
    assert list(e.values()) == [receipt_id, addr(net, "seller_ops")]  # (receiptId, borrower)
    directly = receipt(net)
    c(net, "seller").receipts.pledge(directly, addr(net, "lender_b"), net.now() + 30 * DAY, DAY)
    t = pledge_terms(net, directly)
    refused(net, errors.ReceiptUnavailable, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))
    surrendered = receipt(net)
    c(net, "seller").receipts.request_redemption(surrendered)
    t = pledge_terms(net, surrendered)
    refused(net, errors.ReceiptUnavailable, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))


def test_acceptance_needs_the_holders_approval_of_the_module(net, money):
    receipt_id = receipt(net)
    t = pledge_terms(net, receipt_id)
    refused(net, errors.PledgeNotApproved, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")),
            lambda: _receipt(net, receipt_id), lambda: c(net).deals.deal_count())


def test_finding_an_accepted_deals_receipt_neither_moves_nor_backs_a_second_deal(net, money):
    """Two accepted deals on one receipt were possible while the pledge waited for funding; the
    receipt is now locked from acceptance: it cannot change hands, and a second deal on it is
    refused, until the first is cancelled."""
    receipt_id = receipt(net)
    deal_id = accept(net, pledge_terms(net, receipt_id))
    reads = (lambda: _receipt(net, receipt_id), lambda: deal(net, deal_id))
    refused(net, errors.ReceiptPledged,
            lambda: c(net, "seller").receipts.transfer(addr(net, "buyer"), receipt_id), *reads)
    second = pledge_terms(net, receipt_id, lender="lender_b")
    refused(net, errors.ReceiptUnavailable,
            lambda: c(net, "seller").deals.accept(second, b"", sign(net, second, "lender_b")), *reads)
    c(net, "seller").deals.cancel(deal_id)
    assert state(net, accept(net, pledge_terms(net, receipt_id, lender="lender_b"))) is DealState.ACCEPTED
