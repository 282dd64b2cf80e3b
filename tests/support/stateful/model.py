"""The Python model the stateful tests hold the contracts against: small, explicit, no chain.

It states what the contracts' NatSpec says in the fewest lines: members' standing and the one
transfer rule; balances per token per holder (participants, the engine, the product modules,
the invoice settlement, the ABS pools contract, the token contracts holding redemption
requests); invoices with their states, holders, lineage and direct payments; deals with their
milestones, credits and releases; the oracle's confirmation slots; the risk rules' exposures,
limits and overdue runs; the pools' figures and tranche accounting.

Predicates return the name of the Solidity error the contracts raise first (in the order the
contracts check), or None when the operation goes through."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterable

from chain.vocabulary import DealState, InvoiceState, MilestoneStatus, OrderState, Product

BPS = 10_000
RATE_DECIMALS = 8
FREEZE_AFTER = 3


# ------------------------------------------------------------------------------- members


@dataclass
class Member:
    key: str
    lei: str
    roles: int
    suspended: bool = False
    sanctioned: bool = False


@dataclass
class Registry:
    """Members by address and the registered contracts (escrows and assets)."""

    members: dict[str, Member] = field(default_factory=dict)
    escrows: set[str] = field(default_factory=set)
    assets: set[str] = field(default_factory=set)

    def require_active(self, a: str, roles: int = 0) -> str | None:
        m = self.members.get(a)
        if m is None:
            return "NotMember"
        if m.sanctioned:
            return "MemberIsSanctioned"
        if m.suspended:
            return "MemberIsSuspended"
        if m.roles & roles != roles:
            return "MissingRole"
        return None

    def _can_receive(self, a: str, roles: int = 0) -> str | None:
        m = self.members.get(a)
        if m is None:
            return "NotMember"
        if m.sanctioned:
            return "MemberIsSanctioned"
        if m.roles & roles != roles:
            return "MissingRole"
        return None

    def require_can_receive(self, a: str) -> str | None:
        """``requireCanReceive``: escrows may receive; members unless sanctioned."""
        return None if a in self.escrows else self._can_receive(a)

    def require_transfer(self, sender: str, receiver: str, roles: int = 0) -> str | None:
        """``requireTransfer``: the network's one transfer rule."""
        if sender in self.escrows:
            return None if receiver in self.escrows else self._can_receive(receiver, roles)
        if receiver in self.escrows:
            return self._can_receive(sender, roles)
        return self.require_active(sender, roles) or self.require_active(receiver, roles)

    def active_pair(self, a: str, ra: int, b: str, rb: int) -> str | None:
        return self.require_active(a, ra) or self.require_active(b, rb)

    def lei(self, a: str) -> str:
        return self.members[a].lei

    def entity(self, a: str | None) -> str:
        """``entityKeys``: a member's LEI, anything else by its address."""
        if a is None:
            return "0x0"
        m = self.members.get(a)
        return m.lei if m else a

    def sanctioned(self, a: str | None) -> bool:
        return a is not None and a in self.members and self.members[a].sanctioned


# ------------------------------------------------------------------------------- assets


@dataclass
class Invoice:
    id: int
    seller: str
    buyer: str
    holder: str | None
    state: InvoiceState
    face: int
    currency: str
    due: int
    doc: bytes
    shipment: bytes | None
    parent: int = 0
    root: int = 0
    order_id: int = 0
    paid: int = 0


@dataclass
class Order:
    id: int
    buyer: str
    supplier: str
    holder: str
    state: OrderState
    currency: str
    amount: int
    shipment: bytes | None
    invoice: int = 0  # the invoice issued against it
    deal: int = 0  # the order-financing deal that holds it


@dataclass
class Receipt:
    id: int
    holder: str
    expiry: int
    pledgee: str | None = None


@dataclass
class Redemption:
    id: int
    token: str  # currency
    holder: str
    amount: int
    open: bool = True


# ------------------------------------------------------------------------------- deals


@dataclass
class MilestoneModel:
    code: str  # "" advance
    location: str  # "" any transport call
    bps: int
    amount: int
    status: MilestoneStatus = MilestoneStatus.PENDING


@dataclass
class Offer:
    """Signed terms not yet accepted (or used / revoked)."""

    terms: object  # chain.clients.DealTerms
    product: Product
    borrower: str
    lender: str
    currency: str
    signatures: tuple[bytes, bytes]
    status: str = "open"  # open | used | revoked
    credit: dict | None = None  # documentary: applicant, documents


@dataclass
class DealModel:
    id: int
    product: Product
    borrower: str
    lender: str
    obligor: str | None
    obligation: int
    currency: str  # the deal token's currency
    obligation_currency: str
    principal: int
    fee: int
    maturity: int
    grace: int
    shipment: bytes | None
    collateral: int
    milestones: list[MilestoneModel]
    state: DealState = DealState.ACCEPTED
    released: int = 0
    withdrawn: int = 0
    lender_credit: int = 0
    bonus: int = 0
    fx_rate: int = 0
    fx_valid_until: int = 0
    overdue_flagged: bool = False
    overdue_counted: bool = False
    funded_at: int = 0
    rolled_invoice: int = 0  # order financing after rollover
    credit: dict | None = None  # documentary: {"applicant", "documents": {type: complying}, "waived"}

    @property
    def borrower_claim(self) -> int:
        return self.released + self.bonus - self.withdrawn

    @property
    def escrow_balance(self) -> int:
        unreleased = self.principal - self.released if self.state == DealState.FUNDED else 0
        return unreleased + self.borrower_claim + self.lender_credit

    def claimable(self, who: str) -> int:
        if who == self.borrower:
            return self.borrower_claim
        if who == self.lender:
            return self.lender_credit
        return 0


