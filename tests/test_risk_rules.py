"""The network's risk rules, consulted by every deal of every product at acceptance and funding:
per-lender limits per obligor, concentration caps, the network obligor limit, FX conversion of
cross-currency bookings (a stale rate blocks), the overdue freeze (three in a row, lifted only by
M-of-N governance, reset by an on-time repayment), sanctions, early warnings at 80%, and
four-eyes review. Rules see legal entities (LEIs), not accounts."""

from __future__ import annotations

import pytest

from chain import errors
from chain.clients import Milestone, RequiredDocument
from chain.vocabulary import DealState, Product, Role

from tests.support.products import (
    DAY,
    EUR,
    USD,
    accept,
    addr,
    admit,
    approve_collateral,
    by_address,
    c,
    credit_extra,
    deal,
    entity,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    govern,
    invoice,
    lei_of,
    mint,
    moves,
    order,
    receipt,
    refused,
    repay,
    sanction,
    set_rate,
    sign,
    terms,
    unique,
)
from tests.support.tokens import govern_fails

pytestmark = pytest.mark.usefixtures("funds_conserved")

RATE = "1.08253333"


@pytest.fixture
def money(net):
    for who in ("lender", "lender_b", "buyer", "seller"):
        mint(net, who, 10_000_000_00)
        mint(net, who, 10_000_000_00, EUR)


def risk(net, who=None):
    return c(net, who).risk


# ---------------------------------------------------------------------------- deal builders


def product_terms(net, product: Product, principal: int, *, lender="lender", borrower="seller", buyer="buyer",
                  currency=USD, maturity_in=60 * DAY, grace=10 * DAY):
    """Terms of a deal of `product` for `principal` (fee 0, everything advanced at funding);
    the collateral is created and approved for the module."""
    kw = dict(lender=lender, borrower=borrower, currency=currency, maturity_in=maturity_in, grace=grace)
    if product is Product.RECEIVABLE:
        collateral = invoice(net, principal, currency, seller=borrower, buyer=buyer, due_in=maturity_in)
    elif product is Product.ORDER:
        collateral = order(net, principal, currency, buyer=buyer, supplier=borrower)
    elif product is Product.RECEIPT_PLEDGE:
        collateral = receipt(net, depositor=borrower)
    else:
        reference = unique("MAEU-LC")
        extra = credit_extra(net, (RequiredDocument("BLAD"),), applicant=buyer, presenter=borrower)
        t = terms(net, product, 0, principal, lender=buyer, borrower=borrower, currency=currency,
                  maturity_in=30 * DAY, grace=0, milestones=(Milestone("ARRI", 10_000, "NLRTM"),),
                  reference=reference, extra=extra)
        return t
    t = terms(net, product, collateral, principal, **kw)
    approve_collateral(net, t)
    return t


def deal_of(net, principal: int, product: Product = Product.RECEIVABLE, funded: bool = True, **kw) -> int:
    t = product_terms(net, product, principal, **kw)
    deal_id = accept(net, t, approve=False)
    if funded:
        fund(net, deal_id, kw.get("currency", USD))
    return deal_id


def accept_fails(net, error: type, t, *reads):
    borrower, lender = by_address(net, t.borrower), by_address(net, t.lender)
    return refused(net, error, lambda: c(net, borrower).deals.accept(t, b"", sign(net, t, lender)),
                   lambda: c(net).deals.deal_count(), *reads)


def fund_fails(net, error: type, deal_id: int, *reads):
    d = deal(net, deal_id)
    lender = by_address(net, d.lender)
    c(net, lender).token_at(d.token).approve(net.deployment.deal_engine, d.principal)
    return refused(net, error, lambda: c(net, lender).deals.fund(deal_id), lambda: deal(net, deal_id), *reads)


def exposure(net, lender="lender", obligor="buyer") -> tuple[int, int, int]:
    """(pair, lender's book, obligor's network total)."""
    r = risk(net)
    return (r.pair(addr(net, lender), addr(net, obligor)).exposure, r.lender_book(addr(net, lender)).exposure,
            r.party(addr(net, obligor)).network_exposure)


