"""Helpers of the oracle, FX and deal-engine tests, for every product (plain functions over the
session `net`; fixtures stay in conftest.py).

- oracle: `event`, `sign`, `report` / `confirm` / `retract` (with a notify list of deal ids);
  FX: `sign_rate`, `publish_rate`; members: `admit_members`, `deploy_escrow`;
- money: `mint`, `ensure_money`, `Ledger` / `assert_conserved` (every holder, the engine and the
  product modules included: the sum equals the total supply), `assert_engine_backed` (the engine
  holds exactly the sum of its deals' escrow balances);
- invoices and deals: `confirmed_invoice`, `make_terms` -> `DealSetup`, `sign_terms`, `accept`,
  `fund`, `repay`, `withdraw`, `open_deal` (invoice + accept + fund in one call);
- `call_as`: an engine (or any) call simulated from any address, for authorization matrices.

Deals are described by participant keys ("seller", "lender", ...): a `DealSetup` remembers them,
so later steps need only the setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from chain import errors
from chain.clients import (
    ContractClient,
    DealEngine,
    DealLens,
    DealTerms,
    FxRate,
    InvoiceTerms,
    LogisticsOracle,
    MemberInput,
    Milestone,
    Notify,
    ShipmentEvent,
    shipment_id,
)
from chain.clients.tokens import NO_SHIPMENT
from chain.vocabulary import ContractKind, Product, Role

from tests.support.tokens import govern, govern_fails, unchanged, unique

DAY = 86_400
USD = "USD"
ORACLES = ("oracle_1", "oracle_2", "oracle_3")
FACE = 10_000_000  # USD 100,000.00 in cents
#: DEPA releases 30%, ARRI (at any transport call) 70%.
DEFAULT_MILESTONES: tuple[Milestone, ...] = (Milestone("DEPA", 3000), Milestone("ARRI", 7000))

MilestoneSpec = Milestone | tuple  # Milestone, or (code, bps) / (code, bps, location)


# ---------------------------------------------------------------------------- clients


def engine(net, key: str | None = None) -> DealEngine:
    return net.clients(key).deals


def lens(net) -> DealLens:
    return net.clients().lens


def oracle(net, key: str = "carrier") -> LogisticsOracle:
    return net.clients(key).oracle


def module(net, product: Product = Product.RECEIVABLE) -> str:
    """The product module's address."""
    return net.deployment.product_modules[product]


def call_as(net, sender: str, client: ContractClient, fn: str, *args: Any) -> bytes:
    """`fn(*args)` of `client`'s contract simulated (eth_call, nothing mined) as sent by address
    `sender` (any address: a contract such as the oracle too). Raises the decoded Solidity error."""
    data = client.encode(fn, *args)
    call = {"from": to_checksum_address(sender), "to": client.address, "data": "0x" + data.hex()}
    resp = net.w3.provider.make_request("eth_call", [call, "latest"])
    if "error" in resp:
        err = resp["error"]
        revert = err.get("data") if isinstance(err, dict) else None
        if isinstance(revert, dict):
            revert = revert.get("data")
        raise net.chain.decoder.decode(revert if isinstance(revert, str) else b"")
    return bytes.fromhex(resp["result"][2:])


def travel_to(net, timestamp: int) -> None:
    """Mines a block at `timestamp` (later than the latest block's)."""
    net.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    net.w3.provider.make_request("evm_mine", [])


# ---------------------------------------------------------------------------- members


def admit_members(net, roles: Role, count: int, label: str, lei: str | None = None, country: str = "DE"
                  ) -> list[LocalAccount]:
    """Admits `count` new accounts with `roles` through governance (each its own LEI unless `lei`
    names one for all); returns their keys (deterministic per label)."""
    accounts = [Account.from_key(keccak(text=f"test-member:{label}:{i}")) for i in range(count)]
    expiry = net.now() + 365 * DAY
    reg = net.registry()
    calls = [reg.call_add_member(MemberInput(a.address, roles, lei or f"5299{label.upper():0<13.13}{i:03d}",
                                             country, expiry, f"{label} {i}"))
             for i, a in enumerate(accounts)]
    govern(net, *calls, description=f"admit {label}")
    return accounts


def add_oracle_members(net, count: int) -> list[LocalAccount]:
    """`count` extra ORACLE members (not yet operators)."""
    return admit_members(net, Role.ORACLE, count, "xoracle")


