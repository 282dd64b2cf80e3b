"""InvoiceToken: minting rules and network-wide fingerprint uniqueness, buyer confirmation, dispute
and cancellation, escrow-driven financing states, split, and permissioned transfers.

Financing states are driven by a tradenet ESCROW; these tests register a plain account as ESCROW
through governance (as the brief of the deal contract would) so each transition is called directly."""

from __future__ import annotations

import pytest

from chain import errors
from chain.contracts import ContractKind, InvoiceState, Role, lei_bytes

from .token_support import (
    DAY,
    checksum,
    escrow_account,
    expire_kyc,
    govern,
    invoice_terms,
    mint_invoice,
    outsider,
    register_contract,
    sanction,
    suspend,
    unchanged,
)

FACE = 10_000_000


def _record(net, invoice_id):
    return lambda: net.invoices().invoice(invoice_id)


def _financed(net, escrow, **overrides) -> int:
    """A confirmed invoice moved into the escrow and marked Financed there."""
    invoice_id = mint_invoice(net, confirm=True, **overrides)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    net.invoices().using(escrow).mark_financed(invoice_id)
    return invoice_id


def _financed_at(net, escrow, holder: str = "lender", **overrides) -> int:
    """A financed invoice that the escrow passed on to `holder` (multi-tier transfer)."""
    invoice_id = _financed(net, escrow, **overrides)
    net.invoices().using(escrow).transfer(net.addr(holder), invoice_id)
    return invoice_id


@pytest.fixture
def escrow(net):
    return escrow_account(net)


# ---------------------------------------------------------------------------- mint


def test_mint_records_terms_and_fingerprint(net):
    inv = net.invoices("seller")
    terms = invoice_terms(net, invoice_number="INV-2024-0001", face_value=12_345_678)
    first = inv._call("nextInvoiceId")
    invoice_id = inv.mint(terms)
    assert invoice_id == first and inv._call("nextInvoiceId") == first + 1
    rec = inv.invoice(invoice_id)
    assert rec.seller == net.addr("seller") and rec.buyer == net.addr("buyer")
    assert rec.holder == net.addr("seller")
    assert rec.state == InvoiceState.ISSUED
    assert (rec.invoice_number, rec.face_value, rec.currency) == ("INV-2024-0001", 12_345_678, "USD")
    assert (rec.issue_date, rec.due_date) == (terms.issue_date, terms.due_date)
    assert (rec.document_hash, rec.document_cid, rec.parent_id) == (terms.document_hash, terms.document_cid, 0)
    expected_fp = inv.fingerprint(net.participants["seller"].lei, net.participants["buyer"].lei, "INV-2024-0001",
                                  12_345_678, "USD", terms.issue_date)
    assert rec.fingerprint == expected_fp
    assert inv._call("invoiceByFingerprint", expected_fp) == invoice_id
    [ev] = inv.events(inv.last_receipt, "InvoiceIssued")
    assert (ev["id"], ev["seller"], ev["buyer"], ev["fingerprint"]) == (
        invoice_id, net.addr("seller"), net.addr("buyer"), expected_fp)
    assert inv._call("balanceOf", net.addr("seller")) == 1


def test_non_member_cannot_mint(net):
    stranger = outsider("invoice-minter")
    inv = net.invoices().using(stranger)
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(errors.NotMember) as exc:
            inv.mint(invoice_terms(net))
    assert checksum(exc.value["account"]) == stranger.address


@pytest.mark.parametrize("who", ["buyer", "lender", "warehouse"])
def test_member_without_seller_role_cannot_mint(net, who):
    inv = net.invoices(who)
    buyer = "seller" if who == "buyer" else "buyer"
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(errors.MissingRole) as exc:
            inv.mint(invoice_terms(net, buyer=net.addr(buyer)))
    assert checksum(exc.value["account"]) == net.addr(who)
    assert (exc.value["required"], exc.value["held"]) == (int(Role.SELLER), int(net.participants[who].roles))


