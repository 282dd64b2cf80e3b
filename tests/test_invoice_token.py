"""InvoiceToken: minting rules, the fingerprint as token id (canonical number, issue day, LEIs)
and one token per document hash, buyer confirmation, dispute and cancellation, the link to a
purchase order, escrow-driven financing states and shipment binding, multi-tier split, and
permissioned transfers.

Financing states are driven by the registered escrow holding the invoice: the tests deploy a
`StandInEscrow` (tests/support) and have governance register it, so each transition is called as
a deal contract would call it."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import lei_bytes, shipment_id
from chain.vocabulary import ContractKind, InvoiceState, OrderState, Role

from tests.support.tokens import (
    DAY,
    LAPSES,
    MAX_FACE_VALUE,
    add_member,
    canonical_number,
    checksum,
    deploy_escrow,
    fingerprint,
    govern,
    govern_fails,
    invoice_terms,
    issue_order,
    lapse,
    mint_invoice,
    outsider,
    part_id,
    register_contract,
    sanction,
    second_account,
    suspend,
    unchanged,
)

FACE = 10_000_000
SELLER_LEI = "3003005ZBRIGHTELEC05"
BUYER_LEI = "724500ROTTERDAMRET06"
BL = shipment_id("MAEU123456789")


@pytest.fixture
def escrow(net):
    return deploy_escrow(net)


def _record(net, invoice_id):
    return lambda: net.invoices().invoice(invoice_id)


def _holdings(net, *who: str):
    """Invoice-token balances of the given participants (no token minted or burned)."""
    inv = net.invoices()
    return lambda: [inv._call("balanceOf", net.addr(w)) for w in who or ("seller", "seller_ops")]


def _financed(net, escrow, **overrides) -> int:
    """A confirmed invoice moved into the escrow and marked Financed there."""
    invoice_id = mint_invoice(net, confirm=True, **overrides)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    escrow.call(net.invoices(), "markFinanced", invoice_id)
    return invoice_id


def _financed_at(net, escrow, holder: str = "lender", **overrides) -> int:
    """A financed invoice that the escrow passed on to `holder`."""
    invoice_id = _financed(net, escrow, **overrides)
    escrow.transfer_nft(net.invoices(), holder, invoice_id)
    return invoice_id


def _day_start(net, days_ago: int = 1) -> int:
    return (net.now() // DAY - days_ago) * DAY


# ---------------------------------------------------------------------------- mint


def test_mint_records_terms_and_fingerprint(net):
    inv = net.invoices("seller")
    terms = invoice_terms(net, invoice_number="INV-2024-0001", face_value=12_345_678, shipment_id=BL)
    invoice_id = inv.mint(terms)
    expected = fingerprint(SELLER_LEI, BUYER_LEI, "INV-2024-0001", 12_345_678, "USD", terms.issue_date)
    assert invoice_id == expected
    assert inv.canonical_number("INV-2024-0001") == canonical_number("INV-2024-0001")
    assert int.from_bytes(inv.fingerprint(lei_bytes(SELLER_LEI), lei_bytes(BUYER_LEI), canonical_number("INV-2024-0001"),
                                          12_345_678, "USD", terms.issue_date), "big") == expected
    rec = inv.invoice(invoice_id)
    assert (rec.holder, rec.buyer, rec.state) == (net.addr("seller"), net.addr("buyer"), InvoiceState.ISSUED)
    assert (rec.face_value, rec.currency, rec.due_date) == (12_345_678, "USD", terms.due_date)
    assert (rec.parent_id, rec.root_id, rec.shipment_id, rec.order_id) == (0, invoice_id, BL, 0)
    assert rec.fingerprint == invoice_id.to_bytes(32, "big")
    assert inv.state_of(invoice_id) == InvoiceState.ISSUED
    assert inv.invoice_by_document(terms.document_hash) == invoice_id
    assert inv.parts_of(invoice_id) == []
    assert inv._call("tokenURI", invoice_id) == ""
    assert (inv._call("name"), inv._call("symbol")) == ("tradenet Invoice", "TNINV")
    [ev] = inv.events(inv.last_receipt, "InvoiceIssued")
    assert (ev["id"], ev["seller"], ev["buyer"]) == (invoice_id, net.addr("seller"), net.addr("buyer"))
    t = ev["terms"]
    assert (t.invoiceNumber, t.faceValue, t.issueDate, t.documentCid, bytes(t.shipmentId)) == (
        "INV-2024-0001", 12_345_678, terms.issue_date, terms.document_cid, BL)
    assert inv._call("balanceOf", net.addr("seller")) == 1


def test_the_new_id_read_from_the_logs_topic_is_the_decoded_events(net):
    """The client reads a new token's id from the InvoiceIssued topic (no full decode on the
    write path); it is the id web3 decodes from the same log, and a receipt without the event
    says so instead of answering an id."""
    inv = net.invoices("seller")
    invoice_id = inv.mint(invoice_terms(net, invoice_number="INV-TOPIC-0001"))
    receipt = inv.last_receipt
    [issued] = inv.events(receipt, "InvoiceIssued")
    assert inv._logged_uint(receipt, "InvoiceIssued", "id") == issued["id"] == invoice_id
    confirmed = net.invoices("buyer").confirm(invoice_id)
    assert inv.events(confirmed, "InvoiceIssued") == []
    with pytest.raises(LookupError, match="no InvoiceIssued log"):
        inv._logged_uint(confirmed, "InvoiceIssued", "id")


def test_mint_of_the_maximum_face_value(net):
    invoice_id = mint_invoice(net, face_value=MAX_FACE_VALUE)
    assert net.invoices().invoice(invoice_id).face_value == MAX_FACE_VALUE


def test_non_member_cannot_mint(net):
    stranger = outsider("invoice-minter")
    inv = net.invoices().using(stranger)
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.NotMember) as exc:
            inv.mint(invoice_terms(net))
    assert checksum(exc.value["account"]) == stranger.address


@pytest.mark.parametrize("who", ["buyer", "lender", "warehouse"])
def test_member_without_seller_role_cannot_mint(net, who):
    inv = net.invoices(who)
    buyer = "seller" if who == "buyer" else "buyer"
    with unchanged(net, _holdings(net, who)):
        with pytest.raises(errors.MissingRole) as exc:
            inv.mint(invoice_terms(net, buyer=net.addr(buyer)))
    assert checksum(exc.value["account"]) == net.addr(who)
    assert (exc.value["required"], exc.value["held"]) == (int(Role.SELLER), int(net.participants[who].roles))


def test_buyer_must_be_an_active_buyer(net):
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.MissingRole) as exc:
            inv.mint(invoice_terms(net, buyer=net.addr("lender")))
        assert checksum(exc.value["account"]) == net.addr("lender")
        assert (exc.value["required"], exc.value["held"]) == (int(Role.BUYER), int(Role.LENDER))
        stranger = outsider("buyer").address
        with pytest.raises(errors.NotMember) as exc:
            inv.mint(invoice_terms(net, buyer=stranger))
        assert checksum(exc.value["account"]) == stranger
        with pytest.raises(errors.NotMember):  # a contract is no buyer
            inv.mint(invoice_terms(net, buyer=net.deployment.deal_engine))


@pytest.mark.parametrize("who", ["seller", "buyer"])
@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_seller_or_buyer_blocks_mint(net, who, how):
    lapse(net, who, how)
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
            inv.mint(invoice_terms(net))
    assert checksum(exc.value["account"]) == net.addr(who)


def test_seller_cannot_invoice_itself(net):
    govern(net, net.registry().call_set_roles(net.addr("seller"), Role.SELLER | Role.BUYER))
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.SellerIsBuyer) as exc:
            inv.mint(invoice_terms(net, buyer=net.addr("seller")))
    assert exc.value["lei"] == lei_bytes(SELLER_LEI)


@pytest.mark.parametrize("seller", ["seller", "seller_ops"])
def test_finding2_seller_cannot_invoice_a_second_account_of_its_own_lei(net, seller):
    """Self-invoicing through a second account: LEIs are compared, not addresses."""
    own_buyer = second_account(net, "seller", Role.BUYER, "seller-as-buyer")
    inv = net.invoices(seller)
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.SellerIsBuyer) as exc:
            inv.mint(invoice_terms(net, buyer=own_buyer.address))
    assert exc.value["lei"] == lei_bytes(SELLER_LEI)


# ---------------------------------------------------------------------------- one receivable, one token (finding 1)


@pytest.mark.parametrize("seller", ["seller", "seller_ops"])
@pytest.mark.parametrize("variant", ["INV-2025-0042", "inv-2025-0042", " INV-2025-0042", "INV-2025-0042 ",
                                     "INV 2025/0042", "Inv.2025.0042", "INV20250042",
                                     "I-N-V-2-0-2-5-0-0-4-2"])
def test_finding1_variants_of_an_invoice_number_are_one_receivable(net, seller, variant):
    """Case, spaces and separators do not make a new invoice: the second minting is refused,
    also from the seller's second account (same LEI)."""
    first = mint_invoice(net, invoice_number="INV-2025-0042")
    inv = net.invoices(seller)
    terms = invoice_terms(net, invoice_number=variant)  # its own document hash
    with unchanged(net, _holdings(net), lambda: inv.invoice_by_document(terms.document_hash)):
        with pytest.raises(errors.DuplicateInvoice) as exc:
            inv.mint(terms)
    assert exc.value["id"] == first