def deploy_escrow(net, label: str = "pool") -> str:
    """A contract (with code, no deal logic: a DealLens over the engine) registered by governance
    as a tradenet ESCROW, standing in for an ABS pool or a foreign listener."""
    address, _ = net.chain.deploy("DealLens", net.keys["admin_a"], net.deployment.deal_engine)
    reg = net.registry()
    govern(net, reg.call_set_network_contract(address, ContractKind.ESCROW), description=f"register {label}")
    return address


# ---------------------------------------------------------------------------- oracle


def event(net, reference: str, code: str = "DEPA", location: str = "CNSZX", age: int = 600,
          evidence: str | None = None) -> ShipmentEvent:
    """A shipment event of B/L `reference`, `age` seconds old."""
    return ShipmentEvent.from_strings(reference, code, location, net.now() - age,
                                      evidence if evidence is not None else f"{reference}/{code}/{location}")


def sign(net, ev: ShipmentEvent, signers: Sequence[str] = ORACLES[:2]) -> list[bytes]:
    o = oracle(net)
    return [o.sign_event(net.keys[k], ev) for k in signers]


def notify_list(net, deals: Iterable[int | Notify]) -> list[Notify]:
    """Deal ids (of the engine) or ready `Notify` entries, as a report's notify list."""
    return [d if isinstance(d, Notify) else Notify(net.deployment.deal_engine, d) for d in deals]


def report(net, ev: ShipmentEvent, notify: Iterable[int | Notify] = (), signers: Sequence[str] = ORACLES[:2],
           submitter: str = "carrier", gas: int | None = None) -> dict[str, Any]:
    """Submits `ev` with k signatures, naming `notify` (deal ids of the engine, or `Notify`s);
    returns the receipt (its logs include the engine's releases)."""
    o = oracle(net, submitter)
    o.submit_report(ev, sign(net, ev, signers), notify_list(net, notify), gas=gas)
    assert o.last_receipt is not None
    return o.last_receipt


def confirm(net, ev: ShipmentEvent, notify: Iterable[int | Notify] = (), signers: Sequence[str] = ORACLES[:2],
            submitter: str = "carrier", gas: int | None = None) -> bytes:
    """`report`, returning the eventId."""
    report(net, ev, notify, signers, submitter, gas)
    return oracle(net).local_event_id(ev)


def sign_retraction(net, ev: ShipmentEvent, reason_hash: bytes, retracted_at: int,
                    signers: Sequence[str] = ORACLES[:2]) -> list[bytes]:
    o = oracle(net)
    event_id = o.local_event_id(ev)
    return [o.sign_retraction(net.keys[k], event_id, reason_hash, retracted_at) for k in signers]


def retract(net, ev: ShipmentEvent, notify: Iterable[int | Notify] = (), reason: str = "carrier retracted the event",
            retracted_at: int | None = None, signers: Sequence[str] = ORACLES[:2], submitter: str = "carrier",
            gas: int | None = None) -> dict[str, Any]:
    """Retracts the confirmed `ev` (observed now unless `retracted_at`), naming `notify`; returns
    the receipt."""
    at = net.now() if retracted_at is None else retracted_at
    reason_hash = keccak(text=reason)
    sigs = sign_retraction(net, ev, reason_hash, at, signers)
    return oracle(net, submitter).submit_retraction(ev, reason_hash, at, sigs, notify_list(net, notify), gas=gas)


def sign_rate(net, rate: FxRate, signers: Sequence[str] = ORACLES[:2]) -> list[bytes]:
    fx = net.clients().fx
    return [fx.sign_rate(net.keys[k], rate) for k in signers]


def publish_rate(net, base: str, quote: str, rate: str, age: int = 30, signers: Sequence[str] = ORACLES[:2],
                 submitter: str = "carrier") -> FxRate:
    """Stores `base`/`quote` at decimal `rate` (e.g. "1.0825"), observed `age` seconds ago, in the
    FX rate store with k operator signatures; returns the rate."""
    r = FxRate.from_decimal(base, quote, rate, net.now() - age)
    net.clients(submitter).fx.submit_rate(r, sign_rate(net, r, signers))
    return r


