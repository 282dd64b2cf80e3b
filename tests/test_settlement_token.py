"""SettlementToken: TREASURY-only mint and burn, permissioned transfers between active members,
escrow pay-in/pay-out rules, ISO 4217 metadata, exact integer amounts."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.contracts import ContractKind, Role, SettlementToken, b3

from .token_support import (
    balances,
    checksum,
    escrow_account,
    expire_kyc,
    mint,
    outsider,
    sanction,
    suspend,
    unchanged,
)

REF = keccak(text="deposit-ref-0001")


def _state(net, *who, currency="USD"):
    """Balances of the given keys/addresses plus the total supply."""
    return lambda: (balances(net, who, currency), net.token(currency).total_supply())


# ---------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("code, name", [("USD", "tradenet US Dollar deposit"), ("EUR", "tradenet Euro deposit"),
                                        ("CNY", "tradenet Renminbi deposit")])
def test_currency_metadata(net, code, name):
    tok = net.token(code)
    assert tok.currency() == code
    assert tok._call("currencyCode") == code.encode()
    assert tok._call("symbol") == code
    assert tok._call("name") == name
    assert tok.decimals() == 2
    assert tok._call("registry") == net.deployment.registry
    assert tok.total_supply() == 0


def test_invalid_currency_or_decimals_rejected_at_deploy(net):
    admin = net.keys["admin_a"]
    with pytest.raises(errors.InvalidCurrencyCode) as exc:
        net.chain.deploy("SettlementToken", admin, net.deployment.registry, "bad", b3("usd"), 2)
    assert exc.value["code"] == b"usd"
    with pytest.raises(errors.InvalidDecimals) as exc:
        net.chain.deploy("SettlementToken", admin, net.deployment.registry, "bad", b3("XAU"), 19)
    assert exc.value["decimals"] == 19
    addr, _ = net.chain.deploy("SettlementToken", admin, net.deployment.registry, "yen", b3("JPY"), 0)
    jpy = SettlementToken(net.chain, addr)
    assert (jpy.currency(), jpy.decimals()) == ("JPY", 0)


# ---------------------------------------------------------------------------- mint and burn


def test_treasury_mints_exact_amount(net):
    tok = net.token("USD", "treasury")
    receipt = tok.mint(net.addr("buyer"), 123_456_789, REF)
    assert tok.balance_of(net.addr("buyer")) == 123_456_789
    assert tok.total_supply() == 123_456_789
    [ev] = tok.events(receipt, "FiatDeposited")
    assert (ev["treasury"], ev["to"], ev["amount"], ev["depositRef"]) == (
        net.addr("treasury"), net.addr("buyer"), 123_456_789, REF)
    tok.mint(net.addr("buyer"), 1, REF)
    assert tok.balance_of(net.addr("buyer")) == 123_456_790
    assert net.token("EUR").total_supply() == 0  # one contract per currency


def test_treasury_mints_to_itself_and_burns(net):
    tok = net.token("USD", "treasury")
    treasury = net.addr("treasury")
    tok.mint(treasury, 1_000_00, REF)
    receipt = tok.burn(250_01, keccak(text="redemption-1"))
    assert tok.balance_of(treasury) == 749_99
    assert tok.total_supply() == 749_99
    [ev] = tok.events(receipt, "FiatRedeemed")
    assert (ev["treasury"], ev["amount"], ev["redemptionRef"]) == (treasury, 250_01, keccak(text="redemption-1"))


@pytest.mark.parametrize("who", ["seller", "admin_a", "lender", "auditor"])
def test_only_treasury_mints(net, who):
    tok = net.token("USD", who)
    with unchanged(net, _state(net, "buyer", who)):
        with pytest.raises(errors.MissingRole) as exc:
            tok.mint(net.addr("buyer"), 100, REF)
    assert checksum(exc.value["account"]) == net.addr(who)
    assert (exc.value["required"], exc.value["held"]) == (int(Role.TREASURY), int(net.participants[who].roles))


def test_non_member_cannot_mint(net):
    stranger = outsider("minter")
    tok = net.token("USD").using(stranger)
    with unchanged(net, _state(net, stranger.address)):
        with pytest.raises(errors.NotMember):
            tok.mint(stranger.address, 100, REF)


@pytest.mark.parametrize("who", ["seller", "admin_a"])
def test_only_treasury_burns(net, who):
    mint(net, who, 500)
    tok = net.token("USD", who)
    with unchanged(net, _state(net, who)):
        with pytest.raises(errors.MissingRole) as exc:
            tok.burn(100, REF)
    assert exc.value["required"] == int(Role.TREASURY)


def test_mint_to_non_member_fails(net):
    tok = net.token("USD", "treasury")
    stranger = outsider("recipient").address
    with unchanged(net, _state(net, stranger)):
        with pytest.raises(errors.NotMember) as exc:
            tok.mint(stranger, 100, REF)
    assert checksum(exc.value["account"]) == stranger


def test_mint_to_escrow_contract_fails(net):
    tok = net.token("USD", "treasury")
    escrow = net.deployment.receivable_financing
    with unchanged(net, _state(net, escrow)):
        with pytest.raises(errors.NotMember):
            tok.mint(escrow, 100, REF)


@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("sanctioned", "MemberIsSanctioned"),
                                          ("kyc", "KycExpired")])
def test_mint_to_lapsed_member_fails(net, lapse, error):
    {"suspended": suspend, "sanctioned": sanction, "kyc": expire_kyc}[lapse](net, "buyer")
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "buyer")):
        with pytest.raises(getattr(errors, error)) as exc:
            tok.mint(net.addr("buyer"), 100, REF)
    assert checksum(exc.value["account"]) == net.addr("buyer")


def test_suspended_treasury_cannot_mint_or_burn(net):
    mint(net, "treasury", 1_000)
    suspend(net, "treasury")
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "treasury", "buyer")):
        with pytest.raises(errors.MemberIsSuspended):
            tok.mint(net.addr("buyer"), 100, REF)
        with pytest.raises(errors.MemberIsSuspended):
            tok.burn(100, REF)


def test_zero_amounts_rejected(net):
    tok = net.token("USD", "treasury")
    mint(net, "treasury", 1_000)
    with unchanged(net, _state(net, "treasury", "buyer")):
        with pytest.raises(errors.ZeroAmount):
            tok.mint(net.addr("buyer"), 0, REF)
        with pytest.raises(errors.ZeroAmount):
            tok.burn(0, REF)


def test_burn_more_than_balance_fails(net):
    mint(net, "treasury", 1_000)
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "treasury")):
        with pytest.raises(errors.ERC20InsufficientBalance) as exc:
            tok.burn(1_001, REF)
    assert (exc.value["balance"], exc.value["needed"]) == (1_000, 1_001)


# ---------------------------------------------------------------------------- transfers between members


def test_transfer_between_active_members(net):
    mint(net, "buyer", 10_000_00)
    receipt = net.token("USD", "buyer").transfer(net.addr("seller"), 3_333_33)
    assert balances(net, ["buyer", "seller"]) == [6_666_67, 3_333_33]
    assert net.token("USD").total_supply() == 10_000_00
    [ev] = net.token("USD").events(receipt, "Transfer")
    assert (ev["from"], ev["to"], ev["value"]) == (net.addr("buyer"), net.addr("seller"), 3_333_33)


def test_transfer_more_than_balance_fails(net):
    mint(net, "buyer", 100)
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(errors.ERC20InsufficientBalance):
            net.token("USD", "buyer").transfer(net.addr("seller"), 101)


def test_transfer_to_non_member_fails(net):
    mint(net, "buyer", 1_000)
    stranger = outsider("recipient").address
    for amount in (500, 0):  # permission applies even to zero-value transfers
        with unchanged(net, _state(net, "buyer", stranger)):
            with pytest.raises(errors.NotMember) as exc:
                net.token("USD", "buyer").transfer(stranger, amount)
        assert checksum(exc.value["account"]) == stranger


def test_transfer_to_token_contract_fails(net):
    mint(net, "buyer", 1_000)
    tok_addr = net.deployment.settlement_tokens["USD"]
    with unchanged(net, _state(net, "buyer", tok_addr)):
        with pytest.raises(errors.TransferToTokenContract):
            net.token("USD", "buyer").transfer(tok_addr, 1)


@pytest.mark.parametrize("side", ["receiver", "sender"])
@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("sanctioned", "MemberIsSanctioned"),
                                          ("kyc", "KycExpired")])
def test_transfer_with_lapsed_member_fails(net, side, lapse, error):
    mint(net, "buyer", 1_000)
    lapsed = "seller" if side == "receiver" else "buyer"
    expiry = {"suspended": suspend, "sanctioned": sanction, "kyc": expire_kyc}[lapse](net, lapsed)
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(getattr(errors, error)) as exc:
            net.token("USD", "buyer").transfer(net.addr("seller"), 400)
    assert checksum(exc.value["account"]) == net.addr(lapsed)
    if lapse == "kyc":
        assert exc.value["kycExpiry"] == expiry
    assert balances(net, ["buyer", "seller"]) == [1_000, 0]


def test_transfer_from_with_allowance_obeys_the_same_rules(net):
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").approve(net.addr("lender"), 600)
    lender_tok = net.token("USD", "lender")
    lender_tok.transfer_from(net.addr("buyer"), net.addr("seller"), 250)
    assert balances(net, ["buyer", "seller", "lender"]) == [750, 250, 0]
    assert lender_tok._call("allowance", net.addr("buyer"), net.addr("lender")) == 350
    stranger = outsider("recipient").address
    with unchanged(net, _state(net, "buyer", stranger),
                   lambda: lender_tok._call("allowance", net.addr("buyer"), net.addr("lender"))):
        with pytest.raises(errors.NotMember):
            lender_tok.transfer_from(net.addr("buyer"), stranger, 100)
    suspend(net, "buyer")
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(errors.MemberIsSuspended):
            lender_tok.transfer_from(net.addr("buyer"), net.addr("seller"), 100)


def test_kyc_renewal_restores_transfers(net):
    mint(net, "buyer", 1_000)
    expire_kyc(net, "seller")
    with pytest.raises(errors.KycExpired):
        net.token("USD", "buyer").transfer(net.addr("seller"), 1)
    reg = net.registry()
    reg.govern(net.admins, [reg.call_renew_kyc(net.addr("seller"), net.now() + 86_400)], "renew")
    net.token("USD", "buyer").transfer(net.addr("seller"), 1)
    assert balances(net, ["buyer", "seller"]) == [999, 1]


# ---------------------------------------------------------------------------- escrows (running obligations)


def test_lapsed_member_can_still_pay_into_escrow(net):
    escrow = escrow_account(net)
    mint(net, "buyer", 1_000)
    suspend(net, "buyer")
    net.token("USD", "buyer").transfer(escrow.address, 700)  # repaying a running obligation
    assert balances(net, ["buyer", escrow.address]) == [300, 700]
    expire_kyc(net, "buyer")
    net.token("USD", "buyer").transfer(escrow.address, 300)
    assert balances(net, ["buyer", escrow.address]) == [0, 1_000]


def test_sanctioned_member_cannot_pay_into_escrow(net):
    escrow = escrow_account(net)
    mint(net, "buyer", 1_000)
    sanction(net, "buyer")
    with unchanged(net, _state(net, "buyer", escrow.address)):
        with pytest.raises(errors.MemberIsSanctioned):
            net.token("USD", "buyer").transfer(escrow.address, 100)


def test_escrow_pays_out_to_suspended_member_but_not_to_sanctioned_or_outsider(net):
    escrow = escrow_account(net)
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").transfer(escrow.address, 1_000)
    tok = net.token("USD").using(escrow)
    suspend(net, "seller")
    tok.transfer(net.addr("seller"), 400)  # a suspended seller still collects what it is owed
    assert balances(net, ["seller", escrow.address]) == [400, 600]
    sanction(net, "lender")
    stranger = outsider("recipient").address
    with unchanged(net, _state(net, "lender", stranger, escrow.address)):
        with pytest.raises(errors.MemberIsSanctioned):
            tok.transfer(net.addr("lender"), 100)
        with pytest.raises(errors.NotMember):
            tok.transfer(stranger, 100)


def test_deregistered_escrow_loses_its_exemption(net):
    escrow = escrow_account(net)
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").transfer(escrow.address, 1_000)
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_network_contract(escrow.address, ContractKind.NONE)], "deregister")
    with unchanged(net, _state(net, "seller", escrow.address)):
        with pytest.raises(errors.NotMember) as exc:
            net.token("USD").using(escrow).transfer(net.addr("seller"), 100)
    assert checksum(exc.value["account"]) == escrow.address