@pytest.mark.parametrize("number, position", [
    ("INV-2025-0042\u00a0", 13),  # a trailing no-break space: non-ASCII
    ("\u00a0INV-2025-0042", 0),
    ("INV-2025-\uff10042", 9),  # a full-width digit
    ("INV-2025-0042\u200b", 13),  # a zero-width space
])
def test_finding1_non_ascii_invoice_number_is_refused(net, number, position):
    mint_invoice(net, invoice_number="INV-2025-0042")
    inv = net.invoices("seller_ops")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.InvalidReference) as exc:
            inv.mint(invoice_terms(net, invoice_number=number))
    assert (exc.value["length"], exc.value["maxLength"], exc.value["position"]) == (
        len(number.encode()), 64, position)


@pytest.mark.parametrize("number, position", [
    ("INV\u00002025-0042", 3),  # NUL (finding 17: it stalled the PostgreSQL indexer)
    ("INV-2025-0042\u0000", 13),
    ("INV\t2025-0042", 3),
    ("INV-2025\n0042", 8),
    ("INV-2025\r0042", 8),
    ("INV\u001b[31m2025", 3),
    ("INV-2025-0042\u007f", 13),
])
def test_finding1_control_bytes_in_invoice_number_are_refused(net, number, position):
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.InvalidReference) as exc:
            inv.mint(invoice_terms(net, invoice_number=number))
    assert (exc.value["length"], exc.value["position"]) == (len(number.encode()), position)


def test_finding17_nul_byte_in_invoice_number_is_refused_on_chain(net):
    inv = net.invoices("seller")
    number = "INV\u0000" + "A" * 20
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.InvalidReference) as exc:
            inv.mint(invoice_terms(net, invoice_number=number))
    assert (exc.value["length"], exc.value["position"]) == (24, 3)


@pytest.mark.parametrize("seller", ["seller", "seller_ops"])
@pytest.mark.parametrize("later", [1, 3_600, DAY - 3_601])
def test_finding1_issue_date_counts_by_day(net, seller, later):
    """The fingerprint holds the UTC issue day: another time of the same day is the same receivable."""
    issued = _day_start(net) + 3_600  # 01:00 UTC yesterday
    first = mint_invoice(net, invoice_number="INV-2025-0042", issue_date=issued)
    inv = net.invoices(seller)
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.DuplicateInvoice) as exc:
            inv.mint(invoice_terms(net, invoice_number="INV-2025-0042", issue_date=issued + later))
    assert exc.value["id"] == first
    # the next day is another invoice
    other = inv.mint(invoice_terms(net, invoice_number="INV-2025-0042", issue_date=_day_start(net, 0)))
    assert other != first


