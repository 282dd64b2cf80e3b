"""Gas of every operation of the deal engine, its products, the oracle, the risk rules and the ABS
pools, on a fresh local anvil; beside it the same operations of an earlier revision.

The earlier revision's figures are measured in the same run: its own gas benchmarks run from a
temporary git worktree of `--baseline REV` (default c0d6aad, the last single-product revision),
and rows that do the same work are matched by name. Rows marked "risk" also show the gas the
network's risk rules add (the same operation on an engine deployed without them).

Run: .venv/bin/python bench/gas_deals.py [--baseline REV | --no-baseline]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from eth_account import Account
from eth_utils import keccak

from chain.anvil import Anvil
from chain.client import Chain
from chain.clients import (
    ADVANCE,
    CreditTerms,
    DealTerms,
    FxRate,
    InvoiceTerms,
    Milestone,
    MemberInput,
    Notify,
    OrderTerms,
    PoolParams,
    ReceiptTerms,
    RequiredDocument,
    ShipmentEvent,
    shipment_id,
)
from chain.clients.pools import merkle_root
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.deploy import configure_oracle_quorum
from chain.vocabulary import Product, Role

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400
ZERO = "0x" + "00" * 20

#: new row -> the earlier revision's row doing the same work
BASELINE_ROWS = {
    "InvoiceToken.mint (no shipment)": "InvoiceToken.mint",
    "InvoiceToken.confirm": "InvoiceToken.confirm",
    "InvoiceToken.split (2 parts)": "InvoiceToken.split (2 parts)",
    "SettlementToken.mint": "SettlementToken.mint",
    "SettlementToken.transfer (member to member)": "SettlementToken.transfer (member to member)",
    "WarehouseReceipt.issue": "WarehouseReceipt.issue",
    "WarehouseReceipt.pledge (direct, to a lender)": "WarehouseReceipt.pledge",
    "WarehouseReceipt.redeem": "WarehouseReceipt.redeem",
    "governance: propose (1 call, proposer approves)": "governance: propose (1 call, proposer approves)",
    "governance: approve": "governance: approve",
    "governance: execute addMember": "governance: execute addMember",
    "receivable: accept (3 milestones)": "deal: accept (3 milestones, 2 party signatures, invoice into escrow)",
    "receivable: fund": "deal: fund (principal into escrow, markFinanced, 3 oracle watches)",
    "oracle report, 2-of-3, no deal named": "oracle report, 2-of-3, no deal waiting",
    "oracle report, 2-of-3, releases 1 milestone in-tx": "oracle report, 2-of-3, releases 1 deal milestone in-tx",
    "oracle report, 3-of-5, no deal named": "oracle report, 3-of-5, no deal waiting",
    "oracle report, 3-of-5, releases 1 milestone in-tx": "oracle report, 3-of-5, releases 1 deal milestone in-tx",
    "oracle retraction, 2-of-3, reverses 1 release": "oracle retraction, 2-of-3, reverses 1 release",
    "oracle report, 2-of-3, releases 8 deals in-tx": "oracle report, 2-of-3, releases 8 deals in-tx (cap), defers 1",
    "deal: poke (1 milestone)": "deal: poke (deferred milestone)",
    "deal: withdraw (seller, first release)": "deal: withdraw (seller, first release)",
    "receivable: repay (waterfall)": "deal: repay (face value in, waterfall credits, markPaid, 1 unwatch)",
    "deal: withdraw (lender: principal + fee)": "deal: withdraw (lender: principal + fee)",
    "deal: flagOverdue (warning)": "deal: flagOverdue (early warning)",
    "deal: declareDefault": "deal: declareDefault (escrow credited back, invoice to lender, 1 unwatch)",
    "deal: cancel before funding": "deal: cancel before funding (invoice back to seller)",
    "FxRateStore.submitRate, 2-of-3 (update)": "FxRateStore.submitRate, 2-of-3 (update)",
    "FxRateStore.submitRate, 2-of-3 (first observation of the pair)":
        "FxRateStore.submitRate, 2-of-3 (first observation of the pair)",
}


class Bench:
    """One deployment and its rows (label, gas)."""

    def __init__(self, risk: bool = True):
        self.rows: list[tuple[str, int]] = []
        self.node = Anvil().start()
        self.chain = Chain.connect(self.node.url)
        self.keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-deals")
        if not risk:  # the same engine, deployed without risk rules
            original = self.chain.deploy

            def deploy(name: str, account: Any, *args: Any) -> Any:
                if name == "DealEngine":
                    args = (*args[:3], ZERO)
                return original(name, account, *args)

            self.chain.deploy = deploy  # type: ignore[method-assign]
        self.d = bootstrap(self.chain, "bench", self.keys)
        self._clients: dict[str, Any] = {}
        self.seq = 0
        t = self.c("treasury")
        for k in ("lender", "lender_b", "buyer", "seller", "investor"):
            for ccy in ("USD", "EUR"):
                t.token(ccy).mint(self.a(k), 10**13, keccak(text=f"dep {k} {ccy}"))
                self.c(k).token(ccy).approve(self.d.deal_engine, 2**255)
        self.c("buyer").token("USD").approve(self.d.invoice_settlement, 2**255)
        self.gas_limit = self.chain.w3.eth.get_block("latest")["gasLimit"]

    def close(self) -> None:
        self.node.stop()

    # -- helpers
    def a(self, k: str) -> str:
        return self.keys[k].address

    def c(self, k: str) -> Any:
        if k not in self._clients:
            self._clients[k] = self.d.clients(self.chain, self.keys[k])
        return self._clients[k]

    def now(self) -> int:
        return self.chain.w3.eth.get_block("latest")["timestamp"]

    def advance(self, seconds: int) -> None:
        self.chain.w3.provider.make_request("evm_increaseTime", [seconds])
        self.chain.w3.provider.make_request("evm_mine", [])

    def g(self, label: str, client: Any) -> None:
        self.rows.append((label, client.last_receipt["gasUsed"]))

    def invoice(self, face: int = 10_000_000, bl: str = "", currency: str = "USD", record: bool = False,
                shipment: bool = False) -> int:
        self.seq += 1
        t = self.now()
        inv = self.c("seller").invoices
        iid = inv.mint(InvoiceTerms(self.a("buyer"), f"INV-GAS-{self.seq:05d}", face, currency, t, t + 60 * DAY,
                                    keccak(text=f"doc {self.seq}"), "bafkreibenchdealsdocument",
                                    shipment_id(bl) if (bl and shipment) else bytes(32)))
        if record:
            self.g("InvoiceToken.mint (with shipment)" if shipment else "InvoiceToken.mint (no shipment)", inv)
        self.c("buyer").invoices.confirm(iid)
        if record:
            self.g("InvoiceToken.confirm", self.c("buyer").invoices)
        self.c("seller").invoices.approve(self.d.receivable_financing, iid)
        return iid

    def terms(self, product: Product, collateral: int, principal: int, fee: int, milestones: tuple,
              bl: str = "", currency: str = "USD", maturity: int | None = None, grace: int = 10 * DAY,
              extra: bytes = b"", fx_until: int = 0) -> DealTerms:
        self.seq += 1
        m = maturity or self.now() + 61 * DAY
        return DealTerms(self.d.product_modules[product], collateral, self.a("seller"), self.a("lender"),
                         self.d.settlement_tokens[currency], principal, fee, m, grace, self.now() + DAY,
                         milestones, shipment_id(bl) if bl else bytes(32), fx_until, keccak(text="agreement"),
                         keccak(text=f"nonce {self.seq}"), extra)

    def accept(self, t: DealTerms, label: str | None = None) -> int:
        deal = self.c("seller").deals.accept(t, b"", self.c("lender").deals.sign_terms(self.keys["lender"], t))
        if label:
            self.g(label, self.c("seller").deals)
        return deal

    def fund(self, deal: int, label: str | None = None) -> None:
        self.c("lender").deals.fund(deal)
        if label:
            self.g(label, self.c("lender").deals)

    def report(self, ref: str, code: str, loc: str, signers: list[str], notify: list[int], label: str | None = None,
               submitter: str = "carrier") -> ShipmentEvent:
        o = self.c(submitter).oracle
        ev = ShipmentEvent.from_strings(ref, code, loc, self.now() - 30, f"{ref}/{code}/{loc}/{self.seq}")
        self.seq += 1
        o.submit_report(ev, [o.sign_event(self.keys[s] if s in self.keys else s, ev) for s in signers],
                        [Notify(self.d.deal_engine, x) for x in notify])
        if label:
            self.g(label, o)
        return ev


def measure_foundation(b: Bench) -> None:
    reg = b.c("admin_a").registry
    x = Account.from_key(keccak(text="bench new member"))
    pid = reg.propose([reg.call_add_member(MemberInput(x.address, Role.SELLER, "529900BENCHMEMBER001", "DE",
                                                       b.now() + 365 * DAY, "Bench Member GmbH"))], "admit")
    b.g("governance: propose (1 call, proposer approves)", reg)
    b.c("admin_b").registry.approve(pid)
    b.g("governance: approve", b.c("admin_b").registry)
    b.c("admin_b").registry.execute(pid)
    b.g("governance: execute addMember", b.c("admin_b").registry)
    usd = b.c("treasury").token("USD")
    usd.mint(b.a("auditor"), 1_000_00, keccak(text="dep auditor"))
    b.g("SettlementToken.mint", usd)
    tok = b.c("buyer").token("USD")
    tok.transfer(b.a("seller"), 100)
    b.g("SettlementToken.transfer (member to member)", tok)
    tok.transfer_with_reference(b.a("seller"), 100, keccak(text="TT ref"))
    b.g("SettlementToken.transferWithReference (T/T)", tok)
    seller_usd = b.c("seller").token("USD")
    rid = seller_usd.request_redemption(1_000, keccak(text="payout"))
    b.g("SettlementToken.requestRedemption", seller_usd)
    usd.complete_redemption(rid, keccak(text="bank ref"))
    b.g("SettlementToken.completeRedemption (burn)", usd)
    b.invoice(record=True)
    b.invoice(bl="MAEU-MINT-SHIP", record=True, shipment=True)
    iid = b.invoice()
    b.c("seller").invoices.split(iid, [6_000_000, 4_000_000])
    b.g("InvoiceToken.split (2 parts)", b.c("seller").invoices)
    wh = b.c("warehouse").receipts
    t = b.now()
    rid = wh.issue(ReceiptTerms(b.a("seller"), "Copper cathodes", 25_000, "kg", "A", "NLRTM", 1_000_000_00, "USD",
                                t + 300 * DAY, keccak(text="wr"), "bafkreibenchreceipt"))
    b.g("WarehouseReceipt.issue", wh)
    b.c("seller").receipts.pledge(rid, b.a("lender"), t + 30 * DAY, 10 * DAY)
    b.g("WarehouseReceipt.pledge (direct, to a lender)", b.c("seller").receipts)
    b.c("lender").receipts.release_pledge(rid)
    b.c("seller").receipts.request_redemption(rid)
    wh.redeem(rid)
    b.g("WarehouseReceipt.redeem", wh)
    po = b.c("buyer").orders
    po.issue(OrderTerms(b.a("seller"), "PO-GAS-1", "Inverters", 100, "pcs", 500_000_00, "USD", t + 30 * DAY,
                        keccak(text="po"), "bafkreibenchorder"))
    b.g("PurchaseOrder.issue", po)


def measure_receivable(b: Bench) -> None:
    # steady state: the lender's book and its (lender, buyer) exposure words exist already (a
    # lender's very first deal with an obligor writes three new words: +~60,000 gas once)
    warm = b.invoice()
    wd = b.accept(b.terms(Product.RECEIVABLE, warm, 1_000_000, 0, (Milestone(ADVANCE, 10_000),)))
    b.fund(wd)
    b.c("buyer").deals.repay(wd)
    ref = "MAEU-GAS-0001"
    iid = b.invoice()
    t = b.terms(Product.RECEIVABLE, iid, 8_000_000, 120_000,
                (Milestone("DEPA", 3000, "CNSZX"), Milestone("ARRI", 5000, "NLRTM"), Milestone("CUSC", 2000, "NLRTM")),
                bl=ref)
    deal = b.accept(t, "receivable: accept (3 milestones)")
    b.fund(deal, "receivable: fund")
    b.report("MSCU-NOWAIT-1", "DEPA", "CNSZX", ["oracle_1", "oracle_2"], [], "oracle report, 2-of-3, no deal named")
    dep = b.report(ref, "DEPA", "CNSZX", ["oracle_1", "oracle_2"], [deal], "oracle report, 2-of-3, releases 1 milestone in-tx")
    o = b.c("carrier").oracle
    eid = o.local_event_id(dep)
    at = b.now()
    reason = keccak(text="wrong vessel")
    o.submit_retraction(dep, reason, at, [o.sign_retraction(b.keys[k], eid, reason, at) for k in ("oracle_1", "oracle_2")],
                        [Notify(b.d.deal_engine, deal)])
    b.g("oracle retraction, 2-of-3, reverses 1 release", o)
    b.report(ref, "DEPA", "CNSZX", ["oracle_1", "oracle_2"], [deal])
    b.c("seller").deals.withdraw(deal)
    b.g("deal: withdraw (seller, first release)", b.c("seller").deals)
    b.report(ref, "ARRI", "NLRTM", ["oracle_1", "oracle_2"], [])
    b.c("auditor").deals.poke(deal)
    b.g("deal: poke (1 milestone)", b.c("auditor").deals)
    # 3-of-5
    extra = [Account.from_key(keccak(text=f"bench extra oracle {i}")) for i in range(2)]
    reg = b.c("admin_a").registry
    reg.govern([b.keys["admin_a"], b.keys["admin_b"]],
               [reg.call_add_member(MemberInput(x.address, Role.ORACLE, f"529900BENCHORACLE{i:03d}", "DE",
                                                b.now() + 365 * DAY, f"Bench Oracle {i}")) for i, x in enumerate(extra)],
               "admit 2 more operators")
    for x in extra:
        b.keys[f"x{x.address}"] = x
    ops = [b.a(k) for k in ("oracle_1", "oracle_2", "oracle_3")] + [x.address for x in extra]
    configure_oracle_quorum(b.chain, b.d, [b.keys["admin_a"], b.keys["admin_b"]], ops, 3)
    five = ["oracle_1", "oracle_2", "oracle_3"]
    b.report("MSCU-NOWAIT-2", "ARRI", "NLRTM", five, [], "oracle report, 3-of-5, no deal named")
    b.report(ref, "CUSC", "NLRTM", five, [deal], "oracle report, 3-of-5, releases 1 milestone in-tx")
    configure_oracle_quorum(b.chain, b.d, [b.keys["admin_a"], b.keys["admin_b"]], ops[:3], 2)
    b.c("buyer").deals.repay(deal)
    b.g("receivable: repay (waterfall)", b.c("buyer").deals)
    b.c("lender").deals.withdraw(deal)
    b.g("deal: withdraw (lender: principal + fee)", b.c("lender").deals)
    # fan-out: 8 deals on one shipment released by one report
    fan = "MAEU-GAS-FANOUT"
    deals = []
    for _ in range(8):
        i = b.invoice(face=1_000_000)
        d8 = b.accept(b.terms(Product.RECEIVABLE, i, 500_000, 1_000, (Milestone("DEPA", 10_000),), bl=fan))
        b.fund(d8)
        deals.append(d8)
    b.report(fan, "DEPA", "CNSZX", ["oracle_1", "oracle_2"], deals, "oracle report, 2-of-3, releases 8 deals in-tx")
    # overdue, default, cancel
    i = b.invoice()
    dd = b.accept(b.terms(Product.RECEIVABLE, i, 5_000_000, 0, (Milestone("DEPA", 10_000),), bl="MAEU-DEFAULT",
                          maturity=b.now() + 61 * DAY, grace=5 * DAY))
    b.fund(dd)
    b.advance(61 * DAY + 1)
    b.c("auditor").deals.flag_overdue(dd)
    b.g("deal: flagOverdue (warning)", b.c("auditor").deals)
    b.advance(5 * DAY)
    b.c("lender").deals.declare_default(dd)
    b.g("deal: declareDefault", b.c("lender").deals)
    i = b.invoice()
    dc = b.accept(b.terms(Product.RECEIVABLE, i, 5_000_000, 0, (Milestone(ADVANCE, 10_000),)))
    b.c("lender").deals.cancel(dc)
    b.g("deal: cancel before funding", b.c("lender").deals)


def measure_products(b: Bench) -> None:
    t0 = b.now()
    # order financing
    po = b.c("buyer").orders.issue(OrderTerms(b.a("seller"), f"PO-GAS-{b.seq}", "Inverters", 100, "pcs", 9_000_000,
                                              "USD", t0 + 30 * DAY, keccak(text="po2"), "bafkreibenchorder2"))
    b.c("seller").orders.approve(b.d.order_financing, po)
    t = b.terms(Product.ORDER, po, 5_000_000, 90_000, (Milestone(ADVANCE, 3000), Milestone("DEPA", 7000)), bl="PO-SHIP")
    deal = b.accept(t, "order: accept (2 milestones)")
    b.fund(deal, "order: fund (30% advance released)")
    iid = b.c("seller").invoices.mint(InvoiceTerms(b.a("buyer"), f"INV-PO-{b.seq}", 9_000_000, "USD", t0, t0 + 60 * DAY,
                                                   keccak(text="inv po"), "bafkreibenchinvpo", bytes(32), po))
    b.c("buyer").invoices.confirm(iid)
    b.c("seller").invoices.approve(b.d.order_financing, iid)
    b.c("seller").order_financing.roll_to_invoice(deal, iid)
    b.g("order: rollToInvoice", b.c("seller").order_financing)
    b.c("buyer").deals.repay(deal)
    b.g("order: repay by the buyer (after rollover)", b.c("buyer").deals)
    # receipt pledge
    wh = b.c("warehouse").receipts
    rid = wh.issue(ReceiptTerms(b.a("seller"), "Copper", 1_000, "kg", "A", "NLRTM", 9_000_000, "USD", t0 + 300 * DAY,
                                keccak(text="wr2"), "bafkreibenchwr2"))
    b.c("seller").receipts.approve(b.d.receipt_pledge_financing, rid)
    t = b.terms(Product.RECEIPT_PLEDGE, rid, 5_000_000, 50_000, (Milestone(ADVANCE, 10_000),))
    deal = b.accept(t, "receipt pledge: accept")
    b.fund(deal, "receipt pledge: fund (pledge taken)")
    b.c("seller").deals.repay(deal)
    b.g("receipt pledge: repay (pledge released)", b.c("seller").deals)
    # documentary credit
    bl_hash = keccak(text="bl")
    credit = CreditTerms(b.a("buyer"), b.a("seller"), t0 + 20 * DAY, (RequiredDocument("BLAD"), RequiredDocument("CINV")))
    t = b.terms(Product.DOCUMENTARY, 0, 2_750_000, 0, (Milestone("ARRI", 10_000, "NLRTM"),), bl="LC-SHIP", grace=0,
                extra=credit.encode())
    deal = b.accept(t, "documentary: accept (2 required documents)")
    b.fund(deal, "documentary: fund")
    cr = b.c("seller").credits
    cr.present(deal, "BLAD", bl_hash, t0)
    b.g("documentary: present a document", cr)
    cr.present(deal, "CINV", keccak(text="ci"), t0)
    b.report("LC-SHIP", "ARRI", "NLRTM", ["oracle_1", "oracle_2"], [deal], "oracle report, 2-of-3, releases a documentary payment")
    b.c("seller").deals.settle(deal)
    b.g("documentary: settle", b.c("seller").deals)
    # T/T and parts
    iid = b.invoice()
    st = b.c("buyer").settlement
    st.pay_invoice(iid, 4_000_000, keccak(text="tt1"))
    b.g("T/T: payInvoice (partial)", st)
    st.pay_invoice(iid, 6_000_000, keccak(text="tt2"))
    b.g("T/T: payInvoice (completes, marks Paid)", st)
    root = b.invoice()
    b.c("seller").invoices.split(root, [3_000_000, 3_000_000, 4_000_000])
    st.pay_parts(root, 10_000_000, keccak(text="parts"))
    b.g("parts: payParts (3 parts, pro rata)", st)
    # FX-locked
    fx = b.c("carrier").fx
    for n, label in enumerate(("FxRateStore.submitRate, 2-of-3 (first observation of the pair)",
                               "FxRateStore.submitRate, 2-of-3 (update)")):
        rate = FxRate.from_decimal("EUR", "USD", "1.0825", b.now() - 20 + 10 * n)
        fx.submit_rate(rate, [fx.sign_rate(b.keys[k], rate) for k in ("oracle_1", "oracle_2")])
        b.g(label, fx)
    iid = b.invoice(currency="EUR")
    inv = b.c("auditor").invoices.invoice(iid)
    t = b.terms(Product.RECEIVABLE, iid, 8_000_000, 100_000, (Milestone(ADVANCE, 10_000),), maturity=inv.due_date,
                fx_until=inv.due_date + 10 * DAY)
    deal = b.accept(t, "FX: accept (rate locked)")
    b.fund(deal)
    b.c("buyer").deals.repay(deal)
    b.g("FX: repay in USD at the locked rate", b.c("buyer").deals)
    # ABS
    pools = b.c("lender").pools
    deals = []
    for _ in range(3):
        i = b.invoice()
        d3 = b.accept(b.terms(Product.RECEIVABLE, i, 8_000_000, 100_000, (Milestone(ADVANCE, 10_000),)))
        b.fund(d3)
        deals.append((d3, i))
    pid = pools.create_pool(PoolParams(b.d.settlement_tokens["USD"], 120 * DAY, 10_000, 300, 20_000_000, 4_300_000,
                                       "Bench ABS"))
    b.g("ABS: createPool (2 tranche tokens)", pools)
    b.c("lender").token("USD").approve(b.d.abs_pools, 2**255)
    for n, (d3, i) in enumerate(deals):
        pools.bid(pid, d3, 8_000_000, keccak(text=f"doc {_doc_seq(b, i)}"))
        if n == 0:
            b.g("ABS: bid", pools)
        b.c("lender").deals.approve_assignment(d3, b.d.abs_pools)
        pools.sell(pid, d3)
        if n == 0:
            b.g("ABS: sell (add an asset: lender side moves, price paid)", pools)
    pools.issue(pid, merkle_root([a.leaf for a in pools.assets(pid)]))
    b.g("ABS: issue (root published, notes minted)", pools)
    inv_pools = b.c("investor").pools
    b.c("investor").token("USD").approve(b.d.abs_pools, 2**255)
    inv_pools.buy_notes(pid, True, 20_000_000)
    b.g("ABS: buyNotes (senior)", inv_pools)
    inv_pools.buy_notes(pid, False, 4_300_000)
    for d3, _ in deals:
        b.c("buyer").deals.repay(d3)
    inv_pools.collect(pid, [d for d, _ in deals])
    b.g("ABS: collect (3 repaid assets)", inv_pools)
    inv_pools.distribute(pid)
    b.g("ABS: distribute (waterfall)", inv_pools)
    inv_pools.claim(pools.pool(pid).senior)
    b.g("ABS: claim (senior holder)", inv_pools)


def _doc_seq(b: Bench, invoice_id: int) -> int:
    """The bench's document hashes are keccak("doc <seq>"): find the seq of an invoice."""
    for s in range(b.seq + 1):
        if b.c("auditor").invoices.invoice_by_document(keccak(text=f"doc {s}")) == invoice_id:
            return s
    raise LookupError(invoice_id)