def warnings(net, receipt: dict) -> list[tuple]:
    return [(w["kind"], bytes(w["lender"]), bytes(w["obligor"]), w["used"], w["limit"])
            for w in risk(net).events(receipt, "RiskWarning")]


def past_grace(net, deal_ids) -> None:
    end = max(deal(net, d).maturity + deal(net, d).grace_period for d in deal_ids)
    net.advance_time(end - net.now() + 1)


# ---------------------------------------------------------------------------- limits, caps, network limit


def test_a_deal_over_the_lenders_limit_is_refused_with_its_figures(net, money):
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    risk(net, "lender").set_limit(addr(net, "buyer"), 100_000_00)
    deal_of(net, 60_000_00)
    t = product_terms(net, Product.RECEIVABLE, 40_000_01)
    e = accept_fails(net, errors.ExposureLimitExceeded, t, lambda: exposure(net))
    assert (e["lender"], e["obligor"]) == (entity(net, "lender"), entity(net, "buyer"))
    assert (e["limit"], e["current"], e["requested"]) == (100_000_00, 60_000_00, 40_000_01)
    deal_of(net, 40_000_00)  # exactly at the limit
    assert exposure(net) == (100_000_00, 100_000_00, 100_000_00)


def test_the_limit_is_checked_again_at_funding(net, money):
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    risk(net, "lender").set_limit(addr(net, "buyer"), 100_000_00)
    first = deal_of(net, 70_000_00, funded=False)
    deal_of(net, 70_000_00)
    e = fund_fails(net, errors.ExposureLimitExceeded, first, lambda: exposure(net))
    assert (e["limit"], e["current"], e["requested"]) == (100_000_00, 70_000_00, 70_000_00)
    # a zero limit refuses everything; lifting the limit allows again
    risk(net, "lender").set_limit(addr(net, "buyer"), 0)
    e = accept_fails(net, errors.ExposureLimitExceeded, product_terms(net, Product.RECEIVABLE, 1))
    assert (e["limit"], e["requested"]) == (0, 1)
    risk(net, "lender").set_limit(addr(net, "buyer"), None)
    c(net, "lender").deals.fund(first)


def test_limits_are_keyed_by_legal_entity(net, money):
    """A second account of the obligor's organisation shares its limit (and of the lender's, its book)."""
    buyer_2 = admit(net, "buyer_2", Role.BUYER, lei_of(net, "buyer"), "Rotterdam Retail B.V.", "NL")
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    risk(net, "lender").set_limit(buyer_2.address, 100_000_00)  # set through the second account
    assert risk(net).pair(addr(net, "lender"), addr(net, "buyer")).limit == 100_000_00
    deal_of(net, 90_000_00)  # obligor: the first account
    inv = invoice(net, 10_000_01, buyer=buyer_2, due_in=60 * DAY)
    t = terms(net, Product.RECEIVABLE, inv, 10_000_01)
    approve_collateral(net, t)
    e = accept_fails(net, errors.ExposureLimitExceeded, t)
    assert (e["obligor"], e["limit"], e["current"], e["requested"]) == (
        entity(net, "buyer"), 100_000_00, 90_000_00, 10_000_01)
    # the seller's second account borrows under the same organisation: a frozen or limited party
    # cannot escape through it either (same key)
    assert entity(net, "seller_ops") == entity(net, "seller")


def test_a_deal_over_the_concentration_cap_is_refused(net, money):
    deal_of(net, 60_000_00)  # obligor: the buyer
    deal_of(net, 40_000_00, Product.RECEIPT_PLEDGE)  # obligor: the depositor (seller)
    risk(net, "lender").set_lender_policy(USD, 6_500, 0)
    deal_of(net, 10_000_00)  # buyer 70,000 / 110,000 = 6,363 bps
    t = product_terms(net, Product.RECEIVABLE, 10_000_00)
    e = accept_fails(net, errors.ConcentrationCapExceeded, t, lambda: exposure(net))
    # 80,000 / 120,000 = 6,666.7 bps (reported rounded up)
    assert (e["lender"], e["obligor"], e["capBps"], e["resultingBps"]) == (
        entity(net, "lender"), entity(net, "buyer"), 6_500, 6_667)
    refused(net, errors.InvalidCap, lambda: risk(net, "lender").set_lender_policy(USD, 10_001, 0))