def test_finding1_one_invoice_token_per_document_hash(net):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    for seller in ("seller", "seller_ops"):
        inv = net.invoices(seller)
        with unchanged(net, _holdings(net)):
            with pytest.raises(errors.DuplicateDocument) as exc:
                inv.mint(invoice_terms(net, document_hash=terms.document_hash))  # another number, same document
        assert (exc.value["documentHash"], exc.value["existingId"]) == (terms.document_hash, first)
    net.invoices("seller").cancel(first, "issued in error")  # never released, not even by cancellation
    with pytest.raises(errors.DuplicateDocument):
        net.invoices("seller").mint(invoice_terms(net, document_hash=terms.document_hash))


def test_duplicate_fingerprint_ignores_due_date_and_document(net):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    with pytest.raises(errors.DuplicateInvoice) as exc:
        net.invoices("seller_ops").mint(invoice_terms(net, invoice_number=terms.invoice_number,
                                                      due_date=terms.due_date + DAY))
    assert exc.value["id"] == first
    with pytest.raises(errors.DuplicateInvoice):
        net.invoices("seller").mint(invoice_terms(net, invoice_number=terms.invoice_number,
                                                  document_cid="bafkreianotherdocument"))


@pytest.mark.parametrize("change", ["invoice_number", "face_value", "currency", "issue_day", "buyer"])
def test_different_fingerprint_field_is_a_new_invoice(net, change):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    if change == "buyer":
        govern(net, net.registry().call_set_roles(net.addr("lender_b"), Role.LENDER | Role.BUYER))
    other = {"invoice_number": terms.invoice_number + "B", "face_value": terms.face_value + 1, "currency": "EUR",
             "issue_day": terms.issue_date - DAY, "buyer": net.addr("lender_b")}[change]
    field = "issue_date" if change == "issue_day" else change
    second_terms = invoice_terms(net, **{**terms.__dict__, field: other, "document_hash": keccak(text="other doc")})
    second = net.invoices("seller_ops").mint(second_terms)
    assert second != first
    buyer_lei = net.participants["lender_b"].lei if change == "buyer" else BUYER_LEI
    assert second == fingerprint(SELLER_LEI, buyer_lei, second_terms.invoice_number, second_terms.face_value,
                                 second_terms.currency, second_terms.issue_date)


def test_fingerprint_stays_taken_after_cancellation(net):
    terms = invoice_terms(net)
    first = net.invoices("seller").mint(terms)
    net.invoices("seller").cancel(first, "issued in error")
    with pytest.raises(errors.DuplicateInvoice) as exc:
        net.invoices("seller").mint(invoice_terms(net, invoice_number=terms.invoice_number))
    assert exc.value["id"] == first


# ---------------------------------------------------------------------------- mint validation


@pytest.mark.parametrize("case", ["due before issue", "due equals issue", "issue beyond skew", "already overdue",
                                  "due now", "due beyond uint40"])
def test_invalid_dates(net, case):
    now = net.now()
    issue, due = {
        "due before issue": (now - DAY, now - 2 * DAY),
        "due equals issue": (now + 3_600, now + 3_600),
        "issue beyond skew": (now + DAY + 600, now + 90 * DAY),
        "already overdue": (now - 90 * DAY, now - DAY),
        "due now": (now - 30 * DAY, now),  # due <= block time at execution
        "due beyond uint40": (now - DAY, 2**40),
    }[case]
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.InvalidDates) as exc:
            inv.mint(invoice_terms(net, issue_date=issue, due_date=due))
    assert (exc.value["issueDate"], exc.value["dueDate"]) == (issue, due)


def test_issue_date_within_skew_is_accepted(net):
    now = net.now()
    terms = invoice_terms(net, issue_date=now + DAY - 60, due_date=now + 30 * DAY)
    invoice_id = net.invoices("seller").mint(terms)
    assert invoice_id == fingerprint(SELLER_LEI, BUYER_LEI, terms.invoice_number, terms.face_value, "USD",
                                     now + DAY - 60)


@pytest.mark.parametrize("face_value", [0, MAX_FACE_VALUE + 1, 2**256 - 1])
def test_finding22_face_value_must_be_positive_and_at_most_the_maximum(net, face_value):
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.InvalidAmount) as exc:
            inv.mint(invoice_terms(net, face_value=face_value))
    assert (exc.value["amount"], exc.value["maximum"]) == (face_value, MAX_FACE_VALUE)


@pytest.mark.parametrize("currency", ["GBP", "JPY", "XAU"])
def test_finding22_invoice_in_a_currency_without_settlement_token_is_refused(net, currency):
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.UnsupportedCurrency) as exc:
            inv.mint(invoice_terms(net, currency=currency))
    assert exc.value["currency"] == currency.encode()


@pytest.mark.parametrize("override, error", [
    (dict(currency="usd"), "InvalidCurrencyCode"),
    (dict(currency="US1"), "InvalidCurrencyCode"),
    (dict(document_hash=b"\x00" * 32), "MissingDocument"),
    (dict(document_cid=""), "MissingDocument"),
    (dict(document_cid="b" * 129), "MissingDocument"),
    (dict(invoice_number=""), "InvalidReference"),
    (dict(invoice_number="N" * 65), "InvalidReference"),
    (dict(invoice_number="-- / --"), "InvalidReference"),  # no letter or digit
])
def test_invalid_terms(net, override, error):
    inv = net.invoices("seller")
    with unchanged(net, _holdings(net)):
        with pytest.raises(getattr(errors, error)):
            inv.mint(invoice_terms(net, **override))


def test_invoice_number_of_64_characters_and_cid_of_128_are_accepted(net):
    invoice_id = mint_invoice(net, invoice_number="N" * 64, document_cid="b" * 128)
    assert net.invoices().state_of(invoice_id) == InvoiceState.ISSUED


def test_unknown_invoice(net):
    inv = net.invoices("buyer")
    missing = 12345
    with pytest.raises(errors.UnknownInvoice) as exc:
        inv.invoice(missing)
    assert exc.value["id"] == missing
    assert inv.state_of(missing) == InvoiceState.NONE
    with pytest.raises(errors.UnknownInvoice):
        inv._call("tokenURI", missing)
    with unchanged(net):
        for action in (lambda: inv.confirm(missing), lambda: inv.dispute(missing, "x"),
                       lambda: net.invoices("seller").cancel(missing, "x"),
                       lambda: net.invoices("seller").split(missing, [1, 1])):
            with pytest.raises(errors.UnknownInvoice):
                action()


