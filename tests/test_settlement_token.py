"""SettlementToken: TREASURY-only mint (against a deposit reference) and burn, the network's
transfer rule (member to member, into and out of escrows, by standing), payments with a reference
(T/T), redemption requests (custody, completion, rejection), ISO 4217 metadata, exact integer
amounts. Funds are conserved: total supply = every holder's balance + open redemption requests,
and it changes only by TREASURY mint / burn."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import SettlementToken, b3
from chain.vocabulary import ContractKind, RedemptionState, Role

from tests.support.tokens import (
    LAPSES,
    balances,
    checksum,
    deploy_escrow,
    expire_kyc,
    lapse,
    mint,
    outsider,
    register_contract,
    sanction,
    suspend,
    unchanged,
)

REF = keccak(text="deposit-ref-0001")
PAYOUT = keccak(text="IBAN of the holder (hashed)")
BANK_REF = keccak(text="SWIFT MT103 ref 0001")
ZERO_REF = bytes(32)
MAX_AMOUNT = 2**128 - 1
MAX_REASON = 140


def _state(net, *who, currency="USD"):
    """Balances of the given keys/addresses, the custody of open requests, and the total supply."""
    tok = net.token(currency)
    return lambda: (balances(net, who, currency), tok.balance_of(tok.address), tok.total_supply())


def _conserved(net, *extra: str, currency: str = "USD") -> None:
    """Total supply == every participant's and `extra` holder's balance + the token's custody."""
    tok = net.token(currency)
    holders = {*(net.addr(k) for k in net.keys), *extra, tok.address}
    assert sum(balances(net, sorted(holders), currency)) == tok.total_supply()


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
    assert tok._call("MAX_AMOUNT") == MAX_AMOUNT
    assert tok.total_supply() == 0
    assert tok._call("redemptionCount") == 0


def test_invalid_currency_or_decimals_rejected_at_deploy(net):
    admin = net.keys["admin_a"]
    with pytest.raises(errors.InvalidCurrencyCode) as exc:
        net.chain.deploy("SettlementToken", admin, net.deployment.registry, "bad", b3("usd"), 2)
    assert exc.value["code"] == b"usd"
    with pytest.raises(errors.InvalidDecimals) as exc:
        net.chain.deploy("SettlementToken", admin, net.deployment.registry, "bad", b3("XAU"), 19)
    assert exc.value["decimals"] == 19
    with pytest.raises(errors.ZeroAddress):
        net.chain.deploy("SettlementToken", admin, "0x" + "00" * 20, "no registry", b3("JPY"), 0)
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
    _conserved(net)


def test_mint_of_the_maximum_amount(net):
    tok = net.token("USD", "treasury")
    tok.mint(net.addr("buyer"), MAX_AMOUNT, REF)
    assert tok.balance_of(net.addr("buyer")) == MAX_AMOUNT


def test_treasury_mints_to_itself_and_burns(net):
    tok = net.token("USD", "treasury")
    treasury = net.addr("treasury")
    tok.mint(treasury, 1_000_00, REF)
    receipt = tok.burn(250_01, keccak(text="redemption-1"))
    assert tok.balance_of(treasury) == 749_99
    assert tok.total_supply() == 749_99
    [ev] = tok.events(receipt, "FiatRedeemed")
    assert (ev["treasury"], ev["amount"], ev["redemptionRef"]) == (treasury, 250_01, keccak(text="redemption-1"))
    _conserved(net)


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


@pytest.mark.parametrize("contract", ["deal engine", "invoice token"])
def test_mint_to_a_network_contract_fails(net, contract):
    """Deposits are a member's: escrows are funded by their parties, never minted into."""
    tok = net.token("USD", "treasury")
    target = {"deal engine": net.deployment.deal_engine, "invoice token": net.deployment.invoice_token}[contract]
    with unchanged(net, _state(net, target)):
        with pytest.raises(errors.NotMember):
            tok.mint(target, 100, REF)


@pytest.mark.parametrize("how", list(LAPSES))
def test_mint_to_lapsed_member_fails(net, how):
    lapse(net, "buyer", how)
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "buyer")):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
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


