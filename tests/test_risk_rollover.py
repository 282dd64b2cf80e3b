"""Risk rules and order-financing rollover: a funded order financing's exposure is booked against
the supplier (its obligor at funding); when it rolls into its invoice the engine tells the risk
rules and the exposure moves to the invoice's buyer, the new obligor. Repaying or assigning the
deal then releases or moves it there. (Releasing it against the buyer without the move wrapped
the buyer's figures around uint96 and refused every later deal on the buyer.)"""
from __future__ import annotations

from chain.clients import Milestone, shipment_id
from tests.support.indexer.flow import DAY, TradeFlow


def exposures(flow: TradeFlow) -> dict[str, int]:
    risk, a = flow.net.clients().risk, flow.addr
    return {
        "lender_b/seller": risk.pair(a("lender_b"), a("seller")).exposure,
        "lender_b/buyer": risk.pair(a("lender_b"), a("buyer")).exposure,
        "lender/seller": risk.pair(a("lender"), a("seller")).exposure,
        "lender/buyer": risk.pair(a("lender"), a("buyer")).exposure,
        "book lender_b": risk.lender_book(a("lender_b")).exposure,
        "book lender": risk.lender_book(a("lender")).exposure,
        "network seller": risk.party(a("seller")).network_exposure,
        "network buyer": risk.party(a("buyer")).network_exposure,
    }


def later_deal_on_the_buyer_is_accepted(flow: TradeFlow) -> None:
    inv = flow.invoice("invoice.later", "INV-LATER-0001", 20_000_00, shipment=shipment_id("MAEU-LATER"))
    terms = flow.terms(flow.d.receivable_financing, inv, "seller", "lender_b", 10_000_00, 100_00, 61 * DAY, DAY,
                       (Milestone("DEPA", 10_000),), shipment_id("MAEU-LATER"), nonce="later")
    flow.c("seller").invoices.approve(flow.d.receivable_financing, inv)
    assert flow.accept("deal.later", terms, "seller", "lender_b") > flow.ids["deal.d2"]


def test_rolled_over_order_financing_repaid_releases_its_exposure_from_the_buyer(net):
    flow = TradeFlow(net).run("setup", "order")  # D2 funded (booked against the supplier), rolled over
    booked = exposures(flow)
    assert booked["lender_b/buyer"] == booked["network buyer"] == 30_000_00
    assert booked["lender_b/seller"] == booked["network seller"] == 0
    flow.usd("buyer").approve(flow.d.deal_engine, 50_000_00)
    flow.c("buyer").deals.repay(flow.ids["deal.d2"])
    assert exposures(flow) == dict.fromkeys(booked, 0)
    later_deal_on_the_buyer_is_accepted(flow)


def test_rolled_over_order_financing_assigned_moves_the_buyers_exposure(net):
    flow = TradeFlow(net).run("setup", "order")
    deal = flow.ids["deal.d2"]
    flow.c("lender_b").deals.assign_lender(deal, flow.addr("lender"))
    assert exposures(flow) == {**dict.fromkeys(exposures(flow), 0), "lender/buyer": 30_000_00,
                               "book lender": 30_000_00, "network buyer": 30_000_00}
    flow.usd("buyer").approve(flow.d.deal_engine, 50_000_00)
    flow.c("buyer").deals.repay(deal)
    assert set(exposures(flow).values()) == {0}
    later_deal_on_the_buyer_is_accepted(flow)
