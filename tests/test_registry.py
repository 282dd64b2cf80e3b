"""ParticipantRegistry: membership records changed only through governance, their validation
(LEI, roles, KYC, country, legal name), one ADMIN account per LEI, the contract directory and the
settlement-token directory, and the checks other contracts and Besu ask of the registry
(requireActive / requireActivePair / requireCanReceive / requireTransfer / entityKeys /
transactionAllowed)."""

from __future__ import annotations

import pytest

from chain import errors
from chain.clients import ZERO_ADDRESS, b3, lei_bytes
from chain.vocabulary import ContractKind, Role

from tests.support.tokens import (
    DAY,
    LAPSES,
    MAX_TEXT,
    YEAR,
    checksum,
    deploy_escrow,
    expire_kyc,
    govern,
    govern_fails,
    govern_receipt,
    invoice_terms,
    lapse,
    member_input,
    outsider,
    register_contract,
    sanction,
    second_account,
    shorten_kyc,
    suspend,
    unchanged,
)

NEW_LEI = "5493001KJTIIGC8Y1R12"
ALL_ROLES = (1 << 10) - 1


def _member_count(reg) -> int:
    return reg._call("memberCount")


def _accounts_by_lei(reg, lei: str) -> int:
    return reg._call("accountsByLei", lei_bytes(lei))


# ---------------------------------------------------------------------------- onboarding state


def test_bootstrap_state(net):
    reg = net.registry()
    assert _member_count(reg) == len(net.participants) == 16
    assert reg.active_admin_count() == 3
    assert reg.approval_threshold() == 2
    # seller and seller_ops are one organisation: two accounts under one LEI
    assert _accounts_by_lei(reg, net.participants["seller"].lei) == 2
    assert _accounts_by_lei(reg, net.participants["buyer"].lei) == 1
    for key, p in net.participants.items():
        assert reg.legal_name(net.addr(key)) == p.name
    d = net.deployment
    for asset in (*d.settlement_tokens.values(), d.invoice_token, d.warehouse_receipt, d.purchase_orders):
        assert reg.contract_kind(asset) == ContractKind.ASSET
        assert reg.is_system_contract(asset) is False
    for escrow in (d.deal_engine, *d.product_modules.values(), d.invoice_settlement):
        assert reg.contract_kind(escrow) == ContractKind.ESCROW
        assert reg.is_system_contract(escrow) is True
    for code, token in d.settlement_tokens.items():
        assert reg.settlement_token(code) == token
    assert reg.settlement_token("GBP") is None
    for key in ("admin_a", "admin_b", "admin_c"):
        assert reg.admin_of(net.participants[key].lei) == net.addr(key)
    assert reg.admin_of(net.participants["seller"].lei) is None


# ---------------------------------------------------------------------------- addMember


def test_add_member_through_governance(net):
    reg = net.registry()
    new = outsider("new-member").address
    m_in = member_input(net, new, Role.SELLER | Role.BUYER, NEW_LEI, "FR", legal_name="Lumière Électronique SAS")
    _, receipt = govern_receipt(net, reg.call_add_member(m_in))
    m = reg.member(new)
    assert (m.exists, m.suspended, m.sanctioned) == (True, False, False)
    assert m.roles == Role.SELLER | Role.BUYER
    assert (m.lei, m.country, m.kyc_expiry) == (NEW_LEI, "FR", m_in.kyc_expiry)
    assert reg.legal_name(new) == "Lumière Électronique SAS"  # UTF-8 beyond ASCII is a valid name
    assert _member_count(reg) == 17
    assert _accounts_by_lei(reg, NEW_LEI) == 1
    assert reg.is_active(new, Role.SELLER | Role.BUYER) is True
    assert reg.is_active(new, Role.LENDER) is False
    assert reg._call("leiOf", new) == lei_bytes(NEW_LEI)
    [ev] = reg.events(receipt, "MemberAdded")
    assert (ev["account"], ev["roles"], ev["lei"], ev["country"], ev["kycExpiry"], ev["legalName"]) == (
        new, int(Role.SELLER | Role.BUYER), lei_bytes(NEW_LEI), b"FR", m_in.kyc_expiry, "Lumière Électronique SAS")


