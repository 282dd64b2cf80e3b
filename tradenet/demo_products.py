"""Short narrated runs of every financing product, after the demo's main trade.

Each run uses the chain clients as its participants would (each signs with its own key) and
leaves the chain clock alone: repayments happen early, on the day, so that the network stays live
for new trades (a test and the dashboard keep using it). Documents are uploaded encrypted to the
node's document store, as the node API would, so that everything anchored on chain can be fetched
and checked (the ABS verification at the end does).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable

from eth_keys import keys as eth_keys
from eth_utils import keccak

from chain import errors
from chain.abs_verify import document_cids, verify_pool
from chain.clients import (
    ADVANCE,
    CreditTerms,
    DealTerms,
    FxRate,
    InvoiceTerms,
    Milestone,
    OrderTerms,
    PoolParams,
    ReceiptTerms,
    RequiredDocument,
    shipment_id,
)
from chain.clients.pools import merkle_root
from chain.money import fmt
from chain.vocabulary import Product
from node_api.documents import DocumentService

from .pool_documents import store_fetcher
from .scenario import Cast, Narrator, iso_time

log = logging.getLogger(__name__)

DAY = 86_400

#: Posts a DCSA carrier event (reference, event code, UN/LOCODE) to the oracle operators and
#: returns once the quorum's report is on chain.
Ship = Callable[[str, str, str], None]


@dataclass
class ProductsResult:
    deals: dict[str, int] = field(default_factory=dict)
    pool_id: int = 0
    verified: bool = False


def _ref(text: str) -> bytes:
    return keccak(text=text)


class _Docs:
    """Uploads demo documents encrypted for their parties; returns (sha-256, CID)."""

    def __init__(self, cast: Cast, documents: DocumentService | None):
        self.cast = cast
        self.documents = documents

    def put(self, content: bytes, *readers: str) -> tuple[bytes, str]:
        if self.documents is None:  # no document store: anchor the hash of the plain content
            return hashlib.sha256(content).digest(), "bafkrei" + hashlib.sha256(content).hexdigest()[:52]
        keys = {self.cast.addr(r): eth_keys.PrivateKey(self.cast.keys[r].key).public_key.to_bytes()
                for r in dict.fromkeys(readers)}
        doc = self.documents.upload(content, keys)
        return bytes.fromhex(doc.sha256[2:]), doc.cid


def run_products(cast: Cast, ship: Ship, say: Narrator, documents: DocumentService | None = None) -> ProductsResult:
    """Every product once: offers, order financing, receipt pledge, documentary payment, T/T and
    multi-tier parts, FX-locked settlement, treasury redemption, risk limits, and an ABS pool
    verified by the investor."""
    out = ProductsResult()
    docs = _Docs(cast, documents)
    _fund_parties(cast, say)
    out.deals["offer"] = _offers(cast, say, docs)
    out.deals["order"] = _order_financing(cast, ship, say, docs)
    out.deals["pledge"] = _receipt_pledge(cast, say, docs)
    out.deals["credit"] = _documentary_credit(cast, ship, say, docs)
    _tt_and_parts(cast, say, docs)
    out.deals["fx"] = _fx_settlement(cast, say, docs)
    _treasury(cast, say)
    _risk(cast, say, docs)
    out.pool_id, out.verified = _abs_pool(cast, say, docs, documents)
    return out


# ------------------------------------------------------------------------------------ helpers


def _now(cast: Cast) -> int:
    return cast.chain.w3.eth.get_block("latest")["timestamp"]


def _fund_parties(cast: Cast, say: Narrator) -> None:
    t = cast.as_("treasury")
    for currency, amounts in (("USD", {"lender": 3_000_000_00, "lender_b": 2_000_000_00, "buyer": 3_000_000_00}),
                              ("EUR", {"buyer": 1_000_000_00})):
        token = t.token(currency)
        for key, amount in amounts.items():
            token.mint(cast.addr(key), amount, _ref(f"DEP-{currency}-{key}-products"))
    say(f"{cast.name('treasury')} credited more tokenised deposits against fiat received (each with its "
        f"deposit reference): {fmt(3_000_000_00, 'USD')} to {cast.name('lender')}, {fmt(2_000_000_00, 'USD')} to "
        f"{cast.name('lender_b')}, {fmt(3_000_000_00, 'USD')} and {fmt(1_000_000_00, 'EUR')} to {cast.name('buyer')}.")
    for key in ("lender", "lender_b", "buyer"):
        for currency in ("USD", "EUR"):
            cast.as_(key).token(currency).approve(cast.deployment.deal_engine, 2**255)


def _invoice(cast: Cast, docs: _Docs, number: str, face: int, currency: str = "USD", due_in: int = 60 * DAY,
             bl: str = "", holder: str = "seller", order_id: int = 0, confirm: bool = True) -> int:
    now = _now(cast)
    h, cid = docs.put(f"Commercial invoice {number}: {fmt(face, currency)}".encode(), holder, "buyer", "lender",
                      "lender_b", "investor")
    iid = cast.as_(holder).invoices.mint(InvoiceTerms(
        cast.addr("buyer"), number, face, currency, now, now + due_in, h, cid,
        shipment_id(bl) if bl else bytes(32), order_id))
    if confirm:
        cast.as_("buyer").invoices.confirm(iid)
    return iid


def _terms(cast: Cast, product: Product, collateral: int, principal: int, fee: int, maturity: int,
           milestones: Iterable[Milestone], borrower: str = "seller", lender: str = "lender", currency: str = "USD",
           bl: str = "", grace: int = 15 * DAY, nonce: str = "", extra: bytes = b"", fx_valid_until: int = 0) -> DealTerms:
    d = cast.deployment
    return DealTerms(
        product=d.product_modules[product], collateral_id=collateral, borrower=cast.addr(borrower),
        lender=cast.addr(lender), settlement_token=d.settlement_tokens[currency], principal=principal, fee=fee,
        maturity=maturity, grace_period=grace, accept_by=_now(cast) + DAY, milestones=tuple(milestones),
        shipment_id=shipment_id(bl) if bl else bytes(32), fx_valid_until=fx_valid_until,
        agreement_hash=_ref(f"agreement {product.name} {collateral} {nonce}"), nonce=_ref(nonce or str(collateral)),
        extra=extra)


def _accept(cast: Cast, terms: DealTerms, borrower: str = "seller", lender: str = "lender") -> int:
    """The lender's signed offer, accepted by the borrower (its own transaction is its consent)."""
    engine = cast.as_(borrower).deals
    return engine.accept(terms, b"", cast.as_(lender).deals.sign_terms(cast.keys[lender], terms))