@pytest.mark.parametrize("action, amount", [("mint", 0), ("mint", MAX_AMOUNT + 1), ("burn", 0),
                                            ("burn", MAX_AMOUNT + 1)])
def test_invalid_amounts_rejected(net, action, amount):
    tok = net.token("USD", "treasury")
    mint(net, "treasury", 1_000)
    with unchanged(net, _state(net, "treasury", "buyer")):
        with pytest.raises(errors.InvalidAmount) as exc:
            if action == "mint":
                tok.mint(net.addr("buyer"), amount, REF)
            else:
                tok.burn(amount, REF)
    assert (exc.value["amount"], exc.value["maximum"]) == (amount, MAX_AMOUNT)


def test_mint_and_burn_need_a_reference(net):
    tok = net.token("USD", "treasury")
    mint(net, "treasury", 1_000)
    with unchanged(net, _state(net, "treasury", "buyer")):
        with pytest.raises(errors.MissingReference):
            tok.mint(net.addr("buyer"), 100, ZERO_REF)
        with pytest.raises(errors.MissingReference):
            tok.burn(100, ZERO_REF)


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
    _conserved(net)


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
    """The token's own balance is the custody of redemption requests: nothing else enters it."""
    mint(net, "buyer", 1_000)
    tok_addr = net.deployment.settlement_tokens["USD"]
    with unchanged(net, _state(net, "buyer")):
        with pytest.raises(errors.TransferToTokenContract):
            net.token("USD", "buyer").transfer(tok_addr, 1)
        with pytest.raises(errors.TransferToTokenContract):
            net.token("USD", "buyer").transfer_with_reference(tok_addr, 1, REF)


def test_transfer_to_another_asset_contract_fails(net):
    mint(net, "buyer", 1_000)
    with unchanged(net, _state(net, "buyer", net.deployment.invoice_token)):
        with pytest.raises(errors.NotMember):
            net.token("USD", "buyer").transfer(net.deployment.invoice_token, 1)


def test_transfer_from_with_allowance_obeys_the_same_rules(net):
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").approve(net.addr("lender"), 600)
    lender_tok = net.token("USD", "lender")
    lender_tok.transfer_from(net.addr("buyer"), net.addr("seller"), 250)
    assert balances(net, ["buyer", "seller", "lender"]) == [750, 250, 0]
    assert lender_tok.allowance(net.addr("buyer"), net.addr("lender")) == 350
    stranger = outsider("recipient").address
    with unchanged(net, _state(net, "buyer", stranger),
                   lambda: lender_tok.allowance(net.addr("buyer"), net.addr("lender"))):
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


# ---------------------------------------------------------------------------- the transfer rule, by standing

STANDINGS = ("active", "suspended", "kyc", "sanctioned", "non-member")
#: The error for a move by direction and the standing of the member party (None: allowed).
RULE = {
    "into escrow": {"active": None, "suspended": None, "kyc": None, "sanctioned": "MemberIsSanctioned",
                    "non-member": "NotMember"},
    "out of escrow": {"active": None, "suspended": None, "kyc": None, "sanctioned": "MemberIsSanctioned",
                      "non-member": "NotMember"},
    "member receives": {"active": None, "suspended": "MemberIsSuspended", "kyc": "KycExpired",
                        "sanctioned": "MemberIsSanctioned", "non-member": "NotMember"},
    "member sends": {"active": None, "suspended": "MemberIsSuspended", "kyc": "KycExpired",
                     "sanctioned": "MemberIsSanctioned", "non-member": "NotMember"},
}


