"""The deal engine and its products: EIP-712 terms, acceptance, funding, releases, repayment.

Borrower and lender each sign the same `DealTerms` typed data under the ``tradenet DealEngine``
domain (``chain.vocabulary``); either party then calls `accept` with the other's signature (its
own transaction is its consent). Payout is pull: releases and the waterfall are credited in the
deal and each beneficiary calls `withdraw` (see the engine's NatSpec). Full deal records come
from the `DealLens`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from .. import eip712
from ..vocabulary import BPS, DEAL_ENGINE_DOMAIN, DealState, MilestoneStatus, Product
from ._base import ContractClient
from ._codec import ZERO_ADDRESS, text
from .tokens import NO_SHIPMENT

ADVANCE = ""  # the event code of a milestone released at funding
ANY_LOCATION = ""  # a milestone met at any transport call


def _b4(code: str) -> bytes:
    return code.encode("ascii") if code else bytes(4)


def _b5(location: str) -> bytes:
    return location.encode("ascii") if location else bytes(5)


@dataclass(frozen=True)
class Milestone:
    """`share_bps` of the principal, released when `event_code` is confirmed for the deal's shipment at
    `location` (``ANY_LOCATION``: any transport call); ``ADVANCE`` as the code releases at funding."""

    event_code: str
    share_bps: int
    location: str = ANY_LOCATION

    def message(self) -> dict[str, Any]:
        return {"eventCode": _b4(self.event_code), "location": _b5(self.location), "shareBps": self.share_bps}

    def as_tuple(self) -> tuple:
        return (_b4(self.event_code), _b5(self.location), self.share_bps)


@dataclass(frozen=True)
class DealTerms:
    """``DealTerms.Terms``: what both parties sign."""

    product: str
    collateral_id: int
    borrower: str
    lender: str
    settlement_token: str
    principal: int
    fee: int
    maturity: int
    grace_period: int
    accept_by: int
    milestones: tuple[Milestone, ...] = field(default_factory=tuple)
    shipment_id: bytes = NO_SHIPMENT
    fx_valid_until: int = 0
    agreement_hash: bytes = bytes(32)
    nonce: bytes = bytes(32)
    extra: bytes = b""

    primary_type: ClassVar[str] = "DealTerms"

    def message(self) -> dict[str, Any]:
        return {"product": to_checksum_address(self.product), "collateralId": self.collateral_id,
                "borrower": to_checksum_address(self.borrower), "lender": to_checksum_address(self.lender),
                "settlementToken": to_checksum_address(self.settlement_token), "principal": self.principal,
                "fee": self.fee, "maturity": self.maturity, "gracePeriod": self.grace_period,
                "acceptBy": self.accept_by, "fxValidUntil": self.fx_valid_until, "shipmentId": self.shipment_id,
                "agreementHash": self.agreement_hash, "nonce": self.nonce,
                "milestones": [m.message() for m in self.milestones], "extra": self.extra}

    def as_tuple(self) -> tuple:
        return (to_checksum_address(self.product), self.collateral_id, to_checksum_address(self.borrower),
                to_checksum_address(self.lender), to_checksum_address(self.settlement_token), self.principal,
                self.fee, self.maturity, self.grace_period, self.accept_by, self.fx_valid_until, self.shipment_id,
                self.agreement_hash, self.nonce, [m.as_tuple() for m in self.milestones], self.extra)

    def milestone_amounts(self) -> list[int]:
        """What each milestone releases: floor(principal * bps / 10000), the last one the remainder."""
        out: list[int] = []
        for i, m in enumerate(self.milestones):
            out.append(self.principal - sum(out) if i == len(self.milestones) - 1
                       else self.principal * m.share_bps // BPS)
        return out


@dataclass(frozen=True)
class Deal:
    """``DealEngine.Deal``, decoded by the lens."""

    deal_id: int
    state: DealState
    product: Product
    milestone_count: int
    overdue_flagged: bool
    overdue_counted: bool
    fx_locked: bool
    gates_release: bool
    maturity: int
    grace_period: int
    accepted_at: int
    funded_at: int
    settled_at: int
    borrower: str
    principal: int
    lender: str
    fee: int
    obligor: str | None
    obligation: int
    token: str
    released: int
    borrower_withdrawn: int
    fx_rate: int
    fx_valid_until: int
    obligation_currency: str
    collateral_id: int
    shipment_id: bytes | None
    lender_credit: int
    borrower_bonus: int

    @property
    def borrower_claim(self) -> int:
        """What the borrower can withdraw now."""
        return self.released + self.borrower_bonus - self.borrower_withdrawn

    @property
    def claim_total(self) -> int:
        """Credits not yet withdrawn (borrower's and lender's)."""
        return self.borrower_claim + self.lender_credit

    @classmethod
    def decode(cls, deal_id: int, d: Any) -> "Deal":
        shipment = bytes(d.shipmentId)
        return cls(deal_id, DealState(d.state), Product(d.product), d.milestoneCount, d.overdueFlagged,
                   d.overdueCounted, d.fxLocked, d.gatesRelease, d.maturity, d.gracePeriod, d.acceptedAt,
                   d.fundedAt, d.settledAt, d.borrower, d.principal, d.lender, d.fee,
                   None if d.obligor == ZERO_ADDRESS else d.obligor, d.obligation, d.token, d.released,
                   d.borrowerWithdrawn, d.fxRate, d.fxValidUntil, text(bytes(d.obligationCurrency)),
                   d.collateralId, None if shipment == NO_SHIPMENT else shipment, d.lenderCredit, d.borrowerBonus)


@dataclass(frozen=True)
class MilestoneState:
    event_code: str  # "" for an advance
    location: str  # "" for any transport call
    share_bps: int
    status: MilestoneStatus
    amount: int


@dataclass(frozen=True)
class ProductConfig:
    """``DealEngine.Product``: how the engine runs a product's deals."""

    id: Product
    enabled: bool = True
    gates_release: bool = False
    self_liquidating: bool = False
    borrower_roles: int = 0
    lender_roles: int = 0

    def as_tuple(self) -> tuple:
        return (int(self.id), self.enabled, self.gates_release, self.self_liquidating, int(self.borrower_roles),
                int(self.lender_roles))