# ---------------------------------------------------------------------------- purchase-order link


def test_invoice_issued_against_a_purchase_order(net):
    order_id = issue_order(net)
    inv = net.invoices("seller")
    invoice_id = inv.mint(invoice_terms(net, order_id=order_id))
    assert inv.invoice(invoice_id).order_id == order_id
    assert inv.invoice_by_order(order_id) == invoice_id
    [ev] = inv.events(inv.last_receipt, "InvoiceIssued")
    assert ev["terms"].orderId == order_id


@pytest.mark.parametrize("case", ["other supplier account", "other buyer", "other currency", "cancelled order",
                                  "already invoiced"])
def test_invalid_purchase_order_link(net, case):
    order_id = issue_order(net)
    overrides: dict = dict(order_id=order_id)
    seller = "seller"
    if case == "other supplier account":
        seller = "seller_ops"  # the order names the supplier's account, not only its LEI
    elif case == "other buyer":
        govern(net, net.registry().call_set_roles(net.addr("lender_b"), Role.LENDER | Role.BUYER))
        overrides["buyer"] = net.addr("lender_b")
    elif case == "other currency":
        overrides["currency"] = "EUR"
    elif case == "cancelled order":
        net.clients("buyer").orders.cancel(order_id, "no longer needed")
    else:
        mint_invoice(net, order_id=order_id)
    inv = net.invoices(seller)
    with unchanged(net, _holdings(net), lambda: inv.invoice_by_order(order_id)):
        with pytest.raises(errors.InvalidOrder) as exc:
            inv.mint(invoice_terms(net, **overrides))
    assert exc.value["orderId"] == order_id


@pytest.mark.parametrize("invoice_state", ["issued", "confirmed", "split"])
def test_an_invoiced_order_cannot_be_cancelled(net, invoice_state):
    """The goods were delivered and invoiced: the buyer can no longer cancel the order (disputing
    the invoice is the buyer's way), whatever became of the invoice except its cancellation."""
    order_id = issue_order(net)
    invoice_id = mint_invoice(net, order_id=order_id, confirm=invoice_state != "issued")
    if invoice_state == "split":
        net.invoices("seller").split(invoice_id, [4_000_000, 6_000_000])
    orders = net.clients("buyer").orders
    assert orders.invoices() == net.invoices().address  # linked by the deployment's first proposal
    with unchanged(net, lambda: orders.order(order_id)):
        with pytest.raises(errors.OrderInvoiced) as exc:
            orders.cancel(order_id, "no longer needed")
    assert (exc.value["id"], exc.value["invoiceId"]) == (order_id, invoice_id)


def test_a_cancelled_invoice_frees_its_order(net):
    """The seller withdraws a wrong invoice against the order: the order is invoiceable again (a
    corrected invoice, under a new number) and, until then, the buyer may cancel it."""
    order_id = issue_order(net)
    wrong = mint_invoice(net, order_id=order_id, invoice_number="INV-PO-WRONG")
    net.invoices("seller").cancel(wrong, "wrong quantity")
    assert net.invoices().invoice_by_order(order_id) == 0
    corrected = mint_invoice(net, order_id=order_id, invoice_number="INV-PO-CORRECTED")
    assert net.invoices().invoice_by_order(order_id) == corrected
    net.invoices("seller").cancel(corrected, "order withdrawn by agreement")
    net.clients("buyer").orders.cancel(order_id, "order withdrawn by agreement")
    assert net.clients().orders.order(order_id).state == OrderState.CANCELLED


def test_only_governance_links_the_invoice_token_once(net):
    orders = net.clients("buyer").orders
    with pytest.raises(errors.NotGovernance):
        orders._tx("setInvoices", net.addr("buyer"))
    exc = govern_fails(net, errors.InvoicesAlreadySet, orders.call_set_invoices(net.addr("buyer")))
    assert checksum(exc["invoices"]) == net.invoices().address


def test_invoice_against_an_unknown_order_fails(net):
    with unchanged(net, _holdings(net)):
        with pytest.raises(errors.UnknownOrder) as exc:
            net.invoices("seller").mint(invoice_terms(net, order_id=999))
    assert exc.value["id"] == 999


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


def test_second_account_of_the_buyer_cannot_confirm(net):
    """The buyer of record is an account: another key of the buyer's organisation does not confirm."""
    invoice_id = mint_invoice(net)
    other = second_account(net, "buyer", Role.BUYER, "buyer-ops")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceBuyer):
            net.invoices().using(other).confirm(invoice_id)


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


@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_buyer_cannot_confirm(net, how):
    invoice_id = mint_invoice(net)
    lapse(net, "buyer", how)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            net.invoices("buyer").confirm(invoice_id)


def test_buyer_disputes_issued_invoice(net):
    invoice_id = mint_invoice(net)
    receipt = net.invoices("buyer").dispute(invoice_id, "goods not received")
    assert net.invoices().invoice(invoice_id).state == InvoiceState.CANCELLED
    [ev] = net.invoices().events(receipt, "InvoiceCancelled")
    assert (ev["id"], ev["by"], ev["reason"]) == (invoice_id, net.addr("buyer"), "goods not received")


@pytest.mark.parametrize("reason", ["", "R" * 281, "nul\x00", "tab\there"])
def test_dispute_and_cancel_reason_text_rules(net, reason):
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        for action in (net.invoices("buyer").dispute, net.invoices("seller").cancel):
            with pytest.raises(errors.InvalidText) as exc:
                action(invoice_id, reason)
            assert (exc.value["length"], exc.value["maxLength"]) == (len(reason), 280)