@pytest.mark.parametrize("standing", STANDINGS)
@pytest.mark.parametrize("direction", list(RULE))
def test_transfer_rule_matrix(net, direction, standing):
    """A suspended or KYC-expired member still pays into escrows and receives payouts (running
    obligations close); between members both must be active; a sanctioned member or a non-member
    neither pays nor receives."""
    escrow = deploy_escrow(net, "matrix")
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").transfer(escrow.address, 500)  # the escrow holds funds to pay out
    if standing == "non-member":
        party = outsider("matrix-party")
        party_address = party.address
    else:
        party, party_address = net.keys["lender"], net.addr("lender")
        mint(net, "lender", 1_000)
        if standing != "active":
            lapse(net, "lender", standing)
    tok = net.token("USD")
    move = {
        "into escrow": lambda: tok.using(party).transfer(escrow.address, 100),
        "out of escrow": lambda: escrow.call(tok, "transfer", party_address, 100),
        "member receives": lambda: tok.using(net.keys["buyer"]).transfer(party_address, 100),
        "member sends": lambda: tok.using(party).transfer(net.addr("buyer"), 100),
    }[direction]
    holders = (party_address, escrow.address, net.addr("buyer"))
    state = _state(net, *holders)
    before = dict(zip(holders, state()[0]))
    error = RULE[direction][standing]
    if error is None:
        move()
        sender, receiver = {"into escrow": (party_address, escrow.address),
                            "out of escrow": (escrow.address, party_address),
                            "member receives": (net.addr("buyer"), party_address),
                            "member sends": (party_address, net.addr("buyer"))}[direction]
        after = dict(zip(holders, state()[0]))
        assert after == {**before, sender: before[sender] - 100, receiver: before[receiver] + 100}
    else:
        with unchanged(net, state):
            with pytest.raises(getattr(errors, error)) as exc:
                move()
        assert checksum(exc.value["account"]) == party_address
    assert tok.total_supply() == 1_000 + (0 if standing == "non-member" else 1_000)  # no move mints or burns
    _conserved(net, escrow.address, party_address)


@pytest.mark.parametrize("standing", STANDINGS)
def test_an_approved_spender_must_be_active(net, standing):
    """A holder's approved spender moving the holder's funds must itself be an active member (or an
    escrow): an approval given earlier does not let a sanctioned, suspended, KYC-expired or departed
    spender move money it could not move as a holder."""
    mint(net, "buyer", 1_000)
    if standing == "non-member":
        spender = outsider("spender")
    else:
        spender = net.keys["lender"]
    net.token("USD", "buyer").approve(spender.address, 500)
    if standing not in ("active", "non-member"):
        lapse(net, "lender", standing)
    tok = net.token("USD").using(spender)
    state = _state(net, "buyer", "seller")
    if standing == "active":
        tok.transfer_from(net.addr("buyer"), net.addr("seller"), 200)
        assert balances(net, ["buyer", "seller"]) == [800, 200]
        return
    error = {"suspended": "MemberIsSuspended", "kyc": "KycExpired", "sanctioned": "MemberIsSanctioned",
             "non-member": "NotMember"}[standing]
    with unchanged(net, state):
        with pytest.raises(getattr(errors, error)) as exc:
            tok.transfer_from(net.addr("buyer"), net.addr("seller"), 200)
    assert checksum(exc.value["account"]) == spender.address


def test_deregistered_escrow_loses_its_exemption(net):
    escrow = deploy_escrow(net)
    mint(net, "buyer", 1_000)
    net.token("USD", "buyer").transfer(escrow.address, 1_000)
    register_contract(net, escrow.address, ContractKind.NONE)
    tok = net.token("USD")
    with unchanged(net, _state(net, "seller", escrow.address)):
        with pytest.raises(errors.NotMember) as exc:
            escrow.call(tok, "transfer", net.addr("seller"), 100)
    assert checksum(exc.value["account"]) == escrow.address
    with pytest.raises(errors.NotMember):  # nor is anything paid into it any more
        net.token("USD", "buyer").transfer(escrow.address, 0)
    register_contract(net, escrow.address, ContractKind.ESCROW)  # registered again: payouts resume
    escrow.call(tok, "transfer", net.addr("seller"), 100)
    assert balances(net, ["seller", escrow.address]) == [100, 900]


# ---------------------------------------------------------------------------- payments with a reference (T/T)


