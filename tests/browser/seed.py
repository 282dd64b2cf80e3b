"""A small trade per product for the dashboard's browser tests, made with the test support helpers
on the session chain (the caller snapshots the chain before and reverts it after):

- day 0: EUR/USD 1.0850; a receivable financing of a confirmed invoice (USD 1,500,000.00 face,
  USD 1,200,000.00 principal, DEPA 40% / ARRI 60% on B/L ``MAEU-DASH-0001``), funded; the lender's
  book in USD with a limit on the buyer;
- day 1: EUR/USD 1.0912; DEPA confirmed (releases USD 480,000.00 to the seller); an order financing
  of a purchase order, funded (advance);
- day 2: EUR/USD 1.0875; a warehouse-receipt pledge financing, funded; an ABS pool of one
  receivable, issued and sold out to the investor (its document in the node's store); a documentary
  credit (the buyer's L/C for the seller, USD 50,000.00 on arrival at Rotterdam, B/L
  ``MAEU-DASH-LC01``), funded, with the bill of lading presented.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from chain.clients import Milestone, RequiredDocument
from chain.vocabulary import Product
from node_api.documents import DocumentService

from tests.support import pools as pool_support
from tests.support.products import DAY, accept, addr, c, confirm_event, credit_extra, fund, invoice, mint, order, \
    receipt, set_rate, terms

REFERENCE = "MAEU-DASH-0001"
CREDIT_REFERENCE = "MAEU-DASH-LC01"
CREDIT_PRICE = 50_000_00
CREDIT_DOCUMENTS = (RequiredDocument("BLAD"), RequiredDocument("CINV"), RequiredDocument("PKLS"))
RATES = ("1.0850", "1.0912", "1.0875")
LIMIT = 1_450_000_00  # the lender's limit on the buyer: the receivable uses 82.75% of it (a warning)
RECEIVABLE_PRINCIPAL = 1_200_000_00
ORDER_PRINCIPAL = 200_000_00
RECEIPT_PRINCIPAL = 250_000_00
LENDER_MINT = 5_000_000_00
BUYER_MINT = 2_000_000_00


@dataclass(frozen=True)
class Seeded:
    receivable_deal: int
    order_deal: int
    receipt_deal: int
    pool_id: int
    pool_deal: int
    invoice_id: int
    order_id: int
    receipt_id: int
    credit_deal: int


def seed(net, documents: DocumentService) -> Seeded:
    mint(net, "lender", LENDER_MINT)
    mint(net, "buyer", BUYER_MINT)
    lender = c(net, "lender")
    lender.risk.set_lender_policy("USD", 10_000, 10**15)  # book in USD, no cap, four-eyes far away
    lender.risk.set_limit(addr(net, "buyer"), LIMIT)

    set_rate(net, "EUR", "USD", RATES[0])
    invoice_id = invoice(net, 1_500_000_00, due_in=60 * DAY, reference=REFERENCE)
    receivable = accept(net, terms(net, Product.RECEIVABLE, invoice_id, RECEIVABLE_PRINCIPAL, 18_000_00,
                                   maturity_in=61 * DAY, reference=REFERENCE,
                                   milestones=(Milestone("DEPA", 4_000), Milestone("ARRI", 6_000))))
    fund(net, receivable)

    net.advance_time(DAY)
    set_rate(net, "EUR", "USD", RATES[1])
    confirm_event(net, REFERENCE, "DEPA", "CNSZX", receivable)
    order_id = order(net, 300_000_00)
    order_deal = accept(net, terms(net, Product.ORDER, order_id, ORDER_PRINCIPAL, 3_000_00))
    fund(net, order_deal)

    net.advance_time(DAY)
    set_rate(net, "EUR", "USD", RATES[2])
    receipt_id = receipt(net)
    receipt_deal = accept(net, terms(net, Product.RECEIPT_PLEDGE, receipt_id, RECEIPT_PRINCIPAL, 2_500_00))
    fund(net, receipt_deal)

    pool_id = pool_support.create_pool(net, 60_000_00, 22_000_00, name="Dashboard Receivables 2026-1")
    asset = pool_support.receivable(net, documents=documents)
    pool_support.add_asset(net, pool_id, asset)
    pool_support.issue(net, pool_id)
    pool_support.sell_out(net, pool_id)

    extra = credit_extra(net, CREDIT_DOCUMENTS, applicant="buyer", presenter="seller")
    credit_deal = accept(net, terms(net, Product.DOCUMENTARY, 0, CREDIT_PRICE, lender="buyer", maturity_in=30 * DAY,
                                    grace=0, milestones=(Milestone("ARRI", 10_000, "NLRTM"),),
                                    reference=CREDIT_REFERENCE, extra=extra))
    fund(net, credit_deal)
    c(net, "seller").credits.present(credit_deal, "BLAD", keccak(text="B/L MAEU-DASH-LC01"), net.now())
    return Seeded(receivable, order_deal, receipt_deal, pool_id, asset.deal_id, invoice_id, order_id, receipt_id,
                  credit_deal)


def arrive(net, seeded: Seeded) -> bytes:
    """The ship arrives: ARRI confirmed for the receivable's B/L (releases the other 60%)."""
    return confirm_event(net, REFERENCE, "ARRI", "NLRTM", seeded.receivable_deal)
