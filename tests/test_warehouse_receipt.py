"""WarehouseReceipt: issue by a WAREHOUSE member, validation, the two kinds of pledge (directly to
a LENDER with a maturity and grace, enforceable only after them; to a registered escrow, taken by
the escrow itself with the holder's approval), release and enforcement (never on an expired
receipt), redemption by the issuing warehouse (never for a sanctioned holder), expiry, and
permissioned transfers."""

from __future__ import annotations

import pytest

from chain import errors
from chain.vocabulary import ContractKind, Role

from tests.support.tokens import (
    DAY,
    LAPSES,
    YEAR,
    add_member,
    checksum,
    deploy_escrow,
    expire_kyc,
    issue_receipt,
    lapse,
    outsider,
    receipt_terms,
    register_contract,
    sanction,
    suspend,
    unchanged,
)

MATURITY = 30 * DAY  # from now
GRACE = 7 * DAY
MAX_GRACE = 365 * DAY


def _record(net, receipt_id):
    return lambda: net.receipts().receipt(receipt_id)


def _next_id(net):
    return lambda: net.receipts()._call("nextReceiptId")


def _pledge(net, receipt_id: int, lender: str = "lender", holder: str = "seller", maturity_in: int = MATURITY,
            grace: int = GRACE) -> int:
    """A direct pledge of the holder's receipt to `lender`; returns maturity + grace."""
    maturity = net.now() + maturity_in
    net.receipts(holder).pledge(receipt_id, net.addr(lender), maturity, grace)
    return maturity + grace


def _pledged(net, lender: str = "lender") -> tuple[int, int]:
    """A receipt of the seller pledged directly to `lender`; (receipt id, enforceable after)."""
    receipt_id = issue_receipt(net)
    return receipt_id, _pledge(net, receipt_id, lender)


def _escrow_pledged(net, escrow) -> int:
    """A receipt of the seller pledged to the escrow (the holder approves, the escrow takes it)."""
    receipt_id = issue_receipt(net)
    net.receipts("seller").approve(escrow.address, receipt_id)
    escrow.call(net.receipts(), "pledgeToEscrow", receipt_id)
    return receipt_id


@pytest.fixture
def escrow(net):
    return deploy_escrow(net, "receipt-escrow")


# ---------------------------------------------------------------------------- issue


def test_warehouse_issues_receipt_to_depositor(net):
    wr = net.receipts("warehouse")
    terms = receipt_terms(net, quantity=123_456, insured_value=98_765_43)
    first = wr._call("nextReceiptId")
    receipt_id = wr.issue(terms)
    block_time = net.w3.eth.get_block(wr.last_receipt["blockNumber"])["timestamp"]
    assert receipt_id == first and wr._call("nextReceiptId") == first + 1
    r = wr.receipt(receipt_id)
    assert (r.warehouse, r.holder, r.pledgee, r.pledge_enforceable_after) == (
        net.addr("warehouse"), net.addr("seller"), None, 0)
    assert (r.issued_at, r.expiry, r.redemption_requested) == (block_time, terms.expiry, False)
    assert (r.commodity, r.quantity, r.unit, r.grade) == ("Copper cathode", 123_456, "KGM", "LME Grade A")
    assert (r.location, r.insured_value, r.currency) == ("NLRTM", 98_765_43, "USD")
    assert (r.document_hash, r.document_cid) == (terms.document_hash, terms.document_cid)
    assert wr.is_pledged(receipt_id) is False
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


@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_warehouse_cannot_issue(net, how):
    lapse(net, "warehouse", how)
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            net.receipts("warehouse").issue(receipt_terms(net))


@pytest.mark.parametrize("depositor", ["outsider", "contract", *LAPSES])
def test_depositor_must_be_active_member(net, depositor):
    if depositor == "outsider":
        to, error = outsider("depositor").address, "NotMember"
    elif depositor == "contract":
        to, error = net.deployment.receipt_pledge_financing, "NotMember"
    else:
        lapse(net, "buyer", depositor)
        to, error = net.addr("buyer"), LAPSES[depositor][1]
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("warehouse").issue(receipt_terms(net, depositor=to))
    assert checksum(exc.value["account"]) == to