class DealEngine(ContractClient):
    contract_name = "DealEngine"

    # -- typed data (off-chain)
    def domain(self) -> eip712.Domain:
        return eip712.Domain.of(DEAL_ENGINE_DOMAIN, self.chain.chain_id, self.address)

    def terms_typed_data(self, terms: DealTerms) -> dict[str, Any]:
        return eip712.typed_data(self.domain(), terms.primary_type, terms.message())

    def sign_terms(self, account: LocalAccount, terms: DealTerms) -> bytes:
        """The borrower's or the lender's signature over the terms."""
        return eip712.sign(account, self.terms_typed_data(terms))

    def local_terms_digest(self, terms: DealTerms) -> bytes:
        return eip712.digest(self.terms_typed_data(terms))

    # -- transactions
    def accept(self, terms: DealTerms, borrower_signature: bytes = b"", lender_signature: bytes = b"") -> int:
        """Accepts the terms (a signature may be empty for the submitting party); returns the deal id."""
        receipt = self._tx("accept", terms.as_tuple(), borrower_signature, lender_signature)
        return self._logged_uint(receipt, "DealAccepted", "dealId")

    def revoke_terms(self, terms: DealTerms) -> dict[str, Any]:
        return self._tx("revokeTerms", terms.as_tuple())

    def fund(self, deal_id: int) -> dict[str, Any]:
        return self._tx("fund", deal_id)

    def cancel(self, deal_id: int) -> dict[str, Any]:
        return self._tx("cancel", deal_id)

    def repay(self, deal_id: int) -> dict[str, Any]:
        return self._tx("repay", deal_id)

    def settle(self, deal_id: int) -> dict[str, Any]:
        return self._tx("settle", deal_id)

    def withdraw(self, deal_id: int) -> int:
        receipt = self._tx("withdraw", deal_id)
        return self.events(receipt, "Withdrawn")[0]["amount"]

    def declare_default(self, deal_id: int) -> dict[str, Any]:
        return self._tx("declareDefault", deal_id)

    def flag_overdue(self, deal_id: int) -> dict[str, Any]:
        return self._tx("flagOverdue", deal_id)

    def poke(self, deal_id: int) -> int:
        """Syncs the deal with the oracle; returns how many milestones changed."""
        receipt = self._tx("poke", deal_id)
        return sum(len(self.events(receipt, e)) for e in ("MilestoneReleased", "MilestoneReversed",
                                                           "MilestoneContested"))

    def approve_assignment(self, deal_id: int, assignee: str) -> dict[str, Any]:
        return self._tx("approveAssignment", deal_id, assignee)

    def approve_assignments(self, deal_ids: Iterable[int], assignee: str) -> dict[str, Any]:
        return self._tx("approveAssignments", list(deal_ids), assignee)

    def assign_lender(self, deal_id: int, new_lender: str) -> dict[str, Any]:
        return self._tx("assignLender", deal_id, new_lender)

    def call_set_product(self, module: str, config: ProductConfig) -> tuple[str, bytes]:
        return self.address, self.encode("setProduct", module, config.as_tuple())

    # -- reads
    def terms_digest(self, terms: DealTerms) -> bytes:
        return bytes(self._call("termsDigest", terms.as_tuple()))

    def domain_separator(self) -> bytes:
        return bytes(self._call("domainSeparator"))

    def deal_by_terms(self, digest: bytes) -> int:
        return self._call("dealByTerms", digest)

    def deal_count(self) -> int:
        return self._call("dealCount")

    def parties(self, deal_id: int) -> tuple[DealState, str, str, str | None]:
        state, borrower, lender, obligor = self._call("parties", deal_id)
        return DealState(state), borrower, lender, None if obligor == ZERO_ADDRESS else obligor

    def state(self, deal_id: int) -> DealState:
        return self.parties(deal_id)[0]

    def claimable(self, deal_id: int, account: str) -> int:
        return self._call("claimable", deal_id, account)

    def amount_due(self, deal_id: int) -> int:
        return self._call("amountDue", deal_id)

    def product_config(self, module: str) -> ProductConfig:
        p = self._call("products", module)
        return ProductConfig(Product(p[0]), p[1], p[2], p[3], p[4], p[5])

    def funded_deals_for(self, shipment: bytes, from_block: int = 0, to_block: int | str = "latest") -> list[int]:
        """Ids of the deals funded on `shipment` (``DealFunded`` indexes it) in blocks
        [`from_block`, `to_block`]: whom a report may name, whom a keeper may poke. Settled ones are
        among them; the engine ignores them."""
        ev = self.contract.events.DealFunded()
        logs = self.chain.w3.eth.get_logs({"address": self.address, "fromBlock": from_block, "toBlock": to_block,
                                           "topics": [ev.topic, None, None, "0x" + bytes(shipment).hex()]})
        return sorted({int.from_bytes(bytes(log["topics"][1]), "big") for log in logs})

    def product_module(self, product: Product) -> str | None:
        a = self._call("productModule", int(product))
        return None if a == ZERO_ADDRESS else a