def test_a_capital_base_measures_the_cap_for_a_new_book(net, money):
    """A 25% large-exposure cap on an empty book: without a capital base the first deal is all
    of the book and refused; measured against a USD 1,000,000.00 capital base, deals up to
    USD 250,000.00 per obligor pass, one unit more is refused, and once the book outgrows the
    base the book is the measure again."""
    rr = risk(net, "lender")
    rr.set_lender_policy(USD, 2_500, 0)
    t = product_terms(net, Product.RECEIVABLE, 10_000_00)
    e = accept_fails(net, errors.ConcentrationCapExceeded, t)
    assert (e["capBps"], e["resultingBps"]) == (2_500, 10_000)
    refused(net, errors.NoBookCurrency, lambda: risk(net, "lender_b").set_capital_base(1_000_000_00))
    receipt = rr.set_capital_base(1_000_000_00)
    [ev] = rr.events(receipt, "CapitalBaseSet")
    assert (ev["lender"], ev["capitalBase"]) == (entity(net, "lender"), 1_000_000_00)
    assert risk(net).capital_base(addr(net, "lender")) == 1_000_000_00
    deal_of(net, 250_000_00)  # 250,000 / 1,000,000 = 2,500 bps: at the cap
    t = product_terms(net, Product.RECEIVABLE, 1)
    e = accept_fails(net, errors.ConcentrationCapExceeded, t, lambda: exposure(net))
    assert (e["obligor"], e["resultingBps"]) == (entity(net, "buyer"), 2_501)  # 250,000.01 / 1,000,000, rounded up
    rr.set_capital_base(0)
    e = accept_fails(net, errors.ConcentrationCapExceeded, product_terms(net, Product.RECEIVABLE, 1))
    assert e["resultingBps"] == 10_000  # the book alone is the measure again


def test_a_deal_over_the_network_obligor_limit_is_refused(net, money):
    rr = risk(net)
    refused(net, errors.NotGovernance, lambda: rr.using(net.keys["admin_a"])._tx(
        "setNetworkLimit", addr(net, "buyer"), True, 150_000_00))
    govern(net, rr.call_set_network_limit(addr(net, "buyer"), 150_000_00))
    deal_of(net, 100_000_00, lender="lender")
    t = product_terms(net, Product.RECEIVABLE, 50_000_01, lender="lender_b")
    e = accept_fails(net, errors.NetworkLimitExceeded, t)
    assert (e["obligor"], e["limit"], e["current"], e["requested"]) == (
        entity(net, "buyer"), 150_000_00, 100_000_00, 50_000_01)
    deal_of(net, 50_000_00, lender="lender_b")
    assert rr.party(addr(net, "buyer")).network_exposure == 150_000_00


@pytest.mark.parametrize("product", [Product.RECEIVABLE, Product.ORDER, Product.RECEIPT_PLEDGE])
def test_the_limit_holds_for_every_product(net, money, product):
    obligor = "buyer" if product is Product.RECEIVABLE else "seller"  # the PO supplier / the depositor
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    risk(net, "lender").set_limit(addr(net, obligor), 50_000_00)
    t = product_terms(net, product, 50_000_01)
    e = accept_fails(net, errors.ExposureLimitExceeded, t)
    assert (e["obligor"], e["limit"], e["current"], e["requested"]) == (entity(net, obligor), 50_000_00, 0, 50_000_01)
    deal_id = deal_of(net, 50_000_00, product)
    assert exposure(net, obligor=obligor)[0] == 50_000_00
    assert deal(net, deal_id).state is DealState.FUNDED


# ---------------------------------------------------------------------------- FX