def assert_quorum_rules(net, client) -> None:
    """The k-of-n rule of a quorum-signed feed (`client`: the logistics oracle or the FX rate
    store): for n = 1..6 operators every k outside 2 <= k <= n, k > n/2 is refused by governance
    (InvalidOperatorSet, nothing changes), for setOperators and setThreshold; the smallest valid
    sets are accepted."""
    extra = [a.address for a in add_oracle_members(net, 3)]
    pool = [net.addr(k) for k in ORACLES] + extra  # six ORACLE members
    reads = (client.operators, client.threshold)
    for n in range(1, 7):
        ops = pool[:n]
        for k in range(0, n + 2):
            if k >= 2 and k <= n and 2 * k > n:
                continue
            err = govern_fails(net, errors.InvalidOperatorSet, client.call_set_operators(ops, k), reads=reads)
            assert (err["operators"], err["threshold"]) == (n, k)
    for k in (0, 1, 4):  # for the current three operators
        govern_fails(net, errors.InvalidOperatorSet, client.call_set_threshold(k), reads=reads)
    # the smallest valid sets: 2 of 2, 2 of 3, 3 of 4, 3 of 5, 4 of 6
    for n, k in ((2, 2), (4, 3), (5, 3), (6, 4), (3, 2)):
        govern(net, client.call_set_operators(pool[:n], k))
        assert client.operators() == pool[:n] and client.threshold() == k


# ---------------------------------------------------------------------------- money


def mint(net, key_or_address: str, amount: int, currency: str = USD) -> None:
    address = net.addr(key_or_address) if key_or_address in net.keys else key_or_address
    net.token(currency, "treasury").mint(address, amount, keccak(text=unique("deposit")))


def ensure_money(net, amount: int = 10**12, keys: Sequence[str] = ("lender", "lender_b", "buyer"),
                 currency: str = USD) -> None:
    for k in keys:
        mint(net, k, amount, currency)


def balance(net, who: str, currency: str = USD) -> int:
    """Balance of a participant key, or of an address."""
    address = net.addr(who) if who in net.keys else who
    return net.token(currency).balance_of(address)