class DealLens(ContractClient):
    """Full deal records and derived views (the engine serves raw storage words)."""

    contract_name = "DealLens"

    def deal(self, deal_id: int) -> Deal:
        return Deal.decode(deal_id, self._call("deal", deal_id))

    def deals(self, deal_ids: Iterable[int]) -> list[Deal]:
        ids = list(deal_ids)
        return [Deal.decode(i, d) for i, d in zip(ids, self._call("deals", ids))]

    def milestones(self, deal_id: int) -> list[MilestoneState]:
        return [MilestoneState(text(bytes(m.eventCode)), text(bytes(m.location)), m.shareBps,
                               MilestoneStatus(m.status), m.amount)
                for m in self._call("milestones", deal_id)]

    def escrow_balance(self, deal_id: int) -> int:
        return self._call("escrowBalance", deal_id)

    def releasable(self, deal_id: int) -> list[int]:
        mask = self._call("releasable", deal_id)
        return [i for i in range(mask.bit_length()) if mask >> i & 1]


class ReceivableFinancing(ContractClient):
    """The receivable product module (it holds financed invoices)."""

    contract_name = "ReceivableFinancing"


class ReceiptPledgeFinancing(ContractClient):
    """The receipt-pledge product module (it becomes the pledgee of financed receipts)."""

    contract_name = "ReceiptPledgeFinancing"