def test_a_cross_currency_booking_needs_a_fresh_rate(net, money):
    # a EUR deal for a lender whose book is in USD (the network currency)
    t = product_terms(net, Product.RECEIVABLE, 50_000_00, currency=EUR)
    accept_fails(net, errors.RateUnavailable, t)
    set_rate(net, EUR, USD, RATE)
    net.advance_time(3_601)  # older than the feed's one-hour window
    e = accept_fails(net, errors.RateTooOld, t)
    assert (e["baseCurrency"], e["quoteCurrency"], e["maxAge"]) == (b"EUR", b"USD", 3_600)
    set_rate(net, EUR, USD, RATE)
    deal_id = accept(net, t, approve=False)
    net.advance_time(3_601)  # the rate went stale before funding
    fund_fails(net, errors.RateTooOld, deal_id, lambda: exposure(net))
    set_rate(net, EUR, USD, RATE)
    fund(net, deal_id, EUR)
    assert exposure(net) == (5_412_667,) * 3  # ceil(50,000.00 EUR x 1.08253333)


def test_exposure_is_released_exactly_at_settlement_also_after_a_cross_currency_booking(net, money):
    set_rate(net, EUR, USD, RATE)
    usd_deal = deal_of(net, 30_000_00)
    eur_deal = deal_of(net, 50_000_00, currency=EUR)
    booked = 5_412_667
    assert exposure(net) == (30_000_00 + booked,) * 3
    set_rate(net, EUR, USD, "1.30000000")  # the feed moves: the booked amount is what is released
    repay(net, eur_deal, "buyer", EUR)
    assert exposure(net) == (30_000_00,) * 3
    net.advance_time(2 * 3_600)  # even with a stale rate, settling needs none
    repay(net, usd_deal, "buyer")
    assert exposure(net) == (0, 0, 0)


def test_exposure_is_released_on_default_and_the_book_currency_changes_only_when_empty(net, money):
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    deal_id = deal_of(net, 20_000_00, maturity_in=30 * DAY, grace=DAY)
    e = refused(net, errors.BookNotEmpty, lambda: risk(net, "lender").set_lender_policy(EUR, 0, 0))
    assert e["exposure"] == 20_000_00
    past_grace(net, [deal_id])
    c(net, "lender").deals.declare_default(deal_id)
    assert exposure(net) == (0, 0, 0)
    risk(net, "lender").set_lender_policy(EUR, 0, 0)
    assert risk(net).lender_book(addr(net, "lender")).currency == EUR


# ---------------------------------------------------------------------------- warnings


def test_warnings_exactly_at_80_percent_of_the_limit_and_the_network_limit(net, money):
    lender, buyer = entity(net, "lender"), entity(net, "buyer")
    risk(net, "lender").set_lender_policy(USD, 0, 0)
    risk(net, "lender").set_limit(addr(net, "buyer"), 10_000_00)
    govern(net, risk(net).call_set_network_limit(addr(net, "buyer"), 20_000_00))
    below = deal_of(net, 7_999_00, funded=False)  # 79.99% of the lender's limit
    receipt = fund(net, below)
    assert warnings(net, receipt) == []
    receipt = fund(net, deal_of(net, 1_00, funded=False))  # 80.00%
    assert warnings(net, receipt) == [(1, lender, buyer, 8_000_00, 10_000_00)]
    receipt = fund(net, deal_of(net, 1_00, funded=False))  # already past: no second warning
    assert warnings(net, receipt) == []
    # the network limit: 8,001.00 booked; 7,998.00 more is 79.995% of 20,000.00; 1.00 more is 80%
    receipt = fund(net, deal_of(net, 7_998_00, lender="lender_b", funded=False))
    assert warnings(net, receipt) == []
    receipt = fund(net, deal_of(net, 1_00, lender="lender_b", funded=False))
    assert warnings(net, receipt) == [(3, bytes(20), buyer, 16_000_00, 20_000_00)]


def test_concentration_warning_exactly_at_80_percent_of_the_cap(net, money):
    lender, buyer = entity(net, "lender"), entity(net, "buyer")
    risk(net, "lender").set_lender_policy(USD, 10_000, 0)
    deal_of(net, 2_000_00, Product.RECEIPT_PLEDGE)  # the seller's share
    receipt = fund(net, deal_of(net, 7_999_99, funded=False))  # 7,999.99 / 9,999.99: 7,999 bps
    assert [w for w in warnings(net, receipt) if w[0] == 2] == []
    receipt = fund(net, deal_of(net, 1, funded=False))  # 8,000.00 / 10,000.00: 8,000 bps
    assert [w for w in warnings(net, receipt) if w[0] == 2] == [(2, lender, buyer, 8_000, 10_000)]


