"""Order financing (订单融资): a lender finances the supplier of a buyer's confirmed purchase order;
every release goes to the order's supplier and nobody else; the deal is repaid by the supplier
(released + fee) or rolls into the invoice the order turned into, which the buyer pays at face
value through the engine's waterfall."""

from __future__ import annotations

import pytest

from chain import errors
from chain.clients import Milestone
from chain.vocabulary import DealState, InvoiceState, OrderState, Product

from tests.support.products import (
    accept,
    addr,
    c,
    claimable,
    confirm_event,
    deal,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    invoice,
    mint,
    moves,
    order,
    refused,
    repay,
    sign,
    state,
    terms,
    unique,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

PO_AMOUNT = 100_000_00
PRINCIPAL = 60_000_00
FEE = 1_500_00
ADVANCE_BPS = 3_000
ADVANCE = PRINCIPAL * ADVANCE_BPS // 10_000  # 18,000.00
ON_DEPARTURE = PRINCIPAL - ADVANCE  # 42,000.00


@pytest.fixture
def money(net):
    mint(net, "lender", 1_000_000_00)
    mint(net, "buyer", 1_000_000_00)
    mint(net, "seller", 100_000_00)


def order_terms(net, order_id: int, reference: str, **kw):
    schedule = (Milestone("", ADVANCE_BPS), Milestone("DEPA", 10_000 - ADVANCE_BPS))
    return terms(net, Product.ORDER, order_id, PRINCIPAL, FEE, milestones=schedule, reference=reference, **kw)


def accepted_order(net) -> tuple[int, int, str]:
    """A PO with an accepted (unfunded) deal of `lender` for `seller`; (order, deal, B/L)."""
    reference = unique("BL-PO")
    order_id = order(net, PO_AMOUNT, reference=reference)
    return order_id, accept(net, order_terms(net, order_id, reference)), reference


def financed_order(net) -> tuple[int, int, str]:
    """`accepted_order`, funded: the advance is released; (order, deal, B/L)."""
    order_id, deal_id, reference = accepted_order(net)
    fund(net, deal_id)
    return order_id, deal_id, reference


def po_invoice(net, order_id: int, face: int = PO_AMOUNT, reference: str | None = None) -> int:
    """The supplier's confirmed invoice issued against the order, approved for the order module."""
    invoice_id = invoice(net, face, order_id=order_id, reference=reference)
    c(net, "seller").invoices.approve(net.deployment.order_financing, invoice_id)
    return invoice_id


# ---------------------------------------------------------------------------- happy paths


def test_supplier_repays_released_plus_fee_without_rollover(net, money):
    order_id = order(net, PO_AMOUNT, reference=(ref := unique("BL-PO")))
    t = order_terms(net, order_id, ref)
    deal_id = accept(net, t)
    orders = c(net).orders
    assert orders.owner_of(order_id) == net.deployment.order_financing
    assert orders.order(order_id).state is OrderState.ISSUED
    with moves(net, {"lender": -PRINCIPAL, "engine": PRINCIPAL}):
        fund(net, deal_id)
    assert orders.order(order_id).state is OrderState.FINANCED
    assert claimable(net, deal_id, "seller") == ADVANCE  # the advance, to the supplier only
    confirm_event(net, ref, "DEPA", "CNSZX", deal_id)
    assert claimable(net, deal_id, "seller") == PRINCIPAL
    with moves(net, {"seller": PRINCIPAL, "engine": -PRINCIPAL}):
        assert withdraw(net, deal_id, "seller") == [PRINCIPAL]
    assert c(net).deals.amount_due(deal_id) == PRINCIPAL + FEE
    with moves(net, {"seller": -(PRINCIPAL + FEE), "engine": PRINCIPAL + FEE}):
        repay(net, deal_id, "seller")
    assert claimable(net, deal_id, "lender") == PRINCIPAL + FEE
    assert claimable(net, deal_id, "seller") == 0
    with moves(net, {"lender": PRINCIPAL + FEE, "engine": -(PRINCIPAL + FEE)}):
        withdraw(net, deal_id, "lender")
    assert state(net, deal_id) is DealState.CLOSED
    o = orders.order(order_id)
    assert (o.state, o.holder) == (OrderState.CLOSED, net.deployment.order_financing)  # kept, settled


def test_supplier_repaying_early_owes_only_what_was_released_and_the_lender_gets_the_rest_back(net, money):
    _, deal_id, _ = financed_order(net)  # only the advance released
    assert c(net).deals.amount_due(deal_id) == ADVANCE + FEE
    with moves(net, {"seller": -(ADVANCE + FEE), "engine": ADVANCE + FEE}):
        repay(net, deal_id, "seller")
    # lender: the unreleased escrow back plus released + fee; the supplier keeps its advance claim
    assert claimable(net, deal_id, "lender") == PRINCIPAL + FEE
    assert claimable(net, deal_id, "seller") == ADVANCE
    with moves(net, {"lender": PRINCIPAL + FEE, "seller": ADVANCE, "engine": -(PRINCIPAL + FEE + ADVANCE)}):
        withdraw(net, deal_id, "lender", "seller")
    assert state(net, deal_id) is DealState.CLOSED


def test_rollover_to_the_po_invoice_then_the_buyer_pays_face_value_through_the_waterfall(net, money):
    order_id, deal_id, ref = financed_order(net)
    confirm_event(net, ref, "DEPA", "CNSZX", deal_id)
    withdraw(net, deal_id, "seller")
    invoice_id = po_invoice(net, order_id, reference=ref)
    receipt = c(net, "seller").order_financing.roll_to_invoice(deal_id, invoice_id)
    assert c(net).order_financing.events(receipt, "RolledToInvoice")[0]["invoiceId"] == invoice_id
    of = c(net).order_financing
    assert (of.order_of_deal(deal_id), of.invoice_of_deal(deal_id)) == (order_id, invoice_id)
    inv = c(net).invoices.invoice(invoice_id)
    assert (inv.holder, inv.state) == (net.deployment.order_financing, InvoiceState.FINANCED)
    assert c(net).orders.order(order_id).state is OrderState.CLOSED
    d = deal(net, deal_id)
    assert (d.obligor, d.obligation, d.collateral_id) == (addr(net, "buyer"), PO_AMOUNT, invoice_id)
    # the supplier no longer repays: the buyer pays the invoice's face value
    refused(net, errors.NotPayer, lambda: c(net, "seller").deals.repay(deal_id))
    with moves(net, {"buyer": -PO_AMOUNT, "engine": PO_AMOUNT}):
        repay(net, deal_id, "buyer")
    to_supplier = PO_AMOUNT - PRINCIPAL - FEE
    assert claimable(net, deal_id, "lender") == PRINCIPAL + FEE
    assert claimable(net, deal_id, "seller") == to_supplier
    with moves(net, {"lender": PRINCIPAL + FEE, "seller": to_supplier, "engine": -(PRINCIPAL + FEE + to_supplier)}):
        withdraw(net, deal_id, "lender", "seller")
    assert state(net, deal_id) is DealState.CLOSED
    assert c(net).invoices.invoice(invoice_id).state is InvoiceState.PAID


def test_rollover_before_funding_finances_the_invoice_at_funding(net, money):
    order_id, deal_id, _ = accepted_order(net)
    invoice_id = po_invoice(net, order_id)
    c(net, "lender").order_financing.roll_to_invoice(deal_id, invoice_id)  # the lender may roll too
    assert c(net).invoices.invoice(invoice_id).state is InvoiceState.CONFIRMED
    fund(net, deal_id)
    assert c(net).orders.order(order_id).state is OrderState.CLOSED
    assert c(net).invoices.invoice(invoice_id).state is InvoiceState.FINANCED


def test_cancel_before_funding_returns_the_order_and_a_rolled_invoice(net, money):
    order_id, deal_id, _ = accepted_order(net)
    invoice_id = po_invoice(net, order_id)
    c(net, "seller").order_financing.roll_to_invoice(deal_id, invoice_id)
    with moves(net, {}):
        c(net, "lender").deals.cancel(deal_id)
    assert c(net).orders.order(order_id).holder == addr(net, "seller")
    assert c(net).invoices.invoice(invoice_id).holder == addr(net, "seller")
    assert state(net, deal_id) is DealState.CANCELLED


def test_default_before_rollover_gives_the_order_to_the_lender(net, money):
    order_id, deal_id, _ = financed_order(net)
    d = deal(net, deal_id)
    net.advance_time(d.maturity + d.grace_period - net.now() + 1)
    with moves(net, {}):
        c(net, "lender").deals.declare_default(deal_id)
    assert claimable(net, deal_id, "lender") == ON_DEPARTURE  # the unreleased escrow
    assert claimable(net, deal_id, "seller") == ADVANCE
    o = c(net).orders.order(order_id)
    assert (o.state, o.holder) == (OrderState.DEFAULTED, addr(net, "lender"))


def test_default_after_rollover_gives_the_invoice_to_the_lender(net, money):
    order_id, deal_id, _ = financed_order(net)
    invoice_id = po_invoice(net, order_id)
    c(net, "seller").order_financing.roll_to_invoice(deal_id, invoice_id)
    d = deal(net, deal_id)
    net.advance_time(d.maturity + d.grace_period - net.now() + 1)
    c(net, "lender").deals.declare_default(deal_id)
    inv = c(net).invoices.invoice(invoice_id)
    assert (inv.state, inv.holder) == (InvoiceState.DEFAULTED, addr(net, "lender"))
    assert c(net).orders.order(order_id).state is OrderState.CLOSED


# ---------------------------------------------------------------------------- only the supplier is paid


def test_a_borrower_other_than_the_po_supplier_is_refused(net, money):
    ref = unique("BL-PO")
    order_id = order(net, PO_AMOUNT, reference=ref)
    # another account of the supplier's own organisation is not the named supplier either
    for borrower in ("seller_ops",):
        t = order_terms(net, order_id, ref, borrower=borrower)
        e = refused(net, errors.NotOrderSupplier,
                    lambda: c(net, borrower).deals.accept(t, b"", sign(net, t, "lender")),
                    lambda: c(net).orders.order(order_id), lambda: c(net).deals.deal_count())
        assert e["orderId"] == order_id and e["borrower"] == addr(net, borrower)


def test_releases_are_credited_only_to_the_supplier(net, money):
    _, deal_id, ref = financed_order(net)
    confirm_event(net, ref, "DEPA", "CNSZX", deal_id)
    others = [k for k in net.keys if k != "seller"]
    assert claimable(net, deal_id, "seller") == PRINCIPAL
    assert all(claimable(net, deal_id, k) == 0 for k in others)
    for k in ("buyer", "lender", "seller_ops"):
        refused(net, errors.NothingToWithdraw, lambda k=k: c(net, k).deals.withdraw(deal_id))


def test_an_order_the_supplier_no_longer_holds_or_a_cancelled_one_cannot_be_financed(net, money):
    order_id, deal_id, ref = financed_order(net)
    t = order_terms(net, order_id, ref)  # the same order again: financed, in the first deal's custody
    e = refused(net, errors.OrderNotLive, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))
    assert e["state"] == OrderState.FINANCED
    cancelled = order(net, PO_AMOUNT)
    c(net, "buyer").orders.cancel(cancelled, "buyer withdrew the order")
    t2 = order_terms(net, cancelled, unique("BL"))
    e = refused(net, errors.OrderNotLive, lambda: c(net, "seller").deals.accept(t2, b"", sign(net, t2, "lender")))
    assert e["state"] == OrderState.CANCELLED


