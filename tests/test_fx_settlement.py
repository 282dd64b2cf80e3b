"""FX-locked settlement: a EUR invoice financed in USD. The feed's fresh EUR/USD rate is locked at
acceptance; the buyer's amount due is the face value converted at the locked rate, rounded up to
the next cent; the waterfall runs in USD; an expired lock or a stale rate reverts."""

from __future__ import annotations

import pytest

from chain import errors
from chain.clients import Milestone
from chain.vocabulary import DealState, InvoiceState, Product

from tests.support.products import (
    DAY,
    EUR,
    USD,
    accept,
    addr,
    approve_collateral,
    c,
    claimable,
    confirm_event,
    deal,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    invoice,
    mint,
    moves,
    refused,
    repay,
    set_rate,
    sign,
    terms,
    unique,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

FACE_EUR = 100_000_01  # EUR 100,000.01
RATE = "1.08253333"
# ceil(10_000_001 * 108_253_333 / 10**8) = ceil(10_825_334.38253333): the buyer bears the fraction
DUE_USD = 10_825_335
PRINCIPAL = 80_000_00
FEE = 1_500_00
MATURITY_IN = 61 * DAY
GRACE = 10 * DAY


@pytest.fixture
def money(net):
    mint(net, "lender", 1_000_000_00)
    mint(net, "buyer", 1_000_000_00)


def fx_terms(net, invoice_id: int, reference: str | None = None, **kw):
    """USD terms on a EUR invoice: 40% on departure, the rest on arrival; the lock lasts until
    maturity + grace by default."""
    reference = reference or unique("MAEU-FX")
    kw.setdefault("fx_valid_until", net.now() + MATURITY_IN + GRACE)
    schedule = (Milestone("DEPA", 4_000), Milestone("ARRI", 6_000, "NLRTM"))
    return terms(net, Product.RECEIVABLE, invoice_id, kw.pop("principal", PRINCIPAL), kw.pop("fee", FEE),
                 currency=USD, maturity_in=MATURITY_IN, grace=GRACE, milestones=schedule, reference=reference, **kw)


def eur_invoice(net) -> int:
    return invoice(net, FACE_EUR, EUR, due_in=60 * DAY)


def test_eur_invoice_financed_in_usd_end_to_end(net, money):
    rate = set_rate(net, EUR, USD, RATE)
    invoice_id = eur_invoice(net)
    reference = unique("MAEU-FX")
    t = fx_terms(net, invoice_id, reference)
    approve_collateral(net, t)
    engine = c(net, "seller").deals
    deal_id = engine.accept(t, b"", sign(net, t, "lender"))
    locked = engine.events(engine.last_receipt, "FxRateLocked")[0]
    assert (locked["baseCurrency"], locked["quoteCurrency"], locked["rate"], locked["validUntil"]) == (
        b"EUR", b"USD", rate, t.fx_valid_until)
    d = deal(net, deal_id)
    assert (d.fx_locked, d.fx_rate, d.fx_valid_until, d.obligation, d.obligation_currency) == (
        True, rate, t.fx_valid_until, FACE_EUR, EUR)
    assert c(net).deals.amount_due(deal_id) == DUE_USD
    set_rate(net, EUR, USD, "1.20000000")  # the feed moves on; the deal keeps its lock
    assert c(net).deals.amount_due(deal_id) == DUE_USD

    with moves(net, {}, currency=EUR), moves(net, {"lender": -PRINCIPAL, "engine": PRINCIPAL}):
        fund(net, deal_id)
    confirm_event(net, reference, "DEPA", "CNSZX", deal_id)
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    with moves(net, {"seller": PRINCIPAL, "engine": -PRINCIPAL}):
        withdraw(net, deal_id, "seller")
    to_seller = DUE_USD - PRINCIPAL - FEE
    with moves(net, {}, currency=EUR), moves(net, {"buyer": -DUE_USD, "engine": DUE_USD}):
        receipt = repay(net, deal_id, "buyer")
    w = c(net).deals.events(receipt, "DealRepaid")[0]["waterfall"]
    assert (w["amountDue"], w["toLender"], w["toBorrower"], w["unreleasedReturned"]) == (
        DUE_USD, PRINCIPAL + FEE, to_seller, 0)
    with moves(net, {"lender": PRINCIPAL + FEE, "seller": to_seller, "engine": -DUE_USD}):
        withdraw(net, deal_id, "lender", "seller")
    assert deal(net, deal_id).state is DealState.CLOSED
    assert c(net).invoices.invoice(invoice_id).state is InvoiceState.PAID


def test_repayment_after_the_lock_expired_reverts_and_only_default_remains(net, money):
    set_rate(net, EUR, USD, RATE)
    invoice_id = eur_invoice(net)
    t = fx_terms(net, invoice_id, fx_valid_until=net.now() + MATURITY_IN)  # the lock ends at maturity
    deal_id = accept(net, t)
    fund(net, deal_id)
    net.advance_time(t.fx_valid_until - net.now() + 1)
    c(net, "buyer").token(USD).approve(net.deployment.deal_engine, DUE_USD)
    e = refused(net, errors.FxLockExpired, lambda: c(net, "buyer").deals.repay(deal_id),
                lambda: deal(net, deal_id), lambda: c(net).invoices.invoice(invoice_id))
    assert (e["dealId"], e["validUntil"]) == (deal_id, t.fx_valid_until)
    with pytest.raises(errors.FxLockExpired):
        c(net).deals.amount_due(deal_id)
    net.advance_time(GRACE)
    c(net, "lender").deals.declare_default(deal_id)
    assert deal(net, deal_id).state is DealState.DEFAULTED
    assert claimable(net, deal_id, "lender") == PRINCIPAL  # nothing was released


def test_accepting_with_a_stale_rate_reverts(net, money):
    set_rate(net, EUR, USD, RATE)
    observed = net.now()
    invoice_id = eur_invoice(net)
    net.advance_time(3_601)  # beyond the feed's one-hour staleness window
    t = fx_terms(net, invoice_id)
    approve_collateral(net, t)
    e = refused(net, errors.RateTooOld, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")),
                lambda: c(net).deals.deal_count(), lambda: c(net).invoices.invoice(invoice_id))
    assert (e["baseCurrency"], e["quoteCurrency"], e["maxAge"]) == (b"EUR", b"USD", 3_600)
    assert abs(e["observedAt"] - observed) <= 1


def test_accepting_without_any_rate_reverts(net, money):
    invoice_id = invoice(net, 1_000_000_00, "CNY", due_in=60 * DAY)
    t = fx_terms(net, invoice_id)
    approve_collateral(net, t)
    refused(net, errors.RateUnavailable, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))