def measure() -> tuple[list[tuple[str, int]], dict[str, int], int]:
    b = Bench(risk=True)
    try:
        measure_foundation(b)
        start = len(b.rows)
        measure_receivable(b)
        with_risk = dict(b.rows[start:])
        measure_products(b)
        rows, gas_limit = b.rows, b.gas_limit
    finally:
        b.close()
    nr = Bench(risk=False)
    try:
        measure_receivable(nr)
        without = dict(nr.rows)
    finally:
        nr.close()
    risk = {k: with_risk[k] - without[k] for k in with_risk if k in without and with_risk[k] != without[k]}
    return rows, risk, gas_limit


def baseline(rev: str) -> dict[str, int]:
    """Run the revision's own gas benchmarks from a temporary worktree; rows by label."""
    out: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
        try:
            (tree / "node_modules").symlink_to(ROOT / "node_modules")
            env = dict(os.environ, PYTHONPATH=str(tree))
            for script in ("bench/gas_foundation.py", "bench/gas_financing.py"):
                r = subprocess.run([sys.executable, script], cwd=tree, env=env, capture_output=True, text=True,
                                   timeout=900)
                for line in r.stdout.splitlines():
                    m = re.match(r"(.+?)\s{2,}([\d,]+)\s+[\d.]+%$", line)
                    if m:
                        out.setdefault(m.group(1).strip(), int(m.group(2).replace(",", "")))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    return out