# ------------------------------------------------------------------------------------ products


def _offers(cast: Cast, say: Narrator, docs: _Docs) -> int:
    name = cast.name
    iid = _invoice(cast, docs, "INV-2026-0107", 400_000_00, due_in=45 * DAY)
    inv = cast.as_("seller").invoices.invoice(iid)
    offer_a = _terms(cast, Product.RECEIVABLE, iid, 320_000_00, 6_400_00, inv.due_date, [Milestone(ADVANCE, 10_000)],
                     lender="lender", nonce="offer-a")
    offer_b = _terms(cast, Product.RECEIVABLE, iid, 340_000_00, 5_950_00, inv.due_date, [Milestone(ADVANCE, 10_000)],
                     lender="lender_b", nonce="offer-b")
    sig_a = cast.as_("lender").deals.sign_terms(cast.keys["lender"], offer_a)
    sig_b = cast.as_("lender_b").deals.sign_terms(cast.keys["lender_b"], offer_b)
    say(f"Two banks offered to finance invoice INV-2026-0107 ({fmt(inv.face_value, 'USD')}, due "
        f"{_iso_day(inv.due_date)}, chain time): "
        f"{name('lender')} {fmt(offer_a.principal, 'USD')} for a fee of {fmt(offer_a.fee, 'USD')}, "
        f"{name('lender_b')} {fmt(offer_b.principal, 'USD')} for {fmt(offer_b.fee, 'USD')}. Only the seller and "
        f"each offering bank see an offer's terms.")
    cast.as_("seller").invoices.approve(cast.deployment.receivable_financing, iid)
    deal = cast.as_("seller").deals.accept(offer_b, b"", sig_b)
    cast.as_("lender_b").deals.fund(deal)
    got = cast.as_("seller").deals.withdraw(deal)
    say.note(f"{name('seller')} accepted {name('lender_b')}'s offer: deal #{deal}, advance {fmt(got, 'USD')} paid "
             f"at funding.")
    try:
        cast.as_("seller").deals.accept(offer_a, b"", sig_a)
        raise AssertionError("a second offer on the same invoice was accepted")
    except errors.ContractRevert as exc:
        say.note(f"{name('lender')}'s offer lapsed: accepting it now is refused ({type(exc).__name__}: the invoice is "
                 f"already in a deal).")
    cast.as_("buyer").deals.repay(deal)
    cast.as_("lender_b").deals.withdraw(deal)
    cast.as_("seller").deals.withdraw(deal)
    say.note(f"{name('buyer')} paid early; {name('lender_b')} received {fmt(offer_b.principal + offer_b.fee, 'USD')}, "
             f"{name('seller')} the remaining {fmt(inv.face_value - offer_b.principal - offer_b.fee, 'USD')}.")
    return deal