def test_any_member_can_deposit(net):
    receipt_id = issue_receipt(net, depositor=net.addr("buyer"))
    assert net.receipts().owner_of(receipt_id) == net.addr("buyer")


@pytest.mark.parametrize("override, error", [
    (dict(quantity=0), "InvalidReceipt"),
    (dict(document_hash=b"\x00" * 32), "InvalidReceipt"),
    (dict(document_cid=""), "InvalidReceipt"),
    (dict(document_cid="b" * 129), "InvalidReceipt"),
    (dict(grade="G" * 65), "InvalidReceipt"),
    (dict(commodity=""), "InvalidText"),
    (dict(commodity="C" * 65), "InvalidText"),
    (dict(commodity="Copper\x00cathode"), "InvalidText"),
    (dict(unit=""), "InvalidText"),
    (dict(unit="KG\n"), "InvalidText"),
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
        wr.is_pledged(missing)
    with unchanged(net):
        for action in (lambda: wr.pledge(missing, net.addr("lender"), net.now() + MATURITY, GRACE),
                       lambda: wr.request_redemption(missing), lambda: net.receipts("lender").release_pledge(missing),
                       lambda: net.receipts("lender").enforce_pledge(missing, net.addr("lender"))):
            with pytest.raises(errors.UnknownReceipt):
                action()


# ---------------------------------------------------------------------------- direct pledge to a lender


def test_holder_pledges_to_lender_with_maturity_and_grace(net):
    receipt_id = issue_receipt(net)
    maturity = net.now() + MATURITY
    receipt = net.receipts("seller").pledge(receipt_id, net.addr("lender"), maturity, GRACE)
    r = net.receipts().receipt(receipt_id)
    assert (r.pledgee, r.holder) == (net.addr("lender"), net.addr("seller"))  # locked, not moved
    assert r.pledge_enforceable_after == maturity + GRACE
    assert net.receipts().is_pledged(receipt_id) is True
    [ev] = net.receipts().events(receipt, "ReceiptPledgedTo")
    assert (ev["id"], ev["holder"], ev["pledgee"], ev["enforceableAfter"]) == (
        receipt_id, net.addr("seller"), net.addr("lender"), maturity + GRACE)


@pytest.mark.parametrize("case", ["maturity passed", "maturity now", "grace too long", "ends at expiry",
                                  "ends after expiry"])
def test_finding7_direct_pledge_needs_a_maturity_and_grace_before_expiry(net, case):
    receipt_id = issue_receipt(net, expiry=net.now() + 180 * DAY)
    expiry = net.receipts().receipt(receipt_id).expiry
    now = net.now()
    maturity, grace = {
        "maturity passed": (now - 1, GRACE),
        "maturity now": (now, GRACE),  # maturity <= block time at execution
        "grace too long": (now + DAY, MAX_GRACE + 1),
        "ends at expiry": (expiry - GRACE, GRACE),
        "ends after expiry": (expiry, 0),
    }[case]
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.InvalidPledgeTerm) as exc:
            net.receipts("seller").pledge(receipt_id, net.addr("lender"), maturity, grace)
    assert (exc.value["id"], exc.value["maturity"], exc.value["gracePeriod"], exc.value["expiry"]) == (
        receipt_id, maturity, grace, expiry)


def test_pledge_term_edges_are_accepted(net):
    long_lived = issue_receipt(net, expiry=net.now() + 2 * YEAR)
    _pledge(net, long_lived, maturity_in=DAY, grace=MAX_GRACE)
    short = issue_receipt(net, expiry=net.now() + 40 * DAY)
    expiry = net.receipts().receipt(short).expiry
    net.receipts("seller").pledge(short, net.addr("lender"), expiry - GRACE - 1, GRACE)  # ends a second before expiry
    assert net.receipts().receipt(short).pledge_enforceable_after == expiry - 1


@pytest.mark.parametrize("pledgee", ["deal engine", "receipt-pledge module", "receivable module", "stand-in escrow",
                                     "asset contract"])
def test_finding7_direct_pledge_to_a_contract_is_refused(net, escrow, pledgee):
    """A contract that did not take the pledge itself could never release it (the receipt would be
    locked for ever): direct pledges go to LENDER members only."""
    d = net.deployment
    to = {"deal engine": d.deal_engine, "receipt-pledge module": d.receipt_pledge_financing,
          "receivable module": d.receivable_financing, "stand-in escrow": escrow.address,
          "asset contract": d.invoice_token}[pledgee]
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.InvalidPledgee) as exc:
            net.receipts("seller").pledge(receipt_id, to, net.now() + MATURITY, GRACE)
    assert (exc.value["id"], checksum(exc.value["pledgee"])) == (receipt_id, to)