def test_buyer_must_hold_buyer_role(net):
    inv = net.invoices("seller")
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(errors.MissingRole) as exc:
            inv.mint(invoice_terms(net, buyer=net.addr("lender")))
    assert checksum(exc.value["account"]) == net.addr("lender")
    assert (exc.value["required"], exc.value["held"]) == (int(Role.BUYER), int(Role.LENDER))
    stranger = outsider("buyer").address
    with pytest.raises(errors.NotMember) as exc:
        inv.mint(invoice_terms(net, buyer=stranger))
    assert checksum(exc.value["account"]) == stranger


@pytest.mark.parametrize("who", ["seller", "buyer"])
@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("sanctioned", "MemberIsSanctioned"),
                                          ("kyc", "KycExpired")])
def test_lapsed_seller_or_buyer_blocks_mint(net, who, lapse, error):
    {"suspended": suspend, "sanctioned": sanction, "kyc": expire_kyc}[lapse](net, who)
    inv = net.invoices("seller")
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(getattr(errors, error)) as exc:
            inv.mint(invoice_terms(net))
    assert checksum(exc.value["account"]) == net.addr(who)


def test_seller_cannot_invoice_itself(net):
    reg = net.registry()
    govern(net, reg.call_set_roles(net.addr("seller"), Role.SELLER | Role.BUYER))
    inv = net.invoices("seller")
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(errors.SellerIsBuyer):
            inv.mint(invoice_terms(net, buyer=net.addr("seller")))


def test_duplicate_fingerprint_from_second_seller_account(net):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    fp = net.invoices().invoice(first).fingerprint
    ops = net.invoices("seller_ops")  # another key of the same seller organisation (same LEI)
    with unchanged(net, lambda: ops._call("nextInvoiceId"), lambda: ops._call("balanceOf", net.addr("seller_ops"))):
        with pytest.raises(errors.DuplicateInvoice) as exc:
            ops.mint(terms)
    assert exc.value["existingId"] == first
    assert exc.value["fingerprint"] == fp
    # the due date and the document are not part of the fingerprint: still the same receivable
    with pytest.raises(errors.DuplicateInvoice):
        ops.mint(invoice_terms(net, invoice_number=terms.invoice_number, due_date=terms.due_date + DAY,
                               document_hash=b"\x11" * 32))
    with pytest.raises(errors.DuplicateInvoice):
        net.invoices("seller").mint(terms)


@pytest.mark.parametrize("change", ["invoice_number", "face_value", "currency", "issue_date", "buyer"])
def test_different_fingerprint_field_is_a_new_invoice(net, change):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    if change == "buyer":
        govern(net, net.registry().call_set_roles(net.addr("lender_b"), Role.LENDER | Role.BUYER))
    other = {"invoice_number": terms.invoice_number + "-B", "face_value": terms.face_value + 1, "currency": "EUR",
             "issue_date": terms.issue_date - 1, "buyer": net.addr("lender_b")}[change]
    second = net.invoices("seller_ops").mint(invoice_terms(net, **{**terms.__dict__, change: other}))
    assert second == first + 1
    assert net.invoices().invoice(second).fingerprint != net.invoices().invoice(first).fingerprint


def test_fingerprint_stays_taken_after_cancellation(net):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    net.invoices("seller").cancel(first, "issued in error")
    with pytest.raises(errors.DuplicateInvoice) as exc:
        net.invoices("seller").mint(terms)
    assert exc.value["existingId"] == first


@pytest.mark.parametrize("case", ["due before issue", "due equals issue", "issue beyond skew", "already overdue",
                                  "due now"])
