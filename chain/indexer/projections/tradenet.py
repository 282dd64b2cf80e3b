"""tradenet domain read model: participants, governance proposals, invoices, warehouse receipts.

Tables (migration ``0003_tradenet``) mirror the on-chain state as the contracts' events describe it;
they are what the node API reads. Every amount is an exact integer (``Uint256``) with its currency.
The projection is a pure function of the events (no RPC): token holders follow ERC-721
``Transfer`` events, states follow the contracts' own state-change events.
"""
from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

from ..projection import IndexedEvent, Projection, ProjectionContext
from ..types import JSONType, Uint256

ZERO = "0x0000000000000000000000000000000000000000"

ROLE_NAMES = ("ADMIN", "SELLER", "BUYER", "LENDER", "LOGISTICS", "WAREHOUSE", "ORACLE", "INVESTOR", "AUDITOR",
              "TREASURY")
INVOICE_STATES = ("None", "Issued", "Confirmed", "Financed", "Paid", "Defaulted", "Cancelled", "Split")
PROPOSAL_STATES = ("None", "Pending", "Executed", "Expired")

metadata = MetaData()

participants = Table(
    "participants", metadata,
    Column("account", String(42), primary_key=True),
    Column("roles", Integer, nullable=False),
    Column("lei", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("kyc_expiry", BigInteger, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("suspension_reason", Text),
    Column("sanctioned", Boolean, nullable=False),
    Column("joined_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_participants_lei", "lei"),
)

proposals = Table(
    "proposals", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("proposer", String(42), nullable=False),
    Column("targets", JSONType, nullable=False),
    Column("calls", JSONType, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("approvers", JSONType, nullable=False),
    Column("created_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

invoices = Table(
    "invoices", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("token", String(42), nullable=False),
    Column("seller", String(42), nullable=False),
    Column("buyer", String(42), nullable=False),
    Column("holder", String(42)),
    Column("state", String(10), nullable=False),
    Column("invoice_number", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_value", Uint256(), nullable=False),
    Column("issue_date", BigInteger, nullable=False),
    Column("due_date", BigInteger, nullable=False),
    Column("fingerprint", String(66), nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("parent_id", BigInteger),
    Column("financier", String(42)),
    Column("issued_block", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_invoices_seller", "seller"),
    Index("ix_invoices_buyer", "buyer"),
    Index("ix_invoices_holder", "holder"),
    Index("ix_invoices_state", "state"),
)

receipts = Table(
    "receipts", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("token", String(42), nullable=False),
    Column("warehouse", String(42), nullable=False),
    Column("depositor", String(42), nullable=False),
    Column("holder", String(42)),
    Column("pledgee", String(42)),
    Column("commodity", Text, nullable=False),
    Column("quantity", Uint256(), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("grade", Text, nullable=False),
    Column("location", String(5), nullable=False),
    Column("insured_value", Uint256(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Column("redemption_requested", Boolean, nullable=False),
    Column("redeemed", Boolean, nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("issued_block", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_receipts_holder", "holder"),
    Index("ix_receipts_pledgee", "pledgee"),
    Index("ix_receipts_warehouse", "warehouse"),
)


def _ascii(b: bytes) -> str:
    return bytes(b).rstrip(b"\x00").decode("ascii", errors="replace")


def _h(b: bytes) -> str:
    return "0x" + bytes(b).hex()


class TradenetProjection(Projection):
    """Follows the contracts named ``registry``, ``invoices`` and ``receipts`` in the ContractSpecs."""

    name = "tradenet"
    tables = (participants, proposals, invoices, receipts)

    def __init__(self, registry: str = "ParticipantRegistry", invoice_token: str = "InvoiceToken",
                 warehouse_receipt: str = "WarehouseReceipt"):
        self._handlers = {
            registry: self._registry, invoice_token: self._invoice, warehouse_receipt: self._receipt,
        }

    def handles(self, event: IndexedEvent) -> bool:
        return event.contract in self._handlers

    def apply(self, ctx: ProjectionContext, event: IndexedEvent) -> None:
        self._handlers[event.contract](ctx, event)

    # ------------------------------------------------------------------ registry
    def _registry(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        a, n = ev.args, ev.event
        if n == "MemberAdded":
            ctx.insert(participants, {
                "account": a["account"], "roles": a["roles"], "lei": _ascii(a["lei"]), "country": _ascii(a["country"]),
                "kyc_expiry": a["kycExpiry"], "suspended": False, "suspension_reason": None, "sanctioned": False,
                "joined_block": ev.block_number, "updated_block": ev.block_number})
        elif n == "RolesChanged":
            ctx.update(participants, {"account": a["account"]}, {"roles": a["current"], "updated_block": ev.block_number})
        elif n == "KycRenewed":
            ctx.update(participants, {"account": a["account"]},
                       {"kyc_expiry": a["kycExpiry"], "updated_block": ev.block_number})
        elif n == "MemberSuspended":
            ctx.update(participants, {"account": a["account"]},
                       {"suspended": True, "suspension_reason": a["reason"], "updated_block": ev.block_number})
        elif n == "MemberReinstated":
            ctx.update(participants, {"account": a["account"]},
                       {"suspended": False, "suspension_reason": None, "updated_block": ev.block_number})
        elif n == "SanctionsFlagSet":
            ctx.update(participants, {"account": a["account"]},
                       {"sanctioned": a["sanctioned"], "updated_block": ev.block_number})
        elif n == "ProposalCreated":
            ctx.insert(proposals, {
                "id": a["id"], "proposer": a["proposer"], "targets": list(a["targets"]),
                "calls": [_h(c) for c in a["calls"]], "deadline": a["deadline"], "description": a["description"],
                "state": "Pending", "approvers": [], "created_block": ev.block_number,
                "updated_block": ev.block_number})
        elif n == "ProposalApproved":
            row = ctx.get(proposals, {"id": a["id"]})
            ctx.update(proposals, {"id": a["id"]},
                       {"approvers": [*row["approvers"], a["admin"]], "updated_block": ev.block_number})
        elif n in ("ProposalExecuted", "ProposalLapsed"):
            ctx.update(proposals, {"id": a["id"]}, {"state": "Executed" if n == "ProposalExecuted" else "Expired",
                                                    "updated_block": ev.block_number})

    # ------------------------------------------------------------------ invoices
    def _invoice(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        a, n = ev.args, ev.event
        key = {"id": a.get("id", a.get("tokenId"))}
        if n == "InvoiceIssued":
            t = a["terms"]
            ctx.insert(invoices, {
                "id": a["id"], "token": ev.address, "seller": a["seller"], "buyer": a["buyer"], "holder": a["seller"],
                "state": "Issued", "invoice_number": t["invoiceNumber"], "currency": _ascii(t["currency"]),
                "face_value": t["faceValue"], "issue_date": t["issueDate"], "due_date": t["dueDate"],
                "fingerprint": _h(a["fingerprint"]), "document_hash": _h(t["documentHash"]),
                "document_cid": t["documentCid"], "parent_id": None, "financier": None,
                "issued_block": ev.block_number, "issued_at": ev.block_timestamp, "updated_block": ev.block_number})
        elif n in ("InvoiceConfirmed", "InvoicePaid", "InvoiceDefaulted", "InvoiceCancelled"):
            state = {"InvoiceConfirmed": "Confirmed", "InvoicePaid": "Paid", "InvoiceDefaulted": "Defaulted",
                     "InvoiceCancelled": "Cancelled"}[n]
            ctx.update(invoices, key, {"state": state, "updated_block": ev.block_number})
        elif n == "InvoiceFinanced":
            ctx.update(invoices, key, {"state": "Financed", "financier": a["financier"],
                                       "updated_block": ev.block_number})
        elif n == "InvoiceSplit":
            # the parent's burn Transfer left its holder in place: the parts are minted to that holder
            parent = ctx.get(invoices, {"id": a["parentId"]})
            ctx.update(invoices, {"id": a["parentId"]}, {"state": "Split", "holder": None,
                                                         "updated_block": ev.block_number})
            for index, (child_id, face) in enumerate(zip(a["childIds"], a["faceValues"])):
                ctx.insert(invoices, {
                    **parent, "id": child_id, "face_value": face, "parent_id": a["parentId"], "state": "Financed",
                    "fingerprint": _h(keccak(encode(["bytes32", "uint256"],
                                                    [bytes.fromhex(parent["fingerprint"][2:]), index]))),
                    "issued_block": ev.block_number, "issued_at": ev.block_timestamp,
                    "updated_block": ev.block_number})
        elif n == "Transfer":
            self._holder(ctx, invoices, ev)

    # ------------------------------------------------------------------ receipts
    def _receipt(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        a, n = ev.args, ev.event
        key = {"id": a.get("id", a.get("tokenId"))}
        if n == "ReceiptIssued":
            t = a["terms"]
            ctx.insert(receipts, {
                "id": a["id"], "token": ev.address, "warehouse": a["warehouse"], "depositor": a["depositor"],
                "holder": a["depositor"], "pledgee": None, "commodity": t["commodity"], "quantity": t["quantity"],
                "unit": t["unit"], "grade": t["grade"], "location": _ascii(t["location"]),
                "insured_value": t["insuredValue"], "currency": _ascii(t["currency"]), "expiry": t["expiry"],
                "redemption_requested": False, "redeemed": False, "document_hash": _h(t["documentHash"]),
                "document_cid": t["documentCid"], "issued_block": ev.block_number, "issued_at": ev.block_timestamp,
                "updated_block": ev.block_number})
        elif n == "ReceiptPledgedTo":
            ctx.update(receipts, key, {"pledgee": a["pledgee"], "updated_block": ev.block_number})
        elif n in ("PledgeReleased", "PledgeEnforced"):
            ctx.update(receipts, key, {"pledgee": None, "updated_block": ev.block_number})
        elif n == "RedemptionRequested":
            ctx.update(receipts, key, {"redemption_requested": True, "updated_block": ev.block_number})
        elif n == "ReceiptRedeemed":
            ctx.update(receipts, key, {"redeemed": True, "holder": None, "updated_block": ev.block_number})
        elif n == "Transfer":
            self._holder(ctx, receipts, ev)

    @staticmethod
    def _holder(ctx: ProjectionContext, table: Table, ev: IndexedEvent) -> None:
        """ERC-721 Transfer between holders. Mints come before the Issued/Split event that creates
        the row (which sets the holder); burns come with a Split/Redeemed event that clears it."""
        to = ev.args["to"]
        if ev.args["from"] == ZERO or to == ZERO:
            return
        ctx.update(table, {"id": ev.args["tokenId"]}, {"holder": to, "updated_block": ev.block_number})