# ------------------------------------------------------------------------------- oracle


@dataclass
class Event:
    event: object  # chain.clients.ShipmentEvent
    event_id: bytes
    retracted: bool = False


@dataclass
class Oracle:
    """Confirmation slots (shipment, code) -> {location: confirmed event}; every event ever seen."""

    slots: dict[tuple[bytes, str], dict[str, Event]] = field(default_factory=dict)
    events: dict[bytes, Event] = field(default_factory=dict)

    def confirmed(self, shipment: bytes | None, code: str, location: str) -> bool:
        calls = self.slots.get((shipment, code), {})
        return bool(calls) if location == "" else location in calls

    def met(self, d: DealModel, m: MilestoneModel) -> bool:
        return self.confirmed(d.shipment, m.code, m.location)


# ------------------------------------------------------------------------------- risk


@dataclass
class Booking:
    book: int
    network: int


@dataclass
class Risk:
    """RiskRules in the model: book currencies, (lender, obligor) limits and exposures (book
    currency), network exposures (network currency), overdue runs and freezes, per LEI."""

    network_currency: str = "USD"
    book_currency: dict[str, str] = field(default_factory=dict)  # lender LEI -> currency
    limits: dict[tuple[str, str], int] = field(default_factory=dict)
    pair: dict[tuple[str, str], int] = field(default_factory=dict)
    book: dict[str, int] = field(default_factory=dict)
    network: dict[str, int] = field(default_factory=dict)
    run: dict[str, int] = field(default_factory=dict)
    frozen: set[str] = field(default_factory=set)
    bookings: dict[int, Booking] = field(default_factory=dict)
    network_limits: dict[str, int] = field(default_factory=dict)

    def currency_of(self, lender: str) -> str:
        """The book currency of a lender entity (the network currency without a policy)."""
        return self.book_currency.get(lender, self.network_currency)

    def add(self, table: dict, key, amount: int) -> None:
        table[key] = table.get(key, 0) + amount
        assert table[key] >= 0, (key, table[key])


# ------------------------------------------------------------------------------- pools


@dataclass
class PoolModel:
    id: int
    manager: str
    currency: str
    senior_size: int
    junior_size: int
    coupon_bps: int
    cap_bps: int
    max_tenor: int
    senior: str = ""
    junior: str = ""
    state: str = "Building"
    assets: list[dict] = field(default_factory=list)  # deal, invoice, expected, obligor, leaf, status, recovered
    bids: dict[int, int] = field(default_factory=dict)  # deal -> price
    exposure: dict[str, int] = field(default_factory=dict)  # obligor LEI -> expected
    tape_root: bytes = bytes(32)
    collected: int = 0
    undistributed: int = 0
    interest_paid: int = 0
    principal_paid: int = 0
    junior_paid: int = 0
    paid_out: int = 0
    open_assets: int = 0
    # tranche accounting per tranche address: distributed, balances, corrections, withdrawn
    tranches: dict[str, dict] = field(default_factory=dict)


# ------------------------------------------------------------------------------- the model


@dataclass
class Model:
    registry: Registry
    balances: dict[str, dict[str, int]]  # currency -> holder address -> balance
    supply: dict[str, int]
    invoices: dict[int, Invoice] = field(default_factory=dict)
    fingerprints: set[int] = field(default_factory=set)
    documents: dict[bytes, int] = field(default_factory=dict)
    parts: dict[int, list[int]] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    order_fingerprints: set[tuple[str, str, bytes]] = field(default_factory=set)
    receipts: dict[int, Receipt] = field(default_factory=dict)
    redemptions: list[Redemption] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    deals: dict[int, DealModel] = field(default_factory=dict)
    oracle: Oracle = field(default_factory=Oracle)
    risk: Risk = field(default_factory=Risk)
    pools: dict[int, PoolModel] = field(default_factory=dict)
    pool_of_deal: dict[int, int] = field(default_factory=dict)
    #: every invoice that ever sat in a funded deal, with the deal
    financed: dict[int, int] = field(default_factory=dict)
    time_advanced: int = 0
    serial: int = 0  # makes references unique within a sequence (deterministic on replay)

    def copy(self) -> "Model":
        return copy.deepcopy(self)

    # -- money
    def balance(self, ccy: str, a: str) -> int:
        return self.balances[ccy].get(a, 0)

    def move(self, ccy: str, sender: str, receiver: str, amount: int) -> None:
        b = self.balances[ccy]
        assert b.get(sender, 0) >= amount, (ccy, sender, amount)
        b[sender] = b.get(sender, 0) - amount
        b[receiver] = b.get(receiver, 0) + amount

    def token_move_error(self, ccy: str, sender: str, receiver: str, amount: int) -> str | None:
        """A settlement-token transfer: the transfer rule first, then the balance."""
        return (self.registry.require_transfer(sender, receiver)
                or ("ERC20InsufficientBalance" if self.balance(ccy, sender) < amount else None))

    # -- invoices
    def live_parts(self, root: int) -> list[int]:
        return self.parts.get(root, [])

    def ancestors(self, invoice_id: int) -> list[int]:
        out, inv = [], self.invoices[invoice_id]
        while inv.parent:
            out.append(inv.parent)
            inv = self.invoices[inv.parent]
        return out

    def deals_of(self, states: Iterable[DealState]) -> list[DealModel]:
        wanted = set(states)
        return [d for d in self.deals.values() if d.state in wanted]


def convert_up(amount: int, rate: int) -> int:
    """Minor units at `rate` (8 decimals) between two 2-decimal currencies, rounded up."""
    num = amount * rate * 100
    den = 10**RATE_DECIMALS * 100
    return (num + den - 1) // den