def test_dispute_rules(net):
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceBuyer):
            net.invoices("seller").dispute(invoice_id, "not my invoice to dispute")
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
    net.invoices("seller").cancel(invoice_id, "withdrawn")
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        net.invoices("seller").cancel(invoice_id, "again")
    assert exc.value["state"] == InvoiceState.CANCELLED

    financed = _financed_at(net, escrow, holder="lender")
    with unchanged(net, _record(net, financed)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            net.invoices("lender").cancel(financed, "financed invoices cannot be withdrawn")
    assert exc.value["state"] == InvoiceState.FINANCED


# ---------------------------------------------------------------------------- financing states (holding escrow only)


def test_escrow_marks_financed_paid(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    inv = net.invoices()
    receipt = escrow.call(inv, "markFinanced", invoice_id)
    assert inv.invoice(invoice_id).state == InvoiceState.FINANCED
    [ev] = inv.events(receipt, "InvoiceFinanced")
    assert (ev["id"], ev["financier"]) == (invoice_id, escrow.address)
    receipt = escrow.call(inv, "markPaid", invoice_id)
    assert inv.invoice(invoice_id).state == InvoiceState.PAID
    assert inv.events(receipt, "InvoicePaid")[0]["settler"] == escrow.address


def test_escrow_marks_defaulted_from_financed(net, escrow):
    invoice_id = _financed(net, escrow)
    inv = net.invoices()
    receipt = escrow.call(inv, "markDefaulted", invoice_id)
    assert inv.invoice(invoice_id).state == InvoiceState.DEFAULTED
    assert inv.events(receipt, "InvoiceDefaulted")[0]["id"] == invoice_id
    with unchanged(net, _record(net, invoice_id)):
        for action in ("markDefaulted", "markPaid", "markFinanced"):
            with pytest.raises(errors.InvalidInvoiceState) as exc:
                escrow.call(inv, action, invoice_id)
            assert exc.value["state"] == InvoiceState.DEFAULTED


def test_confirmed_invoice_can_be_paid_without_financing(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    escrow.call(net.invoices(), "markPaid", invoice_id)
    assert net.invoices().invoice(invoice_id).state == InvoiceState.PAID


@pytest.mark.parametrize("action", ["markFinanced", "markPaid", "markDefaulted", "bindShipment"])
@pytest.mark.parametrize("caller", ["seller", "buyer", "admin_a", "asset contract", "unregistered contract",
                                    "outsider"])
def test_financing_states_need_a_registered_escrow(net, action, caller):
    invoice_id = mint_invoice(net, confirm=True)
    args = (invoice_id, BL) if action == "bindShipment" else (invoice_id,)
    inv = net.invoices()
    if caller in ("asset contract", "unregistered contract"):
        contract = deploy_escrow(net, caller, kind=ContractKind.ASSET if caller == "asset contract" else None)
        call, address = (lambda: contract.call(inv, action, *args)), contract.address
    else:
        account = outsider("not-registered") if caller == "outsider" else net.keys[caller]
        call, address = (lambda: inv.using(account)._tx(action, *args)), account.address
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotSystemContract) as exc:
            call()
    assert checksum(exc.value["caller"]) == address


@pytest.mark.parametrize("action", ["markFinanced", "markPaid", "markDefaulted"])
def test_escrow_must_hold_the_invoice(net, escrow, action):
    invoice_id = mint_invoice(net, confirm=True)  # still held by the seller
    other = deploy_escrow(net, "other-escrow")
    net.invoices("seller").transfer(other.address, mint_invoice(net, confirm=True))
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceHolder) as exc:
            escrow.call(net.invoices(), action, invoice_id)
    assert checksum(exc.value["caller"]) == escrow.address


def test_escrow_call_on_unknown_invoice(net, escrow):
    with unchanged(net):
        for action in ("markFinanced", "markPaid", "markDefaulted"):
            with pytest.raises(errors.UnknownInvoice):
                escrow.call(net.invoices(), action, 777)


def test_financing_state_transitions_from_wrong_states(net, escrow):
    inv = net.invoices()
    confirmed = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, confirmed)
    with unchanged(net, _record(net, confirmed)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            escrow.call(inv, "markDefaulted", confirmed)  # only a financed invoice defaults
    assert exc.value["state"] == InvoiceState.CONFIRMED
    escrow.call(inv, "markFinanced", confirmed)
    with pytest.raises(errors.InvalidInvoiceState) as exc:
        escrow.call(inv, "markFinanced", confirmed)
    assert exc.value["state"] == InvoiceState.FINANCED
    escrow.call(inv, "markPaid", confirmed)
    for action in ("markFinanced", "markPaid", "markDefaulted"):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            escrow.call(inv, action, confirmed)
        assert exc.value["state"] == InvoiceState.PAID


def test_issued_invoice_never_reaches_an_escrow(net, escrow):
    """An unconfirmed invoice cannot be moved into an escrow, so it is never financed."""
    invoice_id = mint_invoice(net)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvoiceNotTransferable) as exc:
            net.invoices("seller").transfer(escrow.address, invoice_id)
    assert exc.value["state"] == InvoiceState.ISSUED


def test_deregistered_escrow_loses_financing_rights(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    register_contract(net, escrow.address, ContractKind.NONE)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotSystemContract):
            escrow.call(net.invoices(), "markFinanced", invoice_id)


# ---------------------------------------------------------------------------- shipment binding


def test_holding_escrow_binds_the_shipment_once(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    inv = net.invoices()
    net.invoices("seller").transfer(escrow.address, invoice_id)
    receipt = escrow.call(inv, "bindShipment", invoice_id, BL)
    [ev] = inv.events(receipt, "ShipmentBound")
    assert (ev["id"], ev["shipmentId"], ev["by"]) == (invoice_id, BL, escrow.address)
    assert inv.invoice(invoice_id).shipment_id == BL
    receipt = escrow.call(inv, "bindShipment", invoice_id, BL)  # the same shipment again: nothing changes
    assert inv.events(receipt, "ShipmentBound") == []
    other = shipment_id("MSCU000000001")
    with unchanged(net, _record(net, invoice_id)):
        for requested in (other, bytes(32)):
            with pytest.raises(errors.ShipmentMismatch) as exc:
                escrow.call(inv, "bindShipment", invoice_id, requested)
            assert (exc.value["id"], exc.value["anchored"], exc.value["requested"]) == (invoice_id, BL, requested)


def test_shipment_named_at_mint_cannot_be_replaced(net, escrow):
    invoice_id = mint_invoice(net, confirm=True, shipment_id=BL)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    inv = net.invoices()
    escrow.call(inv, "bindShipment", invoice_id, BL)
    other = shipment_id("MSCU000000001")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.ShipmentMismatch) as exc:
            escrow.call(inv, "bindShipment", invoice_id, other)
    assert (exc.value["anchored"], exc.value["requested"]) == (BL, other)


