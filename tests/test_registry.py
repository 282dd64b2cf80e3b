"""ParticipantRegistry: membership records changed only through governance, their validation, and
the checks other contracts and Besu ask of the registry (requireActive / requireCanReceive /
transactionAllowed)."""

from __future__ import annotations

import pytest

from chain import errors
from chain.contracts import ContractKind, Role, lei_bytes

from .token_support import (
    DAY,
    YEAR,
    checksum,
    escrow_account,
    expire_kyc,
    govern,
    govern_fails,
    govern_receipt,
    outsider,
    sanction,
    shorten_kyc,
    suspend,
    unchanged,
)

NEW_LEI = "5493001KJTIIGC8Y1R12"
ALL_ROLES = (1 << 10) - 1


def _member_count(reg) -> int:
    return reg._call("memberCount")


def _exists(reg, address: str) -> bool:
    return reg.member(address).exists


# ---------------------------------------------------------------------------- onboarding state


def test_bootstrap_state(net):
    reg = net.registry()
    assert _member_count(reg) == len(net.participants) == 16
    assert reg.active_admin_count() == 3
    assert reg.approval_threshold() == 2
    # seller and seller_ops are one organisation: two accounts under one LEI
    assert reg._call("accountsByLei", lei_bytes(net.participants["seller"].lei)) == 2
    assert reg._call("accountsByLei", lei_bytes(net.participants["buyer"].lei)) == 1
    d = net.deployment
    for asset in (*d.settlement_tokens.values(), d.invoice_token, d.warehouse_receipt):
        assert reg._call("contractKind", asset) == ContractKind.ASSET
        assert reg.is_system_contract(asset) is False
    assert reg._call("contractKind", d.receivable_financing) == ContractKind.ESCROW
    assert reg.is_system_contract(d.receivable_financing) is True


# ---------------------------------------------------------------------------- addMember


def test_add_member_through_governance(net):
    reg = net.registry()
    new = outsider("new-member").address
    expiry = net.now() + YEAR
    _, receipt = govern_receipt(net, reg.call_add_member(new, Role.SELLER | Role.BUYER, NEW_LEI, "FR", expiry))
    m = reg.member(new)
    assert (m.exists, m.suspended, m.sanctioned) == (True, False, False)
    assert m.roles == Role.SELLER | Role.BUYER
    assert (m.lei, m.country, m.kyc_expiry) == (NEW_LEI, "FR", expiry)
    assert _member_count(reg) == 17
    assert reg._call("accountsByLei", lei_bytes(NEW_LEI)) == 1
    assert reg.is_active(new, Role.SELLER | Role.BUYER) is True
    assert reg.is_active(new, Role.LENDER) is False
    assert reg._call("leiOf", new) == lei_bytes(NEW_LEI)
    [ev] = reg.events(receipt, "MemberAdded")
    assert (ev["account"], ev["roles"], ev["lei"], ev["country"], ev["kycExpiry"]) == (
        new, int(Role.SELLER | Role.BUYER), lei_bytes(NEW_LEI), b"FR", expiry)


def test_second_account_of_an_organisation_shares_its_lei(net):
    reg = net.registry()
    lei = net.participants["lender"].lei
    new = outsider("lender-ops").address
    govern(net, reg.call_add_member(new, Role.LENDER, lei, "GB", net.now() + YEAR))
    assert reg._call("accountsByLei", lei_bytes(lei)) == 2
    assert reg._call("leiOf", new) == reg._call("leiOf", net.addr("lender"))