@pytest.mark.parametrize("valid_until", ["before_maturity", "zero"])
def test_a_lock_ending_before_maturity_is_refused(net, money, valid_until):
    set_rate(net, EUR, USD, RATE)
    invoice_id = eur_invoice(net)
    t = fx_terms(net, invoice_id, fx_valid_until=0)
    t = type(t)(**{**t.__dict__, "fx_valid_until": t.maturity - 1 if valid_until == "before_maturity" else 0})
    approve_collateral(net, t)
    e = refused(net, errors.InvalidFxLock, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))
    assert (e["fxValidUntil"], e["maturity"]) == (t.fx_valid_until, t.maturity)


def test_a_lock_on_a_same_currency_deal_is_refused(net, money):
    invoice_id = invoice(net, 100_000_00, USD, due_in=60 * DAY)
    t = fx_terms(net, invoice_id)
    approve_collateral(net, t)
    refused(net, errors.InvalidFxLock, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))


def test_principal_plus_fee_must_fit_the_converted_face_value(net, money):
    set_rate(net, EUR, USD, RATE)
    invoice_id = eur_invoice(net)
    t = fx_terms(net, invoice_id, principal=DUE_USD - FEE + 1)
    approve_collateral(net, t)
    e = refused(net, errors.InvalidAmounts, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))
    assert (e["principal"], e["fee"], e["limit"]) == (DUE_USD - FEE + 1, FEE, DUE_USD)
    exact = fx_terms(net, invoice_id, principal=DUE_USD - FEE)
    deal_id = c(net, "seller").deals.accept(exact, b"", sign(net, exact, "lender"))
    assert deal(net, deal_id).principal + deal(net, deal_id).fee == DUE_USD
    assert addr(net, "buyer") == deal(net, deal_id).obligor
