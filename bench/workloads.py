"""Workloads the benchmarks share: funded receivable deals waiting on shipments, and the
realistic indexer workload (settlement transfers, invoice mints and confirmations, the deal
flow). bench/ is on sys.path when a bench script runs (``from workloads import ...``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from chain.client import Chain
from chain.clients import DealTerms, InvoiceTerms, Milestone, Notify, ShipmentEvent, shipment_id
from chain.vocabulary import Product

DAY = 86_400
#: the deal's two milestones: half at departure (any port), half at arrival in Rotterdam
LEGS = (("DEPA", "CNSZX"), ("ARRI", "NLRTM"))


def clients(chain: Chain, d: Any, keys: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: d.clients(chain, keys[k]) for k in names}


def open_deals(chain: Chain, d: Any, keys: dict[str, Any], count: int, tag: str = "") -> list[tuple[int, str]]:
    """`count` funded receivable deals (seller borrows from lender), 50% at DEPA and 50% at ARRI
    NLRTM, one B/L each. Returns (deal id, B/L number) pairs."""
    c = clients(chain, d, keys, "treasury", "seller", "buyer", "lender")
    c["treasury"].token("USD").mint(keys["lender"].address, 10**12, keccak(text=f"bench deals deposit {tag}"))
    c["lender"].token("USD").approve(d.deal_engine, 2**255)
    now = chain.w3.eth.get_block("latest")["timestamp"]
    out = []
    for i in range(count):
        ref = f"OOLU{tag}{int(time.time()) % 10**6:06d}{i:04d}"
        iid = c["seller"].invoices.mint(InvoiceTerms(keys["buyer"].address, f"LAT-{ref}", 100_000_00, "USD", now - DAY,
                                                     now + 60 * DAY, keccak(text=f"doc {ref}"), "bafkreibenchdeals"))
        c["buyer"].invoices.confirm(iid)
        c["seller"].invoices.approve(d.receivable_financing, iid)
        t = DealTerms(d.product_modules[Product.RECEIVABLE], iid, keys["seller"].address, keys["lender"].address,
                      d.settlement_tokens["USD"], 80_000_00, 1_000_00, now + 61 * DAY, 10 * DAY, now + DAY,
                      (Milestone("DEPA", 5_000), Milestone("ARRI", 5_000, "NLRTM")), shipment_id(ref),
                      nonce=keccak(text=f"nonce {ref}"))
        deal = c["seller"].deals.accept(t, b"", c["lender"].deals.sign_terms(keys["lender"], t))
        c["lender"].deals.fund(deal)
        out.append((deal, ref))
    return out


def deal_flow(chain: Chain, d: Any, keys: dict[str, Any], count: int) -> int:
    """`count` deals through their life: opened and funded, both shipment events reported 2-of-3
    naming the deal (releases), the seller withdraws, the buyer repays, the lender withdraws.
    Returns the number of transactions sent."""
    c = clients(chain, d, keys, "treasury", "seller", "buyer", "lender", "carrier")
    c["treasury"].token("USD").mint(keys["buyer"].address, 10**12, keccak(text="bench deal flow buyer"))
    c["buyer"].token("USD").approve(d.deal_engine, 2**255)
    oracle = c["carrier"].oracle
    deals = open_deals(chain, d, keys, count, "F")
    sent = 2 + 2 + count * 5
    for deal, ref in deals:
        for code, place in LEGS:
            now = chain.w3.eth.get_block("latest")["timestamp"]
            ev = ShipmentEvent.from_strings(ref, code, place, now - 30, f"{ref}/{code}")
            oracle.submit_report(ev, [oracle.sign_event(keys[k], ev) for k in ("oracle_1", "oracle_2")],
                                 [Notify(d.deal_engine, deal)])
        c["seller"].deals.withdraw(deal)
        c["buyer"].deals.repay(deal)
        c["lender"].deals.withdraw(deal)
        sent += 5
    return sent


@dataclass
class Realistic:
    transfers: int
    mints: int
    deals: int
    transactions: int = 0


def realistic_workload(chain: Chain, d: Any, keys: dict[str, Any], transfers: int, mints: int, deals: int,
                       block_time: int = 1) -> Realistic:
    """The deal flow (automine), then `transfers` permissioned settlement transfers among four
    members and `mints` invoice mints + confirmations, sent without waiting (learned gas limits)
    at interval mining (`block_time` s), then waited for. Leaves the chain interval-mining."""
    done = Realistic(transfers, mints, deals)
    done.transactions = deal_flow(chain, d, keys, deals) if deals else 0
    c = clients(chain, d, keys, "treasury", "seller", "buyer", "lender", "lender_b")
    holders = ["buyer", "lender", "lender_b", "seller"]
    for k in holders:
        c["treasury"].token("USD").mint(keys[k].address, 10**13, keccak(text=f"bench realistic {k}"))
    chain.w3.provider.make_request("evm_setAutomine", [False])
    chain.w3.provider.make_request("evm_setIntervalMining", [block_time])
    now = chain.w3.eth.get_block("latest")["timestamp"]
    pending = []
    for i in range(mints):
        t = InvoiceTerms(keys["buyer"].address, f"BENCH-{i:06d}", 1_000_00 + i, "USD", now - DAY, now + 60 * DAY,
                         keccak(text=f"bench doc {i}"), f"bafkreibench{i}")
        pending.append(c["seller"].invoices.submit("mint", t.as_tuple(), gas=400_000, precheck=False))
    for i in range(transfers):
        src, dst = holders[i % 4], holders[(i + 1 + i // 4) % 4]
        if src == dst:
            dst = holders[(i + 2) % 4]
        pending.append(c[src].token("USD").submit("transfer", keys[dst].address, 100 + i, gas=120_000,
                                                  precheck=False))
    ids = [c["seller"].invoices.events(p.wait(300), "InvoiceIssued")[0]["id"] for p in pending[:mints]]
    for p in pending[mints:]:
        p.wait(300)
    confirms = [c["buyer"].invoices.submit("confirm", invoice_id, gas=100_000, precheck=False) for invoice_id in ids]
    for p in confirms:
        p.wait(300)
    done.transactions += 4 + mints * 2 + transfers
    return done