def test_only_holder_pledges(net):
    receipt_id = issue_receipt(net)
    for who in ("warehouse", "lender", "buyer"):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.NotReceiptHolder) as exc:
                net.receipts(who).pledge(receipt_id, net.addr("lender_b"), net.now() + MATURITY, GRACE)
        assert checksum(exc.value["caller"]) == net.addr(who)


@pytest.mark.parametrize("pledgee", ["buyer", "warehouse", "outsider", *LAPSES])
def test_pledge_only_to_active_lender(net, pledgee):
    receipt_id = issue_receipt(net)
    if pledgee == "outsider":
        to, error = outsider("pledgee").address, "NotMember"
    elif pledgee in LAPSES:
        lapse(net, "lender", pledgee)
        to, error = net.addr("lender"), LAPSES[pledgee][1]
    else:
        to, error = net.addr(pledgee), "MissingRole"
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("seller").pledge(receipt_id, to, net.now() + MATURITY, GRACE)
    assert checksum(exc.value["account"]) == to
    if error == "MissingRole":
        assert exc.value["required"] == int(Role.LENDER)


def test_pledge_to_self_fails(net):
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_roles(net.addr("seller"), Role.SELLER | Role.LENDER)], "seller lends")
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.SelfPledge) as exc:
            net.receipts("seller").pledge(receipt_id, net.addr("seller"), net.now() + MATURITY, GRACE)
    assert exc.value["id"] == receipt_id


def test_pledge_twice_fails(net):
    receipt_id, _ = _pledged(net, "lender")
    for to in ("lender_b", "lender"):
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.ReceiptAlreadyPledged) as exc:
                net.receipts("seller").pledge(receipt_id, net.addr(to), net.now() + MATURITY, GRACE)
        assert (exc.value["id"], checksum(exc.value["pledgee"])) == (receipt_id, net.addr("lender"))


@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_holder_cannot_pledge(net, how):
    receipt_id = issue_receipt(net)
    lapse(net, "seller", how)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            net.receipts("seller").pledge(receipt_id, net.addr("lender"), net.now() + MATURITY, GRACE)


def test_pledged_receipt_is_locked(net):
    receipt_id, _ = _pledged(net)
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
    receipt_id, _ = _pledged(net)
    net.receipts("seller").approve(net.addr("lender"), receipt_id)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptPledged):
            net.receipts("lender")._tx("transferFrom", net.addr("seller"), net.addr("lender"), receipt_id)


# ---------------------------------------------------------------------------- release and enforce (direct pledges)