def _order_financing(cast: Cast, ship: Ship, say: Narrator, docs: _Docs) -> int:
    name, addr = cast.name, cast.addr
    now = _now(cast)
    bl = "OOLU-BL-2026-0311"
    h, cid = docs.put(b"Purchase order PO-7731: 8,000 solar inverters", "buyer", "seller", "lender")
    orders = cast.as_("buyer").orders
    po = orders.issue(OrderTerms(addr("seller"), "PO-7731", "Solar inverters 5 kW", 8_000, "pcs", 960_000_00, "USD",
                                 now + 30 * DAY, h, cid, shipment_id(bl)))
    say(f"{name('buyer')} issued purchase order PO-7731 to {name('seller')}: 8,000 solar inverters for "
        f"{fmt(960_000_00, 'USD')}, delivery by {_iso_day(now + 30 * DAY)} (chain time; order #{po}; issuing it is "
        f"the buyer's confirmation).")
    terms = _terms(cast, Product.ORDER, po, 500_000_00, 9_000_00, now + 75 * DAY,
                   [Milestone(ADVANCE, 3_000), Milestone("DEPA", 7_000, "CNSZX")], bl=bl, nonce="order")
    cast.as_("seller").orders.approve(cast.deployment.order_financing, po)
    deal = _accept(cast, terms)
    cast.as_("lender").deals.fund(deal)
    lens = cast.as_("auditor").lens
    say(f"Order financing (订单融资): {name('lender')} advanced {fmt(terms.principal, 'USD')} against the order, "
        f"30% at once and 70% when the goods sail; every release is credited to the order's supplier "
        f"{name('seller')} and nobody else (受托支付). Released so far: {fmt(lens.deal(deal).released, 'USD')}.")
    ship(bl, "DEPA", "CNSZX")
    say.note(f"The carrier reported the departure from Shenzhen: released {fmt(lens.deal(deal).released, 'USD')} "
             f"in total.")
    cast.as_("seller").deals.withdraw(deal)
    iid = _invoice(cast, docs, "INV-2026-0311", 960_000_00, due_in=60 * DAY, bl=bl, order_id=po)
    cast.as_("seller").invoices.approve(cast.deployment.order_financing, iid)
    cast.as_("seller").order_financing.roll_to_invoice(deal, iid)
    say.note(f"{name('seller')} tokenised invoice INV-2026-0311 against the order and {name('buyer')} confirmed it; "
             f"the deal rolled over into it and is now repaid by the buyer at the invoice's face value.")
    cast.as_("buyer").deals.repay(deal)
    lender_got = cast.as_("lender").deals.withdraw(deal)
    seller_got = cast.as_("seller").deals.withdraw(deal)
    say.note(f"{name('buyer')} paid {fmt(960_000_00, 'USD')}: {name('lender')} {fmt(lender_got, 'USD')}, "
             f"{name('seller')} {fmt(seller_got, 'USD')} more.")
    return deal