@pytest.mark.parametrize(
    "field, value, error, arg",
    [
        ("lei", "529900lowercase00001", "InvalidLei", "lei"),
        ("lei", "529900-DASHES-000001", "InvalidLei", "lei"),
        ("lei", "529900 SPACE 0000001", "InvalidLei", "lei"),
        ("country", "us", "InvalidCountryCode", "code"),
        ("country", "U1", "InvalidCountryCode", "code"),
        ("roles", 0, "InvalidRoles", "roles"),
        ("roles", 1 << 10, "InvalidRoles", "roles"),
        ("roles", int(Role.SELLER) | 1 << 31, "InvalidRoles", "roles"),
        ("kyc_expiry", -1, "KycExpiryInPast", "kycExpiry"),
    ],
)
def test_add_member_validation(net, field, value, error, arg):
    reg = net.registry()
    new = outsider("invalid-member").address
    args = dict(account=new, roles=Role.SELLER, lei=NEW_LEI, country="FR", kyc_expiry=net.now() + YEAR)
    args[field] = net.now() if field == "kyc_expiry" else value  # expiry == now is already past at execution
    pid = net.registry("admin_a").propose([reg.call_add_member(**args)], "invalid member")
    net.registry("admin_b").approve(pid)
    with unchanged(net, lambda: _member_count(reg), lambda: reg.member(new), lambda: reg.proposal_state(pid)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.registry("admin_b").execute(pid)
    expected = args[field]
    if field in ("lei", "country"):
        expected = expected.encode()
    assert exc.value[arg] == expected
    assert reg.proposal_state(pid).name == "PENDING"
    assert _exists(reg, new) is False


def test_add_existing_member_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.MemberExists,
                       reg.call_add_member(seller, Role.LENDER, NEW_LEI, "FR", net.now() + YEAR),
                       reads=[lambda: _member_count(reg), lambda: reg.member(seller)])  # roles, LEI untouched
    assert checksum(err["account"]) == seller


def test_add_zero_address_fails(net):
    reg = net.registry()
    govern_fails(net, errors.ZeroAddress,
                 reg.call_add_member("0x" + "00" * 20, Role.SELLER, NEW_LEI, "FR", net.now() + YEAR),
                 reads=[lambda: _member_count(reg)])


# ---------------------------------------------------------------------------- governance-only entry points


def _direct_calls(net):
    seller = net.addr("seller")
    far = net.now() + 2 * YEAR
    return [
        ("addMember", (outsider("direct").address, int(Role.SELLER), lei_bytes(NEW_LEI), b"FR", far)),
        ("setRoles", seller, int(Role.SELLER | Role.BUYER)),
        ("renewKyc", seller, far),
        ("suspend", seller, "single key"),
        ("reinstate", seller),
        ("setSanctioned", seller, True, "single key"),
        ("setNetworkContract", seller, int(ContractKind.ESCROW)),
        ("setApprovalThreshold", 3),
    ]


@pytest.mark.parametrize("index", range(8), ids=["addMember", "setRoles", "renewKyc", "suspend", "reinstate",
                                                  "setSanctioned", "setNetworkContract", "setApprovalThreshold"])
def test_single_admin_cannot_change_membership(net, index):
    name, *args = _direct_calls(net)[index]
    if name == "addMember":
        args = [args[0]]
    admin = net.registry("admin_a")
    seller = net.addr("seller")
    with unchanged(net, lambda: admin.member(seller), lambda: admin.approval_threshold(),
                   lambda: _member_count(admin), lambda: admin._call("contractKind", seller)):
        with pytest.raises(errors.NotGovernance) as exc:
            admin._tx(name, *args)
    assert checksum(exc.value["caller"]) == net.addr("admin_a")


# ---------------------------------------------------------------------------- roles and KYC


def test_set_roles_replaces_role_set(net):
    reg = net.registry()
    seller = net.addr("seller")
    _, receipt = govern_receipt(net, reg.call_set_roles(seller, Role.BUYER | Role.LENDER))
    assert reg.member(seller).roles == Role.BUYER | Role.LENDER
    assert reg.is_active(seller, Role.SELLER) is False  # revoked
    assert reg.is_active(seller, Role.BUYER | Role.LENDER) is True  # granted
    [ev] = reg.events(receipt, "RolesChanged")
    assert (ev["account"], ev["previous"], ev["current"]) == (seller, int(Role.SELLER), int(Role.BUYER | Role.LENDER))


@pytest.mark.parametrize("roles", [0, 1 << 10, int(Role.SELLER) | 1 << 15])
def test_set_roles_rejects_invalid_roles(net, roles):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.InvalidRoles, reg.call_set_roles(seller, roles),
                       reads=[lambda: reg.member(seller), lambda: reg.active_admin_count()])
    assert err["roles"] == roles