def test_pledgee_releases_pledge_at_any_time(net):
    receipt_id, _ = _pledged(net)
    receipt = net.receipts("lender").release_pledge(receipt_id)  # repaid before maturity
    r = net.receipts().receipt(receipt_id)
    assert (r.pledgee, r.pledge_enforceable_after) == (None, 0)
    [ev] = net.receipts().events(receipt, "PledgeReleased")
    assert (ev["id"], ev["pledgee"]) == (receipt_id, net.addr("lender"))
    # unlocked again: transferable and pledgeable to another lender
    _pledge(net, receipt_id, "lender_b")
    net.receipts("lender_b").release_pledge(receipt_id)
    net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("buyer")


@pytest.mark.parametrize("who", ["seller", "lender_b", "warehouse"])
def test_only_pledgee_releases_or_enforces(net, who):
    receipt_id, after = _pledged(net)
    net.advance_time(after - net.now() + 1)  # enforceable by the pledgee now
    wr = net.receipts(who)
    with unchanged(net, _record(net, receipt_id)):
        for action in (lambda: wr.release_pledge(receipt_id), lambda: wr.enforce_pledge(receipt_id, net.addr(who))):
            with pytest.raises(errors.NotPledgee) as exc:
                action()
            assert (exc.value["id"], checksum(exc.value["caller"])) == (receipt_id, net.addr(who))


def test_release_or_enforce_unpledged_receipt_fails(net):
    receipt_id = issue_receipt(net)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptNotPledged):
            net.receipts("lender").release_pledge(receipt_id)
        with pytest.raises(errors.ReceiptNotPledged):
            net.receipts("lender").enforce_pledge(receipt_id, net.addr("lender"))


def test_finding7_direct_pledge_is_enforceable_only_after_maturity_and_grace(net):
    receipt_id, after = _pledged(net)
    lender = net.receipts("lender")
    for moment in (net.now(), after - GRACE + 60, after - 60):  # before maturity; within the grace period
        net.advance_time(moment - net.now())
        with unchanged(net, _record(net, receipt_id)):
            with pytest.raises(errors.PledgeNotEnforceable) as exc:
                lender.enforce_pledge(receipt_id, net.addr("lender"))
        assert (exc.value["id"], exc.value["enforceableAfter"]) == (receipt_id, after)
    net.advance_time(after - net.now() + 1)
    receipt = lender.enforce_pledge(receipt_id, net.addr("lender"))
    r = net.receipts().receipt(receipt_id)
    assert (r.holder, r.pledgee, r.pledge_enforceable_after) == (net.addr("lender"), None, 0)
    [ev] = net.receipts().events(receipt, "PledgeEnforced")
    assert (ev["id"], ev["pledgee"], ev["previousHolder"], ev["to"]) == (
        receipt_id, net.addr("lender"), net.addr("seller"), net.addr("lender"))
    # the lender now holds an ordinary receipt: it can take the goods out
    net.receipts("lender").request_redemption(receipt_id)
    net.receipts("warehouse").redeem(receipt_id)
    assert net.receipts().receipt(receipt_id).holder is None


def test_finding7_nothing_is_enforced_on_an_expired_receipt(net):
    receipt_id = issue_receipt(net, expiry=net.now() + 40 * DAY)
    expiry = net.receipts().receipt(receipt_id).expiry
    _pledge(net, receipt_id, maturity_in=10 * DAY, grace=5 * DAY)
    net.advance_time(40 * DAY + 1)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptExpired) as exc:
            net.receipts("lender").enforce_pledge(receipt_id, net.addr("lender"))
    assert (exc.value["id"], exc.value["expiry"]) == (receipt_id, expiry)
    # the pledge can still be released, and the depositor takes its goods out
    net.receipts("lender").release_pledge(receipt_id)
    net.receipts("seller").request_redemption(receipt_id)
    net.receipts("warehouse").redeem(receipt_id)


def test_pledgee_may_enforce_to_another_account(net):
    receipt_id, after = _pledged(net)
    net.advance_time(after - net.now() + 1)
    net.receipts("lender").enforce_pledge(receipt_id, net.addr("lender_b"))  # e.g. the buyer of the collateral
    assert net.receipts().owner_of(receipt_id) == net.addr("lender_b")