def test_transfer_with_reference(net):
    mint(net, "buyer", 1_000)
    tok = net.token("USD", "buyer")
    ref = keccak(text="INV-2025-0042")
    receipt = tok.transfer_with_reference(net.addr("seller"), 400, ref)
    assert balances(net, ["buyer", "seller"]) == [600, 400]
    [ev] = tok.events(receipt, "PaymentReference")
    assert (ev["from"], ev["to"], ev["amount"], ev["paymentRef"]) == (net.addr("buyer"), net.addr("seller"), 400, ref)
    [transfer] = tok.events(receipt, "Transfer")
    assert transfer["value"] == 400


def test_transfer_with_reference_needs_a_reference(net):
    mint(net, "buyer", 1_000)
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(errors.MissingReference):
            net.token("USD", "buyer").transfer_with_reference(net.addr("seller"), 400, ZERO_REF)


@pytest.mark.parametrize("how", list(LAPSES))
def test_transfer_with_reference_follows_the_transfer_rule(net, how):
    mint(net, "buyer", 1_000)
    escrow = deploy_escrow(net, "tt")
    lapse(net, "seller", how)
    tok = net.token("USD", "buyer")
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            tok.transfer_with_reference(net.addr("seller"), 400, REF)
    lapse(net, "buyer", "suspended")  # a suspended payer still pays into an escrow, with its reference
    net.token("USD", "buyer").transfer_with_reference(escrow.address, 400, REF)
    assert balances(net, ["buyer", escrow.address]) == [600, 400]


def test_transfer_with_reference_more_than_balance_fails(net):
    mint(net, "buyer", 100)
    with unchanged(net, _state(net, "buyer", "seller")):
        with pytest.raises(errors.ERC20InsufficientBalance):
            net.token("USD", "buyer").transfer_with_reference(net.addr("seller"), 101, REF)


# ---------------------------------------------------------------------------- redemption requests


def _requested(net, amount: int = 600, minted: int = 1_000, holder: str = "seller") -> int:
    """`holder` holds `minted` and asks to redeem `amount`; returns the request id."""
    mint(net, holder, minted)
    return net.token("USD", holder).request_redemption(amount, PAYOUT)


def test_redemption_request_moves_tokens_into_custody(net):
    mint(net, "seller", 10_000)
    tok = net.token("USD", "seller")
    rid = tok.request_redemption(2_500, PAYOUT)
    assert rid == 1 == tok._call("redemptionCount")
    [ev] = tok.events(tok.last_receipt, "RedemptionRequested")
    assert (ev["id"], ev["holder"], ev["amount"], ev["payoutRef"]) == (rid, net.addr("seller"), 2_500, PAYOUT)
    [moved] = tok.events(tok.last_receipt, "Transfer")
    assert (moved["from"], moved["to"], moved["value"]) == (net.addr("seller"), tok.address, 2_500)
    r = tok.redemption(rid)
    assert (r.holder, r.amount, r.state, r.payout_ref) == (net.addr("seller"), 2_500, RedemptionState.REQUESTED,
                                                            PAYOUT)
    assert balances(net, ["seller", tok.address]) == [7_500, 2_500]
    assert tok.total_supply() == 10_000  # balances + open requests
    _conserved(net)


def test_treasury_completes_a_redemption_by_burning_it(net):
    rid = _requested(net, 2_500, 10_000)
    tok = net.token("USD", "seller")
    treasury = net.token("USD", "treasury")
    receipt = treasury.complete_redemption(rid, BANK_REF)
    [done] = treasury.events(receipt, "RedemptionCompleted")
    assert (done["id"], done["treasury"], done["bankRef"]) == (rid, net.addr("treasury"), BANK_REF)
    [redeemed] = treasury.events(receipt, "FiatRedeemed")
    assert (redeemed["treasury"], redeemed["amount"], redeemed["redemptionRef"]) == (
        net.addr("treasury"), 2_500, BANK_REF)
    assert tok.redemption(rid).state == RedemptionState.COMPLETED
    assert balances(net, ["seller", tok.address, "treasury"]) == [7_500, 0, 0]
    assert tok.total_supply() == 7_500
    _conserved(net)