def test_all_role_bits_are_valid(net):
    reg = net.registry()
    seller = net.addr("seller")
    govern(net, reg.call_set_roles(seller, ALL_ROLES))
    assert int(reg.member(seller).roles) == ALL_ROLES
    assert reg.active_admin_count() == 4  # the seller now holds ADMIN too


def test_set_roles_of_non_member_fails(net):
    reg = net.registry()
    stranger = outsider("stranger").address
    err = govern_fails(net, errors.NotMember, reg.call_set_roles(stranger, Role.SELLER),
                       reads=[lambda: reg.member(stranger), lambda: _member_count(reg)])
    assert checksum(err["account"]) == stranger


def test_renew_kyc(net):
    reg = net.registry()
    seller = net.addr("seller")
    expiry = net.now() + 2 * YEAR
    _, receipt = govern_receipt(net, reg.call_renew_kyc(seller, expiry))
    assert reg.member(seller).kyc_expiry == expiry
    [ev] = reg.events(receipt, "KycRenewed")
    assert (ev["account"], ev["kycExpiry"]) == (seller, expiry)


def test_renew_kyc_in_the_past_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    past = net.now() - DAY
    err = govern_fails(net, errors.KycExpiryInPast, reg.call_renew_kyc(seller, past),
                       reads=[lambda: reg.member(seller)])
    assert err["kycExpiry"] == past


def test_renew_kyc_of_non_member_fails(net):
    reg = net.registry()
    stranger = outsider("stranger").address
    govern_fails(net, errors.NotMember, reg.call_renew_kyc(stranger, net.now() + YEAR),
                 reads=[lambda: reg.member(stranger)])


def test_kyc_expiry_makes_member_inactive_until_renewed(net):
    reg = net.registry()
    seller = net.addr("seller")
    expiry = shorten_kyc(net, "seller", 3_600)
    assert reg.is_active(seller) is True
    net.advance_time(3_601)
    m = reg.member(seller)
    assert (m.exists, m.suspended, m.kyc_expiry) == (True, False, expiry)
    assert reg.is_active(seller) is False
    with pytest.raises(errors.KycExpired) as exc:
        reg._call("requireActive", seller, 0)
    assert (checksum(exc.value["account"]), exc.value["kycExpiry"]) == (seller, expiry)
    # renewal brings the member back
    govern(net, reg.call_renew_kyc(seller, net.now() + YEAR))
    assert reg.is_active(seller, Role.SELLER) is True


# ---------------------------------------------------------------------------- suspension and sanctions


def test_suspend_and_reinstate_with_reason(net):
    reg = net.registry()
    seller = net.addr("seller")
    _, receipt = govern_receipt(net, reg.call_suspend(seller, "KYC documents outdated"))
    m = reg.member(seller)
    assert (m.exists, m.suspended, m.roles) == (True, True, Role.SELLER)
    assert reg._call("suspensionReason", seller) == "KYC documents outdated"
    assert reg.is_active(seller) is False
    assert reg._call("isMember", seller) is True
    [ev] = reg.events(receipt, "MemberSuspended")
    assert (ev["account"], ev["reason"]) == (seller, "KYC documents outdated")
    with pytest.raises(errors.MemberIsSuspended):
        reg._call("requireActive", seller, 0)

    _, receipt = govern_receipt(net, reg.call_reinstate(seller))
    assert reg.member(seller).suspended is False
    assert reg._call("suspensionReason", seller) == ""
    assert reg.is_active(seller, Role.SELLER) is True
    assert len(reg.events(receipt, "MemberReinstated")) == 1


def test_suspend_twice_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    suspend(net, "seller", "first reason")
    govern_fails(net, errors.AlreadySuspended, reg.call_suspend(seller, "second reason"),
                 reads=[lambda: reg._call("suspensionReason", seller), lambda: reg.member(seller)])
    assert reg._call("suspensionReason", seller) == "first reason"


def test_suspend_needs_reason(net):
    reg = net.registry()
    seller = net.addr("seller")
    govern_fails(net, errors.EmptyReason, reg.call_suspend(seller, ""), reads=[lambda: reg.member(seller)])
    assert reg.member(seller).suspended is False


