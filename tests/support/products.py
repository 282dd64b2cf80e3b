"""Helpers of the product, settlement, treasury and risk-rule tests: plain functions over the
session `net` (fixtures stay in conftest.py).

Money is checked with `moves`: a snapshot of every holder of a currency (each participant key,
every extra account a test admitted, the deal engine, each product module, the invoice settlement,
the ABS pools and the token contract itself, which holds open redemption requests) before and after a block of
actions. Both snapshots must sum to the total supply (funds conserved), the supply may change only
by what TREASURY minted minus what it burned, and the per-holder changes must equal exactly the
ones the test names (every other holder unchanged)."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from chain import errors
from chain.clients import (
    CreditTerms,
    DealTerms,
    FxRate,
    InvoiceTerms,
    MemberInput,
    Milestone,
    Notify,
    OrderTerms,
    ReceiptTerms,
    SettlementToken,
    ShipmentEvent,
    shipment_id,
)
from chain.deployment import Clients
from chain.vocabulary import Product, Role

DAY = 86_400
YEAR = 365 * DAY
USD, EUR = "USD", "EUR"
ORACLES = ("oracle_1", "oracle_2")
NO_SHIPMENT = bytes(32)

Who = str | LocalAccount  # a participant key of `net.keys`, or an extra account

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):05d}"


def ref(label: str) -> bytes:
    """A non-zero 32-byte reference (deposit, payment, payout) derived from a label."""
    return keccak(text=unique(label))


# ---------------------------------------------------------------------------- accounts and clients

_extra: dict[str, LocalAccount] = {}  # label -> account admitted by a test (members only in that test)
_clients: dict[tuple[int, str], Clients] = {}


def account(net, who: Who) -> LocalAccount:
    return who if isinstance(who, LocalAccount) else net.keys[who]


def addr(net, who: Who) -> str:
    return account(net, who).address


def c(net, who: Who | None = None) -> Clients:
    """Every client of the deployment, signing as `who` (read-only if None); cached."""
    key = "" if who is None else addr(net, who)
    k = (id(net), key)
    if k not in _clients:
        _clients[k] = net.deployment.clients(net.chain, None if who is None else account(net, who))
    return _clients[k]


def govern(net, *calls: tuple[str, bytes], description: str = "test governance") -> int:
    return net.registry().govern(net.admins, list(calls), description)


def admit(net, label: str, roles: Role, lei: str, legal_name: str, country: str = "DE") -> LocalAccount:
    """Admits a new account (deterministic key) through governance, under `lei` (an existing
    organisation's LEI gives it a second account of that organisation)."""
    acct = Account.from_key(keccak(text=f"tests-products:{label}"))
    member = MemberInput(acct.address, roles, lei, country, net.now() + YEAR, legal_name)
    govern(net, net.registry().call_add_member(member), description=f"admit {label}")
    _extra[label] = acct
    return acct


def label(who: Who) -> str:
    """The holder name `moves` uses: a participant key, or the label an extra account was admitted under."""
    if isinstance(who, str):
        return who
    return next(k for k, a in _extra.items() if a.address == who.address)


def lei_of(net, who: Who) -> str:
    return net.registry().member(addr(net, who)).lei


def entity(net, who: Who) -> bytes:
    """The key the risk rules see for `who`: its organisation's LEI (bytes20)."""
    return net.registry().entity_key(addr(net, who))


def sanction(net, who: Who, reason: str = "OFAC SDN list match") -> None:
    govern(net, net.registry().call_set_sanctioned(addr(net, who), True, reason))


# ---------------------------------------------------------------------------- money


def token(net, currency: str = USD, who: Who | None = None):
    return c(net, who).token(currency)


def mint(net, who: Who, amount: int, currency: str = USD) -> None:
    token(net, currency, "treasury").mint(addr(net, who), amount, ref("deposit"))




def holders(net, currency: str = USD) -> dict[str, str]:
    """Every address that can hold the currency in these tests, by name."""
    d = net.deployment
    out = {k: a.address for k, a in net.keys.items()}
    out.update({label: a.address for label, a in _extra.items()})
    out.update(engine=d.deal_engine, receivables=d.receivable_financing, orders=d.order_financing,
               pledges=d.receipt_pledge_financing, credits=d.documentary_credit, settlement=d.invoice_settlement,
               pools=d.abs_pools)
    if currency in d.settlement_tokens:
        out["token"] = d.settlement_tokens[currency]
    return out


def _treasury_net_issue(net, currency: str, from_block: int) -> int:
    """What TREASURY minted minus what it burned in `currency` since `from_block` (from the events)."""
    if from_block > net.w3.eth.block_number:
        return 0  # nothing was mined
    events = token(net, currency).contract.events
    minted = sum(e["args"]["amount"] for e in events.FiatDeposited().get_logs(from_block=from_block))
    burned = sum(e["args"]["amount"] for e in events.FiatRedeemed().get_logs(from_block=from_block))
    return minted - burned


@pytest.fixture
def funds_conserved(net) -> Iterator[None]:
    """After the test, in every deployed currency: the holders sum to the supply, and the supply
    changed exactly by TREASURY's mints minus burns (use with ``pytestmark``)."""
    start = net.w3.eth.block_number + 1
    supplies = {ccy: token(net, ccy).total_supply() for ccy in net.deployment.settlement_tokens}
    yield
    for ccy, before in supplies.items():
        after = snapshot(net, ccy).supply
        assert after - before == _treasury_net_issue(net, ccy, start), f"{ccy} supply changed outside mint/burn"


@dataclass(frozen=True)
class Snapshot:
    currency: str
    balances: dict[str, int]
    supply: int


def snapshot(net, currency: str = USD, token_address: str | None = None) -> Snapshot:
    """Every holder's balance; asserts they sum to the total supply (funds conserved)."""
    tok = token(net, currency) if token_address is None else SettlementToken(net.chain, token_address)
    named = holders(net, currency)
    if token_address is not None:
        named["token"] = token_address
    bal = {name: tok.balance_of(a) for name, a in named.items()}
    supply = tok.total_supply()
    assert sum(bal.values()) == supply, f"{currency} not conserved: holders {sum(bal.values())} != supply {supply}"
    return Snapshot(currency, bal, supply)


def changes(before: Snapshot, after: Snapshot) -> dict[str, int]:
    return {k: after.balances[k] - before.balances.get(k, 0) for k in after.balances
            if after.balances[k] != before.balances.get(k, 0)}


@contextlib.contextmanager
def moves(net, expected: Mapping[str, int], currency: str = USD, minted: int = 0,
          token_address: str | None = None) -> Iterator[None]:
    """The block changes exactly the `expected` balances (by holder name), conserves funds, and
    changes the supply only by `minted` (TREASURY mint minus burn)."""
    before = snapshot(net, currency, token_address)
    yield
    after = snapshot(net, currency, token_address)
    assert changes(before, after) == dict(expected)
    assert after.supply - before.supply == minted


@contextlib.contextmanager
def unchanged(net, *reads: Callable[[], Any]) -> Iterator[None]:
    """No block mined (a refused call sends nothing), every read the same, funds conserved."""
    block = net.w3.eth.block_number
    before = [r() for r in reads]
    money = snapshot(net)
    yield
    assert net.w3.eth.block_number == block, "a transaction was mined"
    assert [r() for r in reads] == before
    assert snapshot(net).balances == money.balances


def refused(net, error: type, action: Callable[[], Any], *reads: Callable[[], Any]) -> dict[str, Any]:
    """`action` reverts with `error` and changes nothing; returns the error's arguments by name
    (addresses checksummed, as the clients return them)."""
    with unchanged(net, *reads):
        with pytest.raises(error) as exc:
            action()
    return {k: _checksummed(v) for k, v in exc.value.args_by_name.items()}


def _checksummed(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return to_checksum_address(v)
    return v


# ---------------------------------------------------------------------------- FX and the oracle


def set_rate(net, base: str, quote: str, rate: str, age: int = 0) -> int:
    """Stores a k-of-n signed rate observed `age` seconds ago; returns the integer rate."""
    fx = c(net, "oracle_1").fx
    try:
        _, latest = fx.latest_rate(base, quote)
        if latest >= net.now() - age:  # only a strictly newer observation replaces the stored one
            net.advance_time(latest - (net.now() - age) + 1)
    except errors.RateUnavailable:
        pass
    r = FxRate.from_decimal(base, quote, rate, net.now() - age)
    fx.submit_rate(r, [fx.sign_rate(net.keys[k], r) for k in ORACLES])
    return r.rate


def confirm_event(net, reference: str, code: str, location: str = "NLRTM", deal_id: int | None = None) -> bytes:
    """A k-of-n confirmed shipment event (naming the deal for an in-transaction release)."""
    o = c(net, "carrier").oracle
    ev = ShipmentEvent.from_strings(reference, code, location, net.now() - 60, unique(f"{reference}/{code}"))
    notify = [Notify(net.deployment.deal_engine, deal_id)] if deal_id is not None else []
    return o.submit_report(ev, [o.sign_event(net.keys[k], ev) for k in ORACLES], notify)


# ---------------------------------------------------------------------------- collateral


def invoice(net, face: int, currency: str = USD, seller: Who = "seller", buyer: Who = "buyer",
            due_in: int = 60 * DAY, reference: str | None = None, order_id: int = 0, confirm: bool = True) -> int:
    now = net.now()
    terms = InvoiceTerms(addr(net, buyer), unique("INV"), face, currency, now - DAY, now + due_in,
                         keccak(text=unique("invoice-doc")), "bafkreiproductsinvoice",
                         shipment_id(reference) if reference else NO_SHIPMENT, order_id)
    invoice_id = c(net, seller).invoices.mint(terms)
    if confirm:
        c(net, buyer).invoices.confirm(invoice_id)
    return invoice_id


def order(net, amount: int, currency: str = USD, buyer: Who = "buyer", supplier: Who = "seller",
          reference: str | None = None, delivery_in: int = 30 * DAY) -> int:
    terms = OrderTerms(addr(net, supplier), unique("PO"), "LED panels", 1_000, "PCE", amount, currency,
                       net.now() + delivery_in, keccak(text=unique("po-doc")), "bafkreiproductsorder",
                       shipment_id(reference) if reference else NO_SHIPMENT)
    return c(net, buyer).orders.issue(terms)


def receipt(net, depositor: Who = "seller", expiry_in: int = 180 * DAY, value: int = 450_000_00) -> int:
    terms = ReceiptTerms(addr(net, depositor), "Copper cathode", 500_000, "KGM", "LME Grade A", "NLRTM", value, USD,
                         net.now() + expiry_in, keccak(text=unique("receipt-doc")), "bafkreiproductsreceipt")
    return c(net, "warehouse").receipts.issue(terms)


# ---------------------------------------------------------------------------- deals


def module(net, product: Product) -> str:
    return net.deployment.product_modules[product]


def terms(net, product: Product, collateral_id: int, principal: int, fee: int = 0, *, borrower: Who = "seller",
          lender: Who = "lender", currency: str = USD, maturity_in: int = 60 * DAY, grace: int = 10 * DAY,
          milestones: Sequence[Milestone] = (Milestone("", 10_000),), reference: str | None = None,
          fx_valid_until: int = 0, extra: bytes = b"", accept_within: int = DAY) -> DealTerms:
    """Deal terms; the default schedule releases everything at funding (an advance)."""
    now = net.now()
    return DealTerms(
        product=module(net, product), collateral_id=collateral_id, borrower=addr(net, borrower),
        lender=addr(net, lender), settlement_token=net.deployment.settlement_tokens[currency], principal=principal,
        fee=fee, maturity=now + maturity_in, grace_period=grace, accept_by=now + accept_within,
        milestones=tuple(milestones), shipment_id=shipment_id(reference) if reference else NO_SHIPMENT,
        fx_valid_until=fx_valid_until, agreement_hash=keccak(text=unique("agreement")),
        nonce=keccak(text=unique("nonce")), extra=extra)


def by_address(net, address: str) -> LocalAccount:
    """The key (participant or extra account) of an address."""
    for a in [*net.keys.values(), *_extra.values()]:
        if a.address == to_checksum_address(address):
            return a
    raise KeyError(address)


def sign(net, t: DealTerms, who: Who) -> bytes:
    return c(net).deals.sign_terms(account(net, who), t)


def approve_collateral(net, t: DealTerms) -> None:
    """The borrower lets the product module take (or, for a receipt, pledge) the collateral."""
    borrower = by_address(net, t.borrower)
    product = net.deployment.product_of(t.product)
    cl = c(net, borrower)
    if product is Product.RECEIVABLE:
        cl.invoices.approve(t.product, t.collateral_id)
    elif product is Product.ORDER:
        cl.orders.approve(t.product, t.collateral_id)
    elif product is Product.RECEIPT_PLEDGE:
        cl.receipts.approve(t.product, t.collateral_id)


def accept(net, t: DealTerms, submitter: str = "borrower", approve: bool = True) -> int:
    """The submitting party (borrower or lender) accepts with the other's signature; returns the deal id."""
    if approve:
        approve_collateral(net, t)
    borrower, lender = by_address(net, t.borrower), by_address(net, t.lender)
    if submitter == "borrower":
        return c(net, borrower).deals.accept(t, b"", sign(net, t, lender))
    return c(net, lender).deals.accept(t, sign(net, t, borrower), b"")


def fund(net, deal_id: int, currency: str = USD) -> dict:
    d = c(net).lens.deal(deal_id)
    lender = by_address(net, d.lender)
    token(net, currency, lender).approve(net.deployment.deal_engine, d.principal)
    return c(net, lender).deals.fund(deal_id)


def repay(net, deal_id: int, payer: Who, currency: str = USD) -> dict:
    cl = c(net, payer)
    token(net, currency, payer).approve(net.deployment.deal_engine, cl.deals.amount_due(deal_id))
    return cl.deals.repay(deal_id)


def withdraw(net, deal_id: int, *whos: Who) -> list[int]:
    return [c(net, w).deals.withdraw(deal_id) for w in whos]




def credit_extra(net, documents: Sequence[Any], applicant: Who = "buyer", presenter: Who = "seller",
                 latest_shipment: int | None = None) -> bytes:
    """`extra` of a documentary payment: abi.encode(CreditTerms)."""
    latest = latest_shipment if latest_shipment is not None else net.now() + 20 * DAY
    return CreditTerms(addr(net, applicant), addr(net, presenter), latest, tuple(documents)).encode()


def deal(net, deal_id: int):
    return c(net).lens.deal(deal_id)


def state(net, deal_id: int):
    return c(net).deals.state(deal_id)


def claimable(net, deal_id: int, who: Who) -> int:
    return c(net).deals.claimable(deal_id, addr(net, who))