def test_second_account_of_an_organisation_shares_its_lei(net):
    reg = net.registry()
    lei = net.participants["lender"].lei
    ops = second_account(net, "lender", Role.LENDER)
    assert _accounts_by_lei(reg, lei) == 2
    assert reg._call("leiOf", ops.address) == reg._call("leiOf", net.addr("lender"))


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
        ("kyc_expiry", "now", "KycExpiryInPast", "kycExpiry"),
        ("kyc_expiry", 2**40, "KycExpiryInPast", "kycExpiry"),  # beyond the record's uint40
        ("legal_name", "", "InvalidText", "length"),
        ("legal_name", "N" * (MAX_TEXT + 1), "InvalidText", "length"),
        ("legal_name", "Bright\x00Electronics", "InvalidText", "length"),
        ("legal_name", "Bright\nElectronics", "InvalidText", "length"),
        ("legal_name", "Bright\x7fElectronics", "InvalidText", "length"),
    ],
)
def test_add_member_validation(net, field, value, error, arg):
    reg = net.registry()
    new = outsider("invalid-member").address
    if value == "now":
        value = net.now()  # expiry == now is already past at execution
    m_in = member_input(net, **{**dict(account=new, roles=Role.SELLER, lei=NEW_LEI, country="FR"), field: value})
    err = govern_fails(net, getattr(errors, error), reg.call_add_member(m_in),
                       reads=[lambda: _member_count(reg), lambda: reg.member(new), lambda: reg.legal_name(new)])
    expected = value.encode() if field in ("lei", "country") else len(value.encode()) if field == "legal_name" else value
    assert err[arg] == expected
    if error == "InvalidText":
        assert err["maxLength"] == MAX_TEXT
    assert reg.member(new).exists is False


def test_legal_name_of_the_maximum_length_is_accepted(net):
    reg = net.registry()
    new = outsider("long-name").address
    govern(net, reg.call_add_member(member_input(net, new, Role.BUYER, NEW_LEI, legal_name="N" * MAX_TEXT)))
    assert reg.legal_name(new) == "N" * MAX_TEXT


def test_add_existing_member_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.MemberExists, reg.call_add_member(member_input(net, seller, Role.LENDER, NEW_LEI)),
                       reads=[lambda: _member_count(reg), lambda: reg.member(seller), lambda: reg.legal_name(seller)])
    assert checksum(err["account"]) == seller


def test_add_zero_address_fails(net):
    reg = net.registry()
    govern_fails(net, errors.ZeroAddress, reg.call_add_member(member_input(net, ZERO_ADDRESS, Role.SELLER, NEW_LEI)),
                 reads=[lambda: _member_count(reg)])


def test_registered_contract_cannot_become_a_member(net):
    reg = net.registry()
    escrow = deploy_escrow(net, "member-escrow")
    err = govern_fails(net, errors.IsNetworkContract,
                       reg.call_add_member(member_input(net, escrow.address, Role.LENDER, NEW_LEI)),
                       reads=[lambda: _member_count(reg), lambda: reg.member(escrow.address)])
    assert (checksum(err["account"]), err["kind"]) == (escrow.address, ContractKind.ESCROW)
    for asset in (net.deployment.invoice_token, net.deployment.settlement_tokens["USD"]):
        err = govern_fails(net, errors.IsNetworkContract, reg.call_add_member(member_input(net, asset, Role.LENDER,
                                                                                         NEW_LEI)))
        assert err["kind"] == ContractKind.ASSET


# ---------------------------------------------------------------------------- one ADMIN account per LEI (finding 11)