def test_reinstate_active_member_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.NotSuspended, reg.call_reinstate(seller), reads=[lambda: reg.member(seller)])
    assert checksum(err["account"]) == seller


def test_suspend_non_member_fails(net):
    reg = net.registry()
    stranger = outsider("stranger").address
    govern_fails(net, errors.NotMember, reg.call_suspend(stranger, "unknown"),
                 reads=[lambda: reg.member(stranger), lambda: reg._call("suspensionReason", stranger)])


def test_sanctions_flag(net):
    reg = net.registry()
    buyer = net.addr("buyer")
    _, receipt = govern_receipt(net, reg.call_set_sanctioned(buyer, True, "EU sanctions list"))
    m = reg.member(buyer)
    assert (m.sanctioned, m.suspended) == (True, False)
    assert reg._call("isSanctioned", buyer) is True
    assert reg.is_active(buyer) is False
    [ev] = reg.events(receipt, "SanctionsFlagSet")
    assert (ev["account"], ev["sanctioned"], ev["reason"]) == (buyer, True, "EU sanctions list")
    with pytest.raises(errors.MemberIsSanctioned):
        reg._call("requireActive", buyer, 0)
    with pytest.raises(errors.MemberIsSanctioned):
        reg._call("requireCanReceive", buyer)

    govern(net, reg.call_set_sanctioned(buyer, False, "delisted"))
    assert reg._call("isSanctioned", buyer) is False
    assert reg.is_active(buyer, Role.BUYER) is True


def test_sanctions_flag_unchanged_fails(net):
    reg = net.registry()
    buyer = net.addr("buyer")
    err = govern_fails(net, errors.SanctionsFlagUnchanged, reg.call_set_sanctioned(buyer, False, "already clear"),
                       reads=[lambda: reg.member(buyer)])
    assert err["sanctioned"] is False
    sanction(net, "buyer")
    err = govern_fails(net, errors.SanctionsFlagUnchanged, reg.call_set_sanctioned(buyer, True, "again"),
                       reads=[lambda: reg.member(buyer)])
    assert err["sanctioned"] is True
    assert reg._call("isSanctioned", buyer) is True


def test_sanctions_flag_needs_reason(net):
    reg = net.registry()
    buyer = net.addr("buyer")
    govern_fails(net, errors.EmptyReason, reg.call_set_sanctioned(buyer, True, ""), reads=[lambda: reg.member(buyer)])
    assert reg._call("isSanctioned", buyer) is False


# ---------------------------------------------------------------------------- network contracts


def test_register_and_deregister_network_contract(net):
    reg = net.registry()
    addr = outsider("some-escrow").address
    _, receipt = govern_receipt(net, reg.call_set_network_contract(addr, ContractKind.ESCROW))
    assert reg._call("contractKind", addr) == ContractKind.ESCROW
    assert reg.is_system_contract(addr) is True
    [ev] = reg.events(receipt, "NetworkContractSet")
    assert (ev["account"], ev["kind"]) == (addr, int(ContractKind.ESCROW))
    govern(net, reg.call_set_network_contract(addr, ContractKind.ASSET))
    assert reg.is_system_contract(addr) is False  # an asset contract is not an escrow
    govern(net, reg.call_set_network_contract(addr, ContractKind.NONE))
    assert reg._call("contractKind", addr) == ContractKind.NONE


def test_register_zero_address_fails(net):
    reg = net.registry()
    zero = "0x" + "00" * 20
    govern_fails(net, errors.ZeroAddress, reg.call_set_network_contract(zero, ContractKind.ESCROW),
                 reads=[lambda: reg._call("contractKind", zero)])


# ---------------------------------------------------------------------------- views for other contracts


