"""Read model of the participant registry, its governance, the contract and settlement-token
directories, the currency factory and the network's settings.

Tables (migration ``0003_tradenet_v2``):

* ``participants``: one row per member account (LEI, ``entity_key`` = the LEI as the risk rules
  key it, legal name, roles bitmask, KYC expiry, suspension, sanctions);
* ``proposals``: M-of-N governance proposals with their current approvers (in the contract's
  order: a revocation swaps the last approver into the revoked one's place) and state;
* ``network_contracts``: the contract directory (``kind`` Asset / Escrow; None once deregistered);
* ``settlement_tokens``: the settlement token registered for each currency (NULL once cleared);
* ``currency_tokens``: the settlement tokens the currency factory created (name, decimals);
* ``network_settings``: named network-wide settings, value as JSON (amounts as decimal text):
  ``governance.approval_threshold``, ``invoice_token.settlement``, ``risk_rules.engine``,
  ``risk_rules.network_review_threshold``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

from ...vocabulary import ContractKind, ProposalState
from ..projection import IndexedEvent, ProjectionContext
from ..types import JSONType
from .handlers import Handlers, merge
from .values import code, hex_bytes, label_of, opt_address

metadata = MetaData()

participants = Table(
    "participants", metadata,
    Column("account", String(42), primary_key=True),
    Column("lei", String(20), nullable=False),
    Column("entity_key", String(42), nullable=False),
    Column("legal_name", Text, nullable=False),
    Column("roles", Integer, nullable=False),
    Column("country", String(2), nullable=False),
    Column("kyc_expiry", BigInteger, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("suspension_reason", Text),
    Column("sanctioned", Boolean, nullable=False),
    Column("sanctions_reason", Text),
    Column("joined_block", BigInteger, nullable=False),
    Column("joined_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_participants_lei", "lei"),
    Index("ix_participants_entity_key", "entity_key"),
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
    Column("approvals", Integer, nullable=False),
    Column("closed_by", String(42)),  # the executor, or the proposer that cancelled it
    Column("created_block", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_proposals_state", "state"),
    Index("ix_proposals_proposer", "proposer"),
)

network_contracts = Table(
    "network_contracts", metadata,
    Column("account", String(42), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

settlement_tokens = Table(
    "settlement_tokens", metadata,
    Column("currency", String(3), primary_key=True),
    Column("token", String(42)),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_settlement_tokens_token", "token"),
)

currency_tokens = Table(
    "currency_tokens", metadata,
    Column("token", String(42), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("name", Text, nullable=False),
    Column("decimals", Integer, nullable=False),
    Column("created_block", BigInteger, nullable=False),
    Index("ix_currency_tokens_currency", "currency"),
)

network_settings = Table(
    "network_settings", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSONType, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

TABLES = (participants, proposals, network_contracts, settlement_tokens, currency_tokens, network_settings)

handlers = Handlers()
REGISTRY = "ParticipantRegistry"


def set_setting(ctx: ProjectionContext, ev: IndexedEvent, name: str, value: Any) -> None:
    merge(ctx, network_settings, {"name": name}, {}, {"value": value, "updated_block": ev.block_number})


def _member(ctx: ProjectionContext, ev: IndexedEvent, **changes: Any) -> None:
    ctx.update(participants, {"account": ev.args["account"]}, {**changes, "updated_block": ev.block_number})


def _proposal(ctx: ProjectionContext, ev: IndexedEvent, **changes: Any) -> None:
    ctx.update(proposals, {"id": ev.args["id"]}, {**changes, "updated_block": ev.block_number})


@handlers.on(REGISTRY, "MemberAdded")
def member_added(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(participants, {
        "account": a["account"], "lei": code(a["lei"]), "entity_key": hex_bytes(a["lei"]),
        "legal_name": a["legalName"], "roles": a["roles"], "country": code(a["country"]),
        "kyc_expiry": a["kycExpiry"], "suspended": False, "suspension_reason": None, "sanctioned": False,
        "sanctions_reason": None, "joined_block": ev.block_number, "joined_at": ev.block_timestamp,
        "updated_block": ev.block_number})


@handlers.on(REGISTRY, "RolesChanged")
def roles_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, roles=ev.args["current"])


@handlers.on(REGISTRY, "KycRenewed")
def kyc_renewed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, kyc_expiry=ev.args["kycExpiry"])


@handlers.on(REGISTRY, "LegalNameChanged")
def legal_name_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, legal_name=ev.args["legalName"])


@handlers.on(REGISTRY, "MemberSuspended")
def member_suspended(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, suspended=True, suspension_reason=ev.args["reason"])


@handlers.on(REGISTRY, "MemberReinstated")
def member_reinstated(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, suspended=False, suspension_reason=None)


@handlers.on(REGISTRY, "SanctionsFlagSet")
def sanctions_flag_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _member(ctx, ev, sanctioned=ev.args["sanctioned"], sanctions_reason=ev.args["reason"])


@handlers.on(REGISTRY, "NetworkContractSet")
def network_contract_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    merge(ctx, network_contracts, {"account": ev.args["account"]}, {},
          {"kind": label_of(ContractKind, ev.args["kind"]), "updated_block": ev.block_number})


@handlers.on(REGISTRY, "SettlementTokenSet")
def settlement_token_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    merge(ctx, settlement_tokens, {"currency": code(ev.args["currency"])}, {},
          {"token": opt_address(ev.args["token"]), "updated_block": ev.block_number})


@handlers.on(REGISTRY, "ApprovalThresholdChanged")
def approval_threshold_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    set_setting(ctx, ev, "governance.approval_threshold", ev.args["current"])


@handlers.on(REGISTRY, "ProposalCreated")
def proposal_created(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(proposals, {
        "id": a["id"], "proposer": a["proposer"], "targets": list(a["targets"]),
        "calls": [hex_bytes(c) for c in a["calls"]], "deadline": a["deadline"], "description": a["description"],
        "state": ProposalState.PENDING.label, "approvers": [], "approvals": 0, "closed_by": None,
        "created_block": ev.block_number, "created_at": ev.block_timestamp, "updated_block": ev.block_number})


@handlers.on(REGISTRY, "ProposalApproved")
def proposal_approved(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    row = ctx.get(proposals, {"id": ev.args["id"]})
    _proposal(ctx, ev, approvers=[*row["approvers"], ev.args["admin"]], approvals=ev.args["approvals"])


@handlers.on(REGISTRY, "ApprovalRevoked")
def approval_revoked(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    row = ctx.get(proposals, {"id": ev.args["id"]})
    approvers = list(row["approvers"])
    i = approvers.index(ev.args["admin"])
    approvers[i] = approvers[-1]  # the contract's swap-and-pop
    approvers.pop()
    _proposal(ctx, ev, approvers=approvers, approvals=ev.args["approvals"])


@handlers.on(REGISTRY, "ProposalExecuted")
def proposal_executed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _proposal(ctx, ev, state=ProposalState.EXECUTED.label, closed_by=ev.args["executor"])


@handlers.on(REGISTRY, "ProposalCancelled")
def proposal_cancelled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _proposal(ctx, ev, state=ProposalState.CANCELLED.label, closed_by=ev.args["proposer"])


@handlers.on(REGISTRY, "ProposalLapsed")
def proposal_lapsed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _proposal(ctx, ev, state=ProposalState.EXPIRED.label)


@handlers.on("CurrencyFactory", "CurrencyTokenCreated")
def currency_token_created(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(currency_tokens, {"token": a["token"], "currency": code(a["currency"]), "name": a["name"],
                                 "decimals": a["decimals"], "created_block": ev.block_number})


__all__ = ["TABLES", "handlers", "set_setting", *(t.name for t in TABLES)]
