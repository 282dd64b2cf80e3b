"""A multi-product trade flow on the session network, for the read-model tests
(``tests/test_projections.py``): every tradenet contract emits every kind of event it has.

Phases, in order (``TradeFlow.PHASES``; ``marks[phase]`` is the last block before it):

* ``setup``: deposits; governance (legal name, roles, KYC, suspension and reinstatement,
  sanctions set and cleared, a second key of the lender's organisation, the buyer's network
  limit and the network review threshold); a cancelled proposal and one whose approval is
  revoked (it lapses later); the lender's policy (four-eyes above 50,000.00) and its limit for
  the buyer (100,000.00);
* ``receivable``: revoked terms; a deal accepted then cancelled; the receivable deal D1 (DEPA at
  any port 40 %, ARRI at NLRTM 60 %), funded after a four-eyes approval (its booking raises the
  pair-limit warning), DEPA reported naming the deal and a non-escrow (ListenerFailed), ARRI at
  SGSIN (transshipment: no release), ARRI at NLRTM unannounced then poked, retracted (release
  undone), confirmed again; withdrawals, repayment by the buyer, closing;
* ``order``: purchase order, order-financing deal D2 (advance 50 %, DEPA 50 %) funded, invoice
  issued against the order, rolled over, DEPA released; another order cancelled by the buyer;
* ``receipts``: a receipt pledged directly to lender_b and released; a receipt redeemed; the
  receipt-pledge deal D3 (advance), funded (pledged to the product), withdrawn; three small
  receipt-pledge advances to the carrier;
* ``overdue``: 23 days pass; D3 flagged overdue (counted: the seller's run is 1), defaulted
  (pledge enforced to the lender); the carrier's three deals flagged overdue (its run reaches 3:
  frozen; ``marks["frozen"]`` is that block) and the carrier unfrozen by governance; the lapsed
  proposal expired; D2 repaid by the buyer on time (the seller's run resets) and withdrawn by the
  supplier;
* ``documentary``: documentary payment D4 (ARRI anywhere), documents presented, cured and
  discrepant again, waived by the applicant, released by a poke, settled, withdrawn;
* ``fx``: an EUR/USD rate; deal D5 on an EUR invoice financed in USD (FX lock), funded, its
  lender position assigned to lender_b;
* ``payments``: a T/T paid in two instalments; a payment with a reference; an invoice disputed
  by the buyer; an invoice split in
  two, one part transferred and the other split again, paid pro rata over its parts twice;
  redemptions completed and rejected;
* ``currency``: governance creates GBP with the currency factory; GBP minted and transferred.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eth_account import Account
from eth_utils import keccak

from chain.clients import (
    ADVANCE,
    CreditTerms,
    DealTerms,
    FxRate,
    InvoiceTerms,
    MemberInput,
    Milestone,
    Notify,
    OrderTerms,
    ReceiptTerms,
    RequiredDocument,
    SettlementToken,
    ShipmentEvent,
    shipment_id,
)
from chain.vocabulary import ContractKind, Role

DAY = 86_400
ORACLE_SIGNERS = ("oracle_1", "oracle_2")
#: The lender organisation's second key (four-eyes approvals).
LENDER_OPS = Account.from_key(keccak(text="indexer-flow:lender_ops"))
LENDER_LEI = "213800ATLANTICTRB007"
NEW_CURRENCY = ("GBP", "tradenet Pound Sterling deposit", 2)


def doc_hash(label: str) -> bytes:
    return keccak(text=f"document:{label}")


def ref(label: str) -> bytes:
    return keccak(text=f"reference:{label}")


@dataclass
class TradeFlow:
    net: Any
    marks: dict[str, int] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)  # deals, invoices, orders, receipts, proposals
    events: dict[str, bytes] = field(default_factory=dict)  # shipment event ids
    shipments: dict[str, ShipmentEvent] = field(default_factory=dict)
    retracted_at: dict[str, int] = field(default_factory=dict)
    deal_terms: dict[str, DealTerms] = field(default_factory=dict)
    depositors: dict[str, str] = field(default_factory=dict)  # receipt -> participant key
    fx_rate: FxRate | None = None
    gbp: str | None = None

    PHASES = ("setup", "receivable", "order", "receipts", "overdue", "documentary", "fx", "payments", "currency")
    #: run on their own (``TradeFlow(net).run("pools")``): the whole flow's tests state
    #: every other table's contents
    EXTRA_PHASES = ("pools",)

    # ------------------------------------------------------------------ plumbing
    def fork(self) -> "TradeFlow":
        """A copy that runs further phases without changing this flow's records (another branch)."""
        return replace(self, marks=dict(self.marks), ids=dict(self.ids), events=dict(self.events),
                       shipments=dict(self.shipments), retracted_at=dict(self.retracted_at),
                       deal_terms=dict(self.deal_terms), depositors=dict(self.depositors))

    def run(self, *phases: str) -> "TradeFlow":
        for phase in phases or self.PHASES:
            self.marks[phase] = self.net.w3.eth.block_number
            getattr(self, f"phase_{phase}")()
        return self

    def c(self, key: str):
        return self.net.clients(key)

    def addr(self, key: str) -> str:
        return self.net.addr(key)

    def now(self) -> int:
        return self.net.now()

    @property
    def d(self):
        return self.net.deployment

    def usd(self, key: str):
        return self.c(key).token("USD")

    def shipment_event(self, reference: str, code: str, location: str, evidence: str) -> ShipmentEvent:
        return ShipmentEvent.from_strings(reference, code, location, self.now() - 600, evidence)

    def confirm(self, name: str, ev: ShipmentEvent, *notify: Notify) -> bytes:
        oracle = self.c("carrier").oracle
        sigs = [oracle.sign_event(self.net.keys[k], ev) for k in ORACLE_SIGNERS]
        self.shipments[name] = ev
        self.events[name] = oracle.submit_report(ev, sigs, list(notify))
        return self.events[name]

    def retract(self, name: str, ev: ShipmentEvent, reason: str, *notify: Notify) -> None:
        oracle = self.c("carrier").oracle
        event_id, reason_hash, at = self.events[name], keccak(text=reason), self.now()
        self.retracted_at[name] = at
        sigs = [oracle.sign_retraction(self.net.keys[k], event_id, reason_hash, at) for k in ORACLE_SIGNERS]
        oracle.submit_retraction(ev, reason_hash, at, sigs, list(notify))

    def notify(self, deal: str) -> Notify:
        return Notify(self.d.deal_engine, self.ids[deal])

    def invoice(self, name: str, number: str, face: int, currency: str = "USD", due_in: int = 60 * DAY,
                shipment: bytes = bytes(32), order_id: int = 0, confirm: bool = True) -> int:
        now = self.now()
        terms = InvoiceTerms(self.addr("buyer"), number, face, currency, now - DAY, now + due_in, doc_hash(number),
                             f"bafy-{number.lower()}", shipment, order_id)
        self.ids[name] = self.c("seller").invoices.mint(terms)
        if confirm:
            self.c("buyer").invoices.confirm(self.ids[name])
        return self.ids[name]

    def terms(self, product: str, collateral: int, borrower: str, lender: str, principal: int, fee: int,
              maturity_in: int, grace: int, milestones: tuple[Milestone, ...], shipment: bytes = bytes(32),
              fx_valid_until: int = 0, extra: bytes = b"", nonce: str = "") -> DealTerms:
        now = self.now()
        return DealTerms(product, collateral, self.addr(borrower), self.addr(lender), self.d.settlement_tokens["USD"],
                         principal, fee, now + maturity_in, grace, now + 3_600, milestones, shipment,
                         fx_valid_until, keccak(text=f"agreement:{nonce}"), keccak(text=f"nonce:{nonce}"), extra)

    def accept(self, name: str, terms: DealTerms, submitter: str, signer: str) -> int:
        """`submitter` (a party) accepts with the other party's (`signer`) signature."""
        engine = self.c(submitter).deals
        sig = engine.sign_terms(self.net.keys[signer], terms)
        mine = terms.borrower == self.addr(submitter)
        self.deal_terms[name] = terms
        self.ids[name] = engine.accept(terms, b"" if mine else sig, sig if mine else b"")
        return self.ids[name]

    def fund(self, deal: str, lender: str, amount: int) -> None:
        self.usd(lender).approve(self.d.deal_engine, amount)
        self.c(lender).deals.fund(self.ids[deal])

    def govern(self, calls: list[tuple[str, bytes]], description: str) -> int:
        return self.net.registry().govern(self.net.admins, calls, description)

    # ------------------------------------------------------------------ phases
    def phase_setup(self) -> None:
        treasury = self.usd("treasury")
        for key in ("lender", "lender_b", "buyer"):
            treasury.mint(self.addr(key), 500_000_00, ref(f"deposit:{key}"))
        reg, risk = self.net.registry(), self.c("admin_a").risk
        now = self.now()
        investor, auditor = self.addr("investor"), self.addr("auditor")
        self.ids["proposal.config"] = self.govern([
            reg.call_set_legal_name(investor, "Meridian Asset Management S.A."),
            reg.call_set_roles(investor, Role.INVESTOR | Role.AUDITOR),
            reg.call_renew_kyc(auditor, now + 2 * 365 * DAY),
            reg.call_suspend(investor, "periodic KYC review"),
            reg.call_reinstate(investor),
            reg.call_set_sanctioned(auditor, True, "name match on a sanctions list"),
            reg.call_set_sanctioned(auditor, False, "false positive"),
            reg.call_add_member(MemberInput(LENDER_OPS.address, Role.LENDER, LENDER_LEI, "GB", now + 365 * DAY,
                                            "Atlantic Trade Bank plc")),
            risk.call_set_network_limit(self.addr("buyer"), 1_000_000_00),
            risk.call_set_network_review_threshold(500_000_00),
        ], "Member changes and network risk settings")
        admin_a, admin_b = self.net.registry("admin_a"), self.net.registry("admin_b")
        cancelled = admin_a.propose([reg.call_set_legal_name(investor, "withdrawn")], "to be cancelled")
        admin_a.cancel(cancelled)
        lapsing = admin_a.propose([reg.call_set_legal_name(investor, "lapses")], "to lapse", ttl=300)
        admin_b.approve(lapsing)
        admin_b.revoke_approval(lapsing)
        self.ids.update({"proposal.cancelled": cancelled, "proposal.lapsing": lapsing})
        lender_risk = self.c("lender").risk
        lender_risk.set_lender_policy("USD", 0, 50_000_00)
        lender_risk.set_limit(self.addr("buyer"), 100_000_00)

    def phase_receivable(self) -> None:
        d = self.d
        # terms offered and revoked; a deal accepted and cancelled before funding
        inv = self.invoice("invoice.cancelled_deal", "INV-2025-0040", 20_000_00)
        offer = self.terms(d.receivable_financing, inv, "seller", "lender_b", 10_000_00, 200_00, 61 * DAY, 7 * DAY,
                           (Milestone("DEPA", 10_000),), shipment_id("MAEU000000040"), nonce="revoked")
        self.ids["revoked_digest"] = self.c("seller").deals.terms_digest(offer)
        self.c("lender_b").deals.revoke_terms(offer)
        offer = self.terms(d.receivable_financing, inv, "seller", "lender_b", 10_000_00, 200_00, 61 * DAY, 7 * DAY,
                           (Milestone("DEPA", 10_000),), shipment_id("MAEU000000040"), nonce="cancelled")
        self.c("seller").invoices.approve(d.receivable_financing, inv)
        self.accept("deal.cancelled", offer, "seller", "lender_b")
        self.c("seller").deals.cancel(self.ids["deal.cancelled"])
        # D1
        bl = "MAEU123456789"
        inv = self.invoice("invoice.d1", "INV-2025-0042", 100_000_00, shipment=shipment_id(bl))
        terms = self.terms(d.receivable_financing, inv, "seller", "lender", 80_000_00, 2_000_00, 61 * DAY, 7 * DAY,
                           (Milestone("DEPA", 4_000), Milestone("ARRI", 6_000, "NLRTM")), shipment_id(bl), nonce="d1")
        self.c("seller").invoices.approve(d.receivable_financing, inv)
        deal = self.accept("deal.d1", terms, "seller", "lender")
        self.net.deployment.clients(self.net.chain, LENDER_OPS).risk.approve_funding(deal)
        self.fund("deal.d1", "lender", 80_000_00)
        self.confirm("d1.depa", self.shipment_event(bl, "DEPA", "CNSZX", "depa"), self.notify("deal.d1"),
                     Notify(self.addr("seller"), 7))
        self.confirm("d1.arri_sgsin", self.shipment_event(bl, "ARRI", "SGSIN", "arri sgsin"), self.notify("deal.d1"))
        arri = self.shipment_event(bl, "ARRI", "NLRTM", "arri nlrtm")
        self.confirm("d1.arri_nlrtm", arri)
        self.c("carrier").deals.poke(deal)
        self.retract("d1.arri_nlrtm", arri, "carrier corrected the arrival", self.notify("deal.d1"))
        self.confirm("d1.arri_nlrtm_2", self.shipment_event(bl, "ARRI", "NLRTM", "arri nlrtm corrected"),
                     self.notify("deal.d1"))
        self.c("seller").deals.withdraw(deal)
        self.usd("buyer").approve(d.deal_engine, 100_000_00)
        self.c("buyer").deals.repay(deal)
        self.c("lender").deals.withdraw(deal)
        self.c("seller").deals.withdraw(deal)

    def phase_order(self) -> None:
        d, now, bl = self.d, self.now(), "COSU600100200"
        order = OrderTerms(self.addr("seller"), "PO-7781", "LED panels", 1_000, "PCE", 50_000_00, "USD",
                           now + 30 * DAY, doc_hash("PO-7781"), "bafy-po-7781", shipment_id(bl))
        po = self.ids["order.d2"] = self.c("buyer").orders.issue(order)
        terms = self.terms(d.order_financing, po, "seller", "lender_b", 30_000_00, 500_00, 90 * DAY, 7 * DAY,
                           (Milestone(ADVANCE, 5_000), Milestone("DEPA", 5_000)), shipment_id(bl), nonce="d2")
        self.c("seller").orders.approve(d.order_financing, po)
        deal = self.accept("deal.d2", terms, "seller", "lender_b")
        self.fund("deal.d2", "lender_b", 30_000_00)
        inv = self.invoice("invoice.d2", "INV-PO-7781", 50_000_00, due_in=80 * DAY, shipment=shipment_id(bl),
                           order_id=po)
        self.c("seller").invoices.approve(d.order_financing, inv)
        self.c("seller").order_financing.roll_to_invoice(deal, inv)
        self.confirm("d2.depa", self.shipment_event(bl, "DEPA", "CNSHA", "depa po"), self.notify("deal.d2"))
        declined = OrderTerms(self.addr("seller"), "PO-7782", "LED drivers", 200, "PCE", 8_000_00, "USD",
                              now + 30 * DAY, doc_hash("PO-7782"), "bafy-po-7782")
        self.ids["order.cancelled"] = self.c("buyer").orders.issue(declined)
        self.c("buyer").orders.cancel(self.ids["order.cancelled"], "supplier declined the order")

    def phase_receipts(self) -> None:
        d = self.d
        wh, seller = self.c("warehouse").receipts, self.c("seller").receipts

        def issue(name: str, commodity: str, depositor: str = "seller") -> int:
            terms = ReceiptTerms(self.addr(depositor), commodity, 500_000, "KGM", "LME Grade A", "NLRTM", 450_000_00,
                                 "USD", self.now() + 180 * DAY, doc_hash(name), f"bafy-{name}")
            self.ids[name] = wh.issue(terms)
            self.depositors[name] = depositor
            return self.ids[name]

        pledged, redeemed = issue("receipt.pledged", "Copper cathode"), issue("receipt.redeemed", "Aluminium ingot")
        seller.pledge(pledged, self.addr("lender_b"), self.now() + 30 * DAY, 5 * DAY)
        self.c("lender_b").receipts.release_pledge(pledged)
        seller.request_redemption(redeemed)
        wh.redeem(redeemed)
        terms = self.terms(d.receipt_pledge_financing, pledged, "seller", "lender", 20_000_00, 300_00, 20 * DAY,
                           2 * DAY, (Milestone(ADVANCE, 10_000),), nonce="d3")
        seller.approve(d.receipt_pledge_financing, pledged)
        deal = self.accept("deal.d3", terms, "seller", "lender")
        self.fund("deal.d3", "lender", 20_000_00)
        self.c("seller").deals.withdraw(deal)
        for n in (1, 2, 3):  # three small advances to the carrier that will all run overdue
            receipt = issue(f"receipt.carrier{n}", "Bunker fuel", "carrier")
            terms = self.terms(d.receipt_pledge_financing, receipt, "carrier", "lender", 1_000_00, 10_00, 10 * DAY, DAY,
                               (Milestone(ADVANCE, 10_000),), nonce=f"carrier{n}")
            self.c("carrier").receipts.approve(d.receipt_pledge_financing, receipt)
            self.accept(f"deal.carrier{n}", terms, "carrier", "lender")
            self.fund(f"deal.carrier{n}", "lender", 1_000_00)

    def phase_overdue(self) -> None:
        self.net.advance_time(23 * DAY)
        self.c("carrier").deals.flag_overdue(self.ids["deal.d3"])
        self.c("lender").deals.declare_default(self.ids["deal.d3"])
        for n in (1, 2, 3):  # the third counted overdue freezes the carrier
            self.c("lender").deals.flag_overdue(self.ids[f"deal.carrier{n}"])
        self.marks["frozen"] = self.net.w3.eth.block_number
        self.govern([self.net.clients().risk.call_unfreeze(self.addr("carrier"))], "Unfreeze the carrier")
        self.net.registry("carrier").expire(self.ids["proposal.lapsing"])
        self.usd("buyer").approve(self.d.deal_engine, 50_000_00)
        self.c("buyer").deals.repay(self.ids["deal.d2"])
        self.c("seller").deals.withdraw(self.ids["deal.d2"])

    def phase_documentary(self) -> None:
        d, now, bl = self.d, self.now(), "HLCU770011223"
        cinv = doc_hash("commercial invoice CI-88")
        credit = CreditTerms(self.addr("buyer"), self.addr("seller"), now + 10 * DAY,
                             (RequiredDocument("BLAD"), RequiredDocument("CINV", cinv)))
        terms = self.terms(d.documentary_credit, 0, "seller", "buyer", 40_000_00, 0, 30 * DAY, 0,
                           (Milestone("ARRI", 10_000),), shipment_id(bl), extra=credit.encode(), nonce="d4")
        deal = self.accept("deal.d4", terms, "seller", "buyer")
        self.fund("deal.d4", "buyer", 40_000_00)
        presenter = self.c("seller").credits
        presenter.present(deal, "BLAD", doc_hash("bill of lading HLCU770011223"), now - DAY)
        presenter.present(deal, "CINV", doc_hash("wrong invoice"), now - DAY)
        presenter.present(deal, "CINV", cinv, now - DAY)
        presenter.present(deal, "CINV", doc_hash("amended invoice"), now - DAY)
        self.confirm("d4.arri", self.shipment_event(bl, "ARRI", "NLRTM", "arri hlcu"), self.notify("deal.d4"))
        self.c("buyer").credits.waive(deal)
        self.c("carrier").deals.poke(deal)
        self.c("carrier").deals.settle(deal)
        self.c("seller").deals.withdraw(deal)

    def phase_fx(self) -> None:
        d, bl = self.d, "ONEY445566778"
        fx = self.c("carrier").fx
        rate = self.fx_rate = FxRate.from_decimal("EUR", "USD", "1.08", self.now() - 60)
        fx.submit_rate(rate, [fx.sign_rate(self.net.keys[k], rate) for k in ORACLE_SIGNERS])
        inv = self.invoice("invoice.d5", "INV-EU-0007", 50_000_00, currency="EUR", due_in=45 * DAY,
                           shipment=shipment_id(bl))
        terms = self.terms(d.receivable_financing, inv, "seller", "lender", 40_000_00, 1_000_00, 50 * DAY, 5 * DAY,
                           (Milestone("DEPA", 10_000),), shipment_id(bl), fx_valid_until=self.now() + 60 * DAY,
                           nonce="d5")
        self.c("seller").invoices.approve(d.receivable_financing, inv)
        deal = self.accept("deal.d5", terms, "seller", "lender")
        self.fund("deal.d5", "lender", 40_000_00)
        self.c("lender").deals.approve_assignment(deal, self.addr("lender_b"))
        self.c("lender_b").deals.assign_lender(deal, self.addr("lender_b"))

    def phase_payments(self) -> None:
        d = self.d
        tt = self.invoice("invoice.tt", "INV-TT-0100", 10_000_00)
        self.usd("buyer").approve(d.invoice_settlement, 40_000_00)
        settlement = self.c("buyer").settlement
        settlement.pay_invoice(tt, 4_000_00, ref("tt:1"))
        settlement.pay_invoice(tt, 6_000_00, ref("tt:2"))
        self.usd("buyer").transfer_with_reference(self.addr("seller"), 1_234_00, ref("tt:prepayment"))
        disputed = self.invoice("invoice.disputed", "INV-DSP-0009", 3_000_00, confirm=False)
        self.c("buyer").invoices.dispute(disputed, "goods not ordered")
        root = self.invoice("invoice.split", "INV-SPLIT-0500", 30_000_00)
        part0, part1 = self.c("seller").invoices.split(root, [10_000_00, 20_000_00])
        self.c("seller").invoices.transfer(self.addr("lender_b"), part0)
        part10, part11 = self.c("seller").invoices.split(part1, [5_000_00, 15_000_00])
        self.ids.update({"part.0": part0, "part.1": part1, "part.1.0": part10, "part.1.1": part11})
        settlement.pay_parts(root, 15_000_00, ref("parts:1"))
        settlement.pay_parts(root, 15_000_00, ref("parts:2"))
        usd = self.usd("seller")
        self.ids["redemption.completed"] = usd.request_redemption(1_000_00, ref("payout:1"))
        self.ids["redemption.rejected"] = usd.request_redemption(500_00, ref("payout:2"))
        self.usd("treasury").complete_redemption(self.ids["redemption.completed"], ref("bank:1"))
        self.usd("treasury").reject_redemption(self.ids["redemption.rejected"], "payout account closed")

    def phase_currency(self) -> None:
        code, name, decimals = NEW_CURRENCY
        factory, reg = self.c("admin_a").currency_factory, self.net.registry()
        token = factory.predict(name, code, decimals)
        self.govern([factory.call_create(name, code, decimals),
                     reg.call_set_network_contract(token, ContractKind.ASSET),
                     reg.call_set_settlement_token(code, token)], f"Add the {code} settlement token")
        self.gbp = token
        self.gbp_token("treasury").mint(self.addr("lender"), 5_000_00, ref("deposit:gbp"))
        self.gbp_token("lender").transfer(self.addr("lender_b"), 1_000_00)

    def phase_pools(self) -> None:
        """An ABS pool of two receivables of lender_b: bids, sales, issue, notes sold, one asset
        repaid and collected, a distribution and a claim (every pool table gets rows)."""
        from chain.clients import PoolParams
        from chain.clients.pools import merkle_root

        d = self.d
        for key in ("lender_b", "buyer"):
            self.usd("treasury").mint(self.addr(key), 100_000_00, ref(f"deposit:pool:{key}"))
        deals, expected = [], 0
        for i, face in enumerate((30_000_00, 20_000_00)):
            number = f"INV-POOL-{i:04d}"
            inv = self.invoice(f"invoice.pool{i}", number, face)
            principal, fee = face * 8 // 10, face // 100
            terms = self.terms(d.receivable_financing, inv, "seller", "lender_b", principal, fee, 61 * DAY, 7 * DAY,
                               (Milestone("", 10_000),), nonce=f"pool{i}")
            self.c("seller").invoices.approve(d.receivable_financing, inv)
            deals.append(self.accept(f"deal.pool{i}", terms, "seller", "lender_b"))
            self.fund(f"deal.pool{i}", "lender_b", principal)
            expected += principal + fee
        pools = self.c("lender_b").pools
        pid = pools.create_pool(PoolParams(d.settlement_tokens["USD"], 120 * DAY, 10_000, 300, expected // 2,
                                           expected - expected // 2, "Flow receivables pool"))
        self.ids["pool"] = pid
        self.usd("lender_b").approve(d.abs_pools, 2**255)
        for i, deal in enumerate(deals):
            pools.bid(pid, deal, 15_000_00, doc_hash(f"INV-POOL-{i:04d}"))
            self.c("lender_b").deals.approve_assignment(deal, d.abs_pools)
            pools.sell(pid, deal)
        pools.issue(pid, merkle_root([a.leaf for a in pools.assets(pid)]))
        self.usd("treasury").mint(self.addr("investor"), expected, ref("deposit:investor"))
        self.usd("investor").approve(d.abs_pools, expected)
        investor = self.c("investor").pools
        investor.buy_notes(pid, True, expected // 2)
        investor.buy_notes(pid, False, expected - expected // 2)
        engine = self.c("buyer").deals
        self.usd("buyer").approve(d.deal_engine, engine.amount_due(deals[0]))
        engine.repay(deals[0])
        investor.collect(pid, deals)
        investor.distribute(pid)
        investor.claim(pools.pool(pid).senior)

    def gbp_token(self, key: str) -> SettlementToken:
        assert self.gbp is not None
        return SettlementToken(self.net.chain, self.gbp, self.net.keys[key])

    # ------------------------------------------------------------------ for the assertions
    def deal_ids(self) -> dict[str, int]:
        return {k: v for k, v in self.ids.items() if k.startswith("deal.")}

    def invoice_ids(self) -> dict[str, int]:
        return {k: v for k, v in self.ids.items() if k.startswith(("invoice.", "part."))}


__all__ = ["LENDER_OPS", "LENDER_LEI", "NEW_CURRENCY", "TradeFlow", "doc_hash", "ref"]