def test_invalid_dates(net, case):
    now = net.now()
    issue, due = {
        "due before issue": (now - DAY, now - 2 * DAY),
        "due equals issue": (now + 3_600, now + 3_600),
        "issue beyond skew": (now + DAY + 600, now + 90 * DAY),
        "already overdue": (now - 90 * DAY, now - DAY),
        "due now": (now - 30 * DAY, now),  # due <= block time at execution
    }[case]
    inv = net.invoices("seller")
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(errors.InvalidDates) as exc:
            inv.mint(invoice_terms(net, issue_date=issue, due_date=due))
    assert (exc.value["issueDate"], exc.value["dueDate"]) == (issue, due)


def test_issue_date_within_skew_is_accepted(net):
    now = net.now()
    invoice_id = mint_invoice(net, issue_date=now + DAY - 60, due_date=now + 30 * DAY)
    assert net.invoices().invoice(invoice_id).issue_date == now + DAY - 60


@pytest.mark.parametrize("override, error", [
    (dict(face_value=0), "ZeroFaceValue"),
    (dict(currency="usd"), "InvalidCurrencyCode"),
    (dict(currency="US1"), "InvalidCurrencyCode"),
    (dict(document_hash=b"\x00" * 32), "MissingDocument"),
    (dict(document_cid=""), "MissingDocument"),
    (dict(invoice_number=""), "InvalidInvoiceNumber"),
    (dict(invoice_number="N" * 65), "InvalidInvoiceNumber"),
])
def test_invalid_terms(net, override, error):
    inv = net.invoices("seller")
    terms = invoice_terms(net)
    terms = invoice_terms(net, **{**terms.__dict__, **override})
    with unchanged(net, lambda: inv._call("nextInvoiceId")):
        with pytest.raises(getattr(errors, error)):
            inv.mint(terms)


def test_invoice_number_of_64_characters_is_accepted(net):
    invoice_id = mint_invoice(net, invoice_number="N" * 64)
    assert net.invoices().invoice(invoice_id).invoice_number == "N" * 64


def test_unknown_invoice(net):
    inv = net.invoices("buyer")
    missing = inv._call("nextInvoiceId")
    with pytest.raises(errors.UnknownInvoice) as exc:
        inv.invoice(missing)
    assert exc.value["id"] == missing
    with pytest.raises(errors.UnknownInvoice):
        inv.confirm(missing)
    with pytest.raises(errors.UnknownInvoice):
        net.invoices("seller").cancel(missing, "x")


# ---------------------------------------------------------------------------- confirmation, dispute, cancel


def test_buyer_confirms(net):
    invoice_id = mint_invoice(net)
    receipt = net.invoices("buyer").confirm(invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.CONFIRMED
    [ev] = net.invoices().events(receipt, "InvoiceConfirmed")
    assert (ev["id"], ev["buyer"]) == (invoice_id, net.addr("buyer"))


@pytest.mark.parametrize("who", ["seller", "seller_ops", "lender"])
def test_only_the_buyer_confirms(net, who):
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceBuyer) as exc:
            net.invoices(who).confirm(invoice_id)
    assert (exc.value["id"], checksum(exc.value["caller"])) == (invoice_id, net.addr(who))


def test_confirm_only_from_issued(net):
    invoice_id = mint_invoice(net, confirm=True)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            net.invoices("buyer").confirm(invoice_id)
    assert exc.value["state"] == InvoiceState.CONFIRMED
    cancelled = mint_invoice(net)
    net.invoices("seller").cancel(cancelled, "withdrawn")
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        net.invoices("buyer").confirm(cancelled)
    assert exc.value["state"] == InvoiceState.CANCELLED


def test_suspended_buyer_cannot_confirm(net):
    invoice_id = mint_invoice(net)
    suspend(net, "buyer")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.MemberIsSuspended):
            net.invoices("buyer").confirm(invoice_id)


def test_buyer_disputes_issued_invoice(net):
    invoice_id = mint_invoice(net)
    receipt = net.invoices("buyer").dispute(invoice_id, "goods not received")
    assert net.invoices().invoice(invoice_id).state == InvoiceState.CANCELLED
    [ev] = net.invoices().events(receipt, "InvoiceCancelled")
    assert (ev["id"], ev["by"], ev["reason"]) == (invoice_id, net.addr("buyer"), "goods not received")