@pytest.mark.parametrize("to, error", [("sanctioned", "MemberIsSanctioned"), ("outsider", "NotMember"),
                                       ("asset contract", "NotMember")])
def test_enforcement_receiver_must_be_able_to_receive(net, to, error):
    receipt_id, after = _pledged(net)
    if to == "sanctioned":
        sanction(net, "lender_b")
        address = net.addr("lender_b")
    else:
        address = outsider("enforce-to").address if to == "outsider" else net.deployment.invoice_token
    net.advance_time(after - net.now() + 1)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("lender").enforce_pledge(receipt_id, address)
    assert checksum(exc.value["account"]) == address


def test_enforce_against_suspended_holder(net):
    receipt_id, after = _pledged(net)
    suspend(net, "seller")  # the defaulting borrower is suspended: enforcement still works
    net.advance_time(after - net.now() + 1)
    net.receipts("lender").enforce_pledge(receipt_id, net.addr("lender"))
    assert net.receipts().owner_of(receipt_id) == net.addr("lender")


@pytest.mark.parametrize("to", ["lender", "lender_b"])
def test_sanctioned_pledgee_cannot_enforce(net, to):
    """Not to itself, nor by directing the collateral to another account."""
    receipt_id, after = _pledged(net)
    sanction(net, "lender")
    net.advance_time(after - net.now() + 1)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSanctioned) as exc:
            net.receipts("lender").enforce_pledge(receipt_id, net.addr(to))
    assert checksum(exc.value["account"]) == net.addr("lender")


@pytest.mark.parametrize("how", ["suspended", "kyc"])
def test_lapsed_pledgee_can_still_release_and_enforce(net, how):
    """A running obligation closes: a suspended or KYC-expired lender releases on repayment and
    takes its collateral on default."""
    released, _ = _pledged(net)
    enforced, after = _pledged(net)
    lapse(net, "lender", how)
    net.receipts("lender").release_pledge(released)
    assert net.receipts().receipt(released).pledgee is None
    net.advance_time(after - net.now() + 1)
    net.receipts("lender").enforce_pledge(enforced, net.addr("lender"))
    assert net.receipts().owner_of(enforced) == net.addr("lender")


# ---------------------------------------------------------------------------- pledges to an escrow (a financing deal)


def test_finding7_escrow_takes_a_pledge_with_the_holders_approval(net, escrow):
    receipt_id = issue_receipt(net)
    wr = net.receipts()
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.PledgeNotApproved) as exc:
            escrow.call(wr, "pledgeToEscrow", receipt_id)
    assert (exc.value["id"], checksum(exc.value["escrow"])) == (receipt_id, escrow.address)
    other = issue_receipt(net)
    net.receipts("seller").approve(escrow.address, other)  # approval of another receipt is no consent
    with pytest.raises(errors.PledgeNotApproved):
        escrow.call(wr, "pledgeToEscrow", receipt_id)
    net.receipts("seller").approve(escrow.address, receipt_id)
    receipt = escrow.call(wr, "pledgeToEscrow", receipt_id)
    r = wr.receipt(receipt_id)
    assert (r.holder, r.pledgee, r.pledge_enforceable_after) == (net.addr("seller"), escrow.address, 0)
    [ev] = wr.events(receipt, "ReceiptPledgedTo")
    assert (ev["id"], ev["holder"], ev["pledgee"], ev["enforceableAfter"]) == (
        receipt_id, net.addr("seller"), escrow.address, 0)


def test_approval_for_all_also_lets_an_escrow_take_a_pledge(net, escrow):
    receipt_id = issue_receipt(net)
    net.receipts("seller")._tx("setApprovalForAll", escrow.address, True)
    escrow.call(net.receipts(), "pledgeToEscrow", receipt_id)
    assert net.receipts().receipt(receipt_id).pledgee == escrow.address