def test_binding_no_shipment_anchors_nothing(net, escrow):
    """Zero is "no shipment": bound to an invoice without one it changes nothing (no event); once a
    shipment is anchored, zero is a mismatch (above)."""
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(escrow.address, invoice_id)
    receipt = escrow.call(net.invoices(), "bindShipment", invoice_id, bytes(32))
    assert net.invoices().events(receipt, "ShipmentBound") == []
    assert net.invoices().invoice(invoice_id).shipment_id is None


def test_only_the_holding_escrow_binds_a_shipment(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)  # held by the seller
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotInvoiceHolder):
            escrow.call(net.invoices(), "bindShipment", invoice_id, BL)
        with pytest.raises(errors.UnknownInvoice):
            escrow.call(net.invoices(), "bindShipment", 777, BL)


# ---------------------------------------------------------------------------- direct settlement (T/T)


def test_settlement_contract_is_set_once_by_governance(net, escrow):
    inv = net.invoices()
    assert inv._call("settlement") == net.deployment.invoice_settlement
    err = govern_fails(net, errors.SettlementAlreadySet, inv.call_set_settlement(escrow.address),
                       reads=[lambda: inv._call("settlement")])
    assert checksum(err["settlement"]) == net.deployment.invoice_settlement
    with unchanged(net, lambda: inv._call("settlement")):
        with pytest.raises(errors.NotGovernance):
            net.invoices("admin_a")._tx("setSettlement", escrow.address)


def test_settlement_contract_must_be_an_escrow(net, escrow):
    address, _ = net.chain.deploy("InvoiceToken", net.keys["admin_a"], net.deployment.registry,
                                  net.deployment.purchase_orders)
    fresh = type(net.invoices())(net.chain, address)
    for candidate in (net.addr("seller"), net.deployment.invoice_token):
        err = govern_fails(net, errors.NotSystemContract, fresh.call_set_settlement(candidate),
                           reads=[lambda: fresh._call("settlement")])
        assert checksum(err["caller"]) == candidate
    govern(net, fresh.call_set_settlement(escrow.address))
    assert fresh._call("settlement") == escrow.address


@pytest.mark.parametrize("caller", ["seller", "buyer", "escrow"])
def test_only_the_settlement_contract_marks_an_invoice_settled(net, escrow, caller):
    invoice_id = mint_invoice(net, confirm=True)
    inv = net.invoices()
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotSettlement) as exc:
            if caller == "escrow":
                escrow.call(inv, "markSettled", invoice_id)
            else:
                inv.using(net.keys[caller])._tx("markSettled", invoice_id)
    expected = escrow.address if caller == "escrow" else net.addr(caller)
    assert checksum(exc.value["caller"]) == expected


# ---------------------------------------------------------------------------- split (multi-tier, 多级流转)


@pytest.fixture
def tiers(net):
    """Two supplier tiers below the seller, each an active SELLER of its own LEI: tier2 supplies the
    seller, tier3 supplies tier2."""
    out = {}
    for label, lei in (("tier2", "549300TIERTWOSUPP002"), ("tier3", "549300TIERTHREESUP03")):
        out[label] = outsider(label)
        add_member(net, out[label].address, Role.SELLER, lei, "VN", legal_name=f"Supplier {label}")
    return out


def test_split_of_a_confirmed_invoice(net):
    order_id = issue_order(net)
    parent_id = mint_invoice(net, confirm=True, face_value=FACE, shipment_id=BL, order_id=order_id)
    parent = net.invoices().invoice(parent_id)
    inv = net.invoices("seller")
    parts = [5_000_000, 3_000_001, 1_999_999]
    child_ids = inv.split(parent_id, parts)
    assert child_ids == [part_id(parent_id, i) for i in range(3)]
    [ev] = inv.events(inv.last_receipt, "InvoiceSplit")
    assert (ev["parentId"], ev["rootId"], list(ev["childIds"]), list(ev["faceValues"])) == (
        parent_id, parent_id, child_ids, parts)

    after = net.invoices().invoice(parent_id)
    assert (after.state, after.holder, after.face_value) == (InvoiceState.SPLIT, None, FACE)  # burned, record kept
    with pytest.raises(errors.TokenDoesNotExist):
        inv.owner_of(parent_id)
    for child_id, value in zip(child_ids, parts):
        c = net.invoices().invoice(child_id)
        assert (c.state, c.holder, c.face_value, c.parent_id, c.root_id) == (
            InvoiceState.CONFIRMED, net.addr("seller"), value, parent_id, parent_id)
        assert (c.buyer, c.due_date, c.currency, c.shipment_id, c.order_id) == (
            parent.buyer, parent.due_date, parent.currency, BL, order_id)
        assert inv._call("rootOf", child_id) == parent_id
    assert sum(net.invoices().invoice(c).face_value for c in child_ids) == parent.face_value
    assert inv.parts_of(parent_id) == child_ids
    assert inv._call("balanceOf", net.addr("seller")) == 3
    assert inv.invoice_by_order(order_id) == parent_id


def test_parts_move_down_the_supply_chain_and_split_again(net, tiers):
    """The seller pays its supplier (tier 2) with a part; tier 2 splits it and pays tier 3."""
    tier2, tier3 = tiers["tier2"], tiers["tier3"]
    root = mint_invoice(net, confirm=True, face_value=FACE, shipment_id=BL)
    c0, c1, c2 = net.invoices("seller").split(root, [2_000_000, 5_000_000, 3_000_000])
    net.invoices("seller").transfer(tier2.address, c1)
    assert net.invoices().owner_of(c1) == tier2.address
    g0, g1 = net.invoices().using(tier2).split(c1, [4_000_000, 1_000_000])
    assert (g0, g1) == (part_id(c1, 0), part_id(c1, 1))
    net.invoices().using(tier2).transfer(tier3.address, g1)
    g = net.invoices().invoice(g1)
    assert (g.holder, g.parent_id, g.root_id, g.state, g.buyer, g.shipment_id) == (
        tier3.address, c1, root, InvoiceState.CONFIRMED, net.addr("buyer"), BL)
    assert net.invoices()._call("rootOf", g1) == root
    live = net.invoices().parts_of(root)
    assert sorted(live) == sorted([c0, c2, g0, g1])
    assert sum(net.invoices().invoice(p).face_value for p in live) == FACE  # exactly the root's face value
    assert net.invoices().state_of(c1) == InvoiceState.SPLIT
    assert net.invoices().parts_of(c1) == []  # parts are listed under their root only


