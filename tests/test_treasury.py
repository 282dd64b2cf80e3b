"""Treasury: tokenised deposits minted by TREASURY against a fiat deposit reference, redeemed
through redemption requests (held by the token until TREASURY burns or returns them), and a new
currency's token created by the CurrencyFactory and registered in one M-of-N proposal."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import SettlementToken
from chain.vocabulary import ContractKind, RedemptionState

from tests.support.products import (
    DAY,
    addr,
    c,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    govern,
    invoice,
    mint,
    moves,
    refused,
    sanction,
    snapshot,
    token,
)
from tests.support.tokens import govern_fails

pytestmark = pytest.mark.usefixtures("funds_conserved")

DEPOSIT = 250_000_00


def test_treasury_mints_against_a_deposit_reference(net):
    deposit_ref = keccak(text="MT103 SETTLEBANK 2025-11-30 0001")
    usd = token(net, "USD", "treasury")
    with moves(net, {"lender": DEPOSIT}, minted=DEPOSIT):
        receipt = usd.mint(addr(net, "lender"), DEPOSIT, deposit_ref)
    ev = usd.events(receipt, "FiatDeposited")[0]
    assert (ev["treasury"], ev["to"], ev["amount"], bytes(ev["depositRef"])) == (
        addr(net, "treasury"), addr(net, "lender"), DEPOSIT, deposit_ref)


def test_minting_needs_treasury_a_reference_and_a_member(net):
    supply = lambda: token(net, "USD").total_supply()  # noqa: E731
    refused(net, errors.MissingReference, lambda: token(net, "USD", "treasury").mint(addr(net, "lender"), 1, bytes(32)),
            supply)
    for who in ("admin_a", "lender", "auditor"):
        e = refused(net, errors.MissingRole,
                    lambda w=who: token(net, "USD", w).mint(addr(net, w), 1, keccak(text="dep")), supply)
        assert e["account"] == addr(net, who)
    outsider = "0x" + "77" * 20
    refused(net, errors.NotMember, lambda: token(net, "USD", "treasury").mint(outsider, 1, keccak(text="dep")),
            supply)


def test_redemption_request_then_completion_burns_the_amount(net):
    mint(net, "seller", DEPOSIT)
    payout = keccak(text="IBAN CN12 3456 seller payout")
    seller_usd = token(net, "USD", "seller")
    with moves(net, {"seller": -100_000_00, "token": 100_000_00}):
        rid = seller_usd.request_redemption(100_000_00, payout)
    r = seller_usd.redemption(rid)
    assert (r.holder, r.amount, r.state, r.payout_ref) == (addr(net, "seller"), 100_000_00,
                                                            RedemptionState.REQUESTED, payout)
    bank_ref = keccak(text="MT103 outgoing 0042")
    with moves(net, {"token": -100_000_00}, minted=-100_000_00):
        receipt = token(net, "USD", "treasury").complete_redemption(rid, bank_ref)
    ev = seller_usd.events(receipt, "FiatRedeemed")[0]
    assert (ev["amount"], bytes(ev["redemptionRef"])) == (100_000_00, bank_ref)
    assert seller_usd.redemption(rid).state is RedemptionState.COMPLETED
    e = refused(net, errors.RedemptionClosed, lambda: token(net, "USD", "treasury").complete_redemption(rid, bank_ref))
    assert e["state"] == RedemptionState.COMPLETED
    refused(net, errors.RedemptionClosed, lambda: token(net, "USD", "treasury").reject_redemption(rid, "late"))


def test_a_rejected_redemption_returns_the_amount_to_the_holder(net):
    mint(net, "seller", DEPOSIT)
    rid = token(net, "USD", "seller").request_redemption(DEPOSIT, keccak(text="payout"))
    with moves(net, {"seller": DEPOSIT, "token": -DEPOSIT}):
        receipt = token(net, "USD", "treasury").reject_redemption(rid, "payout account not verified")
    assert token(net).events(receipt, "RedemptionRejected")[0]["reason"] == "payout account not verified"
    assert token(net).redemption(rid).state is RedemptionState.REJECTED


def test_redemption_rules(net):
    mint(net, "seller", DEPOSIT)
    seller_usd = token(net, "USD", "seller")
    refused(net, errors.MissingReference, lambda: seller_usd.request_redemption(1, bytes(32)))
    refused(net, errors.InvalidAmount, lambda: seller_usd.request_redemption(0, keccak(text="p")))
    refused(net, errors.ERC20InsufficientBalance, lambda: seller_usd.request_redemption(DEPOSIT + 1, keccak(text="p")))
    rid = seller_usd.request_redemption(1_000_00, keccak(text="p"))
    e = refused(net, errors.MissingRole, lambda: token(net, "USD", "lender").complete_redemption(rid, keccak(text="b")))
    assert e["account"] == addr(net, "lender")
    refused(net, errors.MissingReference, lambda: token(net, "USD", "treasury").complete_redemption(rid, bytes(32)))
    refused(net, errors.UnknownRedemption, lambda: token(net, "USD", "treasury").complete_redemption(rid + 1,
                                                                                                  keccak(text="b")))
    sanction(net, "seller")
    e = refused(net, errors.MemberIsSanctioned, lambda: seller_usd.request_redemption(1_000_00, keccak(text="p")))
    assert e["account"] == addr(net, "seller")


def test_treasury_burns_its_own_balance_with_a_reference(net):
    mint(net, "treasury", DEPOSIT)
    with moves(net, {"treasury": -DEPOSIT}, minted=-DEPOSIT):
        token(net, "USD", "treasury").burn(DEPOSIT, keccak(text="redeemed over the counter"))
    refused(net, errors.MissingReference, lambda: token(net, "USD", "treasury").burn(1, bytes(32)))


def test_a_tt_transfer_carries_its_payment_reference(net):
    mint(net, "buyer", DEPOSIT)
    payment_ref = keccak(text="PO-2025-0042")
    with moves(net, {"buyer": -DEPOSIT, "seller": DEPOSIT}):
        receipt = token(net, "USD", "buyer").transfer_with_reference(addr(net, "seller"), DEPOSIT, payment_ref)
    ev = token(net).events(receipt, "PaymentReference")[0]
    assert (ev["from"], ev["to"], ev["amount"], bytes(ev["paymentRef"])) == (
        addr(net, "buyer"), addr(net, "seller"), DEPOSIT, payment_ref)
    refused(net, errors.MissingReference,
            lambda: token(net, "USD", "buyer").transfer_with_reference(addr(net, "seller"), 1, bytes(32)))


# ---------------------------------------------------------------------------- a new currency


CHF = ("tradenet Swiss Franc deposit", "CHF", 2)


def test_a_new_currency_is_created_and_registered_by_governance(net):
    factory = c(net).currency_factory
    registry = c(net).registry
    predicted = factory.predict(*CHF)
    assert registry.settlement_token("CHF") is None
    refused(net, errors.UnsupportedCurrency, lambda: invoice(net, 10_000_00, "CHF"))
    refused(net, errors.NotGovernance, lambda: c(net, "admin_a").currency_factory._tx("create", *_create_args()))
    govern(net, factory.call_create(*CHF), registry.call_set_network_contract(predicted, ContractKind.ASSET),
           registry.call_set_settlement_token("CHF", predicted), description="Add the Swiss franc")
    assert registry.settlement_token("CHF") == predicted
    assert registry.contract_kind(predicted) is ContractKind.ASSET
    chf = SettlementToken(net.chain, predicted, net.keys["treasury"])
    assert (chf.currency(), chf.decimals(), chf.total_supply()) == ("CHF", 2, 0)
    # treasury mints it against deposits; it moves under the network's transfer rule
    with moves(net, {"buyer": 50_000_00}, currency="CHF", minted=50_000_00, token_address=predicted):
        chf.mint(addr(net, "buyer"), 50_000_00, keccak(text="CHF deposit 1"))
    # invoices in CHF are accepted now and paid by T/T in CHF
    invoice_id = invoice(net, 20_000_00, "CHF", due_in=30 * DAY)
    chf.using(net.keys["buyer"]).approve(net.deployment.invoice_settlement, 20_000_00)
    with moves(net, {"buyer": -20_000_00, "seller": 20_000_00}, currency="CHF", token_address=predicted):
        c(net, "buyer").settlement.pay_invoice(invoice_id, 20_000_00, keccak(text="TT CHF"))
    assert snapshot(net, "CHF", predicted).supply == 50_000_00


def _create_args() -> tuple:
    name, code, decimals = CHF
    return name, code.encode(), decimals


def test_a_token_is_registered_only_for_its_own_currency(net):
    factory = c(net).currency_factory
    registry = c(net).registry
    predicted = factory.predict(*CHF)
    govern(net, factory.call_create(*CHF), registry.call_set_network_contract(predicted, ContractKind.ASSET))
    e = govern_fails(net, errors.InvalidSettlementToken, registry.call_set_settlement_token("JPY", predicted),
                     reads=[lambda: registry.settlement_token("JPY")])
    assert e["token"].lower() == predicted.lower()
    # an unregistered contract cannot be a settlement token either
    other = factory.predict("tradenet Yen deposit", "JPY", 0)
    govern(net, factory.call_create("tradenet Yen deposit", "JPY", 0))
    govern_fails(net, errors.InvalidSettlementToken, registry.call_set_settlement_token("JPY", other))


@pytest.mark.parametrize("currency", ["USD", "EUR", "CNY"])
def test_the_deployed_currencies_are_the_factorys(net, currency):
    names = {"USD": "tradenet US Dollar deposit", "EUR": "tradenet Euro deposit", "CNY": "tradenet Renminbi deposit"}
    assert c(net).currency_factory.predict(names[currency], currency, 2) == net.deployment.settlement_tokens[currency]
