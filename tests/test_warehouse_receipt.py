"""WarehouseReceipt: issue by a WAREHOUSE member, validation, pledge / release / enforce,
redemption by the issuing warehouse, expiry, permissioned transfers."""

from __future__ import annotations

import pytest

from chain import errors
from chain.contracts import Role

from .token_support import (
    DAY,
    YEAR,
    add_member,
    checksum,
    escrow_account,
    expire_kyc,
    issue_receipt,
    outsider,
    receipt_terms,
    sanction,
    suspend,
    unchanged,
)


def _record(net, receipt_id):
    return lambda: net.receipts().receipt(receipt_id)


def _next_id(net):
    return lambda: net.receipts()._call("nextReceiptId")


def _pledged(net, pledgee: str = "lender") -> int:
    receipt_id = issue_receipt(net)
    net.receipts("seller").pledge(receipt_id, net.addr(pledgee))
    return receipt_id


# ---------------------------------------------------------------------------- issue


def test_warehouse_issues_receipt_to_depositor(net):
    wr = net.receipts("warehouse")
    terms = receipt_terms(net, quantity=123_456, insured_value=98_765_43)
    first = wr._call("nextReceiptId")
    receipt_id = wr.issue(terms)
    block_time = net.w3.eth.get_block(wr.last_receipt["blockNumber"])["timestamp"]
    assert receipt_id == first and wr._call("nextReceiptId") == first + 1
    r = wr.receipt(receipt_id)
    assert (r.warehouse, r.holder, r.pledgee) == (net.addr("warehouse"), net.addr("seller"), None)
    assert (r.issued_at, r.expiry, r.redemption_requested) == (block_time, terms.expiry, False)
    assert (r.commodity, r.quantity, r.unit, r.grade) == ("Copper cathode", 123_456, "KGM", "LME Grade A")
    assert (r.location, r.insured_value, r.currency) == ("NLRTM", 98_765_43, "USD")
    assert (r.document_hash, r.document_cid) == (terms.document_hash, terms.document_cid)
    assert wr._call("isPledged", receipt_id) is False
    [ev] = wr.events(wr.last_receipt, "ReceiptIssued")
    assert (ev["id"], ev["warehouse"], ev["depositor"]) == (receipt_id, net.addr("warehouse"), net.addr("seller"))


@pytest.mark.parametrize("who", ["seller", "lender", "admin_a", "carrier"])
def test_only_warehouse_issues(net, who):
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.MissingRole) as exc:
            net.receipts(who).issue(receipt_terms(net))
    assert checksum(exc.value["account"]) == net.addr(who)
    assert (exc.value["required"], exc.value["held"]) == (int(Role.WAREHOUSE), int(net.participants[who].roles))


def test_non_member_cannot_issue(net):
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.NotMember):
            net.receipts().using(outsider("fake-warehouse")).issue(receipt_terms(net))


@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("kyc", "KycExpired")])
def test_lapsed_warehouse_cannot_issue(net, lapse, error):
    {"suspended": suspend, "kyc": expire_kyc}[lapse](net, "warehouse")
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)):
            net.receipts("warehouse").issue(receipt_terms(net))


@pytest.mark.parametrize("depositor, error", [("outsider", "NotMember"), ("suspended", "MemberIsSuspended"),
                                              ("sanctioned", "MemberIsSanctioned")])
def test_depositor_must_be_active_member(net, depositor, error):
    if depositor == "outsider":
        to = outsider("depositor").address
    else:
        {"suspended": suspend, "sanctioned": sanction}[depositor](net, "buyer")
        to = net.addr("buyer")
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("warehouse").issue(receipt_terms(net, depositor=to))
    assert checksum(exc.value["account"]) == to


def test_any_member_can_deposit(net):
    receipt_id = issue_receipt(net, depositor=net.addr("buyer"))
    assert net.receipts().owner_of(receipt_id) == net.addr("buyer")


@pytest.mark.parametrize("override, error", [
    (dict(quantity=0), "InvalidReceipt"),
    (dict(commodity=""), "InvalidReceipt"),
    (dict(unit=""), "InvalidReceipt"),
    (dict(document_hash=b"\x00" * 32), "InvalidReceipt"),
    (dict(document_cid=""), "InvalidReceipt"),
    (dict(location="nlrtm"), "InvalidLocode"),
    (dict(location="1LRTM"), "InvalidLocode"),
    (dict(location="NLR-M"), "InvalidLocode"),
    (dict(location="NL RT"), "InvalidLocode"),
    (dict(currency="eur"), "InvalidCurrencyCode"),
    (dict(currency="E0R"), "InvalidCurrencyCode"),
])
def test_invalid_receipt_terms(net, override, error):
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)):
            net.receipts("warehouse").issue(receipt_terms(net, **override))