# ---------------------------------------------------------------------------- the overdue freeze


def test_overdue_is_flagged_in_two_stages(net, money):
    deal_id = deal_of(net, 10_000_00, maturity_in=30 * DAY, grace=5 * DAY)
    engine = c(net, "carrier").deals
    refused(net, errors.NotOverdue, lambda: engine.flag_overdue(deal_id))
    net.advance_time(deal(net, deal_id).maturity - net.now() + 1)
    receipt = engine.flag_overdue(deal_id)
    ev = engine.events(receipt, "DealOverdue")[0]
    assert (ev["dealId"], ev["owed"]) == (deal_id, 10_000_00)
    assert engine.events(receipt, "DealOverdueCounted") == []
    assert risk(net).party(addr(net, "seller")).overdue_run == 0
    refused(net, errors.AlreadyFlaggedOverdue, lambda: engine.flag_overdue(deal_id))
    past_grace(net, [deal_id])
    receipt = engine.flag_overdue(deal_id)
    assert len(engine.events(receipt, "DealOverdueCounted")) == 1
    assert [risk(net).party(addr(net, k)).overdue_run for k in ("seller", "buyer")] == [1, 1]
    refused(net, errors.AlreadyFlaggedOverdue, lambda: engine.flag_overdue(deal_id))


def _three_overdue(net) -> list[int]:
    deals = [deal_of(net, 10_000_00, maturity_in=2 * DAY, grace=DAY) for _ in range(3)]
    past_grace(net, deals)
    engine = c(net, "carrier").deals
    engine.flag_overdue(deals[0])
    engine.flag_overdue(deals[1])
    receipt = c(net, "lender").deals.declare_default(deals[2])  # a default counts too
    frozen = risk(net).events(receipt, "Frozen")
    assert [(bytes(f["party"]), f["run"]) for f in frozen] == [(entity(net, "seller"), 3), (entity(net, "buyer"), 3)]
    return deals


def test_three_overdue_deals_in_a_row_freeze_the_borrower_and_the_obligor(net, money):
    pending = deal_of(net, 5_000_00, maturity_in=90 * DAY, funded=False)  # accepted before the freeze
    _three_overdue(net)
    assert risk(net).is_frozen(addr(net, "seller")) and risk(net).is_frozen(addr(net, "seller_ops"))
    t = product_terms(net, Product.RECEIVABLE, 10_000_00, maturity_in=90 * DAY)
    e = accept_fails(net, errors.PartyFrozen, t)
    assert e["party"] == entity(net, "seller")
    e = fund_fails(net, errors.PartyFrozen, pending)
    assert e["party"] == entity(net, "seller")


@pytest.mark.parametrize("product", [Product.RECEIVABLE, Product.ORDER, Product.RECEIPT_PLEDGE, Product.DOCUMENTARY])
def test_a_frozen_party_starts_no_deal_in_any_product(net, money, product):
    _three_overdue(net)
    t = product_terms(net, product, 10_000_00, maturity_in=90 * DAY)
    e = accept_fails(net, errors.PartyFrozen, t)
    assert e["party"] == entity(net, "seller")


def test_the_freeze_is_lifted_only_by_m_of_n_governance(net, money):
    _three_overdue(net)
    rr = risk(net)
    for admin in ("admin_a", "admin_b"):
        refused(net, errors.NotGovernance, lambda a=admin: rr.using(net.keys[a])._tx("unfreeze", addr(net, "seller")))
    # a proposal with one approval short of the quorum does not execute
    reg = net.registry("admin_a")
    pid = reg.propose([rr.call_unfreeze(addr(net, "seller"))], "unfreeze the seller")
    refused(net, errors.QuorumNotReached, lambda: reg.execute(pid))
    net.registry("admin_b").approve(pid)
    receipt = net.registry("admin_b").execute(pid)
    assert [bytes(u["party"]) for u in rr.events(receipt, "Unfrozen")] == [entity(net, "seller")]
    assert rr.party(addr(net, "seller")).frozen is False and rr.party(addr(net, "seller")).overdue_run == 0
    # the buyer is still frozen as the obligor
    t = product_terms(net, Product.RECEIVABLE, 10_000_00, maturity_in=90 * DAY)
    e = accept_fails(net, errors.PartyFrozen, t)
    assert e["party"] == entity(net, "buyer")
    govern(net, rr.call_unfreeze(addr(net, "buyer")))
    accept(net, t, approve=False)
    e = govern_fails(net, errors.NotFrozen, rr.call_unfreeze(addr(net, "buyer")))
    assert e["party"] == entity(net, "buyer")