def test_finding11_second_admin_account_of_an_lei_is_refused_at_add_member(net):
    """M-of-N counts organisations: a second ADMIN key of admin_a's organisation is never admitted,
    so two keys of one organisation can never make M = 2 alone."""
    reg = net.registry()
    lei = net.participants["admin_a"].lei
    second = outsider("admin-a-second-key").address
    err = govern_fails(net, errors.LeiAlreadyHasAdmin, reg.call_add_member(member_input(net, second, Role.ADMIN, lei)),
                       reads=[lambda: _member_count(reg), reg.active_admin_count, lambda: reg.admin_of(lei),
                              lambda: _accounts_by_lei(reg, lei)])
    assert (err["lei"], checksum(err["admin"])) == (lei_bytes(lei), net.addr("admin_a"))
    assert reg.member(second).exists is False
    # the same organisation may hold other accounts, without ADMIN
    govern(net, reg.call_add_member(member_input(net, second, Role.AUDITOR, lei)))
    assert (reg.active_admin_count(), reg.admin_of(lei), _accounts_by_lei(reg, lei)) == (3, net.addr("admin_a"), 2)


def test_finding11_second_admin_account_of_an_lei_is_refused_at_set_roles(net):
    reg = net.registry()
    lei = net.participants["admin_c"].lei
    second = outsider("admin-c-second-key").address
    govern(net, reg.call_add_member(member_input(net, second, Role.AUDITOR, lei)))
    err = govern_fails(net, errors.LeiAlreadyHasAdmin, reg.call_set_roles(second, Role.ADMIN | Role.AUDITOR),
                       reads=[lambda: reg.member(second), reg.active_admin_count, lambda: reg.admin_of(lei)])
    assert (err["lei"], checksum(err["admin"])) == (lei_bytes(lei), net.addr("admin_c"))
    # a suspended admin keeps its organisation's seat
    suspend(net, "admin_c")
    err = govern_fails(net, errors.LeiAlreadyHasAdmin, reg.call_set_roles(second, Role.ADMIN))
    assert checksum(err["admin"]) == net.addr("admin_c")


def test_admin_seat_moves_between_accounts_of_one_lei(net):
    """Dropping ADMIN frees the organisation's seat; another of its accounts may then take it."""
    reg = net.registry()
    lei = net.participants["admin_c"].lei
    second = outsider("admin-c-new-key").address
    govern(net, reg.call_add_member(member_input(net, second, Role.AUDITOR, lei)))
    govern(net, reg.call_set_roles(net.addr("admin_c"), Role.AUDITOR), reg.call_set_roles(second, Role.ADMIN))
    assert reg.admin_of(lei) == second
    assert reg.active_admin_count() == 3
    assert reg.is_active(second, Role.ADMIN) and not reg.is_active(net.addr("admin_c"), Role.ADMIN)
    err = govern_fails(net, errors.LeiAlreadyHasAdmin, reg.call_set_roles(net.addr("admin_c"), Role.ADMIN))
    assert checksum(err["admin"]) == second


def test_founders_of_one_lei_cannot_both_hold_admin(net):
    lei = "529900TWOFOUNDERS001"
    a, b = outsider("founder-a").address, outsider("founder-b").address
    founders = [member_input(net, a, Role.ADMIN, lei).as_tuple(), member_input(net, b, Role.ADMIN, lei).as_tuple()]
    with pytest.raises(errors.LeiAlreadyHasAdmin) as exc:
        net.chain.deploy("ParticipantRegistry", net.keys["admin_a"], founders, 2)
    assert checksum(exc.value["admin"]) == a


def test_registry_needs_threshold_of_two_admins_at_deploy(net):
    founders = [member_input(net, outsider(f"founder-{i}").address, Role.ADMIN, f"529900FOUNDER{i:07d}").as_tuple()
                for i in range(2)]
    for threshold in (1, 3):
        with pytest.raises(errors.InvalidApprovalThreshold) as exc:
            net.chain.deploy("ParticipantRegistry", net.keys["admin_a"], founders, threshold)
        assert (exc.value["threshold"], exc.value["activeAdmins"]) == (threshold, 2)


# ---------------------------------------------------------------------------- governance-only entry points


def _direct_calls(net):
    seller = net.addr("seller")
    far = net.now() + 2 * YEAR
    return {
        "addMember": (member_input(net, outsider("direct").address, Role.SELLER, NEW_LEI).as_tuple(),),
        "setRoles": (seller, int(Role.SELLER | Role.BUYER)),
        "renewKyc": (seller, far),
        "setLegalName": (seller, "Single Key Ltd"),
        "suspend": (seller, "single key"),
        "reinstate": (seller,),
        "setSanctioned": (seller, True, "single key"),
        "setNetworkContract": (net.deployment.deal_lens, int(ContractKind.ESCROW)),
        "setSettlementToken": (b3("USD"), ZERO_ADDRESS),
        "setApprovalThreshold": (3,),
    }