@pytest.mark.parametrize("caller", ["lender", "holder", "unregistered contract", "asset contract"])
def test_finding7_pledge_to_escrow_only_by_a_registered_escrow(net, caller):
    receipt_id = issue_receipt(net)
    wr = net.receipts()
    if caller in ("lender", "holder"):
        key = "lender" if caller == "lender" else "seller"
        if caller == "lender":
            net.receipts("seller").approve(net.addr("lender"), receipt_id)
        call, address = (lambda: net.receipts(key).pledge_to_escrow(receipt_id)), net.addr(key)
    else:
        contract = deploy_escrow(net, caller, kind=ContractKind.ASSET if caller == "asset contract" else None)
        net.receipts("seller").approve(contract.address, receipt_id)
        call, address = (lambda: contract.call(wr, "pledgeToEscrow", receipt_id)), contract.address
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.InvalidPledgee) as exc:
            call()
    assert (exc.value["id"], checksum(exc.value["pledgee"])) == (receipt_id, address)


@pytest.mark.parametrize("how", list(LAPSES))
def test_escrow_pledge_needs_an_active_holder(net, escrow, how):
    receipt_id = issue_receipt(net)
    net.receipts("seller").approve(escrow.address, receipt_id)
    lapse(net, "seller", how)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
            escrow.call(net.receipts(), "pledgeToEscrow", receipt_id)
    assert checksum(exc.value["account"]) == net.addr("seller")


@pytest.mark.parametrize("state, error", [("pledged", "ReceiptAlreadyPledged"), ("surrendered", "RedemptionPending"),
                                          ("expired", "ReceiptExpired"), ("redeemed", "UnknownReceipt")])
def test_escrow_pledge_needs_a_pledgeable_receipt(net, escrow, state, error):
    receipt_id = issue_receipt(net, expiry=net.now() + 40 * DAY)
    net.receipts("seller").approve(escrow.address, receipt_id)
    if state == "pledged":
        _pledge(net, receipt_id)
    elif state == "surrendered":
        net.receipts("seller").request_redemption(receipt_id)
    elif state == "expired":
        net.advance_time(40 * DAY + 1)
    else:
        net.receipts("seller").request_redemption(receipt_id)
        net.receipts("warehouse").redeem(receipt_id)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)):
            escrow.call(net.receipts(), "pledgeToEscrow", receipt_id)


def test_escrow_pledge_locks_the_receipt_even_for_the_approved_escrow(net, escrow):
    receipt_id = _escrow_pledged(net, escrow)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptPledged):
            net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
        with pytest.raises(errors.ReceiptPledged):
            escrow.call(net.receipts(), "transferFrom", net.addr("seller"), escrow.address, receipt_id)
        with pytest.raises(errors.ReceiptPledged):
            net.receipts("seller").request_redemption(receipt_id)
        with pytest.raises(errors.ReceiptAlreadyPledged):
            net.receipts("seller").pledge(receipt_id, net.addr("lender"), net.now() + MATURITY, GRACE)


def test_escrow_releases_its_pledge(net, escrow):
    receipt_id = _escrow_pledged(net, escrow)
    receipt = escrow.call(net.receipts(), "releasePledge", receipt_id)
    assert net.receipts().receipt(receipt_id).pledgee is None
    [ev] = net.receipts().events(receipt, "PledgeReleased")
    assert (ev["id"], ev["pledgee"]) == (receipt_id, escrow.address)
    net.receipts("seller").transfer(net.addr("buyer"), receipt_id)  # unlocked


def test_escrow_enforces_under_its_own_rule_to_the_lender(net, escrow):
    """An escrow pledge has no maturity of its own: the deal's default rule decides, at any time."""
    receipt_id = _escrow_pledged(net, escrow)
    receipt = escrow.call(net.receipts(), "enforcePledge", receipt_id, net.addr("lender"))
    r = net.receipts().receipt(receipt_id)
    assert (r.holder, r.pledgee) == (net.addr("lender"), None)
    [ev] = net.receipts().events(receipt, "PledgeEnforced")
    assert (ev["pledgee"], ev["previousHolder"], ev["to"]) == (escrow.address, net.addr("seller"), net.addr("lender"))