def test_an_on_time_repayment_resets_the_run(net, money):
    on_time = deal_of(net, 10_000_00, maturity_in=30 * DAY)
    late = [deal_of(net, 10_000_00, maturity_in=2 * DAY, grace=DAY) for _ in range(2)]
    past_grace(net, late)
    for d in late:
        c(net, "carrier").deals.flag_overdue(d)
    assert risk(net).party(addr(net, "seller")).overdue_run == 2
    repay(net, late[0], "buyer")  # repaid late: no reset
    assert risk(net).party(addr(net, "seller")).overdue_run == 2
    receipt = repay(net, on_time, "buyer")
    assert {bytes(r["party"]) for r in risk(net).events(receipt, "OverdueRunReset")} == {
        entity(net, "seller"), entity(net, "buyer")}
    assert [risk(net).party(addr(net, k)).overdue_run for k in ("seller", "buyer")] == [0, 0]
    more = [deal_of(net, 10_000_00, maturity_in=2 * DAY, grace=DAY) for _ in range(2)]
    past_grace(net, more)
    for d in more:
        c(net, "carrier").deals.flag_overdue(d)
    assert risk(net).party(addr(net, "seller")).overdue_run == 2 and not risk(net).is_frozen(addr(net, "seller"))
    deal_of(net, 10_000_00)  # not frozen: a new deal goes through


# ---------------------------------------------------------------------------- sanctions


def test_a_sanctioned_obligor_is_no_obligor_of_a_new_deal(net, money):
    pending = deal_of(net, 10_000_00, funded=False)
    t = product_terms(net, Product.RECEIVABLE, 10_000_00)
    sanction(net, "buyer")
    e = accept_fails(net, errors.ObligorSanctioned, t)
    assert e["obligor"] == addr(net, "buyer")
    e = fund_fails(net, errors.ObligorSanctioned, pending)
    assert e["obligor"] == addr(net, "buyer")


def test_a_sanctioned_buyer_is_no_obligor_after_an_order_rollover_either(net, money):
    deal_id = deal_of(net, 50_000_00, Product.ORDER)
    order_id = c(net).order_financing.order_of_deal(deal_id)
    invoice_id = invoice(net, 50_000_00, order_id=order_id)
    c(net, "seller").invoices.approve(net.deployment.order_financing, invoice_id)
    sanction(net, "buyer")
    e = refused(net, errors.ObligorSanctioned,
                lambda: c(net, "seller").order_financing.roll_to_invoice(deal_id, invoice_id),
                lambda: deal(net, deal_id))
    assert e["obligor"] == addr(net, "buyer")


@pytest.mark.parametrize("product", [Product.ORDER, Product.RECEIPT_PLEDGE, Product.DOCUMENTARY])
def test_a_sanctioned_borrower_starts_nothing_in_any_product(net, money, product):
    t = product_terms(net, product, 10_000_00)
    sanction(net, "seller")
    e = accept_fails(net, errors.MemberIsSanctioned, t)
    assert e["account"] == addr(net, "seller")


# ---------------------------------------------------------------------------- four-eyes review


