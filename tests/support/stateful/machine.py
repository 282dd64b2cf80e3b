"""The Hypothesis state machine: one rule per operation (`Ops`), every invariant after every step.

`prepare(net)` builds the world once (set-up and a starting portfolio of invoices, deals of every
product, a purchase order, a receipt, a documentary payment, a pool), with its model and log
history; each example starts from a snapshot of it and reverts at its end, so examples are
independent and cheap."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chain.vocabulary import InvoiceState, Role

from .invariants import Checker, History, Reads
from .model import Member, Model, Registry
from .ops import SCHEDULES, Ops, Stats
from .rpc import LogCursor
from .world import (BUYERS, CURRENCIES, DAY, EVERYONE, GOVERNED, INVESTORS, LENDERS, MONEY_HOLDERS, SELLERS,
                    World, set_up)

#: most chain time one sequence may move on (KYC attestations stay valid: a year from set-up)
MAX_TIME_ADVANCE = 250 * DAY
PICK = st.integers(0, 2**16)
CCY = st.sampled_from(CURRENCIES)
NUMBER_VARIANTS = (lambda n: f"INV-2025-{n:04d}", lambda n: f"inv-2025-{n:04d}", lambda n: f"INV 2025 {n:04d}",
                   lambda n: f"Inv/2025/{n:04d}", lambda n: f"INV.2025.{n:04d}")


@dataclass
class Prepared:
    world: World
    model: Model
    history: History


def initial_model(w: World) -> Model:
    """The model of the chain right after `set_up`, read once from chain (balances, members)."""
    reg = w.c().registry
    members = {}
    for key, acct in w.keys.items():
        mem = reg.member(acct.address)
        if mem.exists:
            members[acct.address] = Member(key, mem.lei, int(mem.roles))
    d = w.d
    escrows = {d.deal_engine, *d.product_modules.values(), d.invoice_settlement, d.abs_pools}
    from .invariants import holder_addresses

    holders = holder_addresses(w)
    balances = {ccy: {h: w.c().token(ccy).balance_of(h) for h in holders} for ccy in CURRENCIES}
    supply = {ccy: w.c().token(ccy).total_supply() for ccy in CURRENCIES}
    m = Model(Registry(members, escrows, set(d.settlement_tokens.values())), balances, supply)
    m.risk.book_currency = {reg.member(w.addr("lender")).lei: "USD", reg.member(w.addr("lender_b")).lei: "EUR"}
    return m


def starting_portfolio(ops: Ops) -> None:
    """Invoices in every state, deals of every product at several stages, a pool: so that short
    sequences reach deep states."""
    m = ops.m

    def among(iid: int, states: tuple | None) -> int:  # the pick of an invoice among those an op draws from
        return [i for i, inv in m.invoices.items() if states is None or inv.state in states].index(iid)

    inv1 = ops.mint_invoice("seller", "buyer", "USD", 100_000_00, "INV-2025-0100", 2, 60, False, 0)
    inv2 = ops.mint_invoice("seller", "buyer", "USD", 50_000_00, "INV-2025-0101", 2, 45, False, 1)
    inv3 = ops.mint_invoice("seller_b", "buyer_b", "EUR", 80_000_00, "INV-2025-0102", 2, 50, False, 2)
    ops.mint_invoice("seller_ops", "buyer_b", "USD", 30_000_00, "INV-2025-0103", 2, 40, False, 3)
    inv5 = ops.mint_invoice("seller", "buyer", "USD", 40_000_00, "INV-2025-0104", 2, 70, False, 0)
    for i in (inv1, inv2, inv3, inv5):
        ops.confirm_invoice(among(i, (InvoiceState.ISSUED,)), False)
    parts = ops.split_invoice(among(inv5, (InvoiceState.CONFIRMED,)), 2)
    ops.transfer_invoice([i for i in m.invoices.values() if i.holder and ops.k(i.holder)].index(
        m.invoices[parts[1]]), "seller_b")

    def deal_of(offer) -> int:
        assert offer is not None
        ops.accept(m.offers.index(offer), False)
        return len(m.deals)

    d1 = deal_of(ops.offer_receivable(among(inv1, None), "lender", 80, 1_000_00, 0, 5, 5, False))
    d2 = deal_of(ops.offer_receivable(among(inv2, None), "lender_b", 90, 500_00, 1, 5, 5, False))
    deal_of(ops.offer_receivable(among(inv3, None), "lender", 85, 0, 0, 5, 5, True))
    ops.issue_order("buyer", "seller", "USD", 60_000_00, "PO-2025-0001", 3)
    d4 = deal_of(ops.offer_order(0, "lender", 70, 800_00, 0, 90, 10, False))
    ops.issue_receipt("seller", 200)
    deal_of(ops.offer_pledge(0, "lender_b", "USD", 150_000_00, 2_000_00, 4, 100, 10))
    d6 = deal_of(ops.offer_credit("seller", "buyer", "USD", 20_000_00, 2, 60, False, 1))
    for d in (d1, d2, d4, d6):
        accepted = [i for i, x in m.deals.items() if x.state.name == "ACCEPTED"]
        ops.fund(accepted.index(d))
    ops.report(0, 0, 2, [d1 - 1], False, False)  # DEPA at CNSZX for bill 0, naming deal 1
    ops.offer_receivable(among(parts[0], None), "lender_b", 75, 0, 2, 3, 3, False)
    ops.invoice_order(0, 100)  # the invoice against the financed order, for its rollover
    ops.confirm_invoice(among(list(m.invoices)[-1], (InvoiceState.ISSUED,)), False)
    ops.create_pool("lender", "USD", 100_000_00, 50_000_00, 500, 10_000, 200)
    ops.create_pool("lender_b", "USD", 60_000_00, 40_000_00, 300, 6_000, 120)
    ops.bid(0, [i for i, x in m.deals.items() if x.state.name == "FUNDED"].index(d1), 95)
    ops.sell(0, 0)  # deal 1 pooled: pool 1 can issue, collect, distribute
    ops.bid(1, [i for i, x in m.deals.items() if x.state.name == "FUNDED"].index(d2), 90)
    assert sum(ops.stats.refused.values()) == 0 and sum(ops.stats.skipped.values()) == 0, ops.stats.report()


def prepare(net, stats: Stats) -> Prepared:
    w = World(net)
    cursor = LogCursor(w.chain)
    set_up(w)
    m = initial_model(w)
    history = History()
    ops = Ops(w, m, stats)
    starting_portfolio(ops)
    Checker(w, m, history, stats).run(Reads.take(w, m, cursor))
    stats.invariant_checks = stats.invariant_assertions = 0
    stats.hits.clear()
    stats.refused.clear()
    stats.skipped.clear()
    return Prepared(w, m, history)


class ContractSystem(RuleBasedStateMachine):
    """Random sequences of operations across participants, products and currencies."""

    prepared: Prepared  # set by the test before running
    stats: Stats

    def __init__(self) -> None:
        super().__init__()
        w = self.prepared.world
        self.snap = w.snapshot()
        self.model = copy.deepcopy(self.prepared.model)
        self.history = copy.deepcopy(self.prepared.history)
        self.ops = Ops(w, self.model, self.stats)
        self.cursor = LogCursor(w.chain)
        self.checker = Checker(w, self.model, self.history, self.stats)
        self.started = False
        self.stats.sequences += 1

    def teardown(self) -> None:
        self.prepared.world.revert(self.snap)

    @invariant()
    def invariants_hold(self) -> None:
        if self.started:
            self.stats.steps += 1
        self.started = True
        self.checker.run(Reads.take(self.prepared.world, self.model, self.cursor))

    # ------------------------------------------------------------------ treasury and money

    @rule(to=st.sampled_from(EVERYONE), ccy=CCY, amount=st.integers(1, 10**9))
    def treasury_mint(self, to, ccy, amount):
        self.ops.mint(to, ccy, amount)

    @rule(holder=st.sampled_from(MONEY_HOLDERS), ccy=CCY, amount=st.integers(1, 10**10))
    def redemption_request(self, holder, ccy, amount):
        self.ops.request_redemption(holder, ccy, amount)

    @rule(pick=PICK)
    def redemption_complete(self, pick):
        self.ops.complete_redemption(pick)

    @rule(pick=PICK)
    def redemption_reject(self, pick):
        self.ops.reject_redemption(pick)

    @rule(sender=st.sampled_from(MONEY_HOLDERS), receiver=st.sampled_from(EVERYONE + ("token",)), ccy=CCY,
          amount=st.integers(1, 10**8), with_reference=st.booleans())
    def member_transfer(self, sender, receiver, ccy, amount, with_reference):
        self.ops.transfer(sender, receiver, ccy, amount, with_reference)

    # ------------------------------------------------------------------ invoices

    @rule(seller=st.sampled_from(SELLERS), buyer=st.sampled_from(BUYERS + ("outsider", "lender")), ccy=CCY,
          face=st.sampled_from((10_000_00, 25_000_00, 60_000_00)), number=st.integers(0, 5),
          variant=st.integers(0, len(NUMBER_VARIANTS) - 1), hours_ago=st.integers(0, 30),
          due_days=st.integers(20, 90), reuse_document=st.booleans(), bill=st.integers(-1, 3))
    def invoice_mint(self, seller, buyer, ccy, face, number, variant, hours_ago, due_days, reuse_document, bill):
        self.ops.mint_invoice(seller, buyer, ccy, face, NUMBER_VARIANTS[variant](number), hours_ago, due_days,
                              reuse_document, bill)

    @rule(pick=PICK, wrong_caller=st.booleans())
    def invoice_confirm(self, pick, wrong_caller):
        self.ops.confirm_invoice(pick, wrong_caller)

    @rule(pick=PICK)
    def invoice_dispute(self, pick):
        self.ops.dispute_invoice(pick)

    @rule(pick=PICK)
    def invoice_cancel(self, pick):
        self.ops.cancel_invoice(pick)

    @rule(pick=PICK, parts=st.integers(2, 4))
    def invoice_split(self, pick, parts):
        self.ops.split_invoice(pick, parts)

    @rule(pick=PICK, to=st.sampled_from(EVERYONE))
    def invoice_transfer(self, pick, to):
        self.ops.transfer_invoice(pick, to)

    @rule(pick=PICK, fraction=st.integers(1, 110))
    def invoice_pay(self, pick, fraction):
        self.ops.pay_invoice(pick, fraction)

    @rule(pick=PICK, fraction=st.integers(1, 110))
    def invoice_pay_parts(self, pick, fraction):
        self.ops.pay_parts(pick, fraction)

    # ------------------------------------------------------------------ offers and deals

    @rule(pick=PICK, lender=st.sampled_from(LENDERS), pct=st.integers(40, 105),
          fee=st.sampled_from((0, 500_00, 2_000_00)), schedule=st.integers(0, len(SCHEDULES) - 1),
          extra_days=st.integers(0, 20), grace_days=st.integers(0, 15), fx=st.booleans())
    def offer_receivable(self, pick, lender, pct, fee, schedule, extra_days, grace_days, fx):
        self.ops.offer_receivable(pick, lender, pct, fee, schedule, extra_days, grace_days, fx)

    @rule(pick=PICK, lender=st.sampled_from(LENDERS), pct=st.integers(30, 90), fee=st.sampled_from((0, 300_00)),
          schedule=st.integers(0, len(SCHEDULES) - 1), days=st.integers(20, 120), grace_days=st.integers(0, 15),
          other_currency=st.booleans())
    def offer_order(self, pick, lender, pct, fee, schedule, days, grace_days, other_currency):
        self.ops.offer_order(pick, lender, pct, fee, schedule, days, grace_days, other_currency)

    @rule(pick=PICK, lender=st.sampled_from(LENDERS), ccy=CCY, principal=st.integers(1_000_00, 200_000_00),
          fee=st.sampled_from((0, 1_000_00)), schedule=st.integers(0, len(SCHEDULES) - 1),
          days=st.integers(10, 150), grace_days=st.integers(0, 60))
    def offer_receipt_pledge(self, pick, lender, ccy, principal, fee, schedule, days, grace_days):
        self.ops.offer_pledge(pick, lender, ccy, principal, fee, schedule, days, grace_days)

    @rule(seller=st.sampled_from(("seller", "seller_b")), applicant=st.sampled_from(BUYERS), ccy=CCY,
          price=st.integers(1_000_00, 50_000_00), schedule=st.integers(0, len(SCHEDULES) - 1),
          days=st.integers(10, 90), with_invoice_doc=st.booleans(), bill=st.integers(0, 3))
    def offer_documentary(self, seller, applicant, ccy, price, schedule, days, with_invoice_doc, bill):
        self.ops.offer_credit(seller, applicant, ccy, price, schedule, days, with_invoice_doc, bill)

    @rule(pick=PICK, by_lender=st.booleans())
    def offer_revoke(self, pick, by_lender):
        self.ops.revoke_offer(pick, by_lender)

    @rule(pick=PICK, by_lender=st.booleans())
    def deal_accept(self, pick, by_lender):
        self.ops.accept(pick, by_lender)

    @rule(pick=PICK)
    def deal_fund(self, pick):
        self.ops.fund(pick)

    @rule(pick=PICK, by_lender=st.booleans())
    def deal_cancel(self, pick, by_lender):
        self.ops.cancel(pick, by_lender)

    @rule(pick=PICK)
    def deal_repay(self, pick):
        self.ops.repay(pick)

    @rule(pick=PICK, lender_side=st.booleans())
    def deal_withdraw(self, pick, lender_side):
        self.ops.withdraw(pick, lender_side)

    @rule(pick=PICK)
    def deal_declare_default(self, pick):
        self.ops.declare_default(pick)

    @rule(pick=PICK)
    def deal_flag_overdue(self, pick):
        self.ops.flag_overdue(pick)

    @rule(pick=PICK)
    def deal_poke(self, pick):
        self.ops.poke(pick)

    @rule(pick=PICK)
    def deal_assign_lender(self, pick):
        self.ops.assign_lender(pick)

    @rule(pick=PICK, by_lender=st.booleans())
    def order_roll_to_invoice(self, pick, by_lender):
        self.ops.roll_to_invoice(pick, by_lender)

    @rule(buyer=st.sampled_from(BUYERS), supplier=st.sampled_from(("seller", "seller_b")), ccy=CCY,
          amount=st.integers(10_000_00, 90_000_00), number=st.integers(0, 4), bill=st.integers(-1, 3))
    def order_issue(self, buyer, supplier, ccy, amount, number, bill):
        self.ops.issue_order(buyer, supplier, ccy, amount, f"PO-{number:03d}", bill)

    @rule(pick=PICK, face_pct=st.integers(80, 120))
    def order_invoice(self, pick, face_pct):
        self.ops.invoice_order(pick, face_pct)

    @rule(depositor=st.sampled_from(("seller", "seller_b")), expiry_days=st.integers(20, 240))
    def receipt_issue(self, depositor, expiry_days):
        self.ops.issue_receipt(depositor, expiry_days)

    @rule(pick=PICK, doc=st.integers(0, 2), complying=st.booleans())
    def credit_present(self, pick, doc, complying):
        self.ops.present(pick, doc, complying)

    @rule(pick=PICK)
    def credit_waive(self, pick):
        self.ops.waive(pick)

    @rule(pick=PICK)
    def credit_settle(self, pick):
        self.ops.settle(pick)

    # ------------------------------------------------------------------ oracle

    @rule(bill=st.integers(0, 3), call=st.integers(0, 5), signers=st.integers(1, 3),
          notify=st.lists(st.integers(0, 30), max_size=4), bad_listener=st.booleans(), replay=st.booleans())
    def oracle_report(self, bill, call, signers, notify, bad_listener, replay):
        self.ops.report(bill, call, signers, notify, bad_listener, replay)

    @rule(pick=PICK, notify=st.lists(st.integers(0, 30), max_size=3), stale=st.booleans())
    def oracle_retract(self, pick, notify, stale):
        self.ops.retract(pick, notify, stale)

    # ------------------------------------------------------------------ governance, risk, time

    @rule(member=st.sampled_from(GOVERNED), action=st.sampled_from(("suspend", "reinstate", "sanction", "unsanction")))
    def governance_standing(self, member, action):
        self.ops.govern_standing(member, action)

    @rule(party=st.sampled_from(("seller", "seller_b", "buyer", "buyer_b")))
    def governance_unfreeze(self, party):
        self.ops.unfreeze(party)

    @rule(obligor=st.sampled_from(BUYERS), limit=st.none() | st.integers(0, 200_000_00))
    def governance_network_limit(self, obligor, limit):
        self.ops.set_network_limit(obligor, limit)

    @rule(lender=st.sampled_from(LENDERS), obligor=st.sampled_from(BUYERS + SELLERS),
          limit=st.none() | st.integers(0, 300_000_00))
    def risk_set_limit(self, lender, obligor, limit):
        self.ops.set_limit(lender, obligor, limit)

    @precondition(lambda self: self.model.time_advanced < MAX_TIME_ADVANCE)
    @rule(seconds=st.sampled_from((3_600, DAY, 7 * DAY, 30 * DAY, 75 * DAY)))
    def time_advance(self, seconds):
        self.ops.advance_time(seconds + 3 * 3_600 + 17 * 60)  # never a whole day: off the date boundaries

    # ------------------------------------------------------------------ ABS pools

    @precondition(lambda self: len(self.model.pools) < 4)
    @rule(manager=st.sampled_from(LENDERS), senior=st.integers(10_000_00, 200_000_00),
          junior=st.integers(5_000_00, 100_000_00), coupon=st.integers(0, 1_000), cap=st.integers(2_000, 10_000),
          tenor_days=st.integers(30, 250))
    def pool_create(self, manager, senior, junior, coupon, cap, tenor_days):
        self.ops.create_pool(manager, "USD", senior, junior, coupon, cap, tenor_days)

    @rule(pool=PICK, pick=PICK, price_pct=st.integers(0, 100))
    def pool_bid(self, pool, pick, price_pct):
        self.ops.bid(pool, pick, price_pct)

    @rule(pool=PICK, pick=PICK)
    def pool_sell(self, pool, pick):
        self.ops.sell(pool, pick)

    @rule(pool=PICK)
    def pool_issue(self, pool):
        self.ops.issue(pool)

    @rule(pool=PICK, investor=st.sampled_from(INVESTORS + ("lender",)), senior=st.booleans(),
          pct=st.integers(1, 100))
    def pool_buy_notes(self, pool, investor, senior, pct):
        self.ops.buy_notes(pool, investor, senior, pct)

    @rule(pool=PICK)
    def pool_start_amortisation(self, pool):
        self.ops.start_amortisation(pool)

    @rule(pool=PICK, pick=PICK)
    def pool_collect(self, pool, pick):
        self.ops.collect(pool, pick)

    @rule(pool=PICK, pick=PICK)
    def pool_enforce(self, pool, pick):
        self.ops.enforce(pool, pick)

    @rule(pool=PICK)
    def pool_distribute(self, pool):
        self.ops.distribute(pool)

    @rule(pool=PICK, investor=st.sampled_from(INVESTORS), senior=st.booleans())
    def pool_claim(self, pool, investor, senior):
        self.ops.claim(pool, investor, senior)

    @rule(pool=PICK, sender=st.sampled_from(INVESTORS), receiver=st.sampled_from(INVESTORS + ("lender", "outsider")),
          senior=st.booleans(), pct=st.integers(1, 120))
    def pool_transfer_notes(self, pool, sender, receiver, senior, pct):
        self.ops.transfer_notes(pool, sender, receiver, senior, pct)