@pytest.mark.parametrize("offset", [-DAY, 0])
def test_expiry_must_be_in_the_future(net, offset):
    expiry = net.now() + offset
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.ReceiptExpired) as exc:
            net.receipts("warehouse").issue(receipt_terms(net, expiry=expiry))
    assert (exc.value["id"], exc.value["expiry"]) == (0, expiry)


def test_locode_with_digits_is_valid(net):
    receipt_id = issue_receipt(net, location="DEHA2", grade="")  # grade is optional
    r = net.receipts().receipt(receipt_id)
    assert (r.location, r.grade) == ("DEHA2", "")


def test_unknown_receipt(net):
    wr = net.receipts("seller")
    missing = wr._call("nextReceiptId")
    with pytest.raises(errors.UnknownReceipt) as exc:
        wr.receipt(missing)
    assert exc.value["id"] == missing
    with pytest.raises(errors.UnknownReceipt):
        wr.pledge(missing, net.addr("lender"))
    with pytest.raises(errors.UnknownReceipt):
        wr._call("isPledged", missing)


# ---------------------------------------------------------------------------- pledge


def test_holder_pledges_to_lender(net):
    receipt_id = issue_receipt(net)
    receipt = net.receipts("seller").pledge(receipt_id, net.addr("lender"))
    r = net.receipts().receipt(receipt_id)
    assert (r.pledgee, r.holder) == (net.addr("lender"), net.addr("seller"))  # locked, not moved
    assert net.receipts()._call("isPledged", receipt_id) is True
    [ev] = net.receipts().events(receipt, "ReceiptPledgedTo")
    assert (ev["id"], ev["holder"], ev["pledgee"]) == (receipt_id, net.addr("seller"), net.addr("lender"))


def test_pledge_to_escrow(net):
    escrow = escrow_account(net)
    receipt_id = issue_receipt(net)
    net.receipts("seller").pledge(receipt_id, escrow.address)
    assert net.receipts().receipt(receipt_id).pledgee == escrow.address


def test_only_holder_pledges(net):
    receipt_id = issue_receipt(net)
    for who in ("warehouse", "lender", "buyer"):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.NotReceiptHolder) as exc:
                net.receipts(who).pledge(receipt_id, net.addr("lender"))
        assert checksum(exc.value["caller"]) == net.addr(who)


@pytest.mark.parametrize("pledgee, error", [
    ("buyer", "MissingRole"),
    ("warehouse", "MissingRole"),
    ("outsider", "NotMember"),
    ("suspended lender", "MemberIsSuspended"),
    ("sanctioned lender", "MemberIsSanctioned"),
    ("kyc-expired lender", "KycExpired"),
])
def test_pledge_only_to_active_lender(net, pledgee, error):
    receipt_id = issue_receipt(net)
    if pledgee == "outsider":
        to = outsider("pledgee").address
    elif pledgee.endswith("lender"):
        lapse = pledgee.split()[0]
        {"suspended": suspend, "sanctioned": sanction, "kyc-expired": expire_kyc}[lapse](net, "lender")
        to = net.addr("lender")
    else:
        to = net.addr(pledgee)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("seller").pledge(receipt_id, to)
    assert checksum(exc.value["account"]) == to
    if error == "MissingRole":
        assert exc.value["required"] == int(Role.LENDER)


def test_pledge_to_self_fails(net):
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_roles(net.addr("seller"), Role.SELLER | Role.LENDER)], "seller lends")
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.SelfPledge) as exc:
            net.receipts("seller").pledge(receipt_id, net.addr("seller"))
    assert exc.value["id"] == receipt_id


def test_pledge_twice_fails(net):
    receipt_id = _pledged(net, "lender")
    for to in ("lender_b", "lender"):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.ReceiptAlreadyPledged) as exc:
                net.receipts("seller").pledge(receipt_id, net.addr(to))
        assert (exc.value["id"], checksum(exc.value["pledgee"])) == (receipt_id, net.addr("lender"))


def test_suspended_holder_cannot_pledge(net):
    receipt_id = issue_receipt(net)
    suspend(net, "seller")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSuspended):
            net.receipts("seller").pledge(receipt_id, net.addr("lender"))


def test_pledged_receipt_is_locked(net):
    receipt_id = _pledged(net)
    wr = net.receipts("seller")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptPledged) as exc:
            wr.transfer(net.addr("buyer"), receipt_id)
        assert checksum(exc.value["pledgee"]) == net.addr("lender")
        with pytest.raises(errors.ReceiptPledged):
            wr.request_redemption(receipt_id)
        with pytest.raises(errors.ReceiptPledged):
            net.receipts("warehouse").redeem(receipt_id)


