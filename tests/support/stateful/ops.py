"""Every operation of the stateful tests, one method each: the model predicts the outcome (the
Solidity error the contracts raise first, or success), the operation runs on chain, the outcome
must match, and the model applies the effect.

A mismatch raises `ModelMismatch`: either the contracts broke a rule the model states, or the
model is wrong; the shrunk sequence of operations tells which."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from eth_abi import encode as abi_encode
from eth_utils import keccak

from chain import errors
from chain.clients import (
    CreditTerms,
    DealTerms,
    InvoiceTerms,
    Milestone,
    Notify,
    OrderTerms,
    PoolParams,
    ReceiptTerms,
    RequiredDocument,
    ShipmentEvent,
    lei_bytes,
    shipment_id,
)
from chain.clients.pools import leaf_hash, merkle_root
from chain.deploy import product_configs
from chain.vocabulary import DealState, InvoiceState, MilestoneStatus, OrderState, Product, Role

from .model import (
    BPS,
    FREEZE_AFTER,
    Booking,
    DealModel,
    Event,
    Invoice,
    MilestoneModel,
    Model,
    Offer,
    Order,
    PoolModel,
    Receipt,
    Redemption,
    convert_up,
)
from .world import DAY, FX_RATES, ORACLES, World

#: how close (seconds) a time boundary may be before an outcome is too close to call
TIME_MARGIN = 600
#: products the engine settles without a repayment: never counted overdue (chain.deploy's configs)
SELF_LIQUIDATING = frozenset(p for p, c in product_configs().items() if c.self_liquidating)
#: B/L numbers the shipments travel under
BILLS = ("MAEU-SF-0001", "MAEU-SF-0002", "COSU-SF-0003", "ONEY-SF-0004")
#: (event code, location) of the transport calls the oracle may report
CALLS = (("DEPA", "CNSZX"), ("DEPA", "VNSGN"), ("ARRI", "SGSIN"), ("ARRI", "NLRTM"), ("DISC", "NLRTM"),
         ("WHOU", "NLRTM"))
#: milestone schedules: (code, bps, location); "" code = advance, "" location = any transport call
SCHEDULES: tuple[tuple[tuple[str, int, str], ...], ...] = (
    (("DEPA", 3000, ""), ("ARRI", 7000, "NLRTM")),
    (("", 2000, ""), ("DEPA", 3000, "CNSZX"), ("ARRI", 5000, "")),
    (("ARRI", 10_000, "NLRTM"),),
    (("", 10_000, ""),),
    (("", 5000, ""), ("WHOU", 5000, "NLRTM")),
)
MAX_PARTS = 32


class ModelMismatch(AssertionError):
    """The chain did something the model says it must not (or refused what it must allow)."""


@dataclass
class Stats:
    """Counts of a run: sequences, steps, invariant checks, rule outcomes."""

    sequences: int = 0
    steps: int = 0
    invariant_checks: int = 0
    invariant_assertions: int = 0
    hits: Counter = field(default_factory=Counter)  # rule -> accepted
    refused: Counter = field(default_factory=Counter)  # rule -> refused as predicted
    skipped: Counter = field(default_factory=Counter)  # rule -> too close to a time boundary / nothing to do

    def report(self) -> str:
        lines = [f"stateful: {self.sequences} sequences x {self.steps} steps run "
                 f"({self.steps / max(self.sequences, 1):.1f} steps per sequence), "
                 f"{self.invariant_checks} invariant checks ({self.invariant_assertions} assertions)"]
        rules = sorted(set(self.hits) | set(self.refused) | set(self.skipped))
        for r in rules:
            lines.append(f"  {r:<24} accepted {self.hits[r]:>6}  refused {self.refused[r]:>6}  "
                         f"skipped {self.skipped[r]:>5}")
        return "\n".join(lines)


def _fingerprint(seller_lei: str, buyer_lei: str, number: str, face: int, currency: str, issue: int) -> int:
    canon = "".join(ch for ch in number if ch.isascii() and ch.isalnum()).upper()
    return int.from_bytes(keccak(abi_encode(
        ["bytes20", "bytes20", "bytes32", "uint256", "bytes3", "uint64"],
        [lei_bytes(seller_lei), lei_bytes(buyer_lei), keccak(text=canon), face, currency.encode(), issue // DAY])),
        "big")


def _part_id(parent: int, index: int) -> int:
    return int.from_bytes(keccak(abi_encode(["uint256", "uint256"], [parent, index])), "big")


def _first(*checks: Callable[[], str | None]) -> str | None:
    """The first error of checks run in the contract's order."""
    for check in checks:
        err = check()
        if err:
            return err
    return None