@pytest.mark.parametrize("name", ["addMember", "setRoles", "renewKyc", "setLegalName", "suspend", "reinstate",
                                  "setSanctioned", "setNetworkContract", "setSettlementToken",
                                  "setApprovalThreshold"])
def test_single_admin_cannot_change_the_registry(net, name):
    args = _direct_calls(net)[name]
    admin = net.registry("admin_a")
    seller = net.addr("seller")
    with unchanged(net, lambda: admin.member(seller), admin.approval_threshold, lambda: _member_count(admin),
                   lambda: admin.legal_name(seller), lambda: admin.contract_kind(net.deployment.deal_lens),
                   lambda: admin.settlement_token("USD")):
        with pytest.raises(errors.NotGovernance) as exc:
            admin._tx(name, *args)
    assert checksum(exc.value["caller"]) == net.addr("admin_a")


# ---------------------------------------------------------------------------- roles, KYC, legal name


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
                       reads=[lambda: reg.member(seller), reg.active_admin_count])
    assert err["roles"] == roles


def test_all_role_bits_are_valid(net):
    reg = net.registry()
    seller = net.addr("seller")
    govern(net, reg.call_set_roles(seller, ALL_ROLES))
    assert int(reg.member(seller).roles) == ALL_ROLES
    assert reg.active_admin_count() == 4  # the seller's organisation now holds ADMIN too
    assert reg.admin_of(net.participants["seller"].lei) == seller


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


@pytest.mark.parametrize("when", ["past", "uint40 overflow"])
def test_renew_kyc_with_invalid_expiry_fails(net, when):
    reg = net.registry()
    seller = net.addr("seller")
    expiry = net.now() - DAY if when == "past" else 2**40
    err = govern_fails(net, errors.KycExpiryInPast, reg.call_renew_kyc(seller, expiry),
                       reads=[lambda: reg.member(seller)])
    assert err["kycExpiry"] == expiry


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
    assert m.standing_at(net.now()) == "kyc_expired"
    assert reg.is_active(seller) is False
    with pytest.raises(errors.KycExpired) as exc:
        reg._call("requireActive", seller, 0)
    assert (checksum(exc.value["account"]), exc.value["kycExpiry"]) == (seller, expiry)
    # renewal brings the member back
    govern(net, reg.call_renew_kyc(seller, net.now() + YEAR))
    assert reg.is_active(seller, Role.SELLER) is True


def test_set_legal_name(net):
    reg = net.registry()
    seller = net.addr("seller")
    _, receipt = govern_receipt(net, reg.call_set_legal_name(seller, "Shenzhen Bright Electronics Group Co., Ltd."))
    assert reg.legal_name(seller) == "Shenzhen Bright Electronics Group Co., Ltd."
    assert reg.legal_name(net.addr("seller_ops")) == net.participants["seller_ops"].name  # per account
    [ev] = reg.events(receipt, "LegalNameChanged")
    assert (ev["account"], ev["legalName"]) == (seller, "Shenzhen Bright Electronics Group Co., Ltd.")


@pytest.mark.parametrize("name", ["", "N" * (MAX_TEXT + 1), "Bright\tElectronics", "Bright\x00"])
def test_set_legal_name_text_rules(net, name):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.InvalidText, reg.call_set_legal_name(seller, name),
                       reads=[lambda: reg.legal_name(seller)])
    assert (err["length"], err["maxLength"]) == (len(name), MAX_TEXT)


def test_set_legal_name_of_non_member_fails(net):
    reg = net.registry()
    stranger = outsider("stranger").address
    err = govern_fails(net, errors.NotMember, reg.call_set_legal_name(stranger, "Nobody Ltd"),
                       reads=[lambda: reg.legal_name(stranger)])
    assert checksum(err["account"]) == stranger


