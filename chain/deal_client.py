"""Client for `ReceivableFinancing`: EIP-712 deal terms, acceptance, funding, releases, repayment.

Borrower (the invoice's seller) and lender each sign the same `DealTerms` typed data under
``{name: "tradenet ReceivableFinancing", version: "1", chainId, verifyingContract: the deal contract}``;
either party then calls `accept` with both signatures. Payout is pull: releases and the waterfall
are credited in the deal and each beneficiary calls `withdraw` (see the contract's NatSpec).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from .contracts import ContractClient, InvoiceToken, SettlementToken, _text
from .oracle_client import sign_typed_data, typed_data, typed_data_digest

DOMAIN_NAME = "tradenet ReceivableFinancing"
BPS = 10_000

MILESTONE_TYPE = [
    {"name": "shipmentId", "type": "bytes32"},
    {"name": "eventCode", "type": "bytes4"},
    {"name": "shareBps", "type": "uint16"},
]
DEAL_TERMS_TYPE = [
    {"name": "dealId", "type": "uint256"},
    {"name": "invoiceId", "type": "uint256"},
    {"name": "borrower", "type": "address"},
    {"name": "lender", "type": "address"},
    {"name": "settlementToken", "type": "address"},
    {"name": "principal", "type": "uint256"},
    {"name": "fee", "type": "uint256"},
    {"name": "maturity", "type": "uint64"},
    {"name": "gracePeriod", "type": "uint64"},
    {"name": "acceptBy", "type": "uint64"},
    {"name": "milestones", "type": "Milestone[]"},
]


class DealState(enum.IntEnum):
    NONE = 0
    ACCEPTED = 1
    FUNDED = 2
    REPAID = 3
    DEFAULTED = 4
    CANCELLED = 5
    CLOSED = 6


class MilestoneStatus(enum.IntEnum):
    PENDING = 0
    RELEASED = 1
    PAID_OUT = 2


@dataclass(frozen=True)
class Milestone:
    shipment_id: bytes
    event_code: str
    share_bps: int

    def message(self) -> dict[str, Any]:
        return {"shipmentId": self.shipment_id, "eventCode": self.event_code.encode("ascii"),
                "shareBps": self.share_bps}

    def as_tuple(self) -> tuple:
        return (self.shipment_id, self.event_code.encode("ascii"), self.share_bps)


@dataclass(frozen=True)
class DealTerms:
    deal_id: int
    invoice_id: int
    borrower: str
    lender: str
    settlement_token: str
    principal: int
    fee: int
    maturity: int
    grace_period: int
    accept_by: int
    milestones: tuple[Milestone, ...] = field(default_factory=tuple)

    def message(self) -> dict[str, Any]:
        return {"dealId": self.deal_id, "invoiceId": self.invoice_id, "borrower": to_checksum_address(self.borrower),
                "lender": to_checksum_address(self.lender),
                "settlementToken": to_checksum_address(self.settlement_token), "principal": self.principal,
                "fee": self.fee, "maturity": self.maturity, "gracePeriod": self.grace_period,
                "acceptBy": self.accept_by, "milestones": [m.message() for m in self.milestones]}

    def as_tuple(self) -> tuple:
        return (self.deal_id, self.invoice_id, to_checksum_address(self.borrower), to_checksum_address(self.lender),
                to_checksum_address(self.settlement_token), self.principal, self.fee, self.maturity,
                self.grace_period, self.accept_by, [m.as_tuple() for m in self.milestones])

    def milestone_amounts(self) -> list[int]:
        """What each milestone releases: floor(principal * bps / 10000), the last one the remainder."""
        out: list[int] = []
        for i, m in enumerate(self.milestones):
            out.append(self.principal - sum(out) if i == len(self.milestones) - 1
                       else self.principal * m.share_bps // BPS)
        return out


@dataclass(frozen=True)
class Deal:
    deal_id: int
    state: DealState
    overdue_flagged: bool
    milestone_count: int
    seq: int
    maturity: int
    grace_period: int
    borrower: str
    accepted_at: int
    lender: str
    funded_at: int
    buyer: str
    settled_at: int
    token: str
    closed_at: int
    invoice_id: int
    principal: int
    fee: int
    face_value: int
    released: int
    claim_total: int
    terms_digest: bytes


@dataclass(frozen=True)
class MilestoneState:
    shipment_id: bytes
    event_code: str
    share_bps: int
    status: MilestoneStatus
    amount: int
    released_by: bytes | None


class ReceivableFinancing(ContractClient):
    contract_name = "ReceivableFinancing"

    # -- typed data (off-chain)
    def terms_typed_data(self, terms: DealTerms) -> dict[str, Any]:
        return typed_data(DOMAIN_NAME, self.chain.chain_id, self.address, "DealTerms", DEAL_TERMS_TYPE,
                          terms.message(), extra_types={"Milestone": MILESTONE_TYPE})

    def sign_terms(self, account: LocalAccount, terms: DealTerms) -> bytes:
        """The borrower's or the lender's signature over the terms."""
        return sign_typed_data(account, self.terms_typed_data(terms))

    def local_terms_digest(self, terms: DealTerms) -> bytes:
        return typed_data_digest(self.terms_typed_data(terms))

    # -- approvals the parties give before acting (on the token contracts)
    def approve_invoice(self, invoices: InvoiceToken, invoice_id: int) -> dict[str, Any]:
        """The seller lets this contract take the invoice at acceptance."""
        return invoices._tx("approve", self.address, invoice_id)

    def approve_payment(self, token: SettlementToken, amount: int) -> dict[str, Any]:
        """The lender (principal) or the buyer (face value) lets this contract pull `amount`."""
        return token.approve(self.address, amount)

    # -- transactions
    def accept(self, terms: DealTerms, borrower_signature: bytes, lender_signature: bytes) -> dict[str, Any]:
        return self._tx("accept", terms.as_tuple(), borrower_signature, lender_signature)

    def fund(self, deal_id: int) -> dict[str, Any]:
        return self._tx("fund", deal_id)

    def cancel(self, deal_id: int) -> dict[str, Any]:
        return self._tx("cancel", deal_id)

    def repay(self, deal_id: int) -> dict[str, Any]:
        return self._tx("repay", deal_id)

    def withdraw(self, deal_id: int) -> int:
        receipt = self._tx("withdraw", deal_id)
        return self.events(receipt, "Withdrawn")[0]["amount"]

    def declare_default(self, deal_id: int) -> dict[str, Any]:
        return self._tx("declareDefault", deal_id)

    def flag_overdue(self, deal_id: int) -> dict[str, Any]:
        return self._tx("flagOverdue", deal_id)

    def poke(self, deal_id: int) -> int:
        """Releases the confirmed-but-unreleased milestones; returns how many."""
        receipt = self._tx("poke", deal_id)
        return len(self.events(receipt, "MilestoneReleased"))

    # -- reads
    def terms_digest(self, terms: DealTerms) -> bytes:
        return bytes(self._call("termsDigest", terms.as_tuple()))

    def deal(self, deal_id: int) -> Deal:
        d = self._call("deal", deal_id)
        return Deal(deal_id, DealState(d.state), d.overdueFlagged, d.milestoneCount, d.seq, d.maturity, d.gracePeriod,
                    d.borrower, d.acceptedAt, d.lender, d.fundedAt, d.buyer, d.settledAt, d.token, d.closedAt,
                    d.invoiceId, d.principal, d.fee, d.faceValue, d.released, d.claimTotal, bytes(d.termsDigest))

    def state(self, deal_id: int) -> DealState:
        return self.deal(deal_id).state

    def milestones(self, deal_id: int) -> list[MilestoneState]:
        return [MilestoneState(bytes(m.shipmentId), _text(m.eventCode), m.shareBps, MilestoneStatus(m.status),
                               m.amount, None if bytes(m.releasedBy) == bytes(32) else bytes(m.releasedBy))
                for m in self._call("milestones", deal_id)]

    def claimable(self, deal_id: int, account: str) -> int:
        return self._call("claimable", deal_id, account)

    def escrow_balance(self, deal_id: int) -> int:
        return self._call("escrowBalance", deal_id)

    def releasable(self, deal_id: int) -> list[int]:
        mask = self._call("releasable", deal_id)
        return [i for i in range(mask.bit_length()) if mask >> i & 1]


def milestones(*items: tuple[bytes, str, int]) -> tuple[Milestone, ...]:
    """Shorthand: milestones((ship, "DEPA", 3000), (ship, "ARRI", 7000))."""
    return tuple(Milestone(s, c, b) for s, c, b in items)


def share_sum(ms: Sequence[Milestone]) -> int:
    return sum(m.share_bps for m in ms)