def _receipt_pledge(cast: Cast, say: Narrator, docs: _Docs) -> int:
    name, addr = cast.name, cast.addr
    now = _now(cast)
    h, cid = docs.put(b"Warehouse receipt WR-2026-0088: 250 t copper cathodes, bay 4", "warehouse", "seller", "lender")
    rid = cast.as_("warehouse").receipts.issue(ReceiptTerms(
        addr("seller"), "Copper cathodes", 250_000, "kg", "LME Grade A", "NLRTM", 2_250_000_00, "USD", now + 200 * DAY,
        h, cid))
    terms = _terms(cast, Product.RECEIPT_PLEDGE, rid, 1_500_000_00, 12_500_00, now + 40 * DAY,
                   [Milestone(ADVANCE, 10_000)], nonce="pledge", grace=10 * DAY)
    cast.as_("seller").receipts.approve(cast.deployment.receipt_pledge_financing, rid)
    deal = _accept(cast, terms)
    cast.as_("lender").deals.fund(deal)
    cast.as_("seller").deals.withdraw(deal)
    r = cast.as_("auditor").receipts.receipt(rid)
    say(f"Receipt-pledge financing (仓单质押): {name('warehouse')} issued receipt #{rid} for 250,000 kg copper "
        f"cathodes to {name('seller')}; {name('lender')} lent {fmt(terms.principal, 'USD')} against it until "
        f"{_iso_day(terms.maturity)} (chain time). The receipt "
        f"is pledged to the deal ({'locked' if r.pledgee else 'NOT pledged'}) and only a default of the deal "
        f"could enforce it.")
    try:
        cast.as_("seller").receipts.request_redemption(rid)
        raise AssertionError("a pledged receipt was redeemed")
    except errors.ReceiptPledged:
        say.note("Taking the goods out while the receipt is pledged is refused by the contract.")
    cast.as_("seller").token("USD").approve(cast.deployment.deal_engine, 2**255)
    cast.as_("seller").deals.repay(deal)
    cast.as_("lender").deals.withdraw(deal)
    say.note(f"{name('seller')} repaid {fmt(terms.principal + terms.fee, 'USD')}; the pledge was released "
             f"({'free' if cast.as_('auditor').receipts.receipt(rid).pledgee is None else 'still pledged'}).")
    return deal


def _documentary_credit(cast: Cast, ship: Ship, say: Narrator, docs: _Docs) -> int:
    name, addr = cast.name, cast.addr
    now = _now(cast)
    bl = "OOLU-BL-2026-0520"
    bl_hash, _ = docs.put(b"Bill of lading OOLU-BL-2026-0520, shipped on board", "seller", "buyer", "lender")
    inv_hash, _ = docs.put(b"Commercial invoice CI-0520", "seller", "buyer", "lender")
    credit = CreditTerms(addr("buyer"), addr("seller"), now + 20 * DAY,
                         (RequiredDocument("BLAD"), RequiredDocument("CINV", inv_hash)))
    terms = _terms(cast, Product.DOCUMENTARY, 0, 275_000_00, 0, now + 45 * DAY, [Milestone("ARRI", 10_000, "NLRTM")],
                   bl=bl, nonce="credit", grace=0, extra=credit.encode())
    deal = _accept(cast, terms)
    cast.as_("lender").deals.fund(deal)
    say(f"Documentary payment (L/C style): {name('lender')}, as {name('buyer')}'s bank, put the price "
        f"{fmt(terms.principal, 'USD')} in escrow for {name('seller')}, payable against a bill of lading dated by "
        f"{_iso_day(credit.latest_shipment)} and the agreed commercial invoice, once the goods arrive in Rotterdam; the "
        f"credit expires {_iso_day(terms.maturity)} (chain time).")
    credits = cast.as_("seller").credits
    credits.present(deal, "BLAD", bl_hash, now)
    credits.present(deal, "CINV", inv_hash, now)
    say.note("The seller presented both documents; the presentation complies.")
    ship(bl, "ARRI", "NLRTM")
    lens = cast.as_("auditor").lens
    if lens.deal(deal).released != terms.principal:
        cast.as_("seller").deals.poke(deal)
    cast.as_("seller").deals.settle(deal)
    got = cast.as_("seller").deals.withdraw(deal)
    say.note(f"Arrival in Rotterdam confirmed: {fmt(got, 'USD')} paid to {name('seller')}; the credit is settled.")
    return deal