# ---------------------------------------------------------------------------- suspension and sanctions


def test_suspend_and_reinstate_with_reason(net):
    reg = net.registry()
    seller = net.addr("seller")
    _, receipt = govern_receipt(net, reg.call_suspend(seller, "KYC documents outdated"))
    m = reg.member(seller)
    assert (m.exists, m.suspended, m.roles, m.standing) == (True, True, Role.SELLER, "suspended")
    assert reg.suspension_reason(seller) == "KYC documents outdated"
    assert reg.is_active(seller) is False
    assert reg._call("isMember", seller) is True
    [ev] = reg.events(receipt, "MemberSuspended")
    assert (ev["account"], ev["reason"]) == (seller, "KYC documents outdated")
    with pytest.raises(errors.MemberIsSuspended):
        reg._call("requireActive", seller, 0)

    _, receipt = govern_receipt(net, reg.call_reinstate(seller))
    assert reg.member(seller).suspended is False
    assert reg.suspension_reason(seller) == ""
    assert reg.is_active(seller, Role.SELLER) is True
    assert len(reg.events(receipt, "MemberReinstated")) == 1


def test_suspend_twice_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    suspend(net, "seller", "first reason")
    govern_fails(net, errors.AlreadySuspended, reg.call_suspend(seller, "second reason"),
                 reads=[lambda: reg.suspension_reason(seller), lambda: reg.member(seller)])
    assert reg.suspension_reason(seller) == "first reason"


@pytest.mark.parametrize("reason", ["", "R" * (MAX_TEXT + 1), "line\nbreak", "nul\x00"])
def test_suspension_reason_text_rules(net, reason):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.InvalidText, reg.call_suspend(seller, reason),
                       reads=[lambda: reg.member(seller), lambda: reg.suspension_reason(seller)])
    assert (err["length"], err["maxLength"]) == (len(reason), MAX_TEXT)
    assert reg.member(seller).suspended is False


def test_reinstate_active_member_fails(net):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.NotSuspended, reg.call_reinstate(seller), reads=[lambda: reg.member(seller)])
    assert checksum(err["account"]) == seller


@pytest.mark.parametrize("call", ["suspend", "reinstate", "setSanctioned"])
def test_standing_changes_of_non_member_fail(net, call):
    reg = net.registry()
    stranger = outsider("stranger").address
    governance_call = {"suspend": reg.call_suspend(stranger, "unknown"), "reinstate": reg.call_reinstate(stranger),
                       "setSanctioned": reg.call_set_sanctioned(stranger, True, "listed")}[call]
    err = govern_fails(net, errors.NotMember, governance_call,
                       reads=[lambda: reg.member(stranger), lambda: reg.suspension_reason(stranger)])
    assert checksum(err["account"]) == stranger


def test_sanctions_flag(net):
    reg = net.registry()
    buyer = net.addr("buyer")
    _, receipt = govern_receipt(net, reg.call_set_sanctioned(buyer, True, "EU sanctions list"))
    m = reg.member(buyer)
    assert (m.sanctioned, m.suspended, m.standing) == (True, False, "sanctioned")
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


@pytest.mark.parametrize("reason", ["", "R" * (MAX_TEXT + 1), "tab\there"])
def test_sanctions_reason_text_rules(net, reason):
    reg = net.registry()
    buyer = net.addr("buyer")
    err = govern_fails(net, errors.InvalidText, reg.call_set_sanctioned(buyer, True, reason),
                       reads=[lambda: reg.member(buyer)])
    assert err["length"] == len(reason)
    assert reg._call("isSanctioned", buyer) is False


def test_reason_of_the_maximum_length_is_accepted(net):
    reg = net.registry()
    suspend(net, "seller", "R" * MAX_TEXT)
    assert reg.suspension_reason(net.addr("seller")) == "R" * MAX_TEXT


# ---------------------------------------------------------------------------- network contracts