def test_the_deal_shipment_must_be_the_orders(net, money):
    order_id = order(net, PO_AMOUNT, reference="MAEU-PO-SHIP-A")
    t = order_terms(net, order_id, "MAEU-PO-SHIP-B")
    c(net, "seller").orders.approve(net.deployment.order_financing, order_id)
    refused(net, errors.ShipmentMismatch, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "lender")))


# ---------------------------------------------------------------------------- rollover rules


def test_rollover_rules(net, money):
    order_id, deal_id, _ = financed_order(net)
    of = lambda who: c(net, who).order_financing  # noqa: E731
    reads = (lambda: deal(net, deal_id), lambda: of(None).invoice_of_deal(deal_id))
    # an invoice not issued against this order
    unrelated = invoice(net, PO_AMOUNT)
    c(net, "seller").invoices.approve(net.deployment.order_financing, unrelated)
    refused(net, errors.InvoiceNotForOrder, lambda: of("seller").roll_to_invoice(deal_id, unrelated), *reads)
    # the PO invoice before the buyer confirmed it
    pending = invoice(net, PO_AMOUNT, order_id=order_id, confirm=False)
    c(net, "seller").invoices.approve(net.deployment.order_financing, pending)
    refused(net, errors.InvoiceNotConfirmed, lambda: of("seller").roll_to_invoice(deal_id, pending), *reads)
    c(net, "buyer").invoices.confirm(pending)
    # only the deal's supplier or lender
    for outsider in ("buyer", "lender_b", "seller_ops"):
        refused(net, errors.NotDealParty, lambda o=outsider: of(o).roll_to_invoice(deal_id, pending), *reads)
    of("seller").roll_to_invoice(deal_id, pending)
    refused(net, errors.AlreadyRolled, lambda: of("lender").roll_to_invoice(deal_id, pending))


def test_rollover_to_an_invoice_smaller_than_principal_plus_fee_is_refused(net, money):
    order_id, deal_id, _ = financed_order(net)
    small = po_invoice(net, order_id, face=PRINCIPAL + FEE - 1)
    e = refused(net, errors.InvalidAmounts,
                lambda: c(net, "seller").order_financing.roll_to_invoice(deal_id, small),
                lambda: c(net).invoices.invoice(small), lambda: deal(net, deal_id))
    assert (e["principal"], e["fee"], e["limit"]) == (PRINCIPAL, FEE, PRINCIPAL + FEE - 1)


def test_hooks_and_obligation_changes_only_through_the_engine_and_the_module(net, money):
    order_id, deal_id, _ = financed_order(net)
    of = c(net, "lender").order_financing
    refused(net, errors.NotEngine, lambda: of._tx("onFund", deal_id, order_id, addr(net, "seller"), bytes(32)))
    engine = c(net, "lender").deals
    refused(net, errors.NotProduct,
            lambda: engine._tx("setObligation", deal_id, order_id, addr(net, "buyer"), PO_AMOUNT, b"USD"))