class OrderFinancing(ContractClient):
    """The order-financing product module (it holds financed orders and their invoices)."""

    contract_name = "OrderFinancing"

    def roll_to_invoice(self, deal_id: int, invoice_id: int) -> dict[str, Any]:
        return self._tx("rollToInvoice", deal_id, invoice_id)

    def order_of_deal(self, deal_id: int) -> int:
        return self._call("orderOfDeal", deal_id)

    def invoice_of_deal(self, deal_id: int) -> int:
        return self._call("invoiceOfDeal", deal_id)


@dataclass(frozen=True)
class RequiredDocument:
    doc_type: str  # a ``chain.vocabulary.DOCUMENT_TYPES`` code
    expected_hash: bytes = bytes(32)  # zero: any document of this type

    def as_tuple(self) -> tuple:
        return (self.doc_type.encode("ascii"), self.expected_hash)


@dataclass(frozen=True)
class CreditTerms:
    """``DocumentaryCredit.CreditTerms``: the `extra` of a documentary payment's deal terms."""

    applicant: str
    presenter: str
    latest_shipment: int
    documents: tuple[RequiredDocument, ...]

    def encode(self) -> bytes:
        return abi_encode(["(address,address,uint64,(bytes4,bytes32)[])"],
                          [(to_checksum_address(self.applicant), to_checksum_address(self.presenter),
                            self.latest_shipment, [d.as_tuple() for d in self.documents])])


@dataclass(frozen=True)
class Presentation:
    doc_type: str
    expected_hash: bytes
    document_hash: bytes | None
    document_date: int
    presented_at: int
    complying: bool


@dataclass(frozen=True)
class Credit:
    applicant: str
    presenter: str
    latest_shipment: int
    expiry: int
    waived: bool
    complying: int
    required: int
    documents: tuple[Presentation, ...]


class DocumentaryCredit(ContractClient):
    """The documentary-payment (L/C style) product module."""

    contract_name = "DocumentaryCredit"

    def present(self, deal_id: int, doc_type: str, document_hash: bytes, document_date: int) -> dict[str, Any]:
        return self._tx("present", deal_id, doc_type.encode("ascii"), document_hash, document_date)

    def waive(self, deal_id: int) -> dict[str, Any]:
        return self._tx("waive", deal_id)

    def release_allowed(self, deal_id: int) -> bool:
        return self._call("releaseAllowed", deal_id)

    def credit(self, deal_id: int) -> Credit:
        c, required, presented = self._call("credit", deal_id)
        docs = tuple(Presentation(text(bytes(r.docType)), bytes(r.expectedHash),
                                  None if bytes(p.documentHash) == bytes(32) else bytes(p.documentHash),
                                  p.documentDate, p.presentedAt, p.complying) for r, p in zip(required, presented))
        return Credit(c.applicant, c.presenter, c.latestShipment, c.expiry, c.waived, c.complyingCount,
                      c.documentCount, docs)


class InvoiceSettlement(ContractClient):
    """Direct payment of invoices by their buyer: T/T and the maturity payment of split parts."""

    contract_name = "InvoiceSettlement"

    def pay_invoice(self, invoice_id: int, amount: int, payment_ref: bytes) -> dict[str, Any]:
        return self._tx("payInvoice", invoice_id, amount, payment_ref)

    def pay_parts(self, root_id: int, amount: int, payment_ref: bytes) -> dict[str, Any]:
        return self._tx("payParts", root_id, amount, payment_ref)

    def paid_of(self, invoice_id: int) -> int:
        return self._call("paidOf", invoice_id)