def print_table(rows: list[tuple[str, int]], risk: dict[str, int], before: dict[str, int], gas_limit: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'gas now':>10}  {'before':>10}  {'change':>8}  {'of which risk':>13}  "
          f"{'w/o risk chg':>12}  {'% block':>8}")
    print("-" * (width + 76))
    for label, gas in rows:
        old = before.get(BASELINE_ROWS.get(label, ""))
        change = f"{100 * (gas - old) / old:+.1f}%" if old else ""
        r = risk.get(label)
        old_text = f"{old:,}" if old else ""
        risk_text = f"{r:,}" if r is not None else ""
        bare = f"{100 * (gas - r - old) / old:+.1f}%" if (old and r is not None) else ""
        print(f"{label:<{width}}  {gas:>10,}  {old_text:>10}  {change:>8}  {risk_text:>13}  {bare:>12}  "
              f"{100 * gas / gas_limit:>7.3f}%")
    print(f"\nchain ceiling: block gas limit {gas_limit:,}. 'before' is the same work measured on the baseline revision "
          f"(its own benchmark, this run); 'of which risk' is the gas the risk rules add (engine without them).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="c0d6aad", help="revision to compare with (default c0d6aad)")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    rows, risk, gas_limit = measure()
    before = {} if args.no_baseline else baseline(args.baseline)
    print_table(rows, risk, before, gas_limit)


Callable  # re-exported for type checkers of bench scripts
if __name__ == "__main__":
    main()
