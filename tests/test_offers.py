"""Competing offers: several lenders sign terms for one asset; the borrower accepts one; the others
lapse (their acceptance fails because the asset is gone) or are revoked (`revokeTerms`)."""

from __future__ import annotations

import pytest

from chain import errors
from chain.vocabulary import DealState, Product

from tests.support.products import (
    DAY,
    accept,
    addr,
    approve_collateral,
    c,
    deal,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    invoice,
    mint,
    moves,
    receipt,
    refused,
    sign,
    state,
    terms,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

REVOKED = 2**256 - 1


@pytest.fixture
def money(net):
    mint(net, "lender", 1_000_000_00)
    mint(net, "lender_b", 1_000_000_00)


def two_offers(net, invoice_id: int):
    """`lender` offers 80,000.00 at 2,000.00; `lender_b` 85,000.00 at 2,500.00."""
    return (terms(net, Product.RECEIVABLE, invoice_id, 80_000_00, 2_000_00, lender="lender"),
            terms(net, Product.RECEIVABLE, invoice_id, 85_000_00, 2_500_00, lender="lender_b"))


def test_the_borrower_accepts_one_offer_and_the_other_lapses(net, money):
    invoice_id = invoice(net, 100_000_00)
    offer_a, offer_b = two_offers(net, invoice_id)
    sig_a, sig_b = sign(net, offer_a, "lender"), sign(net, offer_b, "lender_b")
    approve_collateral(net, offer_b)
    deal_id = c(net, "seller").deals.accept(offer_b, b"", sig_b)
    assert deal(net, deal_id).lender == addr(net, "lender_b")
    reads = (lambda: c(net).deals.deal_count(), lambda: c(net).invoices.invoice(invoice_id))
    # the other offer: the invoice is in the accepted deal's custody
    e = refused(net, errors.NotInvoiceHolder, lambda: c(net, "seller").deals.accept(offer_a, b"", sig_a), *reads)
    assert list(e.values()) == [invoice_id, addr(net, "seller")]
    # nor can its lender push it through with a borrower signature
    borrower_sig = sign(net, offer_a, "seller")
    refused(net, errors.NotInvoiceHolder, lambda: c(net, "lender").deals.accept(offer_a, borrower_sig, b""), *reads)
    with moves(net, {"lender_b": -85_000_00, "engine": 85_000_00}):
        fund(net, deal_id)
    # once financed the invoice is not even confirmed any more
    refused(net, errors.InvoiceNotConfirmed, lambda: c(net, "seller").deals.accept(offer_a, b"", sig_a), *reads)


def test_a_lender_revokes_its_offer(net, money):
    invoice_id = invoice(net, 100_000_00)
    offer_a, _ = two_offers(net, invoice_id)
    digest = c(net).deals.terms_digest(offer_a)
    receipt = c(net, "lender").deals.revoke_terms(offer_a)
    assert c(net).deals.events(receipt, "TermsRevoked")[0]["by"] == addr(net, "lender")
    assert c(net).deals.deal_by_terms(digest) == REVOKED
    approve_collateral(net, offer_a)
    e = refused(net, errors.TermsUsed,
                lambda: c(net, "seller").deals.accept(offer_a, b"", sign(net, offer_a, "lender")))
    assert (e["termsDigest"], e["dealId"]) == (digest, REVOKED)


def test_only_a_party_revokes_and_only_unaccepted_terms(net, money):
    invoice_id = invoice(net, 100_000_00)
    offer_a, offer_b = two_offers(net, invoice_id)
    for outsider in ("lender_b", "buyer", "seller_ops"):
        e = refused(net, errors.NotDealParty, lambda o=outsider: c(net, o).deals.revoke_terms(offer_a))
        assert e["caller"] == addr(net, outsider)
    c(net, "seller").deals.revoke_terms(offer_b)  # the borrower declines an offer
    refused(net, errors.TermsUsed, lambda: c(net, "lender_b").deals.revoke_terms(offer_b))
    deal_id = accept(net, offer_a)
    e = refused(net, errors.TermsUsed, lambda: c(net, "lender").deals.revoke_terms(offer_a))
    assert e["dealId"] == deal_id
    refused(net, errors.TermsUsed, lambda: c(net, "seller").deals.accept(offer_a, b"", sign(net, offer_a, "lender")))


def test_an_offer_expires_and_needs_both_signatures(net, money):
    invoice_id = invoice(net, 100_000_00)
    offer = terms(net, Product.RECEIVABLE, invoice_id, 80_000_00, 2_000_00, accept_within=DAY)
    approve_collateral(net, offer)
    e = refused(net, errors.InvalidPartySignature,
                lambda: c(net, "seller").deals.accept(offer, b"", sign(net, offer, "lender_b")))
    assert e["party"] == addr(net, "lender")
    refused(net, errors.InvalidPartySignature,
            lambda: c(net, "carrier").deals.accept(offer, b"", sign(net, offer, "lender")))  # borrower unsigned
    net.advance_time(DAY + 1)
    e = refused(net, errors.TermsExpired,
                lambda: c(net, "seller").deals.accept(offer, b"", sign(net, offer, "lender")))
    assert e["acceptBy"] == offer.accept_by


def test_competing_offers_on_a_receipt_the_first_accepted_takes_the_pledge(net, money):
    """A receipt is pledged to its deal at acceptance, so of two offers on one receipt only the
    first accepted stands: the second acceptance is refused (`ReceiptUnavailable`) and changes
    nothing; once the first deal is cancelled before funding the receipt is free again and the
    second offer can be accepted and funded."""
    receipt_id = receipt(net)
    offer_a = terms(net, Product.RECEIPT_PLEDGE, receipt_id, 100_000_00, 1_000_00, lender="lender")
    offer_b = terms(net, Product.RECEIPT_PLEDGE, receipt_id, 120_000_00, 1_500_00, lender="lender_b")
    deal_a = accept(net, offer_a)
    assert c(net).receipts.receipt(receipt_id).pledgee == net.deployment.receipt_pledge_financing
    e = refused(net, errors.ReceiptUnavailable, lambda: accept(net, offer_b, approve=False),
                lambda: deal(net, deal_a), lambda: c(net).receipts.receipt(receipt_id))
    assert e["receiptId"] == receipt_id
    c(net, "lender").deals.cancel(deal_a)
    assert state(net, deal_a) is DealState.CANCELLED
    assert c(net).receipts.receipt(receipt_id).pledgee is None
    deal_b = accept(net, offer_b)
    fund(net, deal_b)
    assert state(net, deal_b) is DealState.FUNDED
    assert c(net).receipts.receipt(receipt_id).pledgee == net.deployment.receipt_pledge_financing