def test_pledged_receipt_locked_even_for_approved_operator(net):
    receipt_id = _pledged(net)
    wr = net.receipts("seller")
    wr._tx("approve", net.addr("lender"), receipt_id)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptPledged):
            net.receipts("lender")._tx("transferFrom", net.addr("seller"), net.addr("lender"), receipt_id)


# ---------------------------------------------------------------------------- release and enforce


def test_pledgee_releases_pledge(net):
    receipt_id = _pledged(net)
    receipt = net.receipts("lender").release_pledge(receipt_id)
    assert net.receipts().receipt(receipt_id).pledgee is None
    [ev] = net.receipts().events(receipt, "PledgeReleased")
    assert (ev["id"], ev["pledgee"]) == (receipt_id, net.addr("lender"))
    # unlocked again: transferable and pledgeable to another lender
    net.receipts("seller").pledge(receipt_id, net.addr("lender_b"))
    net.receipts("lender_b").release_pledge(receipt_id)
    net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("buyer")


@pytest.mark.parametrize("who", ["seller", "lender_b", "warehouse"])
def test_only_pledgee_releases_or_enforces(net, who):
    receipt_id = _pledged(net)
    wr = net.receipts(who)
    with unchanged(net, _record(net, receipt_id)):
        for action in (wr.release_pledge, wr.enforce_pledge):
            with pytest.raises(errors.NotPledgee) as exc:
                action(receipt_id)
            assert (exc.value["id"], checksum(exc.value["caller"])) == (receipt_id, net.addr(who))


def test_release_or_enforce_unpledged_receipt_fails(net):
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptNotPledged):
            net.receipts("lender").release_pledge(receipt_id)
        with pytest.raises(errors.ReceiptNotPledged):
            net.receipts("lender").enforce_pledge(receipt_id)


def test_pledgee_enforces_on_default(net):
    receipt_id = _pledged(net)
    receipt = net.receipts("lender").enforce_pledge(receipt_id)
    r = net.receipts().receipt(receipt_id)
    assert (r.holder, r.pledgee) == (net.addr("lender"), None)
    [ev] = net.receipts().events(receipt, "PledgeEnforced")
    assert (ev["id"], ev["pledgee"], ev["previousHolder"]) == (receipt_id, net.addr("lender"), net.addr("seller"))
    # the lender now holds an ordinary receipt: it can take the goods out
    net.receipts("lender").request_redemption(receipt_id)
    net.receipts("warehouse").redeem(receipt_id)
    assert net.receipts().receipt(receipt_id).holder is None


def test_enforce_against_suspended_holder(net):
    receipt_id = _pledged(net)
    suspend(net, "seller")  # the defaulting borrower is suspended: enforcement still works
    net.receipts("lender").enforce_pledge(receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("lender")


def test_sanctioned_pledgee_cannot_enforce(net):
    receipt_id = _pledged(net)
    sanction(net, "lender")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSanctioned):
            net.receipts("lender").enforce_pledge(receipt_id)


def test_suspended_pledgee_can_still_release(net):
    receipt_id = _pledged(net)
    suspend(net, "lender")  # a running obligation closes: the lender releases on repayment
    net.receipts("lender").release_pledge(receipt_id)
    assert net.receipts().receipt(receipt_id).pledgee is None


# ---------------------------------------------------------------------------- redemption


def test_redemption_flow(net):
    receipt_id = issue_receipt(net)
    receipt = net.receipts("seller").request_redemption(receipt_id)
    assert net.receipts().receipt(receipt_id).redemption_requested is True
    [ev] = net.receipts().events(receipt, "RedemptionRequested")
    assert (ev["id"], ev["holder"]) == (receipt_id, net.addr("seller"))

    receipt = net.receipts("warehouse").redeem(receipt_id)
    [ev] = net.receipts().events(receipt, "ReceiptRedeemed")
    assert (ev["id"], ev["warehouse"], ev["holder"]) == (receipt_id, net.addr("warehouse"), net.addr("seller"))
    r = net.receipts().receipt(receipt_id)  # the record is kept
    assert (r.holder, r.quantity, r.redemption_requested) == (None, 500_000, True)
    with pytest.raises(errors.ERC721NonexistentToken):
        net.receipts().owner_of(receipt_id)
    assert net.receipts()._call("balanceOf", net.addr("seller")) == 0
    for action in (net.receipts("warehouse").redeem, net.receipts("seller").request_redemption):
        with pytest.raises(errors.UnknownReceipt):
            action(receipt_id)
    with pytest.raises(errors.UnknownReceipt):
        net.receipts()._call("isPledged", receipt_id)