def test_register_and_deregister_network_contract(net):
    reg = net.registry()
    escrow = deploy_escrow(net, "directory", kind=None)
    assert reg.contract_kind(escrow.address) == ContractKind.NONE
    _, receipt = govern_receipt(net, reg.call_set_network_contract(escrow.address, ContractKind.ESCROW))
    assert reg.contract_kind(escrow.address) == ContractKind.ESCROW
    assert reg.is_system_contract(escrow.address) is True
    assert reg._call("isMember", escrow.address) is False
    [ev] = reg.events(receipt, "NetworkContractSet")
    assert (ev["account"], ev["kind"]) == (escrow.address, int(ContractKind.ESCROW))
    govern(net, reg.call_set_network_contract(escrow.address, ContractKind.ASSET))
    assert reg.is_system_contract(escrow.address) is False  # an asset contract is not an escrow
    govern(net, reg.call_set_network_contract(escrow.address, ContractKind.NONE))
    assert reg.contract_kind(escrow.address) == ContractKind.NONE


@pytest.mark.parametrize("kind", [ContractKind.ESCROW, ContractKind.ASSET])
def test_network_contract_must_have_code(net, kind):
    reg = net.registry()
    eoa = outsider("no-code").address
    err = govern_fails(net, errors.NotAContract, reg.call_set_network_contract(eoa, kind),
                       reads=[lambda: reg.contract_kind(eoa)])
    assert checksum(err["account"]) == eoa


@pytest.mark.parametrize("kind", [ContractKind.ESCROW, ContractKind.ASSET, ContractKind.NONE])
def test_member_cannot_become_a_network_contract(net, kind):
    reg = net.registry()
    seller = net.addr("seller")
    err = govern_fails(net, errors.MemberExists, reg.call_set_network_contract(seller, kind),
                       reads=[lambda: reg.contract_kind(seller), lambda: reg.member(seller)])
    assert checksum(err["account"]) == seller


def test_register_zero_address_fails(net):
    reg = net.registry()
    govern_fails(net, errors.ZeroAddress, reg.call_set_network_contract(ZERO_ADDRESS, ContractKind.ESCROW),
                 reads=[lambda: reg.contract_kind(ZERO_ADDRESS)])


def test_escrow_is_not_a_member(net):
    reg = net.registry()
    escrow = deploy_escrow(net, "registry-escrow")
    assert reg.is_system_contract(escrow.address) is True
    assert reg._call("isMember", escrow.address) is False
    assert reg.transaction_allowed(escrow.address, net.addr("seller")) is False
    with pytest.raises(errors.NotMember):
        reg._call("leiOf", escrow.address)


# ---------------------------------------------------------------------------- settlement-token directory


def test_set_settlement_token_clears_and_restores_a_currency(net):
    reg = net.registry()
    usd = net.deployment.settlement_tokens["USD"]
    _, receipt = govern_receipt(net, reg.call_set_settlement_token("USD", ZERO_ADDRESS))
    assert reg.settlement_token("USD") is None
    [ev] = reg.events(receipt, "SettlementTokenSet")
    assert (ev["currency"], ev["token"]) == (b"USD", ZERO_ADDRESS)
    # without a settlement token the currency is unsupported: no invoice in it
    with pytest.raises(errors.UnsupportedCurrency) as exc:
        net.invoices("seller").mint(invoice_terms(net))
    assert exc.value["currency"] == b"USD"
    govern(net, reg.call_set_settlement_token("USD", usd))
    assert reg.settlement_token("USD") == usd
    net.invoices("seller").mint(invoice_terms(net))


@pytest.mark.parametrize("token", ["eur token", "escrow", "unregistered contract", "invoice token", "account",
                                   "member"])
def test_settlement_token_must_be_an_asset_of_that_currency(net, token):
    reg = net.registry()
    d = net.deployment
    address = {
        "eur token": lambda: d.settlement_tokens["EUR"],  # an asset, but of another currency
        "escrow": lambda: d.deal_engine,
        "unregistered contract": lambda: deploy_escrow(net, "not-a-token", kind=None).address,
        "invoice token": lambda: d.invoice_token,  # an asset without currencyCode()
        "account": lambda: outsider("token-eoa").address,
        "member": lambda: net.addr("treasury"),
    }[token]()
    err = govern_fails(net, errors.InvalidSettlementToken, reg.call_set_settlement_token("USD", address),
                       reads=[lambda: reg.settlement_token("USD")])
    assert (err["currency"], checksum(err["token"])) == (b"USD", address)
    assert reg.settlement_token("USD") == d.settlement_tokens["USD"]