def test_require_active_checks_roles(net):
    reg = net.registry()
    seller = net.addr("seller")
    reg._call("requireActive", seller, int(Role.SELLER))  # no revert
    with pytest.raises(errors.MissingRole) as exc:
        reg._call("requireActive", seller, int(Role.SELLER | Role.BUYER))
    assert (exc.value["required"], exc.value["held"]) == (int(Role.SELLER | Role.BUYER), int(Role.SELLER))
    stranger = outsider("stranger").address
    with pytest.raises(errors.NotMember):
        reg._call("requireActive", stranger, 0)
    with pytest.raises(errors.NotMember):
        reg._call("leiOf", stranger)
    assert reg.member(stranger).exists is False and reg.member(stranger).roles == 0


def test_require_can_receive(net):
    reg = net.registry()
    suspend(net, "seller")
    reg._call("requireCanReceive", net.addr("seller"))  # suspended members still receive repayments
    reg._call("requireCanReceive", net.deployment.receivable_financing)  # escrow
    with pytest.raises(errors.NotMember):
        reg._call("requireCanReceive", outsider("stranger").address)
    with pytest.raises(errors.NotMember):  # an asset contract is no escrow
        reg._call("requireCanReceive", net.deployment.invoice_token)


# ---------------------------------------------------------------------------- Besu permissioning


def test_transaction_allowed_for_members_and_non_members(net):
    reg = net.registry()
    seller, buyer = net.addr("seller"), net.addr("buyer")
    assert reg.transaction_allowed(seller, buyer) is True
    assert reg.transaction_allowed(seller, buyer, value=10**18) is True
    assert reg.transaction_allowed(seller, net.deployment.invoice_token) is True
    stranger = outsider("stranger").address
    assert reg.transaction_allowed(stranger, buyer) is False
    assert reg.transaction_allowed(stranger, net.deployment.invoice_token) is False


def test_transaction_allowed_contract_creation_needs_active_admin(net):
    reg = net.registry()
    zero = "0x" + "00" * 20
    assert reg.transaction_allowed(net.addr("admin_a"), zero) is True
    assert reg.transaction_allowed(net.addr("seller"), zero) is False
    assert reg.transaction_allowed(outsider("stranger").address, zero) is False
    suspend(net, "admin_c")
    assert reg.transaction_allowed(net.addr("admin_c"), zero) is False


@pytest.mark.parametrize("lapse", ["suspended", "kyc_expired"])
def test_transaction_allowed_for_lapsed_member_only_to_network_contracts(net, lapse):
    reg = net.registry()
    seller, buyer = net.addr("seller"), net.addr("buyer")
    if lapse == "suspended":
        suspend(net, "seller")
    else:
        expire_kyc(net, "seller")
    assert reg.is_active(seller) is False
    # may still call tradenet contracts to repay and close running obligations...
    assert reg.transaction_allowed(seller, net.deployment.receivable_financing) is True
    assert reg.transaction_allowed(seller, net.deployment.settlement_tokens["USD"]) is True
    assert reg.transaction_allowed(seller, net.deployment.invoice_token) is True
    # ...but nothing else, and sends no value
    assert reg.transaction_allowed(seller, buyer) is False
    assert reg.transaction_allowed(seller, net.deployment.receivable_financing, value=1) is False
    assert reg.transaction_allowed(seller, "0x" + "00" * 20) is False


def test_transaction_allowed_false_for_sanctioned_member(net):
    reg = net.registry()
    sanction(net, "buyer")
    buyer = net.addr("buyer")
    assert reg.transaction_allowed(buyer, net.addr("seller")) is False
    assert reg.transaction_allowed(buyer, net.deployment.receivable_financing) is False
    assert reg.transaction_allowed(buyer, net.deployment.settlement_tokens["USD"]) is False


def test_transaction_allowed_kyc_expired_admin_cannot_deploy(net):
    reg = net.registry()
    expire_kyc(net, "admin_c")
    assert reg.transaction_allowed(net.addr("admin_c"), "0x" + "00" * 20) is False
    assert reg.transaction_allowed(net.addr("admin_a"), "0x" + "00" * 20) is True


def test_escrow_account_is_not_a_member(net):
    reg = net.registry()
    escrow = escrow_account(net, "registry-escrow")
    assert reg.is_system_contract(escrow.address) is True
    assert reg._call("isMember", escrow.address) is False
    assert reg.transaction_allowed(escrow.address, net.addr("seller")) is False