def _tt_and_parts(cast: Cast, say: Narrator, docs: _Docs) -> None:
    name, addr = cast.name, cast.addr
    iid = _invoice(cast, docs, "INV-2026-0415", 150_000_00, due_in=30 * DAY)
    tt = cast.as_("buyer").settlement
    cast.as_("buyer").token("USD").approve(cast.deployment.invoice_settlement, 2**255)
    tt.pay_invoice(iid, 50_000_00, _ref("TT-0415-1"))
    tt.pay_invoice(iid, 100_000_00, _ref("TT-0415-2"))
    say(f"T/T: {name('buyer')} paid invoice INV-2026-0415 ({fmt(150_000_00, 'USD')}) by two telegraphic "
        f"transfers with payment references; the invoice is "
        f"{cast.as_('auditor').invoices.invoice(iid).state.label} after the second matched the face value.")
    supplier = "supplier" if "supplier" in cast.keys else "seller_ops"
    supplier_label = (name(supplier) if supplier == "supplier" else
                      f"a tier-2 supplier (played by {name(supplier)}'s second account {addr(supplier)[:10]}...)")
    root = _invoice(cast, docs, "INV-2026-0416", 300_000_01, due_in=30 * DAY)
    parts = cast.as_("seller").invoices.split(root, [200_000_00, 100_000_01])
    cast.as_("seller").invoices.transfer(addr(supplier), parts[1])
    say(f"Multi-tier transfer (多级流转): {name('seller')} split confirmed invoice INV-2026-0416 "
        f"({fmt(300_000_01, 'USD')}) and paid {supplier_label} with a part worth "
        f"{fmt(100_000_01, 'USD')}; the part keeps the buyer, the due date and the lineage.")
    paid_before = {k: cast.as_(k).token("USD").balance_of(addr(k)) for k in ("seller", supplier)}
    tt.pay_parts(root, 300_000_01, _ref("TT-0416"))
    got = {k: cast.as_(k).token("USD").balance_of(addr(k)) - paid_before[k] for k in ("seller", supplier)}
    say.note(f"Ahead of the due date {_iso_day(cast.as_('auditor').invoices.invoice(root).due_date)} (chain time) {name('buyer')} paid all parts in one call: the exporter {fmt(got['seller'], 'USD')}, "
             f"the tier-2 holder {fmt(got[supplier], 'USD')} (pro rata, no unit lost).")


def _fx_settlement(cast: Cast, say: Narrator, docs: _Docs) -> int:
    name = cast.name
    fx = cast.as_("oracle_1").fx
    now = _now(cast)
    rate = FxRate.from_decimal("EUR", "USD", "1.08250000", now - 30)
    fx.submit_rate(rate, [fx.sign_rate(cast.keys[k], rate) for k in ("oracle_1", "oracle_2")])
    iid = _invoice(cast, docs, "INV-2026-0502", 500_000_00, currency="EUR", due_in=60 * DAY)
    inv = cast.as_("seller").invoices.invoice(iid)
    terms = _terms(cast, Product.RECEIVABLE, iid, 430_000_00, 8_000_00, inv.due_date, [Milestone(ADVANCE, 10_000)],
                   currency="USD", nonce="fx", fx_valid_until=inv.due_date + 30 * DAY)
    cast.as_("seller").invoices.approve(cast.deployment.receivable_financing, iid)
    deal = _accept(cast, terms)
    cast.as_("lender").deals.fund(deal)
    cast.as_("seller").deals.withdraw(deal)
    due = cast.as_("auditor").deals.amount_due(deal)
    say(f"FX-locked settlement: a EUR invoice ({fmt(inv.face_value, 'EUR')}) financed in USD: "
        f"{name('lender')} advanced {fmt(terms.principal, 'USD')}; the oracles' rate EUR/USD 1.0825 was locked at "
        f"booking, so the buyer owes {fmt(due, 'USD')} (rounded up to the cent).")
    cast.as_("buyer").deals.repay(deal)
    lender_got = cast.as_("lender").deals.withdraw(deal)
    seller_got = cast.as_("seller").deals.withdraw(deal)
    say.note(f"{name('buyer')} paid in USD at the locked rate: {name('lender')} {fmt(lender_got, 'USD')}, "
             f"{name('seller')} {fmt(seller_got, 'USD')}.")
    return deal