class Ops:
    """The operations, over one world (chain) and one model."""

    def __init__(self, world: World, model: Model, stats: Stats):
        self.w = world
        self.m = model
        self.stats = stats
        d = world.d
        self.engine, self.lens = d.deal_engine, d.deal_lens
        self.modules = d.product_modules
        self.settlement, self.pools = d.invoice_settlement, d.abs_pools
        self.t = 0  # chain time at the start of the operation

    # ------------------------------------------------------------------ plumbing

    def a(self, key: str) -> str:
        return self.w.addr(key)

    def k(self, address: str) -> str | None:
        return self.w.key_of.get(address)

    def clock(self) -> int:
        self.t = self.w.now()
        return self.t

    def near(self, *boundaries: int) -> bool:
        return any(abs(self.t - b) < TIME_MARGIN for b in boundaries)

    def skip(self, op: str) -> None:

        self.stats.skipped[op] += 1

    def serial(self) -> int:
        self.m.serial += 1
        return self.m.serial

    def attempt(self, op: str, expected: str | set[str] | None, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """Runs `fn` on chain; its outcome must be `expected` (None: success; else the error
        name, or any of a set). Returns (accepted, result)."""
        try:
            result = fn()
        except errors.ContractRevert as exc:
            if expected is None:
                raise ModelMismatch(f"{op}: the model expects success, the chain refused: {exc}") from None
            names = {expected} if isinstance(expected, str) else expected
            if exc.error_name not in names:
                raise ModelMismatch(f"{op}: the model expects {sorted(names)}, the chain refused: {exc}") from None
            self.stats.refused[op] += 1
            return False, None
        if expected is not None:
            raise ModelMismatch(f"{op}: the model expects {expected}, the chain accepted")
        self.stats.hits[op] += 1
        return True, result

    # ------------------------------------------------------------------ treasury and transfers

    def mint(self, to: str, ccy: str, amount: int) -> None:
        reg, t, a = self.m.registry, self.a("treasury"), self.a(to)
        exp = reg.active_pair(t, Role.TREASURY, a, 0)
        ok, _ = self.attempt("mint", exp, lambda: self.w.c("treasury").token(ccy).mint(
            a, amount, keccak(text=f"deposit {self.serial()}")))
        if ok:
            self.m.balances[ccy][a] = self.m.balance(ccy, a) + amount
            self.m.supply[ccy] += amount

    def request_redemption(self, holder: str, ccy: str, amount: int) -> None:
        a, token = self.a(holder), self.w.token_address[ccy]
        exp = self.m.registry.require_can_receive(a) or (
            "ERC20InsufficientBalance" if self.m.balance(ccy, a) < amount else None)
        ok, rid = self.attempt("redemption request", exp, lambda: self.w.c(holder).token(ccy).request_redemption(
            amount, keccak(text=f"payout {holder}")))
        if ok:
            assert rid == sum(1 for r in self.m.redemptions if r.token == ccy) + 1
            self.m.redemptions.append(Redemption(rid, ccy, a, amount))
            self.m.move(ccy, a, token, amount)

    def complete_redemption(self, pick: int) -> None:
        if not self.m.redemptions:
            return self.skip("redemption complete")
        r = self.m.redemptions[pick % len(self.m.redemptions)]
        exp = None if r.open else "RedemptionClosed"
        ok, _ = self.attempt("redemption complete", exp, lambda: self.w.c("treasury").token(r.token)
                             .complete_redemption(r.id, keccak(text=f"bank {r.id}")))
        if ok:
            r.open = False
            token = self.w.token_address[r.token]
            self.m.balances[r.token][token] -= r.amount
            self.m.supply[r.token] -= r.amount

    def reject_redemption(self, pick: int) -> None:
        if not self.m.redemptions:
            return self.skip("redemption reject")
        r = self.m.redemptions[pick % len(self.m.redemptions)]
        exp = None if r.open else "RedemptionClosed"
        ok, _ = self.attempt("redemption reject", exp, lambda: self.w.c("treasury").token(r.token)
                             .reject_redemption(r.id, "payout account does not match the KYC file"))
        if ok:
            r.open = False
            self.m.move(r.token, self.w.token_address[r.token], r.holder, r.amount)

    def transfer(self, sender: str, receiver: str, ccy: str, amount: int, with_reference: bool) -> None:
        s = self.a(sender)
        r = self.w.token_address[ccy] if receiver == "token" else self.a(receiver)
        exp = "TransferToTokenContract" if receiver == "token" else self.m.token_move_error(ccy, s, r, amount)
        tok = self.w.c(sender).token(ccy)
        fn = ((lambda: tok.transfer_with_reference(r, amount, keccak(text="T/T ref"))) if with_reference
              else (lambda: tok.transfer(r, amount)))
        ok, _ = self.attempt("transfer", exp, fn)
        if ok:
            self.m.move(ccy, s, r, amount)

    # ------------------------------------------------------------------ invoices

    def mint_invoice(self, seller: str, buyer: str, ccy: str, face: int, number: str, issue_hours_ago: int,
                     due_in_days: int, reuse_document: bool, bill: int, order: Order | None = None) -> int | None:
        """Mints an invoice; `number` variants (case, separators) and issue times within one UTC
        day must hit the same fingerprint."""
        reg = self.m.registry
        s, b = self.a(seller), self.a(buyer)
        now = self.clock()
        issue = now - issue_hours_ago * 3600
        due = now + due_in_days * DAY
        docs = list(self.m.documents)
        doc = docs[self.m.serial % len(docs)] if reuse_document and docs else keccak(text=f"doc {self.serial()}")
        shipment = shipment_id(BILLS[bill % len(BILLS)]) if bill >= 0 else None
        fp = (_fingerprint(reg.lei(s), reg.lei(b), number, face, ccy, issue)
              if s in reg.members and b in reg.members else 0)
        exp = _first(lambda: reg.active_pair(s, Role.SELLER, b, Role.BUYER),
                     lambda: "DuplicateDocument" if doc in self.m.documents else None,
                     lambda: "DuplicateInvoice" if fp in self.m.fingerprints else None,
                     lambda: self._order_error(order, s, b, ccy))
        terms = InvoiceTerms(b, number, face, ccy, issue, due, doc, "bafkreistatefulinvoice",
                             shipment or bytes(32), order.id if order else 0)
        ok, inv_id = self.attempt("invoice mint", exp, lambda: self.w.c(seller).invoices.mint(terms))
        if not ok:
            return None
        assert inv_id == fp, "the token id is the fingerprint"
        self.m.fingerprints.add(fp)
        self.m.documents[doc] = fp
        self.m.invoices[fp] = Invoice(fp, s, b, s, InvoiceState.ISSUED, face, ccy, due, doc, shipment, root=fp,
                                      order_id=order.id if order else 0)
        if order:
            order.invoice = fp
        return fp

    def _order_error(self, order: Order | None, s: str, b: str, ccy: str) -> str | None:
        if order is None:
            return None
        ok = (order.supplier == s and order.buyer == b and order.currency == ccy and order.invoice == 0
              and order.state in (OrderState.ISSUED, OrderState.FINANCED))
        return None if ok else "InvalidOrder"

    def _invoice(self, pick: int, states: Sequence[InvoiceState] | None = None) -> Invoice | None:
        pool = [i for i in self.m.invoices.values() if states is None or i.state in states]
        return pool[pick % len(pool)] if pool else None

    def confirm_invoice(self, pick: int, wrong_caller: bool) -> None:
        inv = self._invoice(pick, (InvoiceState.ISSUED,) if not wrong_caller else None)
        if inv is None:
            return self.skip("invoice confirm")
        caller = inv.seller if wrong_caller else inv.buyer
        exp = _first(lambda: "NotInvoiceBuyer" if caller != inv.buyer else None,
                     lambda: self.m.registry.require_active(caller, Role.BUYER),
                     lambda: "InvalidInvoiceState" if inv.state != InvoiceState.ISSUED else None)
        ok, _ = self.attempt("invoice confirm", exp, lambda: self.w.c(self.k(caller)).invoices.confirm(inv.id))
        if ok:
            inv.state = InvoiceState.CONFIRMED

    def dispute_invoice(self, pick: int) -> None:
        inv = self._invoice(pick)
        if inv is None:
            return self.skip("invoice dispute")
        exp = "InvalidInvoiceState" if inv.state != InvoiceState.ISSUED else None
        ok, _ = self.attempt("invoice dispute", exp, lambda: self.w.c(self.k(inv.buyer)).invoices.dispute(
            inv.id, "goods not received"))
        if ok:
            self._cancelled(inv)

    def cancel_invoice(self, pick: int) -> None:
        inv = self._invoice(pick)
        if inv is None:
            return self.skip("invoice cancel")
        caller = inv.holder if self.k(inv.holder or "") else inv.seller
        exp = _first(lambda: "NotInvoiceHolder" if caller != inv.holder else None,
                     lambda: None if inv.state in (InvoiceState.ISSUED, InvoiceState.CONFIRMED)
                     else "InvalidInvoiceState")
        ok, _ = self.attempt("invoice cancel", exp, lambda: self.w.c(self.k(caller)).invoices.cancel(
            inv.id, "issued in error"))
        if ok:
            self._cancelled(inv)

    def _cancelled(self, inv: Invoice) -> None:
        """A cancelled invoice frees the order it was issued against (a new invoice may be issued)."""
        inv.state = InvoiceState.CANCELLED
        if inv.order_id and self.m.orders[inv.order_id].invoice == inv.id:
            self.m.orders[inv.order_id].invoice = 0

    def split_invoice(self, pick: int, parts: int) -> list[int]:
        inv = self._invoice(pick, (InvoiceState.CONFIRMED,))
        if inv is None or inv.face < parts:
            self.skip("invoice split")
            return []
        caller = inv.holder if self.k(inv.holder or "") else inv.seller
        faces = [inv.face // parts] * (parts - 1)
        faces.append(inv.face - sum(faces))
        live = self.m.live_parts(inv.root)
        exp = _first(lambda: "NotInvoiceHolder" if caller != inv.holder else None,
                     lambda: self.m.registry.require_active(caller, 0),
                     lambda: "TooManyParts" if max(len(live), 1) - 1 + parts > MAX_PARTS else None)
        ok, ids = self.attempt("invoice split", exp, lambda: self.w.c(self.k(caller)).invoices.split(inv.id, faces))
        if not ok:
            return []
        lst = self.m.parts.setdefault(inv.root, [])
        if inv.id in lst:  # InvoiceToken._removePart: swap with the last, pop
            i = lst.index(inv.id)
            lst[i] = lst[-1]
            lst.pop()
        inv.state, inv.holder = InvoiceState.SPLIT, None
        out = []
        for i, face in enumerate(faces):
            pid = _part_id(inv.id, i)
            assert ids[i] == pid
            self.m.invoices[pid] = Invoice(pid, inv.seller, inv.buyer, caller, InvoiceState.CONFIRMED, face,
                                           inv.currency, inv.due, b"", inv.shipment, inv.id, inv.root,
                                           inv.order_id)
            lst.append(pid)
            out.append(pid)
        return out

    def transfer_invoice(self, pick: int, to: str) -> None:
        held = [i for i in self.m.invoices.values() if i.holder and self.k(i.holder)]
        if not held:
            return self.skip("invoice transfer")
        inv = held[pick % len(held)]
        r = self.a(to)
        exp = _first(lambda: None if inv.state in (InvoiceState.CONFIRMED, InvoiceState.FINANCED,
                                                   InvoiceState.DEFAULTED) else "InvoiceNotTransferable",
                     lambda: self.m.registry.require_transfer(inv.holder, r))
        ok, _ = self.attempt("invoice transfer", exp, lambda: self.w.c(self.k(inv.holder)).invoices.transfer(
            r, inv.id))
        if ok:
            inv.holder = r

    def _payable_error(self, inv: Invoice) -> str | None:
        contract_held = inv.holder is None or inv.holder in self.m.registry.escrows
        return "NotPayable" if inv.state != InvoiceState.CONFIRMED or contract_held else None

    def pay_invoice(self, pick: int, fraction: int) -> None:
        payable = [i for i in self.m.invoices.values() if not self._payable_error(i) and i.paid < i.face]
        inv = payable[pick % len(payable)] if payable and pick % 4 else self._invoice(pick)  # mostly payable ones
        if inv is None:
            return self.skip("invoice pay (T/T)")
        open_ = inv.face - inv.paid
        amount = max(1, open_ * fraction // 100) if open_ else 1
        b = inv.buyer
        exp = _first(lambda: self._payable_error(inv),
                     lambda: "Overpayment" if amount > open_ else None,
                     lambda: self.m.token_move_error(inv.currency, b, self.settlement, amount),
                     lambda: self.m.registry.require_transfer(self.settlement, inv.holder))
        ok, _ = self.attempt("invoice pay (T/T)", exp, lambda: self.w.c(self.k(b)).settlement.pay_invoice(
            inv.id, amount, keccak(text=f"tt {self.serial()}")))
        if ok:
            self.m.move(inv.currency, b, self.settlement, amount)
            self.m.move(inv.currency, self.settlement, inv.holder, amount)
            inv.paid += amount
            if inv.paid == inv.face:
                inv.state = InvoiceState.PAID

    def pay_parts(self, pick: int, fraction: int) -> None:
        roots = [r for r in self.m.parts if self.m.parts[r]]
        if not roots:
            return self.skip("invoice pay parts")
        root = roots[pick % len(roots)]
        parts = [self.m.invoices[p] for p in self.m.parts[root]]
        # InvoiceSettlement.payParts: a part held by a sanctioned member is withheld (PartWithheld),
        # the others are paid pro rata on what is open of them
        opens = [0 if self._payable_error(p) or self.m.registry.sanctioned(p.holder) else p.face - p.paid
                 for p in parts]
        total = sum(opens)
        amount = max(1, total * fraction // 100)
        shares = [amount * o // total for o in opens] if total else []
        left = amount - sum(shares)
        for i in range(len(shares)):
            if left == 0:
                break
            if shares[i] < opens[i]:
                shares[i] += 1
                left -= 1
        b, ccy = parts[0].buyer, parts[0].currency
        exp = _first(lambda: "NothingOpen" if total == 0 else None,
                     lambda: "Overpayment" if amount > total else None,
                     lambda: self.m.token_move_error(ccy, b, self.settlement, amount),
                     *[(lambda p=p: self.m.registry.require_transfer(self.settlement, p.holder))
                       for p, s in zip(parts, shares) if s])
        ok, _ = self.attempt("invoice pay parts", exp, lambda: self.w.c(self.k(b)).settlement.pay_parts(
            root, amount, keccak(text=f"parts {self.serial()}")))
        if ok:
            self.m.move(ccy, b, self.settlement, amount)
            for p, s in zip(parts, shares):
                if s:
                    self.m.move(ccy, self.settlement, p.holder, s)
                    p.paid += s
                    if p.paid == p.face:
                        p.state = InvoiceState.PAID

    # ------------------------------------------------------------------ risk (model side)

    def _convert(self, amount: int, base: str, quote: str) -> int:
        return amount if base == quote else convert_up(amount, FX_RATES[(base, quote)])

    def _risk_check(self, borrower: str, lender: str, obligor: str | None, ccy: str, principal: int
                    ) -> tuple[str | None, int, int]:
        """RiskRules._check: (error, amount in the lender's book currency, in the network currency)."""
        reg, risk = self.m.registry, self.m.risk
        b, l, o = reg.entity(borrower), reg.entity(lender), reg.entity(obligor)
        book = self._convert(principal, ccy, risk.currency_of(l))
        net = self._convert(principal, ccy, risk.network_currency)
        if b in risk.frozen:
            return "PartyFrozen", book, net
        if obligor is None:
            return None, book, net
        if o in risk.frozen:
            return "PartyFrozen", book, net
        limit = risk.limits.get((l, o))
        if limit is not None and risk.pair.get((l, o), 0) + book > limit:
            return "ExposureLimitExceeded", book, net
        nlimit = risk.network_limits.get(o)
        if nlimit is not None and risk.network.get(o, 0) + net > nlimit:
            return "NetworkLimitExceeded", book, net
        return None, book, net

    def _booked(self, d: DealModel) -> tuple[int, int]:
        bk = self.m.risk.bookings.get(d.id)
        return (bk.book, bk.network) if bk else (d.principal, d.principal)

    def _book(self, lender: str, obligor: str, book: int, net: int) -> None:
        risk = self.m.risk
        risk.add(risk.pair, (lender, obligor), book)
        risk.add(risk.book, lender, book)
        if net:
            risk.add(risk.network, obligor, net)

    @staticmethod
    def _countable(d: DealModel) -> bool:
        """As the engine's `_countOverdue`: a deal counts overdue once (flagOverdue or a default,
        whichever comes first), never a self-liquidating one (a documentary credit's expiry is no
        payment failure)."""
        return not d.overdue_counted and d.product not in SELF_LIQUIDATING

    def _count_overdue(self, d: DealModel) -> None:
        if not self._countable(d):
            return
        d.overdue_counted = True
        reg, risk = self.m.registry, self.m.risk
        b, o = reg.entity(d.borrower), reg.entity(d.obligor)
        for party in ([b, o] if d.obligor is not None and o != b else [b]):
            risk.run[party] = min(risk.run.get(party, 0) + 1, 255)
            if risk.run[party] >= FREEZE_AFTER:
                risk.frozen.add(party)

    def _risk_settled(self, d: DealModel, on_time: bool) -> None:
        reg, risk = self.m.registry, self.m.risk
        b, l, o = reg.entity(d.borrower), reg.entity(d.lender), reg.entity(d.obligor)
        if on_time:
            risk.run[b] = 0
            if d.obligor is not None:
                risk.run[o] = 0
        if d.obligor is None:
            return
        book, net = self._booked(d)
        self._book(l, o, -book, -net)

    # ------------------------------------------------------------------ deals: terms

    def _release_allowed(self, d: DealModel) -> bool:
        if d.product != Product.DOCUMENTARY:
            return True
        c = d.credit
        return c["waived"] or all(c["complying"].values())

    def _milestones(self, schedule: int, shipment: bytes | None) -> tuple[Milestone, ...]:
        spec = SCHEDULES[schedule % len(SCHEDULES)]
        if shipment is None:
            spec = SCHEDULES[3]
        return tuple(Milestone(code, bps, loc) for code, bps, loc in spec)

    def _sign_offer(self, product: Product, collateral: int, borrower: str, lender: str, ccy: str, principal: int,
                    fee: int, maturity: int, grace: int, schedule: int, shipment: bytes | None,
                    fx_valid_until: int = 0, extra: bytes = b"", credit: dict | None = None) -> Offer:
        terms = DealTerms(self.modules[product], collateral, self.a(borrower), self.a(lender),
                          self.w.token_address[ccy], principal, fee, maturity, grace, self.t + 2 * DAY,
                          self._milestones(schedule, shipment), shipment or bytes(32), fx_valid_until,
                          keccak(text="agreement"), keccak(text=f"nonce {self.serial()}"), extra)
        e = self.w.c().deals
        sigs = (e.sign_terms(self.w.keys[borrower], terms), e.sign_terms(self.w.keys[lender], terms))
        offer = Offer(terms, product, self.a(borrower), self.a(lender), ccy, sigs, credit=credit)
        self.m.offers.append(offer)
        self.stats.hits["offer (sign terms)"] += 1
        return offer

    def offer_receivable(self, pick: int, lender: str, pct: int, fee: int, schedule: int, extra_days: int,
                         grace_days: int, fx: bool) -> Offer | None:
        """Signed terms financing an invoice (FX-locked in the other currency if `fx`)."""
        inv = self._invoice(pick)
        if inv is None or not self.k(inv.holder or "") or self.k(inv.holder) in ("outsider",):
            self.skip("offer (sign terms)")
            return None
        borrower = self.k(inv.holder)
        now = self.clock()
        ccy = ("USD" if inv.currency == "EUR" else "EUR") if fx else inv.currency
        open_ = max(inv.face - inv.paid, 1)
        limit = self._convert(open_, inv.currency, ccy)
        principal = max(limit * pct // 100 - fee, 1)
        maturity = max(inv.due, now) + extra_days * DAY
        shipment = inv.shipment or shipment_id(BILLS[pick % len(BILLS)])
        return self._sign_offer(Product.RECEIVABLE, inv.id, borrower, lender, ccy, principal, fee, maturity,
                                grace_days * DAY, schedule, shipment, maturity + 30 * DAY if fx else 0)

    def offer_order(self, pick: int, lender: str, pct: int, fee: int, schedule: int, days: int, grace_days: int,
                    other_currency: bool) -> Offer | None:
        if not self.m.orders:
            self.skip("offer (sign terms)")
            return None
        o = list(self.m.orders.values())[pick % len(self.m.orders)]
        now = self.clock()
        ccy = ("USD" if o.currency == "EUR" else "EUR") if other_currency else o.currency
        return self._sign_offer(Product.ORDER, o.id, self.k(o.supplier), lender, ccy,
                                max(o.amount * pct // 100, 1), fee, now + days * DAY, grace_days * DAY, schedule,
                                o.shipment or shipment_id(BILLS[pick % len(BILLS)]))

    def offer_pledge(self, pick: int, lender: str, ccy: str, principal: int, fee: int, schedule: int, days: int,
                     grace_days: int) -> Offer | None:
        if not self.m.receipts:
            self.skip("offer (sign terms)")
            return None
        r = list(self.m.receipts.values())[pick % len(self.m.receipts)]
        if not self.k(r.holder):
            self.skip("offer (sign terms)")
            return None
        now = self.clock()
        return self._sign_offer(Product.RECEIPT_PLEDGE, r.id, self.k(r.holder), lender, ccy, principal, fee,
                                now + days * DAY, grace_days * DAY, schedule, shipment_id(BILLS[pick % len(BILLS)]))

    def offer_credit(self, seller: str, applicant: str, ccy: str, price: int, schedule: int, days: int,
                     with_invoice_doc: bool, bill: int) -> Offer:
        """A documentary payment: the applicant (a BUYER) escrows the price for the seller."""
        now = self.clock()
        expiry = now + days * DAY
        docs = {"BLAD": bytes(32)}
        if with_invoice_doc:
            docs["CINV"] = keccak(text=f"commercial invoice {bill}")
        latest = now + days * DAY // 2
        ct = CreditTerms(self.a(applicant), self.a(seller), latest,
                         tuple(RequiredDocument(t, h) for t, h in docs.items()))
        credit = {"docs": docs, "complying": {t: False for t in docs}, "waived": False, "latest": latest,
                  "expiry": expiry, "applicant": self.a(applicant), "presenter": self.a(seller)}
        sched = schedule if SCHEDULES[schedule % len(SCHEDULES)][0][0] else 0  # no advance: nothing presented yet
        return self._sign_offer(Product.DOCUMENTARY, 0, seller, applicant, ccy, price, 0, expiry, 0, sched,
                                shipment_id(BILLS[bill % len(BILLS)]), extra=ct.encode(), credit=credit)

    def revoke_offer(self, pick: int, by_lender: bool) -> None:
        offers = [o for o in self.m.offers if o.status == "open"] or self.m.offers
        if not offers:
            return self.skip("offer revoke")
        offer = offers[pick % len(offers)]
        who = offer.lender if by_lender else offer.borrower
        exp = None if offer.status == "open" else "TermsUsed"
        ok, _ = self.attempt("offer revoke", exp, lambda: self.w.c(self.k(who)).deals.revoke_terms(offer.terms))
        if ok:
            offer.status = "revoked"

    # ------------------------------------------------------------------ deals: accept

    ROLES = {Product.RECEIVABLE: (Role.SELLER, Role.LENDER), Product.ORDER: (Role.SELLER, Role.LENDER),
             Product.RECEIPT_PLEDGE: (0, Role.LENDER), Product.DOCUMENTARY: (Role.SELLER, 0)}

    def _on_accept(self, o: Offer) -> tuple[str | None, str | None, int, str]:
        """The product's onAccept: (error, obligor, obligation, obligation currency)."""
        t, reg = o.terms, self.m.registry
        if o.product == Product.RECEIVABLE:
            inv = self.m.invoices[t.collateral_id]
            err = _first(lambda: "InvoiceNotConfirmed" if inv.state != InvoiceState.CONFIRMED else None,
                         lambda: "NotInvoiceHolder" if inv.holder != o.borrower else None,
                         lambda: "MaturityBeforeDueDate" if t.maturity < inv.due else None,
                         lambda: "ShipmentMismatch" if inv.shipment not in (None, t.shipment_id) else None,
                         lambda: reg.require_transfer(o.borrower, self.modules[Product.RECEIVABLE]))
            return err, inv.buyer, inv.face - inv.paid, inv.currency
        if o.product == Product.ORDER:
            od = self.m.orders[t.collateral_id]
            err = _first(lambda: "OrderNotLive" if od.state != OrderState.ISSUED else None,
                         lambda: "NotOrderSupplier" if o.borrower not in (od.supplier,) or od.holder != o.borrower
                         else None,
                         lambda: "ShipmentMismatch" if od.shipment not in (None, t.shipment_id) else None,
                         lambda: reg.require_transfer(o.borrower, self.modules[Product.ORDER]))
            return err, o.borrower, 0, od.currency
        if o.product == Product.RECEIPT_PLEDGE:
            r = self.m.receipts[t.collateral_id]
            err = _first(lambda: "NotReceiptHolder" if r.holder != o.borrower else None,
                         lambda: "ReceiptUnavailable" if r.pledgee else None,
                         lambda: "ReceiptExpiresFirst" if t.maturity + t.grace_period >= r.expiry else None)
            return err, o.borrower, 0, ""
        c = o.credit
        err = _first(lambda: reg.require_active(c["applicant"], Role.BUYER),
                     lambda: None if o.lender == c["applicant"] else reg.require_active(o.lender, Role.LENDER))
        return err, None, 0, ""

    def accept(self, pick: int, by_lender: bool) -> None:
        offers = [o for o in self.m.offers if o.status == "open"] or self.m.offers  # mostly open terms
        if not offers:
            return self.skip("deal accept")
        o = offers[pick % len(offers)]
        t, reg = o.terms, self.m.registry
        now = self.clock()
        if self.near(t.accept_by, t.maturity):
            return self.skip("deal accept")
        broles, lroles = self.ROLES[o.product]
        info: dict[str, Any] = {}

        def create() -> str | None:
            err, obligor, obligation, ob_ccy = self._on_accept(o)
            info.update(obligor=obligor, obligation=obligation, ob_ccy=ob_ccy)
            if err:
                return err
            if obligor is not None and reg.sanctioned(obligor):
                return "ObligorSanctioned"
            limit = obligation
            if ob_ccy and ob_ccy != o.currency:
                if obligation == 0:
                    return "CurrencyMismatch"
                if t.fx_valid_until < t.maturity:
                    return "InvalidFxLock"
                limit = convert_up(obligation, FX_RATES[(ob_ccy, o.currency)])
                info["fx_rate"] = FX_RATES[(ob_ccy, o.currency)]
            elif t.fx_valid_until:
                return "InvalidFxLock"
            if obligation and t.principal + t.fee > limit:
                return "InvalidAmounts"
            return self._risk_check(o.borrower, o.lender, obligor, o.currency, t.principal)[0]

        exp = _first(lambda: "TermsExpired" if now > t.accept_by else None,
                     lambda: "TermsUsed" if o.status != "open" else None,
                     lambda: reg.active_pair(o.borrower, broles, o.lender, lroles),
                     lambda: "InvalidMaturity" if t.maturity <= now else None,
                     create)
        submitter = o.lender if by_lender else o.borrower
        bsig, lsig = (o.signatures[0], b"") if by_lender else (b"", o.signatures[1])
        ok, deal_id = self.attempt("deal accept", exp, lambda: self.w.c(self.k(submitter)).deals.accept(t, bsig, lsig))
        if not ok:
            return
        assert deal_id == len(self.m.deals) + 1, (deal_id, len(self.m.deals))
        o.status = "used"
        amounts = t.milestone_amounts()
        ms = [MilestoneModel(m.event_code, m.location, m.share_bps, a) for m, a in zip(t.milestones, amounts)]
        d = DealModel(deal_id, o.product, o.borrower, o.lender, info["obligor"], info["obligation"], o.currency,
                      info["ob_ccy"], t.principal, t.fee, t.maturity, t.grace_period,
                      None if t.shipment_id == bytes(32) else t.shipment_id, t.collateral_id, ms,
                      fx_rate=info.get("fx_rate", 0), fx_valid_until=t.fx_valid_until if info.get("fx_rate") else 0)
        if o.product == Product.DOCUMENTARY:
            d.credit = {**o.credit, "complying": dict(o.credit["complying"])}
        self.m.deals[deal_id] = d
        if o.product == Product.RECEIVABLE:
            self.m.invoices[t.collateral_id].holder = self.modules[Product.RECEIVABLE]
        elif o.product == Product.ORDER:
            od = self.m.orders[t.collateral_id]
            od.holder = self.modules[Product.ORDER]
            od.deal = deal_id
        elif o.product == Product.RECEIPT_PLEDGE:  # pledged at acceptance
            self.m.receipts[t.collateral_id].pledgee = self.modules[Product.RECEIPT_PLEDGE]

    def _deal(self, pick: int, states: Sequence[DealState] | None = None) -> DealModel | None:
        pool = [d for d in self.m.deals.values() if states is None or d.state in states]
        return pool[pick % len(pool)] if pool else None

    # ------------------------------------------------------------------ deals: lifecycle

    def _release(self, d: DealModel, m: MilestoneModel) -> None:
        m.status = MilestoneStatus.RELEASED
        d.released += m.amount

    def _unmet(self, d: DealModel, m: MilestoneModel) -> None:
        """The retraction rule: undo a release whose funds have not moved on, else Contested."""
        if d.state == DealState.FUNDED and m.status == MilestoneStatus.RELEASED:
            m.status = MilestoneStatus.PENDING
            d.released -= m.amount
        else:
            m.status = MilestoneStatus.CONTESTED

    def _sync(self, d: DealModel) -> int:
        allowed = d.state == DealState.FUNDED and self._release_allowed(d)
        changes = 0
        for m in d.milestones:
            if m.code == "" or m.status == MilestoneStatus.CONTESTED:
                continue
            met = self.m.oracle.met(d, m)
            if m.status == MilestoneStatus.PENDING:
                if met and allowed:
                    self._release(d, m)
                    changes += 1
            elif not met:
                self._unmet(d, m)
                changes += 1
        return changes

    def _close_if_settled(self, d: DealModel) -> None:
        if d.state in (DealState.REPAID, DealState.DEFAULTED) and d.lender_credit == 0 and d.borrower_claim == 0:
            d.state = DealState.CLOSED

    def _on_fund_error(self, d: DealModel) -> str | None:
        return None  # a receipt is pledged at acceptance; no product checks anything more at funding

    def fund(self, pick: int) -> None:
        d = self._deal(pick, (DealState.ACCEPTED,)) or self._deal(pick)
        if d is None or not self.k(d.lender):
            return self.skip("deal fund")
        now = self.clock()
        if self.near(d.maturity) or (d.product == Product.RECEIPT_PLEDGE
                                     and self.near(self.m.receipts[d.collateral].expiry)):
            return self.skip("deal fund")
        reg = self.m.registry
        broles, lroles = self.ROLES[d.product]
        risk = {}

        def risk_check() -> str | None:
            err, risk["book"], risk["net"] = self._risk_check(d.borrower, d.lender, d.obligor, d.currency,
                                                              d.principal)
            return err

        exp = _first(lambda: "InvalidDealState" if d.state != DealState.ACCEPTED else None,
                     lambda: "MaturityPassed" if now >= d.maturity else None,
                     lambda: reg.active_pair(d.lender, lroles, d.borrower, broles),
                     lambda: "ObligorSanctioned" if reg.sanctioned(d.obligor) else None,
                     lambda: self._on_fund_error(d),
                     risk_check,
                     lambda: self.m.token_move_error(d.currency, d.lender, self.engine, d.principal))
        ok, _ = self.attempt("deal fund", exp, lambda: self.w.c(self.k(d.lender)).deals.fund(d.id))
        if not ok:
            return
        d.state, d.funded_at = DealState.FUNDED, now
        if d.product == Product.RECEIVABLE:
            inv = self.m.invoices[d.collateral]
            inv.state, inv.shipment = InvoiceState.FINANCED, inv.shipment or d.shipment
            self.m.financed.setdefault(inv.id, d.id)
        elif d.product == Product.ORDER:
            od = self._order_of(d)
            od.state = OrderState.FINANCED
            if d.rolled_invoice:
                od.state = OrderState.CLOSED
                self.m.invoices[d.rolled_invoice].state = InvoiceState.FINANCED
                self.m.financed.setdefault(d.rolled_invoice, d.id)
        if d.obligor is not None:
            if risk["book"] != d.principal or risk["net"] != d.principal:
                self.m.risk.bookings[d.id] = Booking(risk["book"], risk["net"])
            self._book(reg.entity(d.lender), reg.entity(d.obligor), risk["book"], risk["net"])
        for m in d.milestones:
            if m.code == "":
                self._release(d, m)
        self.m.move(d.currency, d.lender, self.engine, d.principal)

    def _order_of(self, d: DealModel) -> Order:
        return next(o for o in self.m.orders.values() if o.deal == d.id)

    def cancel(self, pick: int, by_lender: bool) -> None:
        d = self._deal(pick, (DealState.ACCEPTED,)) or self._deal(pick)
        if d is None:
            return self.skip("deal cancel")
        who = d.lender if by_lender else d.borrower
        if not self.k(who):
            return self.skip("deal cancel")
        reg = self.m.registry
        module = self.modules[d.product]
        back = (reg.require_transfer(module, d.borrower)
                if d.product in (Product.RECEIVABLE, Product.ORDER) else None)
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.ACCEPTED else None, lambda: back)
        ok, _ = self.attempt("deal cancel", exp, lambda: self.w.c(self.k(who)).deals.cancel(d.id))
        if not ok:
            return
        d.state = DealState.CANCELLED
        if d.product == Product.RECEIVABLE:
            self.m.invoices[d.collateral].holder = d.borrower
        elif d.product == Product.ORDER:
            od = self._order_of(d)
            od.holder, od.deal = d.borrower, 0
            if d.rolled_invoice:
                self.m.invoices[d.rolled_invoice].holder = d.borrower
        elif d.product == Product.RECEIPT_PLEDGE:
            self.m.receipts[d.collateral].pledgee = None

    def amount_due(self, d: DealModel) -> int:
        if d.obligation == 0:
            return d.released + d.fee
        return convert_up(d.obligation, d.fx_rate) if d.fx_rate else d.obligation

    def repay(self, pick: int) -> None:
        d = self._deal(pick, (DealState.FUNDED,)) or self._deal(pick)
        if d is None:
            return self.skip("deal repay")
        payer = d.obligor if d.obligation else d.borrower
        if not self.k(payer or ""):
            return self.skip("deal repay")
        now = self.clock()
        if self.near(d.fx_valid_until, d.maturity + d.grace):
            return self.skip("deal repay")
        due = self.amount_due(d)
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: "NotRepayable" if d.product == Product.DOCUMENTARY else None,
                     lambda: "FxLockExpired" if d.fx_rate and now > d.fx_valid_until else None,
                     lambda: self.m.token_move_error(d.currency, payer, self.engine, due))
        ok, _ = self.attempt("deal repay", exp, lambda: self.w.c(self.k(payer)).deals.repay(d.id))
        if not ok:
            return
        on_time = not d.overdue_counted and now <= d.maturity + d.grace
        d.lender_credit = d.principal + d.fee
        d.bonus = due - d.released - d.fee
        d.state = DealState.REPAID
        if d.product == Product.RECEIVABLE:
            self.m.invoices[d.collateral].state = InvoiceState.PAID
        elif d.product == Product.ORDER:
            if d.rolled_invoice:
                self.m.invoices[d.rolled_invoice].state = InvoiceState.PAID
            else:
                self._order_of(d).state = OrderState.CLOSED
        elif d.product == Product.RECEIPT_PLEDGE:
            self.m.receipts[d.collateral].pledgee = None
        self._risk_settled(d, on_time)
        self.m.move(d.currency, payer, self.engine, due)

    def withdraw(self, pick: int, lender_side: bool) -> None:
        d = self._deal(pick, (DealState.FUNDED, DealState.REPAID, DealState.DEFAULTED)) or self._deal(pick)
        if d is None:
            return self.skip("deal withdraw")
        who = d.lender if lender_side else d.borrower
        if not self.k(who):
            return self.skip("deal withdraw")
        amount = d.claimable(who)
        exp = _first(lambda: "NothingToWithdraw" if amount == 0 else None,
                     lambda: self.m.registry.require_transfer(self.engine, who))
        ok, got = self.attempt("deal withdraw", exp, lambda: self.w.c(self.k(who)).deals.withdraw(d.id))
        if ok:
            assert got == amount
            self._withdrawn(d, who, amount)

    def _withdrawn(self, d: DealModel, who: str, amount: int) -> None:
        if who == d.borrower:
            d.withdrawn += amount
            for m in d.milestones:
                if m.status == MilestoneStatus.RELEASED:
                    m.status = MilestoneStatus.PAID_OUT
        else:
            d.lender_credit = 0
        self._close_if_settled(d)
        self.m.move(d.currency, self.engine, who, amount)

    def _on_default_error(self, d: DealModel) -> str | None:
        reg = self.m.registry
        module = self.modules[d.product]
        if d.product in (Product.RECEIVABLE, Product.ORDER):
            return reg.require_transfer(module, d.lender)
        if d.product == Product.RECEIPT_PLEDGE:  # an expired receipt's pledge is released, not enforced
            r = self.m.receipts[d.collateral]
            return None if r.expiry <= self.t else reg.require_can_receive(d.lender)
        return None

    def _default_effects(self, d: DealModel) -> None:
        self._sync(d)
        self._count_overdue(d)
        d.lender_credit = d.principal - d.released
        d.state = DealState.DEFAULTED
        self._close_if_settled(d)
        if d.product == Product.RECEIVABLE:
            inv = self.m.invoices[d.collateral]
            inv.state, inv.holder = InvoiceState.DEFAULTED, d.lender
        elif d.product == Product.ORDER:
            if d.rolled_invoice:
                inv = self.m.invoices[d.rolled_invoice]
                inv.state, inv.holder = InvoiceState.DEFAULTED, d.lender
            else:
                od = self._order_of(d)
                od.state, od.holder = OrderState.DEFAULTED, d.lender
        elif d.product == Product.RECEIPT_PLEDGE:
            r = self.m.receipts[d.collateral]
            r.pledgee = None
            if r.expiry > self.t:
                r.holder = d.lender
        self._risk_settled(d, False)

    def declare_default(self, pick: int) -> None:
        d = self._deal(pick, (DealState.FUNDED,)) or self._deal(pick)
        if d is None or not self.k(d.lender):
            return self.skip("deal default")
        now = self.clock()
        extra = [self.m.receipts[d.collateral].expiry] if d.product == Product.RECEIPT_PLEDGE else []
        if self.near(d.maturity + d.grace, *extra):
            return self.skip("deal default")
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: "GracePeriodRunning" if now <= d.maturity + d.grace else None,
                     lambda: self._on_default_error(d))
        ok, _ = self.attempt("deal default", exp, lambda: self.w.c(self.k(d.lender)).deals.declare_default(d.id))
        if ok:
            self._default_effects(d)

    def flag_overdue(self, pick: int) -> None:
        d = self._deal(pick, (DealState.FUNDED,)) or self._deal(pick)
        if d is None:
            return self.skip("deal flag overdue")
        now = self.clock()
        if self.near(d.maturity, d.maturity + d.grace):
            return self.skip("deal flag overdue")
        warn = not d.overdue_flagged
        count = now > d.maturity + d.grace and self._countable(d)
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: "NotOverdue" if now <= d.maturity else None,
                     lambda: None if warn or count else "AlreadyFlaggedOverdue")
        ok, _ = self.attempt("deal flag overdue", exp, lambda: self.w.c("carrier").deals.flag_overdue(d.id))
        if ok:
            d.overdue_flagged = True
            if count:
                self._count_overdue(d)

    def poke(self, pick: int) -> None:
        d = self._deal(pick)
        if d is None:
            return self.skip("deal poke")
        if d.state in (DealState.ACCEPTED, DealState.CANCELLED):
            exp = "InvalidDealState"
            trial = None
        else:
            trial = self.m.copy()
            changes = Ops(self.w, trial, Stats())._sync(trial.deals[d.id])
            exp = None if changes else "NothingToSync"
        ok, _ = self.attempt("deal poke", exp, lambda: self.w.c("carrier").deals.poke(d.id))
        if ok:
            self._sync(d)

    def assign_lender(self, pick: int) -> None:
        """The lender assigns its position in a funded deal to the other lender (a member)."""
        d = self._deal(pick, (DealState.FUNDED,)) or self._deal(pick)
        if d is None or self.k(d.lender) not in ("lender", "lender_b"):
            return self.skip("deal assign lender")
        reg = self.m.registry
        to = self.a("lender_b" if self.k(d.lender) == "lender" else "lender")
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: reg.require_active(to, Role.LENDER))
        ok, _ = self.attempt("deal assign lender", exp, lambda: self.w.c(self.k(d.lender)).deals.assign_lender(
            d.id, to))
        if ok:
            self._assigned(d, to)

    def _assigned(self, d: DealModel, to: str) -> None:
        """RiskRules.onAssigned: the exposure leaves the assignor's book at its booked amount and
        enters the assignee's, converted if their book currencies differ."""
        reg, risk = self.m.registry, self.m.risk
        previous, d.lender = d.lender, to
        if d.obligor is None:
            return
        l_from, l_to, o = reg.entity(previous), reg.entity(to), reg.entity(d.obligor)
        book, net = self._booked(d)
        self._book(l_from, o, -book, 0)
        received = self._convert(book, risk.currency_of(l_from), risk.currency_of(l_to))
        if received != d.principal or net != d.principal or d.id in risk.bookings:
            risk.bookings[d.id] = Booking(received, net)
        self._book(l_to, o, received, 0)

    # ------------------------------------------------------------------ oracle

    def report(self, bill: int, call: int, signers: int, notify: Sequence[int], bad_listener: bool,
               replay: bool) -> None:
        """A k-of-n report of a transport call (or a replay of a known event), naming deals."""
        now = self.clock()
        orc = self.m.oracle
        if replay and orc.events:
            known = list(orc.events.values())
            ev = known[bill % len(known)].event
        else:
            code, loc = CALLS[call % len(CALLS)]
            ev = ShipmentEvent(shipment_id(BILLS[bill % len(BILLS)]), code, loc, now - 60,
                               keccak(text=f"carrier message {self.serial()}"))
            if now - ev.event_time > 3 * DAY - TIME_MARGIN:
                return self.skip("oracle report")
        event_id = self.w.c().oracle.local_event_id(ev)
        slot = orc.slots.get((ev.shipment_id, ev.event_code), {})
        known_event = orc.events.get(event_id)
        stale = now - ev.event_time > 3 * DAY - TIME_MARGIN
        if stale and replay:
            return self.skip("oracle report")
        exp = _first(lambda: "EventReplayed" if known_event and known_event.retracted else None,
                     lambda: ("EventReplayed" if slot[ev.location].event_id == event_id else "EventAlreadyConfirmed")
                     if ev.location in slot else None,
                     lambda: "InsufficientSignatures" if signers < 2 else None)
        deals = [n % (len(self.m.deals) + 2) + 1 for n in notify]  # may name a deal that does not exist
        listeners = [Notify(self.engine, i) for i in deals]
        if bad_listener:
            listeners.append(Notify(self.a("carrier"), 1))
        sigs = self.w.sign_event(ev, ORACLES[:max(signers, 1)])
        ok, _ = self.attempt("oracle report", exp, lambda: self.w.c("carrier").oracle.submit_report(
            ev, sigs, listeners))
        if not ok:
            return
        e = Event(ev, event_id)
        orc.events[event_id] = e
        orc.slots.setdefault((ev.shipment_id, ev.event_code), {})[ev.location] = e
        for i in deals:
            d = self.m.deals.get(i)
            if d is None or d.state != DealState.FUNDED or d.shipment != ev.shipment_id or not self._release_allowed(d):
                continue
            for m in d.milestones:
                if (m.status == MilestoneStatus.PENDING and m.code == ev.event_code
                        and m.location in (ev.location, "")):
                    self._release(d, m)

    def retract(self, pick: int, notify: Sequence[int], stale_time: bool) -> None:
        """A k-of-n retraction of a reported event (fresh, unless `stale_time`)."""
        orc = self.m.oracle
        if not orc.events:
            return self.skip("oracle retraction")
        e = list(orc.events.values())[pick % len(orc.events)]
        ev = e.event
        now = self.clock()
        at = now - 4 * DAY if stale_time else now - 30
        slot = orc.slots.get((ev.shipment_id, ev.event_code), {})
        confirmed = not e.retracted and ev.location in slot and slot[ev.location].event_id == e.event_id
        exp = _first(lambda: None if confirmed else "EventNotConfirmed",
                     lambda: "StaleReport" if stale_time else None)
        deals = [n % (len(self.m.deals) + 1) + 1 for n in notify]
        reason = keccak(text="carrier corrected the event")
        sigs = self.w.sign_retraction(e.event_id, reason, at, ORACLES[1:])
        ok, _ = self.attempt("oracle retraction", exp, lambda: self.w.c("carrier").oracle.submit_retraction(
            ev, reason, at, sigs, [Notify(self.engine, i) for i in deals]))
        if not ok:
            return
        e.retracted = True
        del slot[ev.location]
        for i in deals:
            d = self.m.deals.get(i)
            if d is None or d.shipment != ev.shipment_id:
                continue
            for m in d.milestones:
                if m.code != ev.event_code or m.status in (MilestoneStatus.PENDING, MilestoneStatus.CONTESTED):
                    continue
                if m.location == ev.location or (m.location == "" and not orc.met(d, m)):
                    self._unmet(d, m)

    # ------------------------------------------------------------------ governance and risk settings

    def govern_standing(self, target: str, action: str) -> None:
        """suspend / reinstate / sanction / unsanction through M-of-N governance."""
        a = self.a(target)
        m = self.m.registry.members[a]
        reg = self.w.c().registry
        call, exp = {
            "suspend": (lambda: reg.call_suspend(a, "compliance review"), "AlreadySuspended" if m.suspended else None),
            "reinstate": (lambda: reg.call_reinstate(a), None if m.suspended else "NotSuspended"),
            "sanction": (lambda: reg.call_set_sanctioned(a, True, "sanctions list match"),
                         "SanctionsFlagUnchanged" if m.sanctioned else None),
            "unsanction": (lambda: reg.call_set_sanctioned(a, False, "delisted"),
                           None if m.sanctioned else "SanctionsFlagUnchanged"),
        }[action]
        ok, _ = self.attempt(f"governance {action}", exp, lambda: self.w.govern(call()))
        if ok:
            if action in ("suspend", "reinstate"):
                m.suspended = action == "suspend"
            else:
                m.sanctioned = action == "sanction"

    def unfreeze(self, target: str) -> None:
        a = self.a(target)
        party = self.m.registry.entity(a)
        exp = None if party in self.m.risk.frozen else "NotFrozen"
        ok, _ = self.attempt("governance unfreeze", exp, lambda: self.w.govern(self.w.c().risk.call_unfreeze(a)))
        if ok:
            self.m.risk.frozen.discard(party)
            self.m.risk.run[party] = 0

    def set_limit(self, lender: str, obligor: str, limit: int | None) -> None:
        """The lender's own limit for an obligor (its book currency); None lifts it."""
        reg = self.m.registry
        la, oa = self.a(lender), self.a(obligor)
        exp = reg.require_active(la, Role.LENDER)
        ok, _ = self.attempt("risk set limit", exp, lambda: self.w.c(lender).risk.set_limit(oa, limit))
        if ok:
            key = (reg.entity(la), reg.entity(oa))
            if limit is None:
                self.m.risk.limits.pop(key, None)
            else:
                self.m.risk.limits[key] = limit

    def set_network_limit(self, obligor: str, limit: int | None) -> None:
        oa = self.a(obligor)
        ok, _ = self.attempt("governance network limit", None, lambda: self.w.govern(
            self.w.c().risk.call_set_network_limit(oa, limit)))
        if ok:
            party = self.m.registry.entity(oa)
            if limit is None:
                self.m.risk.network_limits.pop(party, None)
            else:
                self.m.risk.network_limits[party] = limit

    def advance_time(self, seconds: int) -> None:
        """Chain time moves on (`evm_increaseTime`); the FX operators publish fresh rates."""
        self.w.advance_time(seconds)
        self.w.publish_rates()
        self.m.time_advanced += seconds
        self.stats.hits["time advance"] += 1

    # ------------------------------------------------------------------ orders, receipts, documentary

    def issue_order(self, buyer: str, supplier: str, ccy: str, amount: int, number: str, bill: int) -> None:
        reg = self.m.registry
        b, s = self.a(buyer), self.a(supplier)
        canon = "".join(ch for ch in number if ch.isalnum()).upper()
        fp = (reg.lei(b), reg.lei(s), canon) if b in reg.members and s in reg.members else None
        exp = _first(lambda: reg.active_pair(b, Role.BUYER, s, Role.SELLER),
                     lambda: "DuplicateOrder" if fp in self.m.order_fingerprints else None)
        now = self.clock()
        shipment = shipment_id(BILLS[bill % len(BILLS)]) if bill >= 0 else None
        terms = OrderTerms(s, number, "LED panels", 1000, "pcs", amount, ccy, now + 60 * DAY,
                           keccak(text=f"po {self.serial()}"), "bafkreistatefulorder", shipment or bytes(32))
        ok, oid = self.attempt("order issue", exp, lambda: self.w.c(buyer).orders.issue(terms))
        if ok:
            assert oid == len(self.m.orders) + 1
            self.m.order_fingerprints.add(fp)
            self.m.orders[oid] = Order(oid, b, s, s, OrderState.ISSUED, ccy, amount, shipment)

    def invoice_order(self, pick: int, face_pct: int) -> None:
        """The supplier tokenises the invoice issued against an order."""
        if not self.m.orders:
            return self.skip("invoice mint")
        o = list(self.m.orders.values())[pick % len(self.m.orders)]
        bill = BILLS.index(next(b for b in BILLS if shipment_id(b) == o.shipment)) if o.shipment else -1
        self.mint_invoice(self.k(o.supplier), self.k(o.buyer), o.currency, max(o.amount * face_pct // 100, 1),
                          f"INV-PO-{o.id}-{self.m.serial}", 1, 45, False, bill, order=o)

    def roll_to_invoice(self, pick: int, by_lender: bool) -> None:
        deals = [d for d in self.m.deals.values() if d.product == Product.ORDER]
        if not deals:
            return self.skip("order roll to invoice")
        d = deals[pick % len(deals)]
        od = self._order_of(d) if any(o.deal == d.id for o in self.m.orders.values()) else None
        if od is None or not od.invoice:
            return self.skip("order roll to invoice")
        inv = self.m.invoices[od.invoice]
        who = d.lender if by_lender else d.borrower
        if not self.k(who):
            return self.skip("order roll to invoice")
        reg = self.m.registry
        open_ = inv.face - inv.paid
        exp = _first(lambda: "AlreadyRolled" if d.rolled_invoice else None,
                     lambda: "InvoiceNotConfirmed" if inv.state != InvoiceState.CONFIRMED else None,
                     lambda: "NotInvoiceHolder" if inv.holder != d.borrower else None,
                     lambda: reg.require_transfer(d.borrower, self.modules[Product.ORDER]),
                     lambda: None if d.state in (DealState.ACCEPTED, DealState.FUNDED) else "InvalidDealState",
                     lambda: "CurrencyMismatch" if inv.currency != d.obligation_currency else None,
                     lambda: "ObligorSanctioned" if reg.sanctioned(inv.buyer) else None,
                     lambda: "InvalidAmounts" if d.principal + d.fee > open_ else None)
        ok, _ = self.attempt("order roll to invoice", exp, lambda: self.w.c(self.k(who)).order_financing
                             .roll_to_invoice(d.id, inv.id))
        if not ok:
            return
        previous = d.obligor
        d.rolled_invoice, d.collateral, d.obligor, d.obligation = inv.id, inv.id, inv.buyer, open_
        inv.holder = self.modules[Product.ORDER]
        if d.state == DealState.FUNDED:
            l, f, t = reg.entity(d.lender), reg.entity(previous), reg.entity(inv.buyer)
            if f != t:
                book, net = self._booked(d)
                self._book(l, f, -book, -net)
                self._book(l, t, book, net)
            od.state = OrderState.CLOSED
            inv.state = InvoiceState.FINANCED
            self.m.financed.setdefault(inv.id, d.id)

    def issue_receipt(self, depositor: str, expiry_days: int) -> None:
        reg = self.m.registry
        dep = self.a(depositor)
        now = self.clock()
        exp = reg.active_pair(self.a("warehouse"), Role.WAREHOUSE, dep, 0)
        terms = ReceiptTerms(dep, "copper cathodes", 25, "t", "A", "NLRTM", 250_000_00, "USD",
                             now + expiry_days * DAY, keccak(text=f"receipt {self.serial()}"),
                             "bafkreistatefulreceipt")
        ok, rid = self.attempt("receipt issue", exp, lambda: self.w.c("warehouse").receipts.issue(terms))
        if ok:
            assert rid == len(self.m.receipts) + 1
            self.m.receipts[rid] = Receipt(rid, dep, now + expiry_days * DAY)

    def _credit_deal(self, pick: int) -> DealModel | None:
        deals = [d for d in self.m.deals.values() if d.product == Product.DOCUMENTARY]
        return deals[pick % len(deals)] if deals else None

    def present(self, pick: int, doc: int, complying: bool) -> None:
        d = self._credit_deal(pick)
        if d is None:
            return self.skip("credit present")
        c = d.credit
        now = self.clock()
        if self.near(c["expiry"]):
            return self.skip("credit present")
        doc_type = ("BLAD", "CINV", "PKLS")[doc % 3]
        expected = c["docs"].get(doc_type, bytes(32))
        doc_hash = (expected if expected != bytes(32) else keccak(text="a document")) if complying \
            else keccak(text="a discrepant document")
        date = c["latest"] - DAY if complying else c["latest"] + DAY
        ok_doc = doc_hash != bytes(32) and (expected == bytes(32) or expected == doc_hash) and (
            doc_type != "BLAD" or date <= c["latest"])
        exp = _first(lambda: "CreditExpired" if now > c["expiry"] else None,
                     lambda: None if d.state in (DealState.ACCEPTED, DealState.FUNDED) else "CreditNotFunded",
                     lambda: None if doc_type in c["docs"] else "DocumentNotRequired")
        ok, _ = self.attempt("credit present", exp, lambda: self.w.c(self.k(c["presenter"])).credits.present(
            d.id, doc_type, doc_hash, date))
        if ok:
            c["complying"][doc_type] = ok_doc

    def waive(self, pick: int) -> None:
        d = self._credit_deal(pick)
        if d is None:
            return self.skip("credit waive")
        c = d.credit
        now = self.clock()
        if self.near(c["expiry"]):
            return self.skip("credit waive")
        exp = "CreditExpired" if now > c["expiry"] else None
        ok, _ = self.attempt("credit waive", exp, lambda: self.w.c(self.k(c["applicant"])).credits.waive(d.id))
        if ok:
            c["waived"] = True

    def settle(self, pick: int) -> None:
        d = self._credit_deal(pick)
        if d is None:
            return self.skip("credit settle")
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: "NotFullyReleased" if d.released != d.principal else None)
        ok, _ = self.attempt("credit settle", exp, lambda: self.w.c("carrier").deals.settle(d.id))
        if ok:
            d.state = DealState.REPAID
            self._close_if_settled(d)
            self._risk_settled(d, not d.overdue_counted)

    # ------------------------------------------------------------------ ABS pools

    def create_pool(self, manager: str, ccy: str, senior: int, junior: int, coupon_bps: int, cap_bps: int,
                    max_tenor_days: int) -> None:
        exp = self.m.registry.require_active(self.a(manager), Role.LENDER)
        params = PoolParams(self.w.token_address[ccy], max_tenor_days * DAY, cap_bps, coupon_bps, senior, junior,
                            f"Stateful pool {self.m.serial}")
        ok, pid = self.attempt("pool create", exp, lambda: self.w.c(manager).pools.create_pool(params))
        if ok:
            assert pid == len(self.m.pools) + 1
            chain_pool = self.w.c().pools.pool(pid)
            p = PoolModel(pid, self.a(manager), ccy, senior, junior, coupon_bps, cap_bps, max_tenor_days * DAY,
                          chain_pool.senior, chain_pool.junior)
            for tranche, size in ((p.senior, senior), (p.junior, junior)):
                p.tranches[tranche] = {"size": size, "distributed": 0, "balances": {}, "correction": {},
                                       "withdrawn": {}}
            self.m.pools[pid] = p

    def _pool(self, pick: int) -> PoolModel | None:
        pools = list(self.m.pools.values())
        return pools[pick % len(pools)] if pools else None

    def _eligible_error(self, p: PoolModel, d: DealModel) -> str | None:
        inv = self.m.invoices.get(d.collateral) if d.product == Product.RECEIVABLE else None
        bad = (d.id in self.m.pool_of_deal or d.state != DealState.FUNDED or d.product != Product.RECEIVABLE
               or d.currency != p.currency or d.fx_rate or d.obligation_currency != p.currency
               or d.overdue_flagged or self.t > d.maturity or d.maturity > self.t + p.max_tenor
               or inv is None or inv.state != InvoiceState.FINANCED or not inv.doc)
        return "NotEligible" if bad else None

    def bid(self, pool_pick: int, deal_pick: int, price_pct: int) -> None:
        p, d = self._pool(pool_pick), self._deal(deal_pick, (DealState.FUNDED,)) or self._deal(deal_pick)
        if p is None or d is None or not self.k(p.manager):
            return self.skip("pool bid")
        self.clock()
        if self.near(d.maturity, d.maturity - p.max_tenor):
            return self.skip("pool bid")
        inv = self.m.invoices.get(d.collateral)
        doc = inv.doc if inv is not None and inv.doc else keccak(text="no such document")
        price = d.principal * price_pct // 100
        exp = _first(lambda: None if p.state == "Building" else "InvalidPoolState",
                     lambda: self._eligible_error(p, d))
        ok, _ = self.attempt("pool bid", exp, lambda: self.w.c(self.k(p.manager)).pools.bid(p.id, d.id, price, doc))
        if ok:
            p.bids[d.id] = price

    def sell(self, pool_pick: int, bid_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None or not p.bids:
            return self.skip("pool sell")
        deal_id = list(p.bids)[bid_pick % len(p.bids)]
        d = self.m.deals[deal_id]
        if not self.k(d.lender):
            return self.skip("pool sell")
        self.clock()
        if self.near(d.maturity, d.maturity - p.max_tenor):
            return self.skip("pool sell")
        reg = self.m.registry
        inv = self.m.invoices[d.collateral]
        expected = d.principal + d.fee
        olei = reg.lei(d.obligor)
        cap = (p.senior_size + p.junior_size) * p.cap_bps // BPS
        price = p.bids[deal_id]
        lender_key = self.k(d.lender)
        self.attempt("deal approve assignment", None, lambda: self.w.c(lender_key).deals.approve_assignment(
            d.id, self.pools))
        exp = _first(lambda: None if p.state == "Building" else "InvalidPoolState",
                     lambda: self._eligible_error(p, d),
                     lambda: "ObligorCapExceeded" if p.exposure.get(olei, 0) + expected > cap else None,
                     lambda: self.m.token_move_error(p.currency, p.manager, d.lender, price) if price else None)
        ok, _ = self.attempt("pool sell", exp, lambda: self.w.c(lender_key).pools.sell(p.id, d.id))
        if not ok:
            return
        leaf = leaf_hash(p.id, d.id, inv.id, inv.face, inv.currency, inv.due, olei, inv.doc)
        p.assets.append({"deal": d.id, "invoice": inv.id, "expected": expected, "obligor": olei, "leaf": leaf,
                         "status": "Active", "recovered": 0})
        p.exposure[olei] = p.exposure.get(olei, 0) + expected
        p.open_assets += 1
        del p.bids[deal_id]
        self.m.pool_of_deal[d.id] = p.id
        previous = d.lender
        self._assigned(d, self.pools)
        if price:
            self.m.move(p.currency, p.manager, previous, price)

    def issue(self, pool_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None or not self.k(p.manager):
            return self.skip("pool issue")
        exp = _first(lambda: None if p.state == "Building" else "InvalidPoolState",
                     lambda: None if p.assets else "EmptyPool")
        root = merkle_root([a["leaf"] for a in p.assets]) if p.assets else keccak(text="empty")
        ok, _ = self.attempt("pool issue", exp, lambda: self.w.c(self.k(p.manager)).pools.issue(p.id, root))
        if ok:
            p.state, p.tape_root = "Issued", root
            for tranche, t in p.tranches.items():
                t["balances"][self.pools] = t["size"]

    def _tranche_move(self, t: dict, sender: str, receiver: str, amount: int) -> None:
        delta = t["distributed"] * amount
        t["correction"][sender] = t["correction"].get(sender, 0) + delta
        t["correction"][receiver] = t["correction"].get(receiver, 0) - delta
        t["balances"][sender] -= amount
        t["balances"][receiver] = t["balances"].get(receiver, 0) + amount

    def buy_notes(self, pool_pick: int, investor: str, senior: bool, pct: int) -> None:
        p = self._pool(pool_pick)
        if p is None:
            return self.skip("pool buy notes")
        tranche = p.senior if senior else p.junior
        t = p.tranches[tranche]
        available = t["balances"].get(self.pools, 0)
        amount = max(available * pct // 100, 1)
        inv = self.a(investor)
        reg = self.m.registry
        exp = _first(lambda: None if p.state in ("Issued", "Amortising") else "InvalidPoolState",
                     lambda: reg.require_active(inv, Role.INVESTOR),
                     lambda: "NotesUnavailable" if amount > available else None,
                     lambda: self.m.token_move_error(p.currency, inv, p.manager, amount),
                     lambda: reg.require_transfer(self.pools, inv, Role.INVESTOR))
        ok, _ = self.attempt("pool buy notes", exp, lambda: self.w.c(investor).pools.buy_notes(p.id, senior, amount))
        if ok:
            self.m.move(p.currency, inv, p.manager, amount)
            self._tranche_move(t, self.pools, inv, amount)
            if p.state == "Issued" and all(x["balances"].get(self.pools, 0) == 0 for x in p.tranches.values()):
                p.state = "Amortising"

    def start_amortisation(self, pool_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None or not self.k(p.manager):
            return self.skip("pool start amortisation")
        exp = None if p.state == "Issued" else "InvalidPoolState"
        ok, _ = self.attempt("pool start amortisation", exp, lambda: self.w.c(self.k(p.manager)).pools
                             .start_amortisation(p.id))
        if ok:
            p.state = "Amortising"

    def _collect(self, p: PoolModel, asset: dict) -> None:
        d = self.m.deals[asset["deal"]]
        amount = d.claimable(self.pools)
        if amount:
            self._withdrawn(d, self.pools, amount)
        asset["recovered"] += amount
        p.collected += amount
        p.undistributed += amount
        if asset["status"] == "Active":
            if d.state == DealState.REPAID or (d.state == DealState.CLOSED and asset["recovered"] >= asset["expected"]):
                asset["status"] = "Repaid"
                p.open_assets -= 1
            elif d.state in (DealState.DEFAULTED, DealState.CLOSED):
                asset["status"] = "Defaulted"
                p.open_assets -= 1

    def collect(self, pool_pick: int, asset_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None or not p.assets:
            return self.skip("pool collect")
        asset = p.assets[asset_pick % len(p.assets)]
        exp = None if p.state not in ("Building",) else "InvalidPoolState"
        ok, _ = self.attempt("pool collect", exp, lambda: self.w.c("carrier").pools.collect(p.id, [asset["deal"]]))
        if ok:
            self._collect(p, asset)

    def enforce(self, pool_pick: int, asset_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None or not p.assets:
            return self.skip("pool enforce")
        asset = p.assets[asset_pick % len(p.assets)]
        d = self.m.deals[asset["deal"]]
        now = self.clock()
        if self.near(d.maturity + d.grace):
            return self.skip("pool enforce")
        exp = _first(lambda: "InvalidDealState" if d.state != DealState.FUNDED else None,
                     lambda: "GracePeriodRunning" if now <= d.maturity + d.grace else None,
                     lambda: self._on_default_error(d))
        ok, _ = self.attempt("pool enforce", exp, lambda: self.w.c("carrier").pools.enforce(p.id, d.id))
        if ok:
            self._default_effects(d)
            self._collect(p, asset)

    def distribute(self, pool_pick: int) -> None:
        p = self._pool(pool_pick)
        if p is None:
            return self.skip("pool distribute")
        exp = None if p.state == "Amortising" else "InvalidPoolState"
        ok, _ = self.attempt("pool distribute", exp, lambda: self.w.c("carrier").pools.distribute(p.id))
        if not ok:
            return
        cash = p.undistributed
        interest = min(cash, p.senior_size * p.coupon_bps // BPS - p.interest_paid)
        cash -= interest
        principal = min(cash, p.senior_size - p.principal_paid)
        cash -= principal
        p.interest_paid += interest
        p.principal_paid += principal
        p.junior_paid += cash
        p.undistributed = 0
        p.tranches[p.senior]["distributed"] += interest + principal
        p.tranches[p.junior]["distributed"] += cash
        if p.open_assets == 0:
            p.state = "Closed"

    def claimable_notes(self, t: dict, holder: str) -> int:
        supply = t["size"] if t["balances"] else 0
        if supply == 0:
            return 0
        acc = t["distributed"] * t["balances"].get(holder, 0) + t["correction"].get(holder, 0)
        return acc // supply - t["withdrawn"].get(holder, 0)

    def claim(self, pool_pick: int, investor: str, senior: bool) -> None:
        p = self._pool(pool_pick)
        if p is None:
            return self.skip("pool claim")
        tranche = p.senior if senior else p.junior
        t = p.tranches[tranche]
        inv = self.a(investor)
        amount = self.claimable_notes(t, inv)
        exp = _first(lambda: "NothingToClaim" if amount == 0 else None,
                     lambda: self.m.registry.require_transfer(self.pools, inv))
        ok, got = self.attempt("pool claim", exp, lambda: self.w.c(investor).pools.claim(tranche))
        if ok:
            assert got == amount
            t["withdrawn"][inv] = t["withdrawn"].get(inv, 0) + amount
            p.paid_out += amount
            self.m.move(p.currency, self.pools, inv, amount)

    def transfer_notes(self, pool_pick: int, sender: str, receiver: str, senior: bool, pct: int) -> None:
        p = self._pool(pool_pick)
        if p is None or p.state == "Building":
            return self.skip("pool transfer notes")
        tranche = p.senior if senior else p.junior
        t = p.tranches[tranche]
        s, r = self.a(sender), self.a(receiver)
        held = t["balances"].get(s, 0)
        amount = max(held * pct // 100, 1)
        exp = _first(lambda: self.m.registry.require_transfer(s, r, Role.INVESTOR),
                     lambda: "ERC20InsufficientBalance" if amount > held else None)
        ok, _ = self.attempt("pool transfer notes", exp, lambda: self._erc20(sender, tranche).transfer(r, amount))
        if ok:
            self._tranche_move(t, s, r, amount)

    def _erc20(self, key: str, address: str):
        from chain.clients import SettlementToken  # an ERC-20 client: the tranche token shares the interface

        return SettlementToken(self.w.chain, address, self.w.keys[key])