def test_four_eyes_review_at_the_lenders_threshold(net, money):
    lender_2 = admit(net, "lender_2", Role.LENDER, lei_of(net, "lender"), "Atlantic Trade Bank plc", "GB")
    risk(net, "lender").set_lender_policy(USD, 0, 50_000_00)
    deal_of(net, 49_999_99)  # below the threshold: no review
    deal_id = deal_of(net, 50_000_00, funded=False)
    e = fund_fails(net, errors.ReviewRequired, deal_id, lambda: risk(net).funding_approver(deal_id))
    assert (e["dealId"], e["threshold"], e["amount"]) == (deal_id, 50_000_00, 50_000_00)
    # neither the lender's own account nor another organisation's key approves
    for who in ("lender", "lender_b"):
        e = refused(net, errors.NotSecondKey, lambda w=who: risk(net, w).approve_funding(deal_id),
                    lambda: risk(net).funding_approver(deal_id))
        assert e["approver"] == addr(net, who)
    e = refused(net, errors.MissingRole, lambda: risk(net, "seller").approve_funding(deal_id))
    assert e["account"] == addr(net, "seller")
    receipt = risk(net, lender_2).approve_funding(deal_id)
    ev = risk(net).events(receipt, "FundingApproved")[0]
    assert (ev["dealId"], ev["approver"], bytes(ev["lender"])) == (deal_id, lender_2.address, entity(net, "lender"))
    assert risk(net).funding_approver(deal_id) == lender_2.address
    with moves(net, {"lender": -50_000_00, "engine": 50_000_00}):
        fund(net, deal_id)
    refused(net, errors.NotSecondKey, lambda: risk(net, lender_2).approve_funding(deal_id))  # funded already


def test_four_eyes_review_at_the_network_threshold(net, money):
    rr = risk(net)
    refused(net, errors.NotGovernance, lambda: rr.using(net.keys["admin_a"])._tx("setNetworkReviewThreshold", 1))
    govern(net, rr.call_set_network_review_threshold(75_000_00))
    deal_id = deal_of(net, 75_000_00, funded=False)
    e = fund_fails(net, errors.ReviewRequired, deal_id)
    assert (e["threshold"], e["amount"]) == (75_000_00, 75_000_00)


# ---------------------------------------------------------------------------- assignment and rollover


def test_assign_lender_moves_the_exposure_between_books(net, money):
    deal_id = deal_of(net, 60_000_00)
    c(net, "lender").deals.assign_lender(deal_id, addr(net, "lender_b"))
    assert exposure(net, "lender") == (0, 0, 60_000_00)
    assert exposure(net, "lender_b") == (60_000_00, 60_000_00, 60_000_00)
    repay(net, deal_id, "buyer")
    assert exposure(net, "lender_b") == (0, 0, 0)


def test_finding_assignment_rebooks_a_converted_booking_even_when_it_comes_back_at_par(net, money):
    """A USD deal of a lender with a EUR book is booked converted; assigned to a USD-book lender it
    converts back to exactly the principal: settlement must release that, not the stale EUR amount."""
    set_rate(net, USD, EUR, "0.50000000")
    set_rate(net, EUR, USD, "2.00000000")
    risk(net, "lender").set_lender_policy(EUR, 0, 0)
    deal_id = deal_of(net, 60_000_00)
    assert exposure(net, "lender") == (30_000_00, 30_000_00, 60_000_00)
    c(net, "lender").deals.assign_lender(deal_id, addr(net, "lender_b"))
    assert exposure(net, "lender") == (0, 0, 60_000_00)
    assert exposure(net, "lender_b") == (60_000_00, 60_000_00, 60_000_00)
    repay(net, deal_id, "buyer")
    assert exposure(net, "lender_b") == (0, 0, 0)


def test_finding_an_order_rolled_after_funding_moves_its_exposure_to_the_invoice_buyer(net, money):
    """Before rollover the supplier is the obligor; the deal's invoice makes the buyer the obligor.
    The exposure booked at funding must follow, and settle exactly, instead of being released from
    a pair that never held it."""
    deal_id = deal_of(net, 50_000_00, Product.ORDER)
    assert exposure(net, obligor="seller") == (50_000_00,) * 3
    order_id = c(net).order_financing.order_of_deal(deal_id)
    invoice_id = invoice(net, 50_000_00, order_id=order_id)
    c(net, "seller").invoices.approve(net.deployment.order_financing, invoice_id)
    c(net, "seller").order_financing.roll_to_invoice(deal_id, invoice_id)
    assert exposure(net, obligor="seller") == (0, 50_000_00, 0)
    assert exposure(net, obligor="buyer") == (50_000_00,) * 3
    repay(net, deal_id, "buyer")
    assert exposure(net, obligor="buyer") == (0, 0, 0)
    assert exposure(net, obligor="seller") == (0, 0, 0)
