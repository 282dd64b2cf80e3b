"""Direct payment of invoices by their buyer (`InvoiceSettlement`): T/T against one invoice with a
payment reference, partial payments tracked, marked Paid at face value; and the maturity payment
of a split (multi-tier) invoice over all its live parts in one call, pro rata with the rounding
remainder distributed unit by unit, so no unit is lost."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.vocabulary import InvoiceState, Product, Role

from tests.support.products import (
    accept,
    govern,
    addr,
    admit,
    approve_collateral,
    c,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    invoice,
    mint,
    moves,
    ref,
    refused,
    sign,
    terms,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

FACE = 10_000_00


@pytest.fixture
def money(net):
    mint(net, "buyer", 1_000_000_00)
    mint(net, "lender", 1_000_000_00)


def pay(net, invoice_id: int, amount: int, payment_ref: bytes | None = None, payer: str = "buyer",
        approve: bool = True) -> dict:
    if approve:
        allow(net, payer, amount)
    return c(net, payer).settlement.pay_invoice(invoice_id, amount, payment_ref or ref("tt"))


def pay_parts(net, root_id: int, amount: int, payer: str = "buyer", approve: bool = True) -> dict:
    if approve:
        allow(net, payer, amount)
    return c(net, payer).settlement.pay_parts(root_id, amount, ref("maturity"))


def allow(net, payer: str, amount: int) -> None:
    c(net, payer).token("USD").approve(net.deployment.invoice_settlement, amount)


def pro_rata(amount: int, open_amounts: list[int]) -> list[int]:
    """The contract's rule, restated: floor shares, then one unit each in list order to parts with room."""
    total = sum(open_amounts)
    shares = [amount * o // total for o in open_amounts]
    for i, o in enumerate(open_amounts):
        if sum(shares) == amount:
            break
        if shares[i] < o:
            shares[i] += 1
    return shares


def _invoice(net, invoice_id: int):
    return c(net).invoices.invoice(invoice_id)


# ---------------------------------------------------------------------------- T/T


def test_partial_tt_payments_are_tracked_and_the_full_amount_marks_the_invoice_paid(net, money):
    invoice_id = invoice(net, FACE)
    settlement = c(net).settlement
    tt_ref = keccak(text="TT 2025-0042 part 1")
    with moves(net, {"buyer": -3_000_00, "seller": 3_000_00}):
        receipt = pay(net, invoice_id, 3_000_00, tt_ref)
    ev = settlement.events(receipt, "InvoicePayment")[0]
    assert (ev["id"], ev["payer"], ev["holder"], ev["amount"], ev["paidTotal"], bytes(ev["paymentRef"])) == (
        invoice_id, addr(net, "buyer"), addr(net, "seller"), 3_000_00, 3_000_00, tt_ref)
    assert settlement.paid_of(invoice_id) == 3_000_00
    assert _invoice(net, invoice_id).state is InvoiceState.CONFIRMED
    e = refused(net, errors.Overpayment, lambda: pay(net, invoice_id, 7_000_01, approve=False),
                lambda: settlement.paid_of(invoice_id), lambda: _invoice(net, invoice_id))
    assert (e["id"], e["amount"], e["open"]) == (invoice_id, 7_000_01, 7_000_00)
    with moves(net, {"buyer": -7_000_00, "seller": 7_000_00}):
        pay(net, invoice_id, 7_000_00)
    assert settlement.paid_of(invoice_id) == FACE
    assert _invoice(net, invoice_id).state is InvoiceState.PAID
    e = refused(net, errors.NotPayable, lambda: pay(net, invoice_id, 1, approve=False))
    assert e["state"] == InvoiceState.PAID


def test_tt_rules(net, money):
    invoice_id = invoice(net, FACE)
    settlement = c(net, "buyer").settlement
    reads = (lambda: c(net).settlement.paid_of(invoice_id), lambda: _invoice(net, invoice_id))
    c(net, "buyer").token("USD").approve(net.deployment.invoice_settlement, FACE)
    refused(net, errors.ZeroPayment, lambda: settlement.pay_invoice(invoice_id, 0, ref("tt")), *reads)
    refused(net, errors.MissingReference, lambda: settlement.pay_invoice(invoice_id, 1, bytes(32)), *reads)
    mint(net, "lender_b", FACE)
    e = refused(net, errors.NotBuyer, lambda: pay(net, invoice_id, 1, payer="lender_b", approve=False), *reads)
    assert e["caller"] == addr(net, "lender_b")
    unconfirmed = invoice(net, FACE, confirm=False)
    e = refused(net, errors.NotPayable, lambda: pay(net, unconfirmed, 1, approve=False))
    assert e["state"] == InvoiceState.ISSUED
    refused(net, errors.NotSettlement,
            lambda: c(net, "buyer").invoices._tx("markSettled", invoice_id), *reads)


@pytest.mark.parametrize("funded", [False, True], ids=["accepted", "financed"])
def test_an_invoice_held_by_a_deal_is_repaid_through_the_deal_not_by_tt(net, money, funded):
    invoice_id = invoice(net, FACE)
    deal_id = accept(net, terms(net, Product.RECEIVABLE, invoice_id, 8_000_00, 100_00))
    if funded:
        fund(net, deal_id)
    e = refused(net, errors.NotPayable, lambda: pay(net, invoice_id, 1_000_00, approve=False),
                lambda: _invoice(net, invoice_id), lambda: c(net).settlement.paid_of(invoice_id))
    assert e["holder"] == net.deployment.receivable_financing
    assert e["state"] == (InvoiceState.FINANCED if funded else InvoiceState.CONFIRMED)


def test_finding_a_partly_paid_invoice_is_financed_only_for_what_is_still_open(net, money):
    """A deal on an invoice the buyer already paid in part by T/T must not make the buyer owe the
    full face value again: the deal's obligation is what is still open."""
    invoice_id = invoice(net, FACE)
    pay(net, invoice_id, 4_000_00)
    t = terms(net, Product.RECEIVABLE, invoice_id, 5_000_00, 100_00)
    deal_id = accept(net, t)
    d = c(net).lens.deal(deal_id)
    assert (d.obligation, c(net).deals.amount_due(deal_id)) == (6_000_00, 6_000_00)
    too_much = terms(net, Product.RECEIVABLE, invoice_id, 5_900_01, 100_00)
    c(net, "seller").deals.cancel(deal_id)
    approve_collateral(net, too_much)
    e = refused(net, errors.InvalidAmounts,
                lambda: c(net, "seller").deals.accept(too_much, b"", sign(net, too_much, "lender")))
    assert e["limit"] == 6_000_00


# ---------------------------------------------------------------------------- multi-tier parts


@pytest.fixture
def tiers(net, money):
    """Root USD 100,000.00 split by the seller into 50,000.00 / 30,000.01 / 19,999.99; the last two
    go to a tier-2 supplier, which splits the last into 9,999.99 / 10,000.00 and pays a tier-3
    supplier with the second. Returns (root, {part: holder label}, tier-3 account)."""
    tier2 = admit(net, "tier2", Role.SELLER, "529900TIER2SUPPLY016", "Dongguan Tier-2 Components Ltd.", "CN")
    tier3 = admit(net, "tier3", Role.SELLER, "529900TIER3SUPPLY017", "Foshan Tier-3 Plastics Ltd.", "CN")
    root = invoice(net, 100_000_00)
    p1, p2, p3 = c(net, "seller").invoices.split(root, [50_000_00, 30_000_01, 19_999_99])
    c(net, "seller").invoices.transfer(tier2.address, p2)
    c(net, "seller").invoices.transfer(tier2.address, p3)
    p3a, p3b = c(net, tier2).invoices.split(p3, [9_999_99, 10_000_00])
    c(net, tier2).invoices.transfer(tier3.address, p3b)
    parts = c(net).invoices.parts_of(root)
    assert parts == [p1, p2, p3a, p3b]
    for p in parts:
        inv = _invoice(net, p)
        assert (inv.root_id, inv.buyer, inv.state) == (root, addr(net, "buyer"), InvoiceState.CONFIRMED)
    return root, {p1: "seller", p2: "tier2", p3a: "tier2", p3b: "tier3"}, tier3


def test_maturity_payment_across_parts_with_an_odd_remainder_loses_no_unit(net, tiers):
    root, holders, _ = tiers
    parts = list(holders)
    amount = 3_333_333
    expected = [1_666_667, 1_000_001, 333_332, 333_333]  # floors 1,666,666 / 1,000,000 / 333,332 / 333,333 + 2 units
    assert pro_rata(amount, [50_000_00, 30_000_01, 9_999_99, 10_000_00]) == expected
    with moves(net, {"buyer": -amount, "seller": expected[0], "tier2": expected[1] + expected[2],
                     "tier3": expected[3]}):
        receipt = pay_parts(net, root, amount)
    payments = c(net).settlement.events(receipt, "InvoicePayment")
    assert [(p["id"], p["amount"]) for p in payments] == list(zip(parts, expected))
    assert [c(net).settlement.paid_of(p) for p in parts] == expected
    assert all(_invoice(net, p).state is InvoiceState.CONFIRMED for p in parts)


@pytest.mark.parametrize("amount", [1, 3, 4, 7, 99_999_99])
def test_pro_rata_shares_sum_exactly_to_any_amount(net, tiers, amount):
    root, holders, _ = tiers
    parts = list(holders)
    expected = pro_rata(amount, [50_000_00, 30_000_01, 9_999_99, 10_000_00])
    assert sum(expected) == amount
    pay_parts(net, root, amount)
    assert [c(net).settlement.paid_of(p) for p in parts] == expected


def test_full_payment_marks_every_part_paid_and_overpayment_is_refused(net, tiers):
    root, holders, _ = tiers
    parts = list(holders)
    reads = (lambda: [c(net).settlement.paid_of(p) for p in parts],)
    e = refused(net, errors.Overpayment, lambda: pay_parts(net, root, 100_000_01, approve=False), *reads)
    assert (e["id"], e["amount"], e["open"]) == (root, 100_000_01, 100_000_00)
    opens = [50_000_00, 30_000_01, 9_999_99, 10_000_00]
    first = pro_rata(1_234_57, opens)
    pay_parts(net, root, 1_234_57)
    rest = [o - f for o, f in zip(opens, first)]
    assert pro_rata(100_000_00 - 1_234_57, rest) == rest  # the rest pays each part exactly
    with moves(net, {"buyer": -(100_000_00 - 1_234_57), "seller": rest[0], "tier2": rest[1] + rest[2],
                     "tier3": rest[3]}):
        pay_parts(net, root, 100_000_00 - 1_234_57)
    assert [c(net).settlement.paid_of(p) for p in parts] == [50_000_00, 30_000_01, 9_999_99, 10_000_00]
    assert all(_invoice(net, p).state is InvoiceState.PAID for p in parts)
    e = refused(net, errors.NothingOpen, lambda: pay_parts(net, root, 1, approve=False))
    assert e["rootId"] == root


def test_a_financed_part_is_skipped_and_repaid_through_its_deal(net, tiers):
    root, holders, tier3 = tiers
    p1, p2, p3a, p3b = holders
    deal_id = accept(net, terms(net, Product.RECEIVABLE, p3b, 9_000_00, 200_00, borrower=tier3))
    fund(net, deal_id)
    open_amounts = [50_000_00, 30_000_01, 9_999_99]
    e = refused(net, errors.Overpayment, lambda: pay_parts(net, root, 90_000_01, approve=False))
    assert e["open"] == sum(open_amounts)
    expected = pro_rata(90_000_00, open_amounts)
    assert expected == open_amounts
    with moves(net, {"buyer": -90_000_00, "seller": 50_000_00, "tier2": 40_000_00}):
        pay_parts(net, root, 90_000_00)
    assert [_invoice(net, p).state for p in (p1, p2, p3a, p3b)] == [InvoiceState.PAID] * 3 + [InvoiceState.FINANCED]
    assert c(net).settlement.paid_of(p3b) == 0


def test_only_the_buyer_pays_parts_and_an_unsplit_invoice_has_none(net, tiers):
    root, _, _ = tiers
    mint(net, "lender_b", 1_000_00)
    refused(net, errors.NotBuyer, lambda: pay_parts(net, root, 1_000_00, payer="lender_b", approve=False))
    lone = invoice(net, FACE)
    refused(net, errors.NothingOpen, lambda: pay_parts(net, lone, 1, approve=False))


def test_a_part_held_by_a_sanctioned_member_is_withheld_and_the_others_are_paid(net, tiers):
    """Sanctions freeze one tier-3 supplier: the buyer's maturity payment still reaches every other
    part; the sanctioned holder's part stays open (a `PartWithheld` event says so) and is paid once
    the sanction is lifted."""
    root, holders, tier3 = tiers
    p1, p2, p3a, p3b = holders
    govern(net, c(net).registry.call_set_sanctioned(tier3.address, True, "OFAC SDN list match"))
    open_amounts = [50_000_00, 30_000_01, 9_999_99]
    e = refused(net, errors.Overpayment, lambda: pay_parts(net, root, 100_000_00, approve=False))
    assert e["open"] == sum(open_amounts)
    with moves(net, {"buyer": -90_000_00, "seller": 50_000_00, "tier2": 40_000_00}):
        receipt = pay_parts(net, root, 90_000_00)
    [withheld] = c(net).settlement.events(receipt, "PartWithheld")
    assert (withheld["rootId"], withheld["id"], withheld["holder"], withheld["open"]) == (
        root, p3b, tier3.address, 10_000_00)
    assert [_invoice(net, p).state for p in (p1, p2, p3a, p3b)] == [InvoiceState.PAID] * 3 + [InvoiceState.CONFIRMED]
    govern(net, c(net).registry.call_set_sanctioned(tier3.address, False, "delisted"))
    with moves(net, {"buyer": -10_000_00, "tier3": 10_000_00}):
        pay_parts(net, root, 10_000_00)
    assert _invoice(net, p3b).state is InvoiceState.PAID
