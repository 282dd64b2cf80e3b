"""ABS pools (`AbsPools`, `TrancheToken`): buying funded receivables into a pool under the on-chain
eligibility rules, the asset tape and its published root, notes sold at par, collections and
enforcement as the deals' lender, the two-tranche waterfall and the holders' pull claims to the
last unit, the sweep after the claim period.

Every money movement is stated exactly with `moves` (every holder, AbsPools and the engine
included; the holders sum to the supply), and every test ends with funds conserved in each
currency (`funds_conserved`: supply changed only by mint/burn; `holders_conserved`: the holders
sum to it)."""

from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from chain import errors
from chain.clients import InvoiceTerms, Milestone
from chain.clients.pools import AssetStatus, PoolState, leaf_hash, merkle_proof, tape_hash
from chain.vocabulary import DealState, InvoiceState, Product, Role

from tests.support.pools import (
    EXPECTED,
    FACE,
    FEE,
    INTEREST,
    JUNIOR,
    MANAGER,
    PRICE,
    PRINCIPAL,
    SENIOR,
    add_asset,
    approve_assignment,
    bid,
    create_pool,
    forge_invoice_state,
    holders_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    fund_investor,
    issue,
    params,
    pass_maturity_and_grace,
    pools,
    receivable,
    sell_out,
    tranches,
)
from tests.support.products import (
    DAY,
    EUR,
    USD,
    accept,
    addr,
    admit,
    c,
    confirm_event,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    label,
    lei_of,
    mint,
    moves,
    receipt,
    refused,
    repay,
    sanction,
    set_rate,
    terms,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("funds_conserved", "holders_conserved")

CLAIM_PERIOD = 365 * DAY
TO_SELLER = FACE - PRINCIPAL - FEE  # the seller's share of a repayment of a standard deal


@pytest.fixture
def money(net):
    mint(net, "lender", 5_000_000_00)
    mint(net, "buyer", 5_000_000_00)


def investors(net, count: int) -> list:
    """`count` more INVESTOR members (each its own organisation)."""
    return [admit(net, f"pool-investor-{i}", Role.INVESTOR, f"5493POOLINVESTOR{i:04d}", f"Pool Investor {i} S.A.",
                  "LU") for i in range(count)]


def pooled(net, count: int = 3, *, senior: int = SENIOR, junior: int = JUNIOR, **kw):
    """A pool of `count` standard receivables (bought at PRICE), issued; returns (pool id,
    receivables, tree)."""
    pool_id = create_pool(net, senior, junior, **kw)
    deals = [receivable(net) for _ in range(count)]
    for r in deals:
        add_asset(net, pool_id, r)
    return pool_id, deals, issue(net, pool_id)


def repaid(net, pool_id: int, *deals) -> int:
    """The buyer repays the deals and anyone collects them into the pool; returns the amount."""
    for r in deals:
        repay(net, r.deal_id, "buyer")
    before = pools(net).pool(pool_id).collected
    pools(net, "carrier").collect(pool_id, [r.deal_id for r in deals])
    return pools(net).pool(pool_id).collected - before


def figures(net, pool_id: int) -> tuple:
    p = pools(net).pool(pool_id)
    return (p.collected, p.losses, p.undistributed, p.senior_interest_paid, p.senior_principal_paid, p.junior_paid,
            p.paid_out, p.open_assets, p.state)


def claim(net, tranche: str, who) -> int:
    return pools(net, who).claim(tranche)


# ---------------------------------------------------------------------------- the waterfall


def test_waterfall_default_with_partial_recovery_wipes_part_of_the_junior_tranche(net, money):
    pool_id = create_pool(net)
    good = [receivable(net) for _ in range(2)]
    # 30% released on departure; the goods never arrive, the buyer never pays
    bad = receivable(net, milestones=(Milestone("DEPA", 3_000), Milestone("ARRI", 7_000, "NLRTM")))
    with moves(net, {MANAGER: -3 * PRICE, "lender": 3 * PRICE}):
        for r in (*good, bad):
            add_asset(net, pool_id, r)
    issue(net, pool_id)
    with moves(net, {MANAGER: SENIOR + JUNIOR}, minted=SENIOR + JUNIOR):  # the investor's deposit, paid in
        sell_out(net, pool_id)
    assert pools(net).pool(pool_id).state == PoolState.AMORTISING
    confirm_event(net, bad.reference, "DEPA", "CNSZX", bad.deal_id)
    released = PRINCIPAL * 3_000 // 10_000

    with moves(net, {"buyer": -2 * FACE, "engine": 2 * FACE - 2 * EXPECTED, "pools": 2 * EXPECTED}):
        assert repaid(net, pool_id, *good) == 2 * EXPECTED
    pass_maturity_and_grace(net, bad)
    recovered = PRINCIPAL - released  # the unreleased escrow comes back to the pool as lender
    with moves(net, {"engine": -recovered, "pools": recovered}):
        pools(net, "carrier").enforce(pool_id, bad.deal_id)
    loss = EXPECTED - recovered
    collected = 2 * EXPECTED + recovered
    senior_s, junior_s = tranches(net, pool_id)
    with moves(net, {}):
        pools(net, "carrier").distribute(pool_id)
    junior_paid = collected - INTEREST - SENIOR
    assert 0 < junior_paid < JUNIOR  # the loss took part of the junior tranche, none of the senior
    assert figures(net, pool_id) == (collected, loss, 0, INTEREST, SENIOR, junior_paid, 0, 0, PoolState.CLOSED)
    assert JUNIOR - junior_paid == loss + INTEREST  # the notes were sized to the expected collections

    with moves(net, {"investor": INTEREST + SENIOR + junior_paid, "pools": -(INTEREST + SENIOR + junior_paid)}):
        assert claim(net, senior_s.address, "investor") == INTEREST + SENIOR
        assert claim(net, junior_s.address, "investor") == junior_paid
    assert pools(net).pool(pool_id).paid_out == collected
    asset = pools(net).assets(pool_id)[2]
    assert (asset.status, asset.recovered) == (AssetStatus.DEFAULTED, recovered)


def test_a_loss_beyond_the_junior_tranche_hits_the_senior_tranche(net, money):
    pool_id, deals, _ = pooled(net)
    sell_out(net, pool_id)
    assert repaid(net, pool_id, deals[0]) == EXPECTED
    for r in deals[1:]:
        pass_maturity_and_grace(net, r)
        with moves(net, {}):  # everything was advanced: nothing to recover
            pools(net, "carrier").enforce(pool_id, r.deal_id)
    pools(net, "carrier").distribute(pool_id)
    # 82,000.00 collected: the coupon 7,500.00, then 74,500.00 of the senior's 150,000.00; junior nothing
    assert figures(net, pool_id) == (EXPECTED, 2 * EXPECTED, 0, INTEREST, EXPECTED - INTEREST, 0, 0, 0,
                                     PoolState.CLOSED)
    senior_s, junior_s = tranches(net, pool_id)
    assert claim(net, senior_s.address, "investor") == EXPECTED
    err = refused(net, errors.NothingToClaim, lambda: claim(net, junior_s.address, "investor"))
    assert err == {"poolId": pool_id, "holder": addr(net, "investor")}


def test_coupon_is_paid_once_then_senior_principal_then_junior_over_several_distributions(net, money):
    pool_id, deals, _ = pooled(net)
    sell_out(net, pool_id)
    senior_s, junior_s = tranches(net, pool_id)
    p = pools(net, "carrier")
    repaid(net, pool_id, deals[0])
    p.distribute(pool_id)
    assert figures(net, pool_id)[2:6] == (0, INTEREST, EXPECTED - INTEREST, 0)
    repaid(net, pool_id, deals[1])
    p.distribute(pool_id)
    assert figures(net, pool_id)[2:6] == (0, INTEREST, SENIOR, 2 * EXPECTED - INTEREST - SENIOR)
    repaid(net, pool_id, deals[2])
    receipt_ = p.distribute(pool_id)
    ev = p.events(receipt_, "Distributed")[0]
    assert (ev["seniorInterest"], ev["seniorPrincipal"], ev["junior"]) == (0, 0, EXPECTED)  # no second coupon
    assert figures(net, pool_id)[2:] == (0, INTEREST, SENIOR, 3 * EXPECTED - INTEREST - SENIOR, 0, 0,
                                         PoolState.CLOSED)
    assert pools(net).claimable(senior_s.address, addr(net, "investor")) == INTEREST + SENIOR
    assert pools(net).claimable(junior_s.address, addr(net, "investor")) == 3 * EXPECTED - INTEREST - SENIOR


def test_a_shortfall_below_the_coupon_pays_interest_first_and_the_rest_later(net, money):
    pool_id = create_pool(net, coupon_bps=10_000)  # the coupon is the senior size: 150,000.00
    deals = [receivable(net) for _ in range(3)]
    for r in deals:
        add_asset(net, pool_id, r)
    issue(net, pool_id)
    sell_out(net, pool_id)
    repaid(net, pool_id, deals[0])
    pools(net, "carrier").distribute(pool_id)
    assert figures(net, pool_id)[3:6] == (EXPECTED, 0, 0)  # all of it is interest, still owed 68,000.00
    repaid(net, pool_id, *deals[1:])
    pools(net, "carrier").distribute(pool_id)
    assert figures(net, pool_id)[3:6] == (SENIOR, 3 * EXPECTED - SENIOR, 0)


# ---------------------------------------------------------------------------- claims and rounding


def test_a_sole_holder_claims_exactly_every_distribution_nothing_is_left(net, money):
    # odd fees: amounts that no round number divides
    pool_id = create_pool(net, 180_000_07, 70_000_03, coupon_bps=333)
    deals = [receivable(net, fee=FEE + i * 7 + 1) for i in range(3)]
    for r in deals:
        add_asset(net, pool_id, r)
    issue(net, pool_id)
    sell_out(net, pool_id)
    senior_s, junior_s = tranches(net, pool_id)
    total = 0
    for r in deals:  # a claim after every distribution
        total += repaid(net, pool_id, r)
        pools(net, "carrier").distribute(pool_id)
        for t in (senior_s, junior_s):
            owed = pools(net).claimable(t.address, addr(net, "investor"))
            if owed:
                assert claim(net, t.address, "investor") == owed
    p = pools(net).pool(pool_id)
    assert p.senior_interest_paid == 180_000_07 * 333 // 10_000
    assert p.paid_out == p.collected == total == sum(r.expected for r in deals)
    net.advance_time(CLAIM_PERIOD + 1)
    with moves(net, {}):
        assert pools(net, MANAGER).sweep(pool_id) == 0


def test_several_holders_share_pro_rata_through_transfers_the_remainder_is_swept_after_the_claim_period(net, money):
    a = "investor"
    b, cc = investors(net, 2)
    pool_id = create_pool(net)
    deals = [receivable(net, fee=FEE - odd) for odd in (1, 3, 5)]
    for r in deals:
        add_asset(net, pool_id, r)
    issue(net, pool_id)
    senior_s, junior_s = tranches(net, pool_id)
    holdings = {senior_s.address: {a: 100_000_00, b: 50_000_00, cc: 0},
                junior_s.address: {a: 48_000_00, b: 32_000_00, cc: 16_000_00}}
    for who in (a, b, cc):
        fund_investor(net, who, 200_000_00)
    for t, hs in holdings.items():
        for who, n in hs.items():
            if n:
                pools(net, who).buy_notes(pool_id, t == senior_s.address, n)
    assert pools(net).pool(pool_id).state == PoolState.AMORTISING
    owed = {t: {who: 0 for who in (a, b, cc)} for t in holdings}  # numerators: sum of distribution x notes

    def distribute() -> None:
        before = figures(net, pool_id)
        pools(net, "carrier").distribute(pool_id)
        after = figures(net, pool_id)
        for t, paid in ((senior_s.address, after[3] + after[4] - before[3] - before[4]),
                        (junior_s.address, after[5] - before[5])):
            for who in owed[t]:
                owed[t][who] += paid * holdings[t][who]

    def move(t, frm, to, n) -> None:
        with moves(net, {}):
            pools(net, frm).tranche(t).transfer(addr(net, to), n)
        holdings[t][frm] -= n
        holdings[t][to] += n

    def expected(t, who) -> int:
        return owed[t][who] // (SENIOR if t == senior_s.address else JUNIOR)

    repaid(net, pool_id, deals[0])
    distribute()
    move(senior_s.address, b, cc, 20_000_00)  # mid-life transfers: the accumulator's corrections
    move(junior_s.address, a, cc, 16_000_00)
    with moves(net, {a: expected(senior_s.address, a), "pools": -expected(senior_s.address, a)}):
        assert claim(net, senior_s.address, a) == expected(senior_s.address, a)  # a claim between distributions
    claimed = {senior_s.address: {a: expected(senior_s.address, a)}, junior_s.address: {}}
    repaid(net, pool_id, deals[1])
    distribute()
    move(junior_s.address, b, a, 12_345_67)
    repaid(net, pool_id, deals[2])
    distribute()
    assert pools(net).pool(pool_id).state == PoolState.CLOSED

    for t in holdings:
        for who in (a, b, cc):
            want = expected(t, who) - claimed[t].get(who, 0)
            assert pools(net).claimable(t, addr(net, who)) == want
            if who == cc and t == junior_s.address:
                continue  # C never claims its junior distributions
            with moves(net, {label(who): want, "pools": -want}):
                assert claim(net, t, who) == want
            claimed[t][who] = claimed[t].get(who, 0) + want
            refused(net, errors.NothingToClaim, lambda: claim(net, t, who))
    p = pools(net).pool(pool_id)
    distributed = p.senior_interest_paid + p.senior_principal_paid + p.junior_paid
    assert distributed == p.collected == sum(r.expected for r in deals)
    remainder = distributed - sum(expected(t, w) for t in holdings for w in (a, b, cc))
    assert 0 < remainder < 6  # fewer than one unit per holder and tranche
    unclaimed = expected(junior_s.address, cc)
    assert p.paid_out == p.collected - remainder - unclaimed

    err = refused(net, errors.ClaimPeriodRunning, lambda: pools(net, MANAGER).sweep(pool_id))
    assert err == {"poolId": pool_id, "sweepableAfter": p.closed_at + CLAIM_PERIOD}
    net.advance_time(CLAIM_PERIOD + 1)
    refused(net, errors.NotManager, lambda: pools(net, "lender").sweep(pool_id))
    with moves(net, {MANAGER: remainder + unclaimed, "pools": -(remainder + unclaimed)}):
        assert pools(net, MANAGER).sweep(pool_id) == remainder + unclaimed
    assert pools(net).pool(pool_id).paid_out == p.collected  # every unit collected was paid out
    assert refused(net, errors.PoolSwept, lambda: claim(net, junior_s.address, cc)) == {"poolId": pool_id}
    refused(net, errors.PoolSwept, lambda: pools(net, MANAGER).sweep(pool_id))


def test_unsold_notes_after_start_of_amortisation_earn_for_the_manager_until_sold(net, money):
    pool_id, deals, _ = pooled(net)
    senior_s, junior_s = tranches(net, pool_id)
    fund_investor(net, "investor", SENIOR + JUNIOR)
    pools(net, "investor").buy_notes(pool_id, True, SENIOR)
    pools(net, "investor").buy_notes(pool_id, False, JUNIOR // 2)
    assert pools(net).pool(pool_id).state == PoolState.ISSUED
    refused(net, errors.NotManager, lambda: pools(net, "lender").start_amortisation(pool_id))
    pools(net, MANAGER).start_amortisation(pool_id)
    assert pools(net).pool(pool_id).state == PoolState.AMORTISING
    repaid(net, pool_id, *deals[:2])
    pools(net, "carrier").distribute(pool_id)
    junior_1 = 2 * EXPECTED - INTEREST - SENIOR
    with moves(net, {MANAGER: junior_1 // 2, "pools": -(junior_1 // 2)}):
        assert pools(net, MANAGER).claim_unsold(junior_s.address) == junior_1 // 2
    refused(net, errors.NotManager, lambda: pools(net, "investor").claim_unsold(junior_s.address))
    with moves(net, {"investor": -(JUNIOR // 2), MANAGER: JUNIOR // 2}):  # the rest sold later, at par
        pools(net, "investor").buy_notes(pool_id, False, JUNIOR // 2)
    repaid(net, pool_id, deals[2])
    pools(net, "carrier").distribute(pool_id)
    # the later buyer earns only what is distributed after its purchase
    assert pools(net).claimable(junior_s.address, addr(net, "investor")) == junior_1 // 2 + EXPECTED
    assert pools(net).claimable(junior_s.address, net.deployment.abs_pools) == 0


# ---------------------------------------------------------------------------- notes


def test_buy_notes_pays_the_manager_at_par_and_sells_out_into_amortisation(net, money):
    pool_id, _, _ = pooled(net)
    senior_s, junior_s = tranches(net, pool_id)
    fund_investor(net, "investor", SENIOR + JUNIOR)
    with moves(net, {"investor": -SENIOR, MANAGER: SENIOR}):
        pools(net, "investor").buy_notes(pool_id, True, SENIOR)
    assert (senior_s.balance_of(addr(net, "investor")), senior_s.total_supply()) == (SENIOR, SENIOR)
    err = refused(net, errors.NotesUnavailable, lambda: pools(net, "investor").buy_notes(pool_id, True, 1))
    assert err == {"poolId": pool_id, "requested": 1, "available": 0}
    refused(net, errors.NotesUnavailable, lambda: pools(net, "investor").buy_notes(pool_id, False, 0))
    refused(net, errors.NotesUnavailable, lambda: pools(net, "investor").buy_notes(pool_id, False, JUNIOR + 1))
    assert pools(net).pool(pool_id).state == PoolState.ISSUED
    with moves(net, {"investor": -JUNIOR, MANAGER: JUNIOR}):
        rcpt = pools(net, "investor").buy_notes(pool_id, False, JUNIOR)
    assert pools(net).events(rcpt, "AmortisationStarted") == [{"poolId": pool_id}]
    assert pools(net).pool(pool_id).state == PoolState.AMORTISING


def test_only_active_investors_buy_notes(net, money):
    pool_id, _, _ = pooled(net)
    mint(net, "lender", SENIOR)
    c(net, "lender").token(USD).approve(net.deployment.abs_pools, SENIOR)
    err = refused(net, errors.MissingRole, lambda: pools(net, "lender").buy_notes(pool_id, True, SENIOR))
    assert err["account"] == addr(net, "lender")
    (other,) = investors(net, 1)
    fund_investor(net, other, SENIOR)
    sanction(net, other)  # out of the pool to a sanctioned investor: refused
    refused(net, errors.MemberIsSanctioned, lambda: pools(net, other).buy_notes(pool_id, True, SENIOR))


def test_notes_move_only_between_active_investors(net, money):
    pool_id, _, _ = pooled(net)
    sell_out(net, pool_id)
    senior_s, _ = tranches(net, pool_id, "investor")
    other, sanctioned = investors(net, 2)
    balance = lambda: (senior_s.balance_of(addr(net, "investor")), senior_s.balance_of(other.address))  # noqa: E731
    with moves(net, {}):
        senior_s.transfer(other.address, 1_000_00)  # between investors: fine
    assert balance() == (SENIOR - 1_000_00, 1_000_00)
    err = refused(net, errors.MissingRole, lambda: senior_s.transfer(addr(net, "lender"), 1), balance)
    assert err["account"] == addr(net, "lender")  # a member that is no investor
    refused(net, errors.NotMember, lambda: senior_s.transfer(to_checksum_address("0x" + "ab" * 20), 1), balance)
    # never into an escrow, not even back into the pool (the notes would be stuck there)
    for escrow in (net.deployment.deal_engine, net.deployment.abs_pools):
        assert refused(net, errors.NotMember, lambda: senior_s.transfer(escrow, 1), balance)["account"] == escrow
    sanction(net, sanctioned)
    refused(net, errors.MemberIsSanctioned, lambda: senior_s.transfer(sanctioned.address, 1), balance)
    refused(net, errors.NotPool, lambda: senior_s._tx("mint", addr(net, "investor"), 1), balance)
    refused(net, errors.NotTranche, lambda: pools(net, "investor")._tx(
        "beforeTrancheTransfer", addr(net, "investor"), other.address, 1))


# ---------------------------------------------------------------------------- collect and enforce


def test_collect_takes_each_repayment_once_and_closes_the_asset(net, money):
    pool_id, deals, _ = pooled(net)
    repay(net, deals[0].deal_id, "buyer")
    assert c(net).deals.state(deals[0].deal_id) == DealState.REPAID
    # collections in the Issued state wait for amortisation
    with moves(net, {"engine": -EXPECTED, "pools": EXPECTED}):
        rcpt = pools(net, "carrier").collect(pool_id, [d.deal_id for d in deals])
    ev = pools(net).events(rcpt, "Collected")
    assert [(e["dealId"], e["amount"], e["status"]) for e in ev] == [
        (deals[0].deal_id, EXPECTED, AssetStatus.REPAID), (deals[1].deal_id, 0, AssetStatus.ACTIVE),
        (deals[2].deal_id, 0, AssetStatus.ACTIVE)]
    with moves(net, {}):
        pools(net, "carrier").collect(pool_id, [deals[0].deal_id])  # nothing more to collect
    p = pools(net).pool(pool_id)
    assert (p.collected, p.undistributed, p.open_assets, p.losses) == (EXPECTED, EXPECTED, 2, 0)
    refused(net, errors.InvalidPoolState, lambda: pools(net, "carrier").distribute(pool_id))
    # the seller's advance and its share of the repayment stay with the seller
    with moves(net, {"seller": PRINCIPAL + TO_SELLER, "engine": -(PRINCIPAL + TO_SELLER)}):
        withdraw(net, deals[0].deal_id, "seller")
    other = receivable(net)
    err = refused(net, errors.UnknownAsset, lambda: pools(net, "carrier").collect(pool_id, [other.deal_id]))
    assert err == {"poolId": pool_id, "index": 0}


def test_enforce_defaults_the_deal_as_its_lender_after_grace_and_the_invoice_lands_at_the_pool(net, money):
    pool_id, deals, _ = pooled(net)
    sell_out(net, pool_id)
    r = deals[0]
    d = c(net).lens.deal(r.deal_id)
    assert d.lender == net.deployment.abs_pools
    net.advance_time(d.maturity - net.now() + 1)  # overdue, grace still running
    err = refused(net, errors.GracePeriodRunning, lambda: pools(net, "carrier").enforce(pool_id, r.deal_id))
    assert err == {"dealId": r.deal_id, "defaultableAfter": d.maturity + d.grace_period}
    pass_maturity_and_grace(net, r)
    # the selling lender is no longer the deal's lender
    refused(net, errors.NotLender, lambda: c(net, "lender").deals.declare_default(r.deal_id))
    rcpt = pools(net, "carrier").enforce(pool_id, r.deal_id)  # anyone may call
    assert c(net).deals.events(rcpt, "DealDefaulted")[0]["lender"] == net.deployment.abs_pools
    assert pools(net).events(rcpt, "AssetDefaulted") == [
        {"poolId": pool_id, "dealId": r.deal_id, "recovered": 0, "loss": EXPECTED}]
    inv = c(net).invoices.invoice(r.invoice_id)
    assert (inv.holder, inv.state) == (net.deployment.abs_pools, InvoiceState.DEFAULTED)
    assert c(net).deals.state(r.deal_id) in (DealState.DEFAULTED, DealState.CLOSED)
    p = pools(net).pool(pool_id)
    assert (p.open_assets, p.losses, p.collected) == (2, EXPECTED, 0)
    assert pools(net).assets(pool_id)[0].status == AssetStatus.DEFAULTED
    refused(net, errors.InvalidDealState, lambda: pools(net, "carrier").enforce(pool_id, r.deal_id))
    other = receivable(net)
    refused(net, errors.UnknownAsset, lambda: pools(net, "carrier").enforce(pool_id, other.deal_id))


# ---------------------------------------------------------------------------- eligibility


@pytest.fixture
def pool_id(net, money):
    return create_pool(net)


def refused_as(net, pool_id: int, deal_id: int, rule: str, document_hash: bytes | None = None,
               at_sale: bool = False) -> None:
    """The bid (or, `at_sale`, the lender's sale) of `deal_id` is refused: NotEligible(deal, rule),
    nothing changes."""
    p = pools(net, MANAGER)
    reads = (lambda: p.bid_of(pool_id, deal_id), lambda: p.pool(pool_id), lambda: p.pool_of_deal(deal_id))
    if at_sale:
        action = lambda: pools(net, "lender").sell(pool_id, deal_id)  # noqa: E731
    else:
        action = lambda: p.bid(pool_id, deal_id, PRICE, document_hash or keccak(b"x"))  # noqa: E731
    assert refused(net, errors.NotEligible, action, *reads) == {"dealId": deal_id, "rule": rule}


def test_an_unfunded_deal_is_not_eligible(net, pool_id):
    r = receivable(net, funded=False)
    refused_as(net, pool_id, r.deal_id, "not funded", r.document_hash)


def test_a_repaid_or_defaulted_deal_is_not_eligible(net, pool_id):
    r = receivable(net)
    repay(net, r.deal_id, "buyer")
    refused_as(net, pool_id, r.deal_id, "not funded", r.document_hash)
    late = receivable(net)
    pass_maturity_and_grace(net, late)
    c(net, "lender").deals.declare_default(late.deal_id)
    refused_as(net, pool_id, late.deal_id, "not funded", late.document_hash)


def test_a_deal_of_another_product_is_not_eligible(net, pool_id):
    rid = receipt(net)
    t = terms(net, Product.RECEIPT_PLEDGE, rid, PRINCIPAL, FEE)
    deal_id = accept(net, t)
    fund(net, deal_id)
    refused_as(net, pool_id, deal_id, "not a receivable")


def test_a_deal_in_another_currency_is_not_eligible(net, pool_id):
    mint(net, "lender", 1_000_000_00, EUR)
    set_rate(net, EUR, USD, "1.08250000")  # the risk rules count exposure in the network's base currency
    r = receivable(net, currency=EUR)
    refused_as(net, pool_id, r.deal_id, "currency", r.document_hash)


def test_an_fx_locked_deal_is_not_eligible_even_in_the_pool_currency(net, pool_id):
    set_rate(net, EUR, USD, "1.08250000")
    r = receivable(net, currency=EUR, deal_currency=USD, fx_valid_until=net.now() + 90 * DAY)
    assert c(net).lens.deal(r.deal_id).fx_locked
    refused_as(net, pool_id, r.deal_id, "currency", r.document_hash)


def test_an_overdue_deal_is_not_eligible(net, pool_id):
    r = receivable(net, due_in=2 * DAY)
    net.advance_time(3 * DAY + 1)  # past maturity, within grace
    refused_as(net, pool_id, r.deal_id, "overdue", r.document_hash)
    c(net, "carrier").deals.flag_overdue(r.deal_id)
    refused_as(net, pool_id, r.deal_id, "overdue", r.document_hash)


def test_a_deal_becoming_overdue_after_the_bid_cannot_be_sold(net, pool_id):
    r = receivable(net, due_in=2 * DAY)
    bid(net, pool_id, r)
    approve_assignment(net, r)
    net.advance_time(3 * DAY + 1)
    refused_as(net, pool_id, r.deal_id, "overdue", at_sale=True)


def test_a_deal_maturing_beyond_the_pools_tenor_is_not_eligible(net, money):
    pool_id = create_pool(net, max_tenor=30 * DAY)
    r = receivable(net, due_in=29 * DAY, maturity_in=31 * DAY)
    refused_as(net, pool_id, r.deal_id, "tenor", r.document_hash)
    ok = receivable(net, due_in=28 * DAY, maturity_in=29 * DAY)
    bid(net, pool_id, ok)
    assert pools(net).bid_of(pool_id, ok.deal_id) == (PRICE, ok.document_hash)


def test_an_invoice_not_financed_is_not_eligible(net, pool_id):
    """Defence in depth: a funded receivable deal always holds a Financed invoice, so the test forges
    the invoice's state in storage to reach the rule."""
    r = receivable(net)
    forge_invoice_state(net, r.invoice_id, InvoiceState.CONFIRMED)
    refused_as(net, pool_id, r.deal_id, "invoice not financed", r.document_hash)


def test_a_document_hash_that_is_not_the_invoices_is_not_eligible(net, pool_id):
    r, other = receivable(net), receivable(net)
    refused_as(net, pool_id, r.deal_id, "document", keccak(b"some other document"))
    refused_as(net, pool_id, r.deal_id, "document", other.document_hash)  # another invoice's document


def test_a_part_of_a_split_invoice_is_eligible_with_its_root_invoices_document(net, pool_id):
    now = net.now()
    root = c(net, "seller").invoices.mint(InvoiceTerms(addr(net, "buyer"), "INV-SPLIT-POOL-1", 2 * FACE, USD, now - DAY,
                                                       now + 60 * DAY, keccak(b"split root doc"), "bafkreisplit"))
    c(net, "buyer").invoices.confirm(root)
    parts = c(net, "seller").invoices.split(root, [FACE, FACE])
    for part in parts:
        deal_id = accept(net, terms(net, Product.RECEIVABLE, part, PRINCIPAL, FEE, maturity_in=61 * DAY))
        fund(net, deal_id)
        pools(net, MANAGER).bid(pool_id, deal_id, PRICE, keccak(b"split root doc"))
        c(net, "lender").deals.approve_assignment(deal_id, net.deployment.abs_pools)
        pools(net, "lender").sell(pool_id, deal_id)
    assert [a.invoice_id for a in pools(net).assets(pool_id)] == parts


def test_a_pooled_deal_is_not_eligible_again_in_any_pool(net, pool_id):
    r = receivable(net)
    add_asset(net, pool_id, r)
    refused_as(net, pool_id, r.deal_id, "already pooled", r.document_hash)
    other_pool = create_pool(net, name="Another pool")
    refused_as(net, other_pool, r.deal_id, "already pooled", r.document_hash)
    assert pools(net).pool_of_deal(r.deal_id) == pool_id


def test_the_obligor_cap_counts_every_account_of_the_obligor_at_bid_and_at_sale(net, money):
    pool_id = create_pool(net, cap_bps=5_000)  # 50% of the target 246,000.00: 123,000.00 per obligor
    cap = (SENIOR + JUNIOR) // 2
    buyer_ops = admit(net, "pool-buyer-ops", Role.BUYER, lei_of(net, "buyer"), "Rotterdam Retail B.V.", "NL")
    buyer_2 = admit(net, "pool-buyer-2", Role.BUYER, "724500POOLBUYER00002", "Second Buyer B.V.", "NL")
    first, second = receivable(net), receivable(net, buyer=buyer_ops)
    add_asset(net, pool_id, first)
    lei = lei_of(net, "buyer")
    p = pools(net, MANAGER)
    err = refused(net, errors.ObligorCapExceeded, lambda: bid(net, pool_id, second),
                  lambda: p.obligor_exposure(pool_id, lei))
    assert err == {"poolId": pool_id, "obligorLei": lei.encode(), "exposure": 2 * EXPECTED, "cap": cap}
    # at sale: both bid while the obligor had room, the second sale would exceed the cap
    third = receivable(net)
    other_pool = create_pool(net, cap_bps=5_000, name="Second pool")
    for r in (second, third):
        bid(net, other_pool, r)
        approve_assignment(net, r)
    pools(net, "lender").sell(other_pool, second.deal_id)
    err = refused(net, errors.ObligorCapExceeded, lambda: pools(net, "lender").sell(other_pool, third.deal_id))
    assert err["exposure"] == 2 * EXPECTED
    # another obligor has its own room
    add_asset(net, pool_id, receivable(net, buyer=buyer_2))
    assert (p.obligor_exposure(pool_id, lei), p.obligor_exposure(pool_id, "724500POOLBUYER00002")) == (
        EXPECTED, EXPECTED)


def test_a_sale_needs_the_managers_bid(net, pool_id):
    r = receivable(net)
    approve_assignment(net, r)
    err = refused(net, errors.NoBid, lambda: pools(net, "lender").sell(pool_id, r.deal_id))
    assert err == {"poolId": pool_id, "dealId": r.deal_id}


def test_only_the_deals_lender_sells_it(net, pool_id):
    r = receivable(net)
    bid(net, pool_id, r)
    approve_assignment(net, r)
    err = refused(net, errors.NotDealLender, lambda: pools(net, MANAGER).sell(pool_id, r.deal_id))
    assert err == {"dealId": r.deal_id, "caller": addr(net, MANAGER)}


def test_a_sale_needs_the_lenders_assignment_approval_to_this_contract(net, pool_id):
    r = receivable(net)
    bid(net, pool_id, r)
    sell = lambda: pools(net, "lender").sell(pool_id, r.deal_id)  # noqa: E731
    assert refused(net, errors.NotLender, sell) == {"dealId": r.deal_id, "caller": net.deployment.abs_pools}
    c(net, "lender").deals.approve_assignment(r.deal_id, addr(net, "lender_b"))  # approved to someone else
    refused(net, errors.NotLender, sell)


# ---------------------------------------------------------------------------- lifecycle


def test_pool_parameters_and_the_manager_role_are_checked(net, money):
    p = pools(net, MANAGER)
    for bad in (params(net, senior=0), params(net, junior=0), params(net, cap_bps=0), params(net, cap_bps=10_001),
                params(net, coupon_bps=10_001), params(net, max_tenor=0)):
        refused(net, errors.InvalidPoolParams, lambda: p.create_pool(bad), p.pool_count)
    foreign = params(net)
    refused(net, errors.InvalidText, lambda: p.create_pool(type(foreign)(*foreign.as_tuple()[:-1], "")), p.pool_count)
    err = refused(net, errors.MissingRole, lambda: pools(net, "investor").create_pool(params(net)), p.pool_count)
    assert err["account"] == addr(net, "investor")


def test_each_step_is_refused_outside_its_state_or_by_others(net, money):
    pool_id = create_pool(net)
    p, lender, anyone = pools(net, MANAGER), pools(net, "lender"), pools(net, "carrier")
    r = receivable(net)
    senior_s = p.pool(pool_id).senior
    state = lambda: p.pool(pool_id)  # noqa: E731
    assert refused(net, errors.UnknownPool, lambda: p.bid(99, r.deal_id, PRICE, r.document_hash)) == {"poolId": 99}
    err = refused(net, errors.NotManager, lambda: lender.bid(pool_id, r.deal_id, PRICE, r.document_hash), state)
    assert err == {"poolId": pool_id, "caller": addr(net, "lender")}
    # Building
    building = {"poolId": pool_id, "state": PoolState.BUILDING}
    assert refused(net, errors.EmptyPool, lambda: p.issue(pool_id, keccak(b"root")), state) == {"poolId": pool_id}
    fund_investor(net, "investor", 1)
    for action in (lambda: pools(net, "investor").buy_notes(pool_id, True, 1), lambda: anyone.distribute(pool_id),
                   lambda: anyone.collect(pool_id, [r.deal_id]), lambda: p.start_amortisation(pool_id),
                   lambda: p.sweep(pool_id)):
        assert refused(net, errors.InvalidPoolState, action, state) == building
    add_asset(net, pool_id, r)
    refused(net, errors.EmptyPool, lambda: p.issue(pool_id, bytes(32)), state)
    refused(net, errors.NotManager, lambda: lender.issue(pool_id, keccak(b"root")), state)
    issue(net, pool_id)
    # Issued
    issued = {"poolId": pool_id, "state": PoolState.ISSUED}
    other = receivable(net)
    for action in (lambda: p.bid(pool_id, other.deal_id, PRICE, other.document_hash),
                   lambda: lender.sell(pool_id, other.deal_id), lambda: p.issue(pool_id, keccak(b"root")),
                   lambda: anyone.distribute(pool_id), lambda: p.sweep(pool_id)):
        assert refused(net, errors.InvalidPoolState, action, state) == issued
    sell_out(net, pool_id)
    # Amortising
    amortising = {"poolId": pool_id, "state": PoolState.AMORTISING}
    for action in (lambda: p.start_amortisation(pool_id), lambda: p.sweep(pool_id),
                   lambda: p.issue(pool_id, keccak(b"root"))):
        assert refused(net, errors.InvalidPoolState, action, state) == amortising
    refused(net, errors.NotTranche, lambda: anyone.claim(addr(net, "lender")))
    refused(net, errors.NothingToClaim, lambda: pools(net, "investor").claim(senior_s))
    repaid(net, pool_id, r)
    anyone.distribute(pool_id)
    # Closed
    closed = {"poolId": pool_id, "state": PoolState.CLOSED}
    for action in (lambda: anyone.distribute(pool_id), lambda: p.start_amortisation(pool_id),
                   lambda: pools(net, "investor").buy_notes(pool_id, True, 1)):
        assert refused(net, errors.InvalidPoolState, action, state) == closed


# ---------------------------------------------------------------------------- the tape on chain


def test_every_asset_proves_on_chain_against_the_published_root_and_wrong_proofs_fail(net, money):
    pool_id = create_pool(net, 300_000_00, 200_000_00)
    deals = [receivable(net, face=FACE + i) for i in range(5)]  # odd count: a node carried up unpaired
    for r in deals:
        add_asset(net, pool_id, r)
    p = pools(net)
    assets = p.assets(pool_id)
    assert p.verify_asset(pool_id, 0, []) is False  # nothing published yet
    tree = issue(net, pool_id)
    for a in assets:
        assert p.leaf_hash_on_chain(a) == a.leaf == leaf_hash(
            pool_id, a.deal_id, a.invoice_id, a.face_value, a.currency, a.due_date, a.obligor_lei, a.document_hash)
        proof = merkle_proof(tree, a.index)
        assert p.verify_asset(pool_id, a.index, proof) is True
        assert p.verify_asset(pool_id, a.index, [bytes(32)] + proof[1:]) is False
        assert p.verify_asset(pool_id, a.index, proof[:-1]) is False
        assert p.verify_asset(pool_id, (a.index + 1) % 5, proof) is False  # another asset's leaf
    assert p.pool(pool_id).tape_hash == tape_hash([a.leaf for a in assets])
    assert refused(net, errors.UnknownAsset, lambda: p.verify_asset(pool_id, 5, [])) == {"poolId": pool_id, "index": 5}


def test_bid_many_and_sell_many_with_approve_assignments_pool_a_portfolio_in_order(net, money):
    pool_id = create_pool(net, 300_000_00, 100_000_00)
    deals = [receivable(net) for _ in range(4)]
    p = pools(net, MANAGER)
    refused(net, errors.InvalidPoolParams, lambda: p._tx("bidMany", pool_id, [d.deal_id for d in deals], [PRICE],
                                                         [d.document_hash for d in deals]))
    p.bid_many(pool_id, [(d.deal_id, PRICE + i, d.document_hash) for i, d in enumerate(deals)])
    c(net, "lender").deals.approve_assignments([d.deal_id for d in deals], net.deployment.abs_pools)
    unbid = receivable(net)
    # one deal without a bid: the whole sale is refused
    refused(net, errors.NoBid, lambda: pools(net, "lender").sell_many(pool_id, [d.deal_id for d in deals] + [
        unbid.deal_id]), lambda: p.pool(pool_id))
    total = sum(PRICE + i for i in range(4))
    with moves(net, {MANAGER: -total, "lender": total}):
        pools(net, "lender").sell_many(pool_id, [d.deal_id for d in reversed(deals)])
    assets = p.assets(pool_id)
    assert [a.deal_id for a in assets] == [d.deal_id for d in reversed(deals)]
    assert [a.price for a in assets] == [PRICE + i for i in reversed(range(4))]
    assert [p.asset_index_of(d.deal_id) for d in deals] == [4, 3, 2, 1]
    assert all(c(net).lens.deal(d.deal_id).lender == net.deployment.abs_pools for d in deals)
    pool = p.pool(pool_id)
    assert (pool.asset_count, pool.open_assets, pool.expected, pool.purchase_price) == (4, 4, 4 * EXPECTED, total)
    assert pool.tape_hash == tape_hash([a.leaf for a in assets])
    assert p.bid_of(pool_id, deals[0].deal_id) == (0, bytes(32))  # a bid is used once