def test_a_part_is_financed_by_its_holder(net, tiers, escrow):
    tier2 = tiers["tier2"]
    root = mint_invoice(net, confirm=True, face_value=FACE)
    c0, c1 = net.invoices("seller").split(root, [6_000_000, 4_000_000])
    net.invoices("seller").transfer(tier2.address, c1)
    net.invoices().using(tier2).transfer(escrow.address, c1)
    escrow.call(net.invoices(), "markFinanced", c1)
    escrow.call(net.invoices(), "bindShipment", c1, BL)
    rec = net.invoices().invoice(c1)
    assert (rec.state, rec.holder, rec.shipment_id) == (InvoiceState.FINANCED, escrow.address, BL)
    assert net.invoices().invoice(c0).state == InvoiceState.CONFIRMED  # the other part is untouched


def test_parts_go_only_to_active_members(net, tiers):
    root = mint_invoice(net, confirm=True, face_value=FACE)
    c0, _ = net.invoices("seller").split(root, [6_000_000, 4_000_000])
    suspend(net, tiers["tier2"].address)
    with unchanged(net, _record(net, c0)):
        with pytest.raises(errors.MemberIsSuspended):
            net.invoices("seller").transfer(tiers["tier2"].address, c0)
        with pytest.raises(errors.NotMember):
            net.invoices("seller").transfer(outsider("not-a-supplier").address, c0)


def test_at_most_max_parts_over_all_tiers(net):
    root = mint_invoice(net, confirm=True, face_value=32_000)
    inv = net.invoices("seller")
    assert inv._call("MAX_PARTS") == 32 and inv._call("MAX_SPLIT_PARTS") == 16
    first = inv.split(root, [2_000] * 16)  # 16 live parts
    inv.split(first[0], [125] * 16)  # 15 + 16 = 31
    inv.split(first[1], [1_000, 1_000])  # 30 + 2 = 32
    assert len(inv.parts_of(root)) == 32
    with unchanged(net, lambda: inv.parts_of(root), _record(net, first[2]), _holdings(net)):
        with pytest.raises(errors.TooManyParts) as exc:
            inv.split(first[2], [1_000, 1_000])
    assert (exc.value["rootId"], exc.value["parts"], exc.value["maxParts"]) == (root, 33, 32)


@pytest.mark.parametrize("parts", [
    [5_000_000, 4_999_999],                 # short by one unit
    [5_000_000, 5_000_001],                 # over by one unit
    [10_000_000],                           # one part
    [],                                     # no part
    [10_000_000, 0],                        # zero part
    [0, 10_000_000],                        # zero part first
    [625_000] * 16 + [0],                   # 17 parts (sum right)
    [10_000_000 - 16] + [1] * 16,           # 17 parts (sum right, none zero)
])
def test_split_whose_parts_do_not_sum_is_refused(net, parts):
    parent_id = mint_invoice(net, confirm=True, face_value=FACE)
    inv = net.invoices("seller")
    with unchanged(net, _record(net, parent_id), _holdings(net), lambda: inv.parts_of(parent_id)):
        with pytest.raises(errors.InvalidSplit) as exc:
            inv.split(parent_id, parts)
    assert exc.value["faceValue"] == FACE