def holders(net, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every address that may hold settlement tokens in the tests, by label: each participant key,
    every deployed contract (engine, product modules, settlement, the tokens themselves, which
    hold redemption requests) and `extra` (label -> address)."""
    d = net.deployment
    out = {k: a.address for k, a in net.keys.items()}
    contracts = {"engine": d.deal_engine, "lens": d.deal_lens, "receivables": d.receivable_financing,
                 "order_financing": d.order_financing, "pledges": d.receipt_pledge_financing,
                 "credits": d.documentary_credit, "settlement": d.invoice_settlement, "registry": d.registry,
                 "invoices": d.invoice_token, "receipts": d.warehouse_receipt, "orders": d.purchase_orders,
                 "oracle": d.logistics_oracle, "fx": d.fx_rate_store, "risk": d.risk_rules,
                 "currency_factory": d.currency_factory}
    contracts.update({f"token:{c}": a for c, a in d.settlement_tokens.items()})
    out.update(contracts)
    out.update(extra or {})
    return out


def assert_conserved(net, currency: str = USD, extra: Mapping[str, str] | None = None) -> dict[str, int]:
    """Every unit of `currency` is held by a known holder (`holders`): the sum of their balances
    equals the total supply, which only TREASURY mint/burn changes. Returns the balances."""
    tok = net.token(currency)
    b = {label: tok.balance_of(a) for label, a in holders(net, extra).items()}
    assert sum(b.values()) == tok.total_supply(), {k: v for k, v in b.items() if v}
    return b


class Ledger:
    """Balances of every holder from a starting point: `changes()` checks conservation and
    returns what moved (non-zero changes by label), so a test states exact movements."""

    def __init__(self, net, currency: str = USD, extra: Mapping[str, str] | None = None):
        self.net, self.currency, self.extra = net, currency, dict(extra or {})
        self.start = assert_conserved(net, currency, self.extra)
        self.supply = net.token(currency).total_supply()

    def changes(self) -> dict[str, int]:
        now = assert_conserved(self.net, self.currency, self.extra)
        minted = self.net.token(self.currency).total_supply() - self.supply
        diff = {k: now[k] - self.start.get(k, 0) for k in now if now[k] != self.start.get(k, 0)}
        assert sum(diff.values()) == minted
        return diff

    def now(self, label: str) -> int:
        return assert_conserved(self.net, self.currency, self.extra)[label]


def assert_engine_backed(net, currency: str | None = None) -> dict[str, int]:
    """The balance invariant: for each settlement token (or only `currency`'s), the engine's
    balance equals the sum of `escrowBalance` over every deal in that token. Returns the engine's
    balance per currency."""
    lz = lens(net)
    count = engine(net).deal_count()
    records = lz.deals(range(1, count + 1)) if count else []
    out = {}
    for code, token in net.deployment.settlement_tokens.items():
        if currency not in (None, code):
            continue
        held = net.token(code).balance_of(net.deployment.deal_engine)
        owed = sum(lz.escrow_balance(d.deal_id) for d in records if d.token == token)
        assert held == owed, (code, held, owed)
        out[code] = held
    return out


# ---------------------------------------------------------------------------- invoices


def confirmed_invoice(net, face_value: int = FACE, currency: str = USD, seller: str = "seller", buyer: str = "buyer",
                      due_in: int = 90 * DAY, shipment: bytes = NO_SHIPMENT, confirm_it: bool = True) -> int:
    """Mints an invoice of `seller` to `buyer` (issued yesterday, due in `due_in`), confirmed by
    the buyer unless `confirm_it` is false; returns its id."""
    now = net.now()
    number = unique("INV")
    terms = InvoiceTerms(net.addr(buyer), number, face_value, currency, now - DAY, now + due_in,
                         keccak(text=f"document of {number}"), "bafkreitestinvoice", shipment)
    invoice_id = net.invoices(seller).mint(terms)
    if confirm_it:
        net.invoices(buyer).confirm(invoice_id)
    return invoice_id


# ---------------------------------------------------------------------------- deals


def milestones(*specs: MilestoneSpec) -> tuple[Milestone, ...]:
    """Milestones from `Milestone`s or (code, bps[, location]) tuples; code "" is an advance."""
    return tuple(s if isinstance(s, Milestone) else Milestone(s[0], s[1], *s[2:]) for s in specs)


@dataclass
class DealSetup:
    """Terms of one deal and who plays which part (participant keys); `deal_id` once accepted."""

    terms: DealTerms
    reference: str | None  # the B/L number its milestones wait for (None: no shipment)
    borrower: str = "seller"
    lender: str = "lender"
    payer: str = "buyer"  # who repays (the obligor, or the borrower)
    currency: str = USD
    deal_id: int = 0
    receipts: dict[str, dict] = field(default_factory=dict)  # accept / fund receipts

    @property
    def shipment(self) -> bytes:
        return self.terms.shipment_id

    @property
    def collateral_id(self) -> int:
        return self.terms.collateral_id

    @property
    def amounts(self) -> list[int]:
        return self.terms.milestone_amounts()


def make_terms(net, collateral_id: int, principal: int = 8_000_000, fee: int = 120_000,
               schedule: Sequence[MilestoneSpec] = DEFAULT_MILESTONES, *, reference: str | None = None,
               product: Product = Product.RECEIVABLE, borrower: str = "seller", lender: str = "lender",
               payer: str = "buyer", currency: str = USD, maturity_in: int = 120 * DAY, grace: int = 10 * DAY,
               accept_within: int = DAY, **overrides: Any) -> DealSetup:
    """Deal terms over `collateral_id` (an invoice for the receivable product). A fresh B/L number
    is made up when a milestone waits for an event and no `reference` is given; `overrides` sets
    any other `DealTerms` field (shipment_id, fx_valid_until, extra, nonce, ...)."""
    ms = milestones(*schedule)
    if reference is None and any(m.event_code for m in ms):
        reference = unique("MAEU-BL")
    now = net.now()
    fields: dict[str, Any] = dict(
        product=module(net, product), collateral_id=collateral_id, borrower=net.addr(borrower),
        lender=net.addr(lender), settlement_token=net.deployment.settlement_tokens[currency], principal=principal,
        fee=fee, maturity=now + maturity_in, grace_period=grace, accept_by=now + accept_within, milestones=ms,
        shipment_id=shipment_id(reference) if reference else NO_SHIPMENT, nonce=keccak(text=unique("nonce")))
    fields.update(overrides)
    return DealSetup(DealTerms(**fields), reference, borrower, lender, payer, currency)


def sign_terms(net, terms: DealTerms, key: str | LocalAccount) -> bytes:
    account = net.keys[key] if isinstance(key, str) else key
    return engine(net).sign_terms(account, terms)


def sign_both(net, setup: DealSetup) -> tuple[bytes, bytes]:
    return sign_terms(net, setup.terms, setup.borrower), sign_terms(net, setup.terms, setup.lender)


def approve_collateral(net, setup: DealSetup) -> None:
    """The borrower's ERC-721 approval of the collateral to the product module (none for a
    product without collateral)."""
    product = net.deployment.product_of(setup.terms.product)
    c = net.clients(setup.borrower)
    token = {Product.RECEIVABLE: c.invoices, Product.ORDER: c.orders, Product.RECEIPT_PLEDGE: c.receipts}.get(product)
    if token is not None:
        token.approve(setup.terms.product, setup.collateral_id)


def accept(net, setup: DealSetup, submitter: str | None = None, approve: bool = True,
           signatures: tuple[bytes, bytes] | None = None) -> int:
    """Approves the collateral (unless `approve` is false) and accepts the terms, submitted by
    `submitter` (default: the borrower) with the signatures of the other parties (or the given
    ones); sets and returns `setup.deal_id`."""
    if approve:
        approve_collateral(net, setup)
    submitter = submitter or setup.borrower
    if signatures is None:
        b = b"" if submitter == setup.borrower else sign_terms(net, setup.terms, setup.borrower)
        lsig = b"" if submitter == setup.lender else sign_terms(net, setup.terms, setup.lender)
        signatures = (b, lsig)
    e = engine(net, submitter)
    setup.deal_id = e.accept(setup.terms, *signatures)
    setup.receipts["accept"] = e.last_receipt
    return setup.deal_id


def accept_refused(net, error: type, setup: DealSetup, submitter: str | None = None,
                   signatures: tuple[bytes, bytes] | None = None) -> Any:
    """`accept` (the collateral already approved) reverts with `error`: no deal is created, no
    block is mined and the collateral stays where it was. Returns the decoded error."""
    e = engine(net)
    with unchanged(net, e.deal_count, lambda: e.deal_by_terms(e.local_terms_digest(setup.terms))):
        with pytest.raises(error) as exc:
            accept(net, setup, submitter, approve=False, signatures=signatures)
    return exc.value


def fund(net, setup: DealSetup, lender: str | None = None) -> dict[str, Any]:
    """The lender approves the principal to the engine and funds the deal; returns the receipt."""
    key = lender or setup.lender
    net.token(setup.currency, key).approve(net.deployment.deal_engine, setup.terms.principal)
    receipt = engine(net, key).fund(setup.deal_id)
    setup.receipts["fund"] = receipt
    return receipt


def repay(net, setup: DealSetup, payer: str | None = None) -> dict[str, Any]:
    """The payer approves what is due and repays; returns the receipt."""
    key = payer or setup.payer
    e = engine(net, key)
    net.token(setup.currency, key).approve(net.deployment.deal_engine, e.amount_due(setup.deal_id))
    return e.repay(setup.deal_id)


def withdraw(net, deal_id: int, key: str) -> int:
    return engine(net, key).withdraw(deal_id)


def open_deal(net, face_value: int = FACE, principal: int = 8_000_000, fee: int = 120_000,
              schedule: Sequence[MilestoneSpec] = DEFAULT_MILESTONES, funded: bool = True,
              invoice_shipment: bytes = NO_SHIPMENT, seller: str = "seller", buyer: str = "buyer",
              **kw: Any) -> DealSetup:
    """A receivable deal: mints and confirms an invoice, accepts terms on it and (by default)
    funds them. `kw` goes to `make_terms`."""
    invoice_id = confirmed_invoice(net, face_value, kw.get("currency", USD), seller, buyer, shipment=invoice_shipment)
    setup = make_terms(net, invoice_id, principal, fee, schedule, borrower=seller, payer=buyer, **kw)
    accept(net, setup)
    if funded:
        fund(net, setup)
    return setup


def with_terms(setup: DealSetup, **changes: Any) -> DealSetup:
    """A copy of `setup` (not accepted) with some terms changed."""
    return replace(setup, terms=replace(setup.terms, **changes), deal_id=0, receipts={})


def released_events(net, receipt: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(dealId, milestone, amount) of every MilestoneReleased in `receipt`."""
    return [(e["dealId"], e["milestone"], e["amount"]) for e in engine(net).events(receipt, "MilestoneReleased")]