def test_treasury_rejects_a_redemption_and_returns_the_tokens(net):
    rid = _requested(net, 2_500, 10_000)
    tok = net.token("USD", "seller")
    treasury = net.token("USD", "treasury")
    receipt = treasury.reject_redemption(rid, "payout account not in the holder's name")
    [ev] = treasury.events(receipt, "RedemptionRejected")
    assert (ev["id"], ev["treasury"], ev["reason"]) == (rid, net.addr("treasury"),
                                                        "payout account not in the holder's name")
    [back] = treasury.events(receipt, "Transfer")
    assert (back["from"], back["to"], back["value"]) == (tok.address, net.addr("seller"), 2_500)
    assert tok.redemption(rid).state == RedemptionState.REJECTED
    assert balances(net, ["seller", tok.address]) == [10_000, 0]
    assert tok.total_supply() == 10_000


def test_custody_is_the_sum_of_open_requests(net):
    mint(net, "seller", 10_000)
    mint(net, "buyer", 5_000)
    seller_tok, buyer_tok = net.token("USD", "seller"), net.token("USD", "buyer")
    a = seller_tok.request_redemption(1_000, PAYOUT)
    b = buyer_tok.request_redemption(2_000, PAYOUT)
    c = seller_tok.request_redemption(3_000, PAYOUT)
    treasury = net.token("USD", "treasury")
    assert seller_tok.balance_of(seller_tok.address) == 6_000
    treasury.complete_redemption(a, BANK_REF)
    treasury.reject_redemption(c, "duplicate request")
    assert seller_tok.balance_of(seller_tok.address) == 2_000  # b only
    assert (seller_tok.redemption(b).holder, seller_tok.redemption(b).state) == (
        net.addr("buyer"), RedemptionState.REQUESTED)
    assert seller_tok.total_supply() == 15_000 - 1_000
    _conserved(net)


@pytest.mark.parametrize("how", ["suspended", "kyc"])
def test_lapsed_member_may_still_redeem(net, how):
    """A suspended or KYC-expired member takes its deposits out (a running relationship closes)."""
    mint(net, "seller", 1_000)
    lapse(net, "seller", how)
    tok = net.token("USD", "seller")
    rid = tok.request_redemption(1_000, PAYOUT)
    net.token("USD", "treasury").complete_redemption(rid, BANK_REF)
    assert tok.balance_of(net.addr("seller")) == 0 and tok.total_supply() == 0


def test_sanctioned_member_cannot_request_redemption(net):
    mint(net, "seller", 1_000)
    sanction(net, "seller")
    tok = net.token("USD", "seller")
    with unchanged(net, _state(net, "seller"), lambda: tok._call("redemptionCount")):
        with pytest.raises(errors.MemberIsSanctioned) as exc:
            tok.request_redemption(1_000, PAYOUT)
    assert checksum(exc.value["account"]) == net.addr("seller")


def test_non_member_cannot_request_redemption(net):
    tok = net.token("USD").using(outsider("redeemer"))
    with unchanged(net, lambda: tok._call("redemptionCount")):
        with pytest.raises(errors.NotMember):
            tok.request_redemption(1, PAYOUT)


@pytest.mark.parametrize("amount", [0, MAX_AMOUNT + 1])
def test_redemption_request_amount_rules(net, amount):
    mint(net, "seller", 1_000)
    tok = net.token("USD", "seller")
    with unchanged(net, _state(net, "seller"), lambda: tok._call("redemptionCount")):
        with pytest.raises(errors.InvalidAmount) as exc:
            tok.request_redemption(amount, PAYOUT)
    assert exc.value["amount"] == amount


def test_redemption_request_needs_a_payout_reference_and_the_balance(net):
    mint(net, "seller", 1_000)
    tok = net.token("USD", "seller")
    with unchanged(net, _state(net, "seller"), lambda: tok._call("redemptionCount")):
        with pytest.raises(errors.MissingReference):
            tok.request_redemption(100, ZERO_REF)
        with pytest.raises(errors.ERC20InsufficientBalance) as exc:
            tok.request_redemption(1_001, PAYOUT)
    assert (exc.value["balance"], exc.value["needed"]) == (1_000, 1_001)


