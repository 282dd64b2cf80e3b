"""Documentary payment (L/C style): the applicant's side escrows the price; it is released to the
beneficiary only when every required document was presented by the presenter before expiry
(expected hash where named, B/L dated no later than the latest shipment) AND the delivery event
is confirmed; a discrepancy keeps the price in escrow until the applicant waives it or the credit
expires (then it returns to the applicant's side). Settled on the engine once fully released."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from chain import errors
from chain.clients import Milestone, RequiredDocument
from chain.vocabulary import DealState, Product, Role

from tests.support.products import (
    DAY,
    accept,
    addr,
    c,
    claimable,
    confirm_event,
    credit_extra,
    deal,
    fund,
    funds_conserved,  # noqa: F401  (a fixture, applied by pytestmark)
    invoice,
    mint,
    moves,
    refused,
    sign,
    state,
    terms,
    unique,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("funds_conserved")

PRICE = 50_000_00
INVOICE_HASH = keccak(text="commercial invoice CI-2025-0042")
DOCUMENTS = (RequiredDocument("BLAD"), RequiredDocument("CINV", INVOICE_HASH), RequiredDocument("PKLS"))


@pytest.fixture
def money(net):
    mint(net, "buyer", 1_000_000_00)
    mint(net, "lender", 1_000_000_00)


def credit_terms(net, reference: str, *, lender: str = "buyer", presenter: str = "seller", applicant: str = "buyer",
                 documents=DOCUMENTS, latest_shipment: int | None = None, **kw):
    """Price released on arrival at Rotterdam; expiry in 30 days."""
    kw.setdefault("maturity_in", 30 * DAY)
    kw.setdefault("grace", 0)
    extra = credit_extra(net, documents, applicant=applicant, presenter=presenter,
                         latest_shipment=latest_shipment if latest_shipment is not None else net.now() + 20 * DAY)
    return terms(net, Product.DOCUMENTARY, 0, PRICE, kw.pop("fee", 0), lender=lender,
                 milestones=(Milestone("ARRI", 10_000, "NLRTM"),), reference=reference, extra=extra, **kw)


def open_credit(net, **kw) -> tuple[int, str]:
    reference = unique("MAEU-LC")
    deal_id = accept(net, credit_terms(net, reference, **kw))
    fund(net, deal_id)
    return deal_id, reference


def present_all(net, deal_id: int, presenter: str = "seller", bl_date: int | None = None) -> None:
    cr = c(net, presenter).credits
    bl_date = bl_date if bl_date is not None else net.now()
    cr.present(deal_id, "BLAD", keccak(text="B/L MAEU123"), bl_date)
    cr.present(deal_id, "CINV", INVOICE_HASH, net.now())
    cr.present(deal_id, "PKLS", keccak(text="packing list"), net.now())


def _released(net, deal_id: int) -> int:
    return deal(net, deal_id).released


# ---------------------------------------------------------------------------- happy paths


def test_complying_presentation_and_delivery_release_the_price_then_settle(net, money):
    reference = unique("MAEU-LC")
    deal_id = accept(net, credit_terms(net, reference))
    d = deal(net, deal_id)
    assert (d.lender, d.borrower, d.obligor, d.obligation, d.fee) == (
        addr(net, "buyer"), addr(net, "seller"), None, 0, 0)
    with moves(net, {"buyer": -PRICE, "engine": PRICE}):
        fund(net, deal_id)
    present_all(net, deal_id)
    cr = c(net).credits.credit(deal_id)
    assert (cr.complying, cr.required, cr.waived) == (3, 3, False)
    assert c(net).credits.release_allowed(deal_id)
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    assert claimable(net, deal_id, "seller") == PRICE
    refused(net, errors.NotRepayable, lambda: c(net, "buyer").deals.repay(deal_id))
    receipt = c(net, "carrier").deals.settle(deal_id)  # anyone may settle
    assert c(net).deals.events(receipt, "DealSettled")[0]["released"] == PRICE
    assert state(net, deal_id) is DealState.REPAID
    with moves(net, {"seller": PRICE, "engine": -PRICE}):
        withdraw(net, deal_id, "seller")
    assert state(net, deal_id) is DealState.CLOSED


def test_delivery_before_the_documents_waits_for_them_then_a_poke_releases(net, money):
    deal_id, reference = open_credit(net)
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    assert _released(net, deal_id) == 0  # gated: no documents yet
    present_all(net, deal_id)
    assert _released(net, deal_id) == 0  # presenting releases nothing by itself
    assert c(net, "carrier").deals.poke(deal_id) == 1
    assert claimable(net, deal_id, "seller") == PRICE


def test_bank_issued_credit_presented_by_the_beneficiarys_bank_and_expired_back_to_the_bank(net, money):
    # the issuing bank (an active LENDER) escrows for its customer the buyer; the seller's bank presents
    reference = unique("MAEU-LC")
    t = credit_terms(net, reference, lender="lender", presenter="lender_b", applicant="buyer")
    deal_id = accept(net, t)
    with moves(net, {"lender": -PRICE, "engine": PRICE}):
        fund(net, deal_id)
    refused(net, errors.NotPresenter,
            lambda: c(net, "seller").credits.present(deal_id, "PKLS", keccak(text="pl"), net.now()))
    present_all(net, deal_id, presenter="lender_b")
    # the bank's customer is the applicant: it waives, not the bank
    refused(net, errors.NotApplicant, lambda: c(net, "lender").credits.waive(deal_id))
    net.advance_time(deal(net, deal_id).maturity - net.now() + 1)  # expired before delivery
    with moves(net, {}):
        c(net, "lender").deals.declare_default(deal_id)
    assert claimable(net, deal_id, "lender") == PRICE
    with moves(net, {"lender": PRICE, "engine": -PRICE}):
        withdraw(net, deal_id, "lender")
    assert state(net, deal_id) is DealState.CLOSED


# ---------------------------------------------------------------------------- discrepancies


def test_a_missing_document_keeps_the_price_in_escrow(net, money):
    deal_id, reference = open_credit(net)
    cr = c(net, "seller").credits
    cr.present(deal_id, "BLAD", keccak(text="B/L"), net.now())
    cr.present(deal_id, "CINV", INVOICE_HASH, net.now())  # no packing list
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    assert not c(net).credits.release_allowed(deal_id)
    refused(net, errors.NothingToSync, lambda: c(net, "carrier").deals.poke(deal_id))
    e = refused(net, errors.NotFullyReleased, lambda: c(net, "carrier").deals.settle(deal_id))
    assert (e["released"], e["principal"]) == (0, PRICE)


def test_a_late_bill_of_lading_is_a_discrepancy_and_a_cured_one_releases(net, money):
    latest = net.now() + 5 * DAY
    reference = unique("MAEU-LC")
    deal_id = accept(net, credit_terms(net, reference, latest_shipment=latest))
    fund(net, deal_id)
    present_all(net, deal_id, bl_date=latest + 1)  # shipped on board a second too late
    assert c(net).credits.credit(deal_id).complying == 2
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    assert _released(net, deal_id) == 0
    c(net, "seller").credits.present(deal_id, "BLAD", keccak(text="B/L corrected"), latest)  # on the day: complies
    assert c(net, "carrier").deals.poke(deal_id) == 1
    assert _released(net, deal_id) == PRICE


def test_a_document_with_the_wrong_hash_does_not_comply_and_a_replaced_one_stops_complying(net, money):
    deal_id, reference = open_credit(net)
    present_all(net, deal_id)
    c(net, "seller").credits.present(deal_id, "CINV", keccak(text="another invoice"), net.now())
    cr = c(net).credits.credit(deal_id)
    assert cr.complying == 2 and not cr.documents[1].complying
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    assert _released(net, deal_id) == 0


def test_only_the_presenter_presents_and_only_required_documents(net, money):
    deal_id, _ = open_credit(net)
    reads = (lambda: c(net).credits.credit(deal_id),)
    for who in ("buyer", "lender", "seller_ops"):
        e = refused(net, errors.NotPresenter,
                    lambda w=who: c(net, w).credits.present(deal_id, "CINV", INVOICE_HASH, net.now()), *reads)
        assert e["caller"] == addr(net, who)
    refused(net, errors.DocumentNotRequired,
            lambda: c(net, "seller").credits.present(deal_id, "INSC", keccak(text="policy"), net.now()), *reads)


def test_waiver_by_the_applicant_releases_despite_discrepancies(net, money):
    deal_id, reference = open_credit(net)
    c(net, "seller").credits.present(deal_id, "BLAD", keccak(text="B/L"), net.now())
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    refused(net, errors.NotApplicant, lambda: c(net, "seller").credits.waive(deal_id))
    c(net, "buyer").credits.waive(deal_id)
    assert c(net).credits.credit(deal_id).waived
    assert c(net, "carrier").deals.poke(deal_id) == 1
    c(net, "carrier").deals.settle(deal_id)
    with moves(net, {"seller": PRICE, "engine": -PRICE}):
        withdraw(net, deal_id, "seller")


def test_expiry_returns_the_price_to_the_applicant(net, money):
    deal_id, reference = open_credit(net)
    c(net, "seller").credits.present(deal_id, "BLAD", keccak(text="B/L"), net.now())
    confirm_event(net, reference, "ARRI", "NLRTM", deal_id)
    expiry = deal(net, deal_id).maturity
    refused(net, errors.GracePeriodRunning, lambda: c(net, "buyer").deals.declare_default(deal_id))
    net.advance_time(expiry - net.now() + 1)
    refused(net, errors.CreditExpired,
            lambda: c(net, "seller").credits.present(deal_id, "CINV", INVOICE_HASH, net.now()))
    refused(net, errors.CreditExpired, lambda: c(net, "buyer").credits.waive(deal_id))
    with moves(net, {}):
        receipt = c(net, "buyer").deals.declare_default(deal_id)
    assert state(net, deal_id) is DealState.DEFAULTED
    # an expired credit is a presentation that did not comply, not a payment failure: it counts
    # as overdue against neither the beneficiary nor the applicant
    assert c(net).deals.events(receipt, "DealOverdueCounted") == []
    for party in ("seller", "buyer"):
        assert c(net).risk.party(addr(net, party)).overdue_run == 0
    assert (claimable(net, deal_id, "buyer"), claimable(net, deal_id, "seller")) == (PRICE, 0)
    with moves(net, {"buyer": PRICE, "engine": -PRICE}):
        withdraw(net, deal_id, "buyer")
    assert state(net, deal_id) is DealState.CLOSED


def test_settle_only_for_a_self_liquidating_deal(net, money):
    invoice_id = invoice(net, 10_000_00)
    deal_id = accept(net, terms(net, Product.RECEIVABLE, invoice_id, 8_000_00, 100_00))
    fund(net, deal_id)
    refused(net, errors.InvalidDealState, lambda: c(net, "seller").deals.settle(deal_id))


# ---------------------------------------------------------------------------- terms


@pytest.mark.parametrize("change", ["grace", "latest_after_expiry", "no_documents", "duplicate_type",
                                    "unknown_type", "collateral"])
def test_invalid_credit_terms_are_refused(net, money, change):
    reference = unique("MAEU-LC")
    kw: dict = {}
    if change == "grace":
        kw["grace"] = DAY
    elif change == "latest_after_expiry":
        kw["latest_shipment"] = net.now() + 31 * DAY
    elif change == "no_documents":
        kw["documents"] = ()
    elif change == "duplicate_type":
        kw["documents"] = (RequiredDocument("BLAD"), RequiredDocument("BLAD"))
    elif change == "unknown_type":
        kw["documents"] = (RequiredDocument("XXXX"),)
    t = credit_terms(net, reference, **kw)
    if change == "collateral":
        t = type(t)(**{**t.__dict__, "collateral_id": 7})
    refused(net, errors.InvalidCreditTerms, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "buyer")),
            lambda: c(net).deals.deal_count())


def test_a_documentary_payment_carries_no_fee(net, money):
    t = credit_terms(net, unique("MAEU-LC"), fee=1)
    e = refused(net, errors.InvalidAmounts, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, "buyer")))
    assert (e["principal"], e["fee"], e["limit"]) == (PRICE, 1, 0)


@pytest.mark.parametrize("case", ["applicant_not_buyer", "bank_not_lender", "presenter_bank_not_lender"])
def test_the_parties_must_hold_their_roles(net, money, case):
    kw = {"applicant_not_buyer": dict(applicant="lender_b"),
          "bank_not_lender": dict(lender="warehouse"),
          "presenter_bank_not_lender": dict(presenter="carrier")}[case]
    t = credit_terms(net, unique("MAEU-LC"), **kw)
    signer = kw.get("lender", "buyer")
    e = refused(net, errors.MissingRole, lambda: c(net, "seller").deals.accept(t, b"", sign(net, t, signer)))
    who = {"applicant_not_buyer": "lender_b", "bank_not_lender": "warehouse", "presenter_bank_not_lender": "carrier"}
    assert e["account"] == addr(net, who[case])
    assert e["required"] == int(Role.BUYER if case == "applicant_not_buyer" else Role.LENDER)