def test_escrow_cannot_enforce_on_an_expired_receipt_or_to_a_sanctioned_lender(net, escrow):
    receipt_id = _escrow_pledged(net, escrow)
    sanction(net, "lender")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSanctioned):
            escrow.call(net.receipts(), "enforcePledge", receipt_id, net.addr("lender"))
    expiry = net.receipts().receipt(receipt_id).expiry
    net.advance_time(expiry - net.now() + 1)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.ReceiptExpired):
            escrow.call(net.receipts(), "enforcePledge", receipt_id, net.addr("lender_b"))


def test_deregistered_escrow_cannot_enforce(net, escrow):
    """Deregistering an escrow freezes what it holds (docs/governance.md): its pledge stays."""
    receipt_id = _escrow_pledged(net, escrow)
    register_contract(net, escrow.address, ContractKind.NONE)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.NotMember):
            escrow.call(net.receipts(), "enforcePledge", receipt_id, net.addr("lender"))


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
        net.receipts().is_pledged(receipt_id)


def test_finding8_sanctioned_holder_cannot_surrender_a_receipt(net):
    receipt_id = issue_receipt(net)
    sanction(net, "seller")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSanctioned) as exc:
            net.receipts("seller").request_redemption(receipt_id)
    assert checksum(exc.value["account"]) == net.addr("seller")


def test_finding8_goods_are_not_released_to_a_holder_sanctioned_after_surrender(net):
    receipt_id = issue_receipt(net)
    net.receipts("seller").request_redemption(receipt_id)
    sanction(net, "seller")
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(errors.MemberIsSanctioned) as exc:
            net.receipts("warehouse").redeem(receipt_id)
    assert checksum(exc.value["account"]) == net.addr("seller")
    assert net.receipts().owner_of(receipt_id) == net.addr("seller")


@pytest.mark.parametrize("how", ["suspended", "kyc"])
def test_lapsed_holder_may_still_take_its_goods_out(net, how):
    receipt_id = issue_receipt(net)
    lapse(net, "seller", how)
    net.receipts("seller").request_redemption(receipt_id)
    net.receipts("warehouse").redeem(receipt_id)
    assert net.receipts().receipt(receipt_id).holder is None


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
            net.receipts("seller").pledge(receipt_id, net.addr("lender"), net.now() + MATURITY, GRACE)


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
            net.receipts("seller").pledge(receipt_id, net.addr("lender"), net.now() + DAY, 0)
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


@pytest.mark.parametrize("how", ["outsider", *LAPSES])
def test_transfer_only_to_active_members(net, how):
    receipt_id = issue_receipt(net)
    if how == "outsider":
        to, error = outsider("receipt-recipient").address, "NotMember"
    else:
        lapse(net, "buyer", how)
        to, error = net.addr("buyer"), LAPSES[how][1]
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.receipts("seller").transfer(to, receipt_id)
    assert checksum(exc.value["account"]) == to


@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_holder_cannot_transfer(net, how):
    receipt_id = issue_receipt(net)
    lapse(net, "seller", how)
    with unchanged(net, _record(net, receipt_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
            net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert checksum(exc.value["account"]) == net.addr("seller")


def test_kyc_expiry_of_a_long_lived_receipt_holder(net):
    """KYC lapses are independent of the receipt's own expiry."""
    receipt_id = issue_receipt(net, expiry=net.now() + YEAR - DAY)
    expire_kyc(net, "seller")
    with pytest.raises(errors.KycExpired):
        net.receipts("seller").transfer(net.addr("buyer"), receipt_id)
    assert net.receipts().owner_of(receipt_id) == net.addr("seller")