@pytest.mark.parametrize("who", ["seller", "admin_a", "auditor"])
def test_only_treasury_settles_redemptions(net, who):
    rid = _requested(net)
    tok = net.token("USD", who)
    with unchanged(net, _state(net, "seller"), lambda: tok.redemption(rid)):
        with pytest.raises(errors.MissingRole) as exc:
            tok.complete_redemption(rid, BANK_REF)
        assert exc.value["required"] == int(Role.TREASURY)
        with pytest.raises(errors.MissingRole):
            tok.reject_redemption(rid, "not mine to reject")


def test_suspended_treasury_cannot_settle_redemptions(net):
    rid = _requested(net)
    suspend(net, "treasury")
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "seller"), lambda: tok.redemption(rid)):
        with pytest.raises(errors.MemberIsSuspended):
            tok.complete_redemption(rid, BANK_REF)
        with pytest.raises(errors.MemberIsSuspended):
            tok.reject_redemption(rid, "suspended")


def test_complete_redemption_needs_a_bank_reference(net):
    rid = _requested(net)
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "seller"), lambda: tok.redemption(rid)):
        with pytest.raises(errors.MissingReference):
            tok.complete_redemption(rid, ZERO_REF)


@pytest.mark.parametrize("reason", ["", "R" * (MAX_REASON + 1), "line\nbreak", "nul\x00"])
def test_reject_reason_text_rules(net, reason):
    rid = _requested(net)
    tok = net.token("USD", "treasury")
    with unchanged(net, _state(net, "seller"), lambda: tok.redemption(rid)):
        with pytest.raises(errors.InvalidText) as exc:
            tok.reject_redemption(rid, reason)
    assert (exc.value["length"], exc.value["maxLength"]) == (len(reason), MAX_REASON)


@pytest.mark.parametrize("closed_by", ["complete", "reject"])
def test_closed_redemption_cannot_be_settled_again(net, closed_by):
    rid = _requested(net)
    tok = net.token("USD", "treasury")
    if closed_by == "complete":
        tok.complete_redemption(rid, BANK_REF)
        state = RedemptionState.COMPLETED
    else:
        tok.reject_redemption(rid, "duplicate")
        state = RedemptionState.REJECTED
    with unchanged(net, _state(net, "seller"), lambda: tok.redemption(rid)):
        for action in (lambda: tok.complete_redemption(rid, BANK_REF), lambda: tok.reject_redemption(rid, "again")):
            with pytest.raises(errors.RedemptionClosed) as exc:
                action()
            assert (exc.value["id"], exc.value["state"]) == (rid, state)


def test_unknown_redemption(net):
    tok = net.token("USD", "treasury")
    with pytest.raises(errors.UnknownRedemption) as exc:
        tok.redemption(1)
    assert exc.value["id"] == 1
    with unchanged(net):
        with pytest.raises(errors.UnknownRedemption):
            tok.complete_redemption(1, BANK_REF)
        with pytest.raises(errors.UnknownRedemption):
            tok.reject_redemption(1, "no such request")


def test_rejected_redemption_of_a_holder_sanctioned_meanwhile_stays_frozen(net):
    """The tokens go back to the holder's balance, where the sanction freezes them: they move nowhere."""
    rid = _requested(net)
    sanction(net, "seller")
    net.token("USD", "treasury").reject_redemption(rid, "sanctioned holder: funds blocked")
    assert balances(net, ["seller"]) == [1_000]
    escrow = deploy_escrow(net, "frozen")
    with unchanged(net, _state(net, "seller")):
        for to in (net.addr("buyer"), escrow.address):
            with pytest.raises(errors.MemberIsSanctioned):
                net.token("USD", "seller").transfer(to, 1)
        with pytest.raises(errors.MemberIsSanctioned):
            net.token("USD", "seller").request_redemption(1, PAYOUT)