def test_only_holder_requests_redemption(net):
    receipt_id = issue_receipt(net)
    for who in ("warehouse", "buyer"):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.NotReceiptHolder):
                net.receipts(who).request_redemption(receipt_id)


def test_redemption_requested_twice_fails(net):
    receipt_id = issue_receipt(net)
    net.receipts("seller").request_redemption(receipt_id)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.RedemptionPending):
            net.receipts("seller").request_redemption(receipt_id)


def test_redeem_without_request_fails(net):
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.RedemptionNotRequested) as exc:
            net.receipts("warehouse").redeem(receipt_id)
    assert exc.value["id"] == receipt_id


def test_only_issuing_warehouse_redeems(net):
    other = outsider("warehouse-2")
    add_member(net, other.address, Role.WAREHOUSE, "724500SECONDWHS00017", "NL")
    receipt_id = issue_receipt(net)
    net.receipts("seller").request_redemption(receipt_id)
    for account in (other, net.keys["seller"], net.keys["admin_a"]):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.NotIssuingWarehouse) as exc:
                net.receipts().using(account).redeem(receipt_id)
        assert checksum(exc.value["caller"]) == account.address
    # the second warehouse redeems its own receipts
    own = net.receipts().using(other).issue(receipt_terms(net))
    net.receipts("seller").request_redemption(own)
    net.receipts().using(other).redeem(own)
    assert net.receipts().receipt(own).holder is None


def test_surrendered_receipt_cannot_move_or_be_pledged(net):
    receipt_id = issue_receipt(net)
    net.receipts("seller").request_redemption(receipt_id)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.RedemptionPending):
            net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
        with pytest.raises(errors.RedemptionPending):
            net.receipts("seller").pledge(receipt_id, net.addr("lender"))


# ---------------------------------------------------------------------------- expiry


def test_expired_receipt_cannot_move_or_be_pledged(net):
    receipt_id = issue_receipt(net, expiry=net.now() + 7 * DAY)
    expiry = net.receipts().receipt(receipt_id).expiry
    net.advance_time(7 * DAY + 1)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptExpired) as exc:
            net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
        assert (exc.value["id"], exc.value["expiry"]) == (receipt_id, expiry)
        with pytest.raises(errors.ReceiptExpired):
            net.receipts("seller").pledge(receipt_id, net.addr("lender"))
    # the goods can still be taken out
    net.receipts("seller").request_redemption(receipt_id)
    net.receipts("warehouse").redeem(receipt_id)
    assert net.receipts().receipt(receipt_id).holder is None


def test_receipt_valid_until_expiry(net):
    receipt_id = issue_receipt(net, expiry=net.now() + 7 * DAY)
    net.advance_time(7 * DAY - 60)
    net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("buyer")


# ---------------------------------------------------------------------------- transfers


def test_transfer_between_active_members(net):
    receipt_id = issue_receipt(net)
    net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    r = net.receipts().receipt(receipt_id)
    assert (r.holder, r.warehouse) == (net.addr("buyer"), net.addr("warehouse"))


@pytest.mark.parametrize("lapse, error", [("outsider", "NotMember"), ("suspended", "MemberIsSuspended"),
                                          ("sanctioned", "MemberIsSanctioned"), ("kyc", "KycExpired")])
def test_transfer_only_to_active_members(net, lapse, error):
    receipt_id = issue_receipt(net)
    if lapse == "outsider":
        to = outsider("receipt-recipient").address
    else:
        {"suspended": suspend, "sanctioned": sanction, "kyc": expire_kyc}[lapse](net, "buyer")
        to = net.addr("buyer")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("seller").transfer(to, receipt_id)
    assert checksum(exc.value["account"]) == to


@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("sanctioned", "MemberIsSanctioned")])
def test_lapsed_holder_cannot_transfer(net, lapse, error):
    receipt_id = issue_receipt(net)
    {"suspended": suspend, "sanctioned": sanction}[lapse](net, "seller")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert checksum(exc.value["account"]) == net.addr("seller")


def test_kyc_expiry_of_a_long_lived_receipt_holder(net):
    """KYC lapses are independent of the receipt's own expiry."""
    receipt_id = issue_receipt(net, expiry=net.now() + YEAR - DAY)
    expire_kyc(net, "seller")
    with pytest.raises(errors.KycExpired):
        net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("seller")