def test_dispute_rules(net):
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceBuyer):
            net.invoices("seller").dispute(invoice_id, "not my invoice to dispute")
        with pytest.raises(errors.EmptyReason):
            net.invoices("buyer").dispute(invoice_id, "")
    net.invoices("buyer").confirm(invoice_id)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            net.invoices("buyer").dispute(invoice_id, "too late: already confirmed")
    assert exc.value["state"] == InvoiceState.CONFIRMED


@pytest.mark.parametrize("confirmed", [False, True])
def test_holder_cancels_unfinanced_invoice(net, confirmed):
    invoice_id = mint_invoice(net, confirm=confirmed)
    receipt = net.invoices("seller").cancel(invoice_id, "order cancelled")
    rec = net.invoices().invoice(invoice_id)
    assert rec.state == InvoiceState.CANCELLED and rec.holder == net.addr("seller")
    [ev] = net.invoices().events(receipt, "InvoiceCancelled")
    assert (ev["by"], ev["reason"]) == (net.addr("seller"), "order cancelled")


def test_cancel_rules(net, escrow):
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        for who in ("buyer", "seller_ops"):  # not the holder (same LEI does not make seller_ops the holder)
            with pytest.raises(errors.NotInvoiceHolder) as exc:
                net.invoices(who).cancel(invoice_id, "x")
            assert checksum(exc.value["caller"]) == net.addr(who)
        with pytest.raises(errors.EmptyReason):
            net.invoices("seller").cancel(invoice_id, "")
    net.invoices("seller").cancel(invoice_id, "withdrawn")
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        net.invoices("seller").cancel(invoice_id, "again")
    assert exc.value["state"] == InvoiceState.CANCELLED

    financed = _financed_at(net, escrow, holder="lender")
    with unchanged(net, _record(net, financed)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            net.invoices("lender").cancel(financed, "financed invoices cannot be withdrawn")
    assert exc.value["state"] == InvoiceState.FINANCED


# ---------------------------------------------------------------------------- financing states (escrow only)


def test_escrow_marks_financed_paid(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    esc = net.invoices().using(escrow)
    receipt = esc.mark_financed(invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.FINANCED
    [ev] = esc.events(receipt, "InvoiceFinanced")
    assert (ev["id"], ev["financier"]) == (invoice_id, escrow.address)
    receipt = esc.mark_paid(invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.PAID
    assert esc.events(receipt, "InvoicePaid")[0]["settler"] == escrow.address


def test_escrow_marks_defaulted_from_financed(net, escrow):
    invoice_id = _financed(net, escrow)
    esc = net.invoices().using(escrow)
    receipt = esc.mark_defaulted(invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.DEFAULTED
    assert esc.events(receipt, "InvoiceDefaulted")[0]["id"] == invoice_id
    for action in (esc.mark_defaulted, esc.mark_paid, esc.mark_financed):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            action(invoice_id)
        assert exc.value["state"] == InvoiceState.DEFAULTED


def test_confirmed_invoice_can_be_paid_without_financing(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    net.invoices().using(escrow).mark_paid(invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.PAID


@pytest.mark.parametrize("action", ["mark_financed", "mark_paid", "mark_defaulted"])
@pytest.mark.parametrize("caller", ["seller", "buyer", "admin_a", "asset", "outsider"])
def test_financing_states_need_a_registered_escrow(net, action, caller):
    invoice_id = mint_invoice(net, confirm=True)
    if caller == "asset":  # an account registered as ASSET (not ESCROW) gets no financing rights
        account = outsider("asset-kind")
        register_contract(net, account.address, ContractKind.ASSET)
    elif caller == "outsider":
        account = outsider("not-registered")
    else:
        account = net.keys[caller]
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotSystemContract) as exc:
            getattr(net.invoices().using(account), action)(invoice_id)
    assert checksum(exc.value["caller"]) == account.address


def test_escrow_must_hold_the_invoice(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)  # still held by the seller
    esc = net.invoices().using(escrow)
    with unchanged(net, _record(net, invoice_id)):
        for action in (esc.mark_financed, esc.mark_paid, esc.mark_defaulted):
            with pytest.raises(errors.NotInvoiceHolder) as exc:
                action(invoice_id)
            assert checksum(exc.value["caller"]) == escrow.address


def test_financing_state_transitions_from_wrong_states(net, escrow):
    esc = net.invoices().using(escrow)
    confirmed = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, confirmed)
    with unchanged(net, _record(net, confirmed)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            esc.mark_defaulted(confirmed)  # only a financed invoice defaults
    assert exc.value["state"] == InvoiceState.CONFIRMED
    esc.mark_financed(confirmed)
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        esc.mark_financed(confirmed)
    assert exc.value["state"] == InvoiceState.FINANCED
    esc.mark_paid(confirmed)
    for action in (esc.mark_financed, esc.mark_paid, esc.mark_defaulted):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            action(confirmed)
        assert exc.value["state"] == InvoiceState.PAID


def test_issued_invoice_cannot_be_financed(net):
    """An Issued invoice cannot reach an escrow (not transferable), so the seller's own account is
    registered as ESCROW to show the state check itself."""
    invoice_id = mint_invoice(net)
    register_contract(net, net.addr("seller"), ContractKind.ESCROW)
    inv = net.invoices("seller")
    with unchanged(net, _record(net, invoice_id)):
        for action in (inv.mark_financed, inv.mark_paid, inv.mark_defaulted):
            with pytest.raises(errors.InvalidInvoiceState) as exc:
                action(invoice_id)
            assert (exc.value["id"], exc.value["state"]) == (invoice_id, InvoiceState.ISSUED)


def test_deregistered_escrow_loses_financing_rights(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    register_contract(net, escrow.address, ContractKind.NONE)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotSystemContract):
            net.invoices().using(escrow).mark_financed(invoice_id)


# ---------------------------------------------------------------------------- split


def test_split_financed_invoice(net, escrow):
    parent_id = _financed_at(net, escrow, holder="lender", face_value=10_000_000)
    parent = net.invoices().invoice(parent_id)
    inv = net.invoices("lender")
    parts = [5_000_000, 3_000_001, 1_999_999]
    next_id = inv._call("nextInvoiceId")
    child_ids = inv.split(parent_id, parts)
    assert child_ids == [next_id, next_id + 1, next_id + 2]
    [ev] = inv.events(inv.last_receipt, "InvoiceSplit")
    assert (ev["parentId"], list(ev["childIds"]), list(ev["faceValues"])) == (parent_id, child_ids, parts)

    after = net.invoices().invoice(parent_id)
    assert after.state == InvoiceState.SPLIT and after.holder is None  # burned
    with pytest.raises(errors.ERC721NonexistentToken):
        inv.owner_of(parent_id)
    fingerprints = set()
    for child_id, value in zip(child_ids, parts):
        c = net.invoices().invoice(child_id)
        assert (c.state, c.holder, c.face_value, c.parent_id) == (InvoiceState.FINANCED, net.addr("lender"), value,
                                                                  parent_id)
        assert (c.seller, c.buyer, c.issue_date, c.due_date, c.currency) == (
            parent.seller, parent.buyer, parent.issue_date, parent.due_date, parent.currency)
        assert (c.invoice_number, c.document_hash, c.document_cid) == (
            parent.invoice_number, parent.document_hash, parent.document_cid)
        assert inv._call("invoiceByFingerprint", c.fingerprint) == child_id
        fingerprints.add(c.fingerprint)
    assert len(fingerprints) == 3 and parent.fingerprint not in fingerprints
    assert sum(net.invoices().invoice(c).face_value for c in child_ids) == parent.face_value
    assert inv._call("balanceOf", net.addr("lender")) == 3
    # a part is an invoice of its own: it can be transferred on
    inv.transfer(net.addr("lender_b"), child_ids[1])
    assert inv.owner_of(child_ids[1]) == net.addr("lender_b")


@pytest.mark.parametrize("parts", [
    [5_000_000, 4_999_999],                 # short by one unit
    [5_000_000, 5_000_001],                 # over by one unit
    [10_000_000],                           # one part
    [],                                     # no part
    [10_000_000, 0],                        # zero part
    [625_000] * 16 + [0],                   # 17 parts (sum right)
    [10_000_000 - 16] + [1] * 16,           # 17 parts (sum right, none zero)
])
def test_invalid_split(net, escrow, parts):
    parent_id = _financed_at(net, escrow, holder="lender", face_value=10_000_000)
    inv = net.invoices("lender")
    with unchanged(net, _record(net, parent_id), lambda: inv._call("nextInvoiceId"),
                   lambda: inv._call("balanceOf", net.addr("lender"))):
        with pytest.raises(errors.InvalidSplit) as exc:
            inv.split(parent_id, parts)
    assert exc.value["faceValue"] == 10_000_000


def test_split_into_sixteen_parts(net, escrow):
    parent_id = _financed_at(net, escrow, holder="lender", face_value=16_000_000)
    child_ids = net.invoices("lender").split(parent_id, [1_000_000] * 16)
    assert len(child_ids) == 16
    assert {net.invoices().invoice(c).face_value for c in child_ids} == {1_000_000}


def test_split_only_when_financed(net, escrow):
    inv = net.invoices("seller")
    issued = mint_invoice(net)
    confirmed = mint_invoice(net, confirm=True)
    for invoice_id, state in ((issued, InvoiceState.ISSUED), (confirmed, InvoiceState.CONFIRMED)):
        with unchanged(net, _record(net, invoice_id)):
            with pytest.raises(errors.InvalidInvoiceState) as exc:
                inv.split(invoice_id, [FACE // 2, FACE // 2])
        assert exc.value["state"] == state
    defaulted = _financed(net, escrow)
    net.invoices().using(escrow).mark_defaulted(defaulted)
    net.invoices().using(escrow).transfer(net.addr("lender"), defaulted)
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        net.invoices("lender").split(defaulted, [FACE // 2, FACE // 2])
    assert exc.value["state"] == InvoiceState.DEFAULTED


def test_split_only_by_active_holder(net, escrow):
    parent_id = _financed_at(net, escrow, holder="lender")
    with unchanged(net, _record(net, parent_id)):
        for who in ("seller", "lender_b"):
            with pytest.raises(errors.NotInvoiceHolder):
                net.invoices(who).split(parent_id, [FACE // 2, FACE // 2])
    suspend(net, "lender")
    with unchanged(net, _record(net, parent_id)):
        with pytest.raises(errors.MemberIsSuspended):
            net.invoices("lender").split(parent_id, [FACE // 2, FACE // 2])


# ---------------------------------------------------------------------------- transfers


def test_transfer_confirmed_invoice_to_active_member(net):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(net.addr("lender"), invoice_id)
    assert net.invoices().owner_of(invoice_id) == net.addr("lender")
    assert net.invoices().invoice(invoice_id).seller == net.addr("seller")  # the seller of record stays


def test_financed_and_defaulted_invoices_are_transferable(net, escrow):
    financed = _financed_at(net, escrow, holder="lender")
    net.invoices("lender").transfer(net.addr("lender_b"), financed)  # multi-tier transfer
    assert net.invoices().owner_of(financed) == net.addr("lender_b")
    defaulted = _financed(net, escrow, invoice_number="INV-DEFAULTED")
    net.invoices().using(escrow).mark_defaulted(defaulted)
    net.invoices().using(escrow).transfer(net.addr("lender"), defaulted)
    net.invoices("lender").transfer(net.addr("lender_b"), defaulted)  # sold on for recovery
    assert net.invoices().owner_of(defaulted) == net.addr("lender_b")


@pytest.mark.parametrize("state", ["issued", "paid", "cancelled"])
def test_invoice_not_transferable(net, escrow, state):
    if state == "issued":
        invoice_id = mint_invoice(net)
        inv = net.invoices("seller")
    elif state == "cancelled":
        invoice_id = mint_invoice(net, confirm=True)
        net.invoices("seller").cancel(invoice_id, "withdrawn")
        inv = net.invoices("seller")
    else:
        invoice_id = _financed(net, escrow)
        net.invoices().using(escrow).mark_paid(invoice_id)
        inv = net.invoices().using(escrow)  # even the escrow cannot move a paid invoice
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvoiceNotTransferable) as exc:
            inv.transfer(net.addr("lender"), invoice_id)
    expected = {"issued": InvoiceState.ISSUED, "paid": InvoiceState.PAID, "cancelled": InvoiceState.CANCELLED}[state]
    assert (exc.value["id"], exc.value["state"]) == (invoice_id, expected)


@pytest.mark.parametrize("lapse, error", [("outsider", "NotMember"), ("suspended", "MemberIsSuspended"),
                                          ("sanctioned", "MemberIsSanctioned"), ("kyc", "KycExpired")])
def test_transfer_only_to_active_members(net, lapse, error):
    invoice_id = mint_invoice(net, confirm=True)
    if lapse == "outsider":
        to = outsider("invoice-recipient").address
    else:
        {"suspended": suspend, "sanctioned": sanction, "kyc": expire_kyc}[lapse](net, "lender")
        to = net.addr("lender")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.invoices("seller").transfer(to, invoice_id)
    assert checksum(exc.value["account"]) == to


@pytest.mark.parametrize("lapse, error", [("suspended", "MemberIsSuspended"), ("sanctioned", "MemberIsSanctioned")])
def test_lapsed_holder_cannot_transfer(net, escrow, lapse, error):
    invoice_id = mint_invoice(net, confirm=True)
    {"suspended": suspend, "sanctioned": sanction}[lapse](net, "seller")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, error)):
            net.invoices("seller").transfer(net.addr("lender"), invoice_id)
        with pytest.raises(getattr(errors, error)):  # not even into an escrow (new business)
            net.invoices("seller").transfer(escrow.address, invoice_id)


def test_escrow_returns_invoice_to_suspended_member_but_not_to_sanctioned(net, escrow):
    a = _financed(net, escrow)
    b = _financed(net, escrow, invoice_number="INV-SECOND")
    suspend(net, "lender")
    esc = net.invoices().using(escrow)
    esc.transfer(net.addr("lender"), a)  # a running deal closes: a suspended lender still takes it
    assert net.invoices().owner_of(a) == net.addr("lender")
    sanction(net, "lender_b")
    with unchanged(net, _record(net, b)):
        with pytest.raises(errors.MemberIsSanctioned):
            esc.transfer(net.addr("lender_b"), b)
        with pytest.raises(errors.NotMember):
            esc.transfer(outsider("invoice-recipient").address, b)


def test_transfer_to_invoice_contract_fails(net):
    invoice_id = mint_invoice(net, confirm=True)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotMember):
            net.invoices("seller").transfer(net.deployment.invoice_token, invoice_id)


def test_both_seller_accounts_share_one_lei(net):
    """The fingerprint uses the registry's LEIs: both seller accounts resolve to the same one."""
    reg = net.registry()
    assert reg._call("leiOf", net.addr("seller")) == reg._call("leiOf", net.addr("seller_ops")) == lei_bytes(
        net.participants["seller"].lei)