@pytest.mark.parametrize("code", ["usd", "US1", "U$D"])
def test_settlement_token_currency_code_rules(net, code):
    reg = net.registry()
    err = govern_fails(net, errors.InvalidCurrencyCode, reg.call_set_settlement_token(code, ZERO_ADDRESS))
    assert err["code"] == code.encode()


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


def test_require_active_pair_returns_both_leis(net):
    reg = net.registry()
    seller, buyer = net.addr("seller"), net.addr("buyer")
    assert reg._call("requireActivePair", seller, int(Role.SELLER), buyer, int(Role.BUYER)) == (
        lei_bytes(net.participants["seller"].lei), lei_bytes(net.participants["buyer"].lei))
    with pytest.raises(errors.MissingRole) as exc:  # the second party's roles are checked too
        reg._call("requireActivePair", seller, int(Role.SELLER), buyer, int(Role.LENDER))
    assert checksum(exc.value["account"]) == buyer
    suspend(net, "seller")
    with pytest.raises(errors.MemberIsSuspended) as exc:
        reg._call("requireActivePair", seller, 0, buyer, 0)
    assert checksum(exc.value["account"]) == seller


def test_require_can_receive(net):
    reg = net.registry()
    suspend(net, "seller")
    reg._call("requireCanReceive", net.addr("seller"))  # suspended members still receive repayments
    expire_kyc(net, "buyer")
    reg._call("requireCanReceive", net.addr("buyer"))  # so do KYC-expired ones
    reg._call("requireCanReceive", net.deployment.receivable_financing)  # escrow
    with pytest.raises(errors.NotMember):
        reg._call("requireCanReceive", outsider("stranger").address)
    with pytest.raises(errors.NotMember):  # an asset contract is no escrow
        reg._call("requireCanReceive", net.deployment.invoice_token)


def test_entity_keys_are_leis_for_members_and_addresses_otherwise(net):
    reg = net.registry()
    seller, ops, engine = net.addr("seller"), net.addr("seller_ops"), net.deployment.deal_engine
    keys = reg._call("entityKeys", seller, ops, engine)
    seller_lei = lei_bytes(net.participants["seller"].lei)
    assert tuple(bytes(k) for k in keys) == (seller_lei, seller_lei, bytes.fromhex(engine[2:]))
    stranger = outsider("entity").address
    assert reg.entity_key(stranger) == bytes.fromhex(stranger[2:])
    assert reg.entity_key(ZERO_ADDRESS) == bytes(20)
    sanction(net, "seller")  # the key names the entity whatever its standing
    assert reg.entity_key(seller) == seller_lei


# ---------------------------------------------------------------------------- the one transfer rule

STANDINGS = ("active", "suspended", "kyc", "sanctioned", "non-member")


def _party(net, standing: str) -> str:
    """`lender` in the given standing (or a non-member)."""
    if standing == "non-member":
        return outsider("transfer-party").address
    if standing != "active":
        lapse(net, "lender", standing)
    return net.addr("lender")


_EXPECTED = {
    # (direction, standing) -> error name, or None if the move is allowed
    "out of escrow": {"active": None, "suspended": None, "kyc": None, "sanctioned": "MemberIsSanctioned",
                      "non-member": "NotMember"},
    "into escrow": {"active": None, "suspended": None, "kyc": None, "sanctioned": "MemberIsSanctioned",
                    "non-member": "NotMember"},
    "member receives": {"active": None, "non-member": "NotMember",
                        **{s: LAPSES[s][1] for s in ("suspended", "kyc", "sanctioned")}},
    "member sends": {"active": None, "non-member": "NotMember",
                     **{s: LAPSES[s][1] for s in ("suspended", "kyc", "sanctioned")}},
}