def _treasury(cast: Cast, say: Narrator) -> None:
    name = cast.name
    usd = cast.as_("seller").token("USD")
    rid = usd.request_redemption(200_000_00, _ref("IBAN payout instruction SBE-001"))
    cast.as_("treasury").token("USD").complete_redemption(rid, _ref("SWIFT MT103 20261201-001"))
    say(f"Treasury: {name('seller')} redeemed {fmt(200_000_00, 'USD')} of tokenised deposits for fiat (request "
        f"#{rid}); {name('treasury')} paid it out and burned the tokens. USD in issue at block "
        f"{cast.chain.w3.eth.block_number} (chain time {iso_time(_now(cast))}): {fmt(usd.total_supply(), 'USD')}.")


def _risk(cast: Cast, say: Narrator, docs: _Docs) -> None:
    name = cast.name
    risk = cast.as_("lender").risk
    risk.set_lender_policy("USD", 10_000, 0)
    limit = 1_200_000_00
    risk.set_limit(cast.addr("buyer"), limit)
    iid = _invoice(cast, docs, "INV-2026-0630", 2_000_000_00, due_in=50 * DAY)
    inv = cast.as_("seller").invoices.invoice(iid)
    terms = _terms(cast, Product.RECEIVABLE, iid, 1_600_000_00, 20_000_00, inv.due_date, [Milestone(ADVANCE, 10_000)],
                   nonce="risk")
    cast.as_("seller").invoices.approve(cast.deployment.receivable_financing, iid)
    try:
        _accept(cast, terms)
        raise AssertionError("a deal over the lender's limit was accepted")
    except errors.ExposureLimitExceeded as exc:
        say(f"Risk rules: {name('lender')} limits its exposure to {name('buyer')} to {fmt(limit, 'USD')}. A new "
            f"deal of {fmt(terms.principal, 'USD')} was refused on chain: limit {fmt(exc['limit'], 'USD')}, current "
            f"{fmt(exc['current'], 'USD')}, requested {fmt(exc['requested'], 'USD')}.")
    risk.set_limit(cast.addr("buyer"), None)


