"""Helpers of the ABS pool tests (plain functions over the session `net`, on top of
`tests.support.products`: money is checked with its `moves`, whose holders include AbsPools).

- `receivable`: a funded receivable deal (invoice minted and confirmed, terms accepted, funded),
  its document uploaded through a `DocumentService` if one is given;
- `create_pool`, `add_asset` (bid, the lender's assignment approval, sale), `issue` (the tape's
  root computed from the pool's records), `sell_out` (an investor buys every note);
- `holders_conserved` (fixture): every holder's balance sums to the supply after the test;
- `forge_invoice_state`: writes an invoice's state into InvoiceToken storage, for the rules the
  contracts never let a test reach otherwise (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pytest
from eth_keys import keys as eth_keys
from eth_utils import keccak

from chain.clients import AbsPools, InvoiceTerms, Milestone, PoolParams, TrancheToken, shipment_id
from chain.clients.pools import merkle_levels
from chain.vocabulary import InvoiceState, Product
from node_api.documents import DocumentService

from tests.support.products import DAY, USD, Who, accept, addr, c, fund, mint, snapshot, terms, token, unique

MANAGER = "lender_b"
ADVANCE_ALL = (Milestone("", 10_000),)
FACE = 100_000_00
PRINCIPAL = 80_000_00
FEE = 2_000_00
EXPECTED = PRINCIPAL + FEE  # what the lender side of one standard deal collects
PRICE = 79_000_00
SENIOR = 150_000_00
JUNIOR = 96_000_00
COUPON_BPS = 500
INTEREST = SENIOR * COUPON_BPS // 10_000


@pytest.fixture
def holders_conserved(net):
    """After the test, in every currency: the holders' balances (AbsPools, the engine and the
    product modules included) sum to the supply."""
    yield
    for currency in net.deployment.settlement_tokens:
        snapshot(net, currency)


@dataclass(frozen=True)
class Receivable:
    deal_id: int
    invoice_id: int
    document_hash: bytes
    document_cid: str
    principal: int
    fee: int
    reference: str | None  # the B/L number the milestones wait for

    @property
    def expected(self) -> int:
        return self.principal + self.fee


def pools(net, who: Who | None = None) -> AbsPools:
    return c(net, who).pools


def readers(net, *whos: str) -> dict[str, bytes]:
    """Address -> public key of participants, for `DocumentService.upload`."""
    return {addr(net, w): eth_keys.PrivateKey(net.keys[w].key).public_key.to_bytes() for w in whos}


def document(net, content: bytes, documents: DocumentService | None) -> tuple[bytes, str]:
    """(sha-256, CID) of an invoice document: uploaded encrypted for the parties and the investor
    through `documents` (what the chain anchors is the ciphertext's hash), else a made-up anchor."""
    if documents is None:
        return keccak(content), "bafkreitestpoolinvoice"
    doc = documents.upload(content, readers(net, "seller", "buyer", "lender", "investor"))
    return bytes.fromhex(doc.sha256[2:]), doc.cid


def receivable(net, face: int = FACE, principal: int = PRINCIPAL, fee: int = FEE, *, seller: Who = "seller",
               buyer: Who = "buyer", lender: Who = "lender", currency: str = USD, deal_currency: str | None = None,
               due_in: int = 60 * DAY, maturity_in: int | None = None, grace: int = 10 * DAY,
               milestones: Sequence[Milestone] = ADVANCE_ALL, funded: bool = True,
               documents: DocumentService | None = None, **kw) -> Receivable:
    """A receivable deal on a fresh confirmed invoice (`currency`), financed in `deal_currency`
    (default: the same), maturing a day after the due date unless told; funded unless `funded` is
    false. `kw` goes to `terms` (fx_valid_until, ...)."""
    now = net.now()
    number = unique("INV-POOL")
    doc_hash, cid = document(net, f"Commercial invoice {number}: {face} {currency}".encode(), documents)
    reference = unique("MAEU-POOL") if any(m.event_code for m in milestones) else None
    invoice_id = c(net, seller).invoices.mint(InvoiceTerms(
        addr(net, buyer), number, face, currency, now - DAY, now + due_in, doc_hash, cid,
        shipment_id(reference) if reference else bytes(32)))
    c(net, buyer).invoices.confirm(invoice_id)
    t = terms(net, Product.RECEIVABLE, invoice_id, principal, fee, borrower=seller, lender=lender,
              currency=deal_currency or currency, maturity_in=maturity_in if maturity_in is not None else due_in + DAY,
              grace=grace, milestones=milestones, reference=reference, **kw)
    deal_id = accept(net, t)
    if funded:
        fund(net, deal_id, deal_currency or currency)
    return Receivable(deal_id, invoice_id, doc_hash, cid, principal, fee, reference)


def params(net, senior: int = SENIOR, junior: int = JUNIOR, *, cap_bps: int = 10_000, coupon_bps: int = COUPON_BPS,
           max_tenor: int = 120 * DAY, currency: str = USD, name: str = "Test Receivables 2026-1") -> PoolParams:
    return PoolParams(net.deployment.settlement_tokens[currency], max_tenor, cap_bps, coupon_bps, senior, junior, name)


def create_pool(net, senior: int = SENIOR, junior: int = JUNIOR, *, manager: Who = MANAGER, **kw) -> int:
    """A pool managed by `manager`, which lets AbsPools take the purchase prices it pays."""
    mint(net, manager, 10_000_000_00, kw.get("currency", USD))
    token(net, kw.get("currency", USD), manager).approve(net.deployment.abs_pools, 2**255)
    return pools(net, manager).create_pool(params(net, senior, junior, **kw))


def bid(net, pool_id: int, r: Receivable, price: int = PRICE, manager: Who = MANAGER) -> dict:
    return pools(net, manager).bid(pool_id, r.deal_id, price, r.document_hash)


def approve_assignment(net, r: Receivable, lender: Who = "lender") -> None:
    c(net, lender).deals.approve_assignment(r.deal_id, net.deployment.abs_pools)


def add_asset(net, pool_id: int, r: Receivable, price: int = PRICE, manager: Who = MANAGER,
              lender: Who = "lender") -> dict:
    """The manager bids, the lender approves the assignment and sells; returns the sale receipt."""
    bid(net, pool_id, r, price, manager)
    approve_assignment(net, r, lender)
    return pools(net, lender).sell(pool_id, r.deal_id)


def levels(net, pool_id: int) -> list[list[bytes]]:
    """The Merkle tree of the pool's tape as recorded."""
    return merkle_levels([a.leaf for a in pools(net).assets(pool_id, 0, 10_000)])


def issue(net, pool_id: int, manager: Who = MANAGER) -> list[list[bytes]]:
    """The manager publishes the root of the recorded tape; returns the tree."""
    tree = levels(net, pool_id)
    pools(net, manager).issue(pool_id, tree[-1][0])
    return tree


def tranches(net, pool_id: int, who: Who | None = None) -> tuple[TrancheToken, TrancheToken]:
    p = pools(net, who)
    pool = p.pool(pool_id)
    return p.tranche(pool.senior), p.tranche(pool.junior)


def fund_investor(net, investor: Who, amount: int) -> None:
    mint(net, investor, amount)
    token(net, USD, investor).approve(net.deployment.abs_pools, 2**255)


def sell_out(net, pool_id: int, investor: Who = "investor") -> None:
    """`investor` (given the money) buys every senior and junior note at par."""
    pool = pools(net).pool(pool_id)
    fund_investor(net, investor, pool.senior_size + pool.junior_size)
    p = pools(net, investor)
    p.buy_notes(pool_id, True, pool.senior_size)
    p.buy_notes(pool_id, False, pool.junior_size)


def pass_maturity_and_grace(net, r: Receivable) -> None:
    """Moves the chain clock past the deal's maturity + grace period."""
    d = c(net).lens.deal(r.deal_id)
    net.advance_time(max(d.maturity + d.grace_period - net.now() + 1, 1))


# ---------------------------------------------------------------------------- storage forgery

#: Solady ERC721's master slot seed (its ownership slot layout: `id + id + keccak256(id[0:28] ++ seed[0:4])`)
_ERC721_SEED = (0x7D8825530A5A2E7A << 192).to_bytes(32, "big")


def _ownership_slot(token_id: int) -> int:
    word = token_id.to_bytes(32, "big")
    h = int.from_bytes(keccak(word[:28] + _ERC721_SEED[:4]), "big")
    return (2 * token_id + h) % 2**256


def forge_invoice_state(net, invoice_id: int, state: InvoiceState) -> None:
    """Writes `state` into the invoice's ownership word (owner: low 160 bits; extra data: state in
    the next 8 bits). Only for rules no contract path reaches; checks the slot it rewrites first."""
    address = net.deployment.invoice_token
    slot = hex(_ownership_slot(invoice_id))
    word = int(net.w3.provider.make_request("eth_getStorageAt", [address, slot, "latest"])["result"], 16)
    holder = c(net).invoices.invoice(invoice_id).holder
    assert word & (2**160 - 1) == int(holder, 16), "not the invoice's ownership slot"
    word = (word & ~(0xFF << 160)) | (int(state) << 160)
    net.w3.provider.make_request("anvil_setStorageAt", [address, slot, "0x" + word.to_bytes(32, "big").hex()])
    assert c(net).invoices.state_of(invoice_id) == state