@pytest.mark.parametrize("state", ["issued", "cancelled", "financed", "defaulted", "paid", "split"])
def test_only_a_confirmed_invoice_is_split(net, escrow, state):
    if state in ("issued", "cancelled", "split"):
        invoice_id = mint_invoice(net, confirm=state != "issued")
        holder = "seller"
        if state == "cancelled":
            net.invoices("seller").cancel(invoice_id, "withdrawn")
        elif state == "split":
            net.invoices("seller").split(invoice_id, [FACE // 2, FACE // 2])
    else:
        invoice_id = _financed(net, escrow)
        if state != "financed":
            escrow.call(net.invoices(), "markDefaulted" if state == "defaulted" else "markPaid", invoice_id)
        holder = "lender"
        if state != "paid":  # a paid invoice stays where it is
            escrow.transfer_nft(net.invoices(), "lender", invoice_id)
    expected = {"issued": InvoiceState.ISSUED, "cancelled": InvoiceState.CANCELLED, "financed": InvoiceState.FINANCED,
                "defaulted": InvoiceState.DEFAULTED, "paid": InvoiceState.PAID, "split": InvoiceState.SPLIT}[state]
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvalidInvoiceState) as exc:
            net.invoices(holder).split(invoice_id, [FACE // 2, FACE // 2])
    assert (exc.value["id"], exc.value["state"]) == (invoice_id, expected)


def test_split_only_by_the_holder(net):
    parent_id = mint_invoice(net, confirm=True)
    with unchanged(net, _record(net, parent_id)):
        for who in ("seller_ops", "buyer", "lender"):
            with pytest.raises(errors.NotInvoiceHolder) as exc:
                net.invoices(who).split(parent_id, [FACE // 2, FACE // 2])
            assert checksum(exc.value["caller"]) == net.addr(who)


@pytest.mark.parametrize("how", list(LAPSES))
def test_split_only_by_an_active_holder(net, how):
    parent_id = mint_invoice(net, confirm=True)
    lapse(net, "seller", how)
    with unchanged(net, _record(net, parent_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            net.invoices("seller").split(parent_id, [FACE // 2, FACE // 2])


# ---------------------------------------------------------------------------- transfers


def test_transfer_confirmed_invoice_to_active_member(net):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").transfer(net.addr("lender"), invoice_id)
    rec = net.invoices().invoice(invoice_id)
    assert (rec.holder, rec.buyer) == (net.addr("lender"), net.addr("buyer"))


@pytest.mark.parametrize("how", list(LAPSES))
def test_an_approved_operator_must_be_active(net, how):
    """The seller approved the lender for one invoice; once the lender is sanctioned, suspended or
    its KYC lapses, the approval no longer moves the seller's invoice (to anyone)."""
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").approve(net.addr("lender"), invoice_id)
    lapse(net, "lender", how)
    move = lambda: net.invoices("lender")._tx("transferFrom", net.addr("seller"), net.addr("lender_b"), invoice_id)  # noqa: E731
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
            move()
    assert checksum(exc.value["account"]) == net.addr("lender")


def test_an_active_approved_operator_moves_the_invoice(net):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").approve(net.addr("lender"), invoice_id)
    net.invoices("lender")._tx("transferFrom", net.addr("seller"), net.addr("lender_b"), invoice_id)
    assert net.invoices().owner_of(invoice_id) == net.addr("lender_b")


def test_financed_and_defaulted_invoices_are_transferable(net, escrow):
    financed = _financed_at(net, escrow, holder="lender")
    net.invoices("lender").transfer(net.addr("lender_b"), financed)  # the lender sells the financed receivable
    assert net.invoices().owner_of(financed) == net.addr("lender_b")
    defaulted = _financed(net, escrow)
    escrow.call(net.invoices(), "markDefaulted", defaulted)
    escrow.transfer_nft(net.invoices(), "lender", defaulted)
    net.invoices("lender").transfer(net.addr("lender_b"), defaulted)  # sold on for recovery
    assert net.invoices().owner_of(defaulted) == net.addr("lender_b")


@pytest.mark.parametrize("state", ["issued", "paid", "cancelled"])
def test_invoice_not_transferable(net, escrow, state):
    if state == "paid":
        invoice_id = _financed(net, escrow)
        escrow.call(net.invoices(), "markPaid", invoice_id)
        move = lambda: escrow.transfer_nft(net.invoices(), "lender", invoice_id)  # noqa: E731 (even the escrow)
    else:
        invoice_id = mint_invoice(net, confirm=state == "cancelled")
        if state == "cancelled":
            net.invoices("seller").cancel(invoice_id, "withdrawn")
        move = lambda: net.invoices("seller").transfer(net.addr("lender"), invoice_id)  # noqa: E731
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.InvoiceNotTransferable) as exc:
            move()
    expected = {"issued": InvoiceState.ISSUED, "paid": InvoiceState.PAID, "cancelled": InvoiceState.CANCELLED}[state]
    assert (exc.value["id"], exc.value["state"]) == (invoice_id, expected)


def test_split_parent_is_gone(net):
    parent_id = mint_invoice(net, confirm=True)
    net.invoices("seller").split(parent_id, [FACE // 2, FACE // 2])
    with unchanged(net, _record(net, parent_id)):
        with pytest.raises(errors.InvoiceNotTransferable) as exc:
            net.invoices("seller").transfer(net.addr("lender"), parent_id)
    assert exc.value["state"] == InvoiceState.SPLIT


@pytest.mark.parametrize("how", ["outsider", *LAPSES])
def test_transfer_only_to_active_members(net, how):
    invoice_id = mint_invoice(net, confirm=True)
    if how == "outsider":
        to, error = outsider("invoice-recipient").address, "NotMember"
    else:
        lapse(net, "lender", how)
        to, error = net.addr("lender"), LAPSES[how][1]
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, error)) as exc:
            net.invoices("seller").transfer(to, invoice_id)
    assert checksum(exc.value["account"]) == to


@pytest.mark.parametrize("how", ["suspended", "sanctioned"])
def test_lapsed_holder_cannot_transfer_to_a_member(net, escrow, how):
    invoice_id = mint_invoice(net, confirm=True)
    lapse(net, "seller", how)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(getattr(errors, LAPSES[how][1])):
            net.invoices("seller").transfer(net.addr("lender"), invoice_id)


def test_sanctioned_holder_cannot_move_an_invoice_into_an_escrow(net, escrow):
    invoice_id = mint_invoice(net, confirm=True)
    sanction(net, "seller")
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.MemberIsSanctioned):
            net.invoices("seller").transfer(escrow.address, invoice_id)


def test_escrow_returns_invoice_to_suspended_member_but_not_to_sanctioned(net, escrow):
    a = _financed(net, escrow)
    b = _financed(net, escrow)
    suspend(net, "lender")
    escrow.transfer_nft(net.invoices(), "lender", a)  # a running deal closes: a suspended lender still takes it
    assert net.invoices().owner_of(a) == net.addr("lender")
    sanction(net, "lender_b")
    with unchanged(net, _record(net, b)):
        with pytest.raises(errors.MemberIsSanctioned):
            escrow.transfer_nft(net.invoices(), "lender_b", b)
        with pytest.raises(errors.NotMember):
            escrow.transfer_nft(net.invoices(), outsider("invoice-recipient").address, b)


def test_transfer_to_a_contract_that_is_no_escrow_fails(net):
    invoice_id = mint_invoice(net, confirm=True)
    with unchanged(net, _record(net, invoice_id)):
        for to in (net.deployment.invoice_token, net.deployment.settlement_tokens["USD"]):
            with pytest.raises(errors.NotMember):
                net.invoices("seller").transfer(to, invoice_id)


def test_approved_operator_moves_an_invoice_under_the_same_rule(net):
    invoice_id = mint_invoice(net, confirm=True)
    net.invoices("seller").approve(net.addr("lender"), invoice_id)
    with unchanged(net, _record(net, invoice_id)):
        with pytest.raises(errors.NotMember):
            net.invoices("lender")._tx("transferFrom", net.addr("seller"), outsider("x").address, invoice_id)
        with pytest.raises(errors.NotOwnerNorApproved):
            net.invoices("lender_b")._tx("transferFrom", net.addr("seller"), net.addr("lender_b"), invoice_id)
    net.invoices("lender")._tx("transferFrom", net.addr("seller"), net.addr("lender_b"), invoice_id)
    assert net.invoices().owner_of(invoice_id) == net.addr("lender_b")