def _abs_pool(cast: Cast, say: Narrator, docs: _Docs, documents: DocumentService | None) -> tuple[int, bool]:
    name = cast.name
    d = cast.deployment
    deals = []
    for i, (face, principal) in enumerate(((600_000_00, 480_000_00), (450_000_00, 360_000_00),
                                           (300_000_00, 240_000_00))):
        iid = _invoice(cast, docs, f"INV-2026-09{i:02d}", face, due_in=(50 + 10 * i) * DAY)
        inv = cast.as_("seller").invoices.invoice(iid)
        t = _terms(cast, Product.RECEIVABLE, iid, principal, principal // 50, inv.due_date, [Milestone(ADVANCE, 10_000)],
                   nonce=f"pool-{i}")
        cast.as_("seller").invoices.approve(d.receivable_financing, iid)
        deal = _accept(cast, t)
        cast.as_("lender").deals.fund(deal)
        cast.as_("seller").deals.withdraw(deal)
        deals.append((deal, iid, t))
    pools = cast.as_("lender").pools
    expected = sum(t.principal + t.fee for _, _, t in deals)
    pid = pools.create_pool(PoolParams(d.settlement_tokens["USD"], 120 * DAY, 10_000, 300, expected * 7 // 10,
                                       expected - expected * 7 // 10, "Tradenet Receivables 2026-1"))
    cast.as_("lender").token("USD").approve(d.abs_pools, 2**255)
    for deal, iid, t in deals:
        doc_hash = _anchored_hash(cast, iid)
        pools.bid(pid, deal, t.principal + t.fee // 2, doc_hash)
        cast.as_("lender").deals.approve_assignment(deal, d.abs_pools)
        pools.sell(pid, deal)
    assets = pools.assets(pid)
    pools.issue(pid, merkle_root([a.leaf for a in assets]))
    pool = pools.pool(pid)
    investor = cast.as_("investor")
    investor.token("USD").approve(d.abs_pools, 2**255)
    cast.as_("treasury").token("USD").mint(cast.addr("investor"), pool.senior_size + pool.junior_size,
                                           _ref("DEP-USD-investor"))
    investor.pools.buy_notes(pid, True, pool.senior_size)
    investor.pools.buy_notes(pid, False, pool.junior_size)
    say(f"ABS pool #{pid} 'Tradenet Receivables 2026-1': {name('lender')} sold {len(assets)} financed receivables "
        f"(expected collections {fmt(expected, 'USD')}) into the pool, published the asset tape's Merkle root and "
        f"issued senior notes {fmt(pool.senior_size, 'USD')} (3% coupon) and junior notes {fmt(pool.junior_size, 'USD')}; "
        f"{name('investor')} bought them all.")
    fetch = store_fetcher(documents.store) if documents is not None else None
    report = verify_pool(cast.chain, d, pid, fetch_document=fetch)
    say.note(f"{name('investor')} verified the pool trusting nobody (chain state over RPC and the documents by CID):")
    for line in report.table().splitlines():
        say.note("  " + line)
    return pid, report.ok


def _anchored_hash(cast: Cast, invoice_id: int) -> bytes:
    """The document hash an invoice anchored (from its InvoiceIssued log)."""
    return document_cids(cast.chain, cast.deployment, [invoice_id])[invoice_id][1]


def default_story(cast: Cast, say: Narrator, advance_clock: Callable[[int], None]) -> int:
    """A receipt-pledge deal that is not repaid, on a THROW-AWAY chain whose clock may be moved
    (`advance_clock(seconds)`): after maturity plus grace the lender declares the default and the
    pledged receipt is transferred to it. Returns the deal id."""
    name, addr = cast.name, cast.addr
    docs = _Docs(cast, None)
    cast.as_("treasury").token("USD").mint(addr("lender"), 1_000_000_00, _ref("DEP-USD-lender-default-story"))
    cast.as_("lender").token("USD").approve(cast.deployment.deal_engine, 2**255)
    now = _now(cast)
    h, cid = docs.put(b"Warehouse receipt WR-2026-0999: 80 t nickel, bay 2")
    rid = cast.as_("warehouse").receipts.issue(ReceiptTerms(
        addr("seller"), "Nickel cathodes", 80_000, "kg", "LME Grade A", "NLRTM", 1_400_000_00, "USD", now + 120 * DAY,
        h, cid))
    terms = _terms(cast, Product.RECEIPT_PLEDGE, rid, 1_000_000_00, 10_000_00, now + 30 * DAY,
                   [Milestone(ADVANCE, 10_000)], nonce="default-story", grace=10 * DAY)
    cast.as_("seller").receipts.approve(cast.deployment.receipt_pledge_financing, rid)
    deal = _accept(cast, terms)
    cast.as_("lender").deals.fund(deal)
    cast.as_("seller").deals.withdraw(deal)
    say(f"The default story, on a separate throw-away chain (its clock is moved; the main chain's is not): "
        f"{name('lender')} lent {fmt(terms.principal, 'USD')} to {name('seller')} against warehouse receipt #{rid} "
        f"(80,000 kg nickel), maturity {_iso_day(terms.maturity)}, 10 days' grace (this chain's time).")
    advance_clock(terms.maturity - _now(cast) + 1)
    cast.as_("lender").deals.flag_overdue(deal)
    say.note(f"Chain time {iso_time(_now(cast))} on the throw-away chain: unpaid at maturity, the deal is flagged "
             f"overdue (a warning; the grace period runs).")
    try:
        cast.as_("lender").deals.declare_default(deal)
        raise AssertionError("a default was declared during the grace period")
    except errors.GracePeriodRunning:
        say.note("Declaring the default now is refused: the grace period is still running.")
    advance_clock(terms.maturity + terms.grace_period - _now(cast) + 1)
    cast.as_("lender").deals.declare_default(deal)
    r = cast.as_("auditor").receipts.receipt(rid)
    owner = next((k for k in cast.keys if cast.addr(k) == r.holder), r.holder)
    say.note(f"Chain time {iso_time(_now(cast))}: maturity plus grace passed unpaid; {name('lender')} declared the "
             f"default and the pledged receipt #{rid} was transferred to "
             f"{name(owner) if owner in cast.keys else owner} (only the deal's default can enforce a pledge). "
             f"The throw-away chain is stopped.")
    return deal


def _iso_day(ts: int) -> str:
    return iso_time(ts)[:10]
