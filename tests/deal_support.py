"""Helpers shared by the oracle, FX and deal tests (fixtures stay in conftest.py; these are plain
functions over the session `net`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.contracts import InvoiceTerms, Role
from chain.deal_client import DealTerms, Milestone, ReceivableFinancing
from chain.oracle_client import LogisticsOracle, ShipmentEvent

DAY = 86_400
USD = "USD"
ORACLES = ("oracle_1", "oracle_2", "oracle_3")
#: Every key whose balance the conservation check sums (plus the deal contract).
MONEY_HOLDERS = ("admin_a", "admin_b", "admin_c", "treasury", "seller", "seller_ops", "buyer", "lender", "lender_b",
                 "warehouse", "carrier", "oracle_1", "oracle_2", "oracle_3", "investor", "auditor")

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):05d}"


# ---------------------------------------------------------------------------- oracle


def oracle(net, key: str = "carrier") -> LogisticsOracle:
    return net.deployment.oracle(net.chain, net.keys[key])


def event(net, reference: str, code: str = "DEPA", location: str = "CNSZX", age: int = 600,
          evidence: str | None = None) -> ShipmentEvent:
    """A shipment event `age` seconds old."""
    return ShipmentEvent.from_strings(reference, code, location, net.now() - age,
                                      evidence if evidence is not None else f"{reference}/{code}/{location}")


def sign(net, ev: ShipmentEvent, signers: Sequence[str] = ORACLES[:2]) -> list[bytes]:
    o = oracle(net)
    return [o.sign_event(net.keys[k], ev) for k in signers]


def confirm(net, ev: ShipmentEvent, signers: Sequence[str] = ORACLES[:2], submitter: str = "carrier") -> bytes:
    return oracle(net, submitter).submit_report(ev, sign(net, ev, signers))


def retract(net, event_id: bytes, reason: str = "carrier corrected the event",
            signers: Sequence[str] = ORACLES[:2], submitter: str = "carrier"):
    o = oracle(net, submitter)
    reason_hash = keccak(text=reason)
    sigs = [o.sign_retraction(net.keys[k], event_id, reason_hash) for k in signers]
    return o.submit_retraction(event_id, reason_hash, sigs)


def add_oracle_members(net, count: int) -> list[LocalAccount]:
    """Admits `count` extra ORACLE members through governance; returns their keys."""
    reg = net.registry()
    accounts = [Account.from_key(keccak(text=f"extra-oracle:{i}")) for i in range(count)]
    expiry = net.now() + 365 * DAY
    calls = [reg.call_add_member(a.address, Role.ORACLE, f"529900EXTRAORACLE{i:03d}", "DE", expiry)
             for i, a in enumerate(accounts)]
    reg.govern(net.admins, calls, "admit extra oracle operators")
    return accounts


def govern(net, calls, description: str = "test governance") -> int:
    return net.registry().govern(net.admins, calls, description)


# ---------------------------------------------------------------------------- money


def mint(net, key: str, amount: int, currency: str = USD) -> None:
    net.token(currency, "treasury").mint(net.addr(key), amount, keccak(text=unique("deposit")))


def balance(net, who: str, currency: str = USD) -> int:
    """Balance of a participant key, or of an address."""
    address = net.addr(who) if who in net.keys else who
    return net.token(currency).balance_of(address)


def balances(net, currency: str = USD) -> dict[str, int]:
    out = {k: balance(net, k, currency) for k in MONEY_HOLDERS}
    out["deal"] = balance(net, net.deployment.receivable_financing, currency)
    return out


def assert_conserved(net, currency: str = USD) -> dict[str, int]:
    """Every unit of the currency is held by a participant or the deal escrow: the sum of those
    balances equals the total supply (which only TREASURY mint/burn changes)."""
    b = balances(net, currency)
    assert sum(b.values()) == net.token(currency).total_supply(), b
    return b


def assert_escrow_backed(net, deal_ids: Sequence[int], currency: str = USD) -> None:
    """The deal contract holds exactly what its deals account for (unreleased escrow + credits)."""
    fin = financing(net)
    held = balance(net, net.deployment.receivable_financing, currency)
    assert held == sum(fin.escrow_balance(d) for d in deal_ids)


# ---------------------------------------------------------------------------- invoices and deals


def financing(net, key: str | None = None) -> ReceivableFinancing:
    return net.deployment.financing(net.chain, net.keys[key] if key else None)


def confirmed_invoice(net, face_value: int, currency: str = USD, seller: str = "seller", buyer: str = "buyer",
                      due_in: int = 90 * DAY, confirm_it: bool = True) -> int:
    now = net.now()
    terms = InvoiceTerms(net.addr(buyer), unique("INV"), face_value, currency, now - DAY, now + due_in,
                         keccak(text=unique("doc")), "bafkreitestinvoice")
    invoice_id = net.invoices(seller).mint(terms)
    if confirm_it:
        net.invoices(buyer).confirm(invoice_id)
    return invoice_id


@dataclass
class DealSetup:
    terms: DealTerms
    reference: str  # transport document reference of the shipment
    shipment: bytes
    codes: tuple[str, ...]
    amounts: list[int] = field(default_factory=list)

    @property
    def deal_id(self) -> int:
        return self.terms.deal_id


_deal_ids = itertools.count(1_000)


def make_terms(net, invoice_id: int, principal: int, fee: int, shares: Sequence[tuple[str, int]] = (("DEPA", 3000), ("ARRI", 7000)),
               reference: str | None = None, borrower: str = "seller", lender: str = "lender", currency: str = USD,
               maturity_in: int = 60 * DAY, grace: int = 10 * DAY, accept_within: int = DAY,
               deal_id: int | None = None, token: str | None = None) -> DealSetup:
    reference = reference or unique("MAEU-BL")
    ship = keccak(text=reference)
    now = net.now()
    terms = DealTerms(
        deal_id=deal_id if deal_id is not None else next(_deal_ids), invoice_id=invoice_id,
        borrower=net.addr(borrower), lender=net.addr(lender),
        settlement_token=token or net.deployment.settlement_tokens[currency], principal=principal, fee=fee,
        maturity=now + maturity_in, grace_period=grace, accept_by=now + accept_within,
        milestones=tuple(Milestone(ship, code, bps) for code, bps in shares),
    )
    return DealSetup(terms, reference, ship, tuple(c for c, _ in shares), terms.milestone_amounts())


def sign_both(net, terms: DealTerms, borrower: str = "seller", lender: str = "lender") -> tuple[bytes, bytes]:
    fin = financing(net)
    return fin.sign_terms(net.keys[borrower], terms), fin.sign_terms(net.keys[lender], terms)


def accept(net, setup: DealSetup, submitter: str = "seller", borrower: str = "seller", lender: str = "lender"):
    fin = financing(net, submitter)
    financing(net, borrower).approve_invoice(net.invoices(borrower), setup.terms.invoice_id)
    b, l = sign_both(net, setup.terms, borrower, lender)
    return fin.accept(setup.terms, b, l)


def fund(net, setup: DealSetup, lender: str = "lender", currency: str = USD):
    fin = financing(net, lender)
    fin.approve_payment(net.token(currency, lender), setup.terms.principal)
    return fin.fund(setup.deal_id)


def repay(net, setup: DealSetup, buyer: str = "buyer", currency: str = USD):
    fin = financing(net, buyer)
    face = fin.deal(setup.deal_id).face_value
    fin.approve_payment(net.token(currency, buyer), face)
    return fin.repay(setup.deal_id)


def open_deal(net, face_value: int = 10_000_000, principal: int = 8_000_000, fee: int = 120_000,
              shares: Sequence[tuple[str, int]] = (("DEPA", 3000), ("ARRI", 7000)), funded: bool = True,
              reference: str | None = None, **kw) -> DealSetup:
    """Mints + confirms an invoice, accepts a deal on it and (by default) funds it."""
    invoice_id = confirmed_invoice(net, face_value)
    setup = make_terms(net, invoice_id, principal, fee, shares, reference=reference, **kw)
    accept(net, setup)
    if funded:
        fund(net, setup)
    return setup


def ensure_money(net, lender_amount: int = 10**12, buyer_amount: int = 10**12) -> None:
    mint(net, "lender", lender_amount)
    mint(net, "lender_b", lender_amount)
    mint(net, "buyer", buyer_amount)