@pytest.mark.parametrize("standing", STANDINGS)
@pytest.mark.parametrize("direction", list(_EXPECTED))
def test_require_transfer_matrix(net, direction, standing):
    reg = net.registry()
    escrow = net.deployment.deal_engine
    party = _party(net, standing)
    counterparty = net.addr("buyer")
    from_, to = {"out of escrow": (escrow, party), "into escrow": (party, escrow),
                 "member receives": (counterparty, party), "member sends": (party, counterparty)}[direction]
    error = _EXPECTED[direction][standing]
    if error is None:
        reg._call("requireTransfer", from_, to, 0)
    else:
        with pytest.raises(getattr(errors, error)) as exc:
            reg._call("requireTransfer", from_, to, 0)
        assert checksum(exc.value["account"]) == party


def test_require_transfer_roles(net):
    reg = net.registry()
    escrow, lender, buyer = net.deployment.deal_engine, net.addr("lender"), net.addr("buyer")
    reg._call("requireTransfer", escrow, lender, int(Role.LENDER))
    reg._call("requireTransfer", escrow, net.deployment.receivable_financing, int(Role.LENDER))  # escrow to escrow
    for from_, to, missing in ((escrow, buyer, buyer), (buyer, escrow, buyer), (lender, buyer, buyer),
                               (buyer, lender, buyer)):
        with pytest.raises(errors.MissingRole) as exc:
            reg._call("requireTransfer", from_, to, int(Role.LENDER))
        assert (checksum(exc.value["account"]), exc.value["required"]) == (missing, int(Role.LENDER))


def test_deregistered_escrow_is_an_ordinary_non_member(net):
    reg = net.registry()
    escrow = deploy_escrow(net, "deregistered")
    reg._call("requireTransfer", escrow.address, net.addr("seller"), 0)
    register_contract(net, escrow.address, ContractKind.NONE)
    with pytest.raises(errors.NotMember) as exc:
        reg._call("requireTransfer", escrow.address, net.addr("seller"), 0)
    assert checksum(exc.value["account"]) == escrow.address


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
    assert reg.transaction_allowed(net.addr("admin_a"), ZERO_ADDRESS) is True
    assert reg.transaction_allowed(net.addr("seller"), ZERO_ADDRESS) is False
    assert reg.transaction_allowed(outsider("stranger").address, ZERO_ADDRESS) is False
    suspend(net, "admin_c")
    assert reg.transaction_allowed(net.addr("admin_c"), ZERO_ADDRESS) is False


@pytest.mark.parametrize("how", ["suspended", "kyc"])
def test_transaction_allowed_for_lapsed_member_only_to_network_contracts(net, how):
    reg = net.registry()
    seller, buyer = net.addr("seller"), net.addr("buyer")
    lapse(net, "seller", how)
    assert reg.is_active(seller) is False
    # may still call tradenet contracts to repay and close running obligations...
    assert reg.transaction_allowed(seller, net.deployment.deal_engine) is True
    assert reg.transaction_allowed(seller, net.deployment.settlement_tokens["USD"]) is True
    assert reg.transaction_allowed(seller, net.deployment.invoice_token) is True
    # ...but nothing else, and sends no value
    assert reg.transaction_allowed(seller, buyer) is False
    assert reg.transaction_allowed(seller, reg.address) is False  # not an admin: no governance path
    assert reg.transaction_allowed(seller, net.deployment.deal_engine, value=1) is False
    assert reg.transaction_allowed(seller, ZERO_ADDRESS) is False


def test_transaction_allowed_false_for_sanctioned_member(net):
    reg = net.registry()
    sanction(net, "buyer")
    buyer = net.addr("buyer")
    assert reg.transaction_allowed(buyer, net.addr("seller")) is False
    assert reg.transaction_allowed(buyer, net.deployment.deal_engine) is False
    assert reg.transaction_allowed(buyer, net.deployment.settlement_tokens["USD"]) is False


def test_transaction_allowed_kyc_expired_admin_cannot_deploy(net):
    reg = net.registry()
    expire_kyc(net, "admin_c")
    assert reg.transaction_allowed(net.addr("admin_c"), ZERO_ADDRESS) is False
    assert reg.transaction_allowed(net.addr("admin_a"), ZERO_ADDRESS) is True
