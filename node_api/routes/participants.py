"""The member directory (all members) and consortium governance (admins; auditors read)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from chain.contracts import ContractKind, Role

from ..deps import CallerDep, Ctx, require
from ..models import Address, TxOut, tx_out
from ..problems import bad_request, not_found
from ..read_model import participants, proposals
from .common import PagingDep, page_out, read_model

router = APIRouter(tags=["participants and governance"])


def participant_out(row: dict) -> dict:
    return {**row, "roles": Role(row["roles"]).names()}


@router.get("/participants")
def list_participants(ctx: Ctx, caller: CallerDep, p: PagingDep,
                      role: Annotated[str | None, Query(description="role name, e.g. LENDER")] = None) -> dict:
    where = []
    if role is not None:
        if role not in Role.__members__:
            raise bad_request("role", f"unknown role {role!r}; one of {', '.join(Role.__members__)}")
        where.append(participants.c.roles.op("&")(int(Role[role])) != 0)
    rows, total = read_model(ctx).page(participants, where, [participants.c.joined_block, participants.c.account],
                                       p.limit, p.offset)
    return page_out([participant_out(r) for r in rows], total, p)


@router.get("/participants/{address}")
def get_participant(address: Address, ctx: Ctx, caller: CallerDep) -> dict:
    row = read_model(ctx).one(participants, participants.c.account == address)
    if row is None:
        raise not_found("participant", address)
    return participant_out(row)


RoleName = Literal["ADMIN", "SELLER", "BUYER", "LENDER", "LOGISTICS", "WAREHOUSE", "ORACLE", "INVESTOR", "AUDITOR",
                   "TREASURY"]


class AddMember(BaseModel):
    action: Literal["add_member"]
    account: Address
    roles: list[RoleName] = Field(min_length=1)
    lei: str = Field(pattern=r"^[A-Z0-9]{20}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kyc_expiry: int = Field(gt=0, lt=2**63)


class SetRoles(BaseModel):
    action: Literal["set_roles"]
    account: Address
    roles: list[RoleName] = Field(min_length=1)


class RenewKyc(BaseModel):
    action: Literal["renew_kyc"]
    account: Address
    kyc_expiry: int = Field(gt=0, lt=2**63)


class Suspend(BaseModel):
    action: Literal["suspend"]
    account: Address
    reason: str = Field(min_length=1, max_length=500)


class Reinstate(BaseModel):
    action: Literal["reinstate"]
    account: Address


class Sanction(BaseModel):
    action: Literal["set_sanctioned"]
    account: Address
    sanctioned: bool
    reason: str = Field(min_length=1, max_length=500)


class SetThreshold(BaseModel):
    action: Literal["set_threshold"]
    threshold: int = Field(ge=2, le=1000)


class RegisterContract(BaseModel):
    action: Literal["register_contract"]
    account: Address
    kind: Literal["NONE", "ASSET", "ESCROW"]


Action = Annotated[Union[AddMember, SetRoles, RenewKyc, Suspend, Reinstate, Sanction, SetThreshold,
                         RegisterContract], Field(discriminator="action")]


class ProposalIn(BaseModel):
    actions: list[Action] = Field(min_length=1, max_length=16)
    description: str = Field(min_length=1, max_length=1000)
    ttl_seconds: int = Field(default=86_400, ge=300, le=30 * 86_400)


class ProposedOut(TxOut):
    proposal_id: int


def _roles(names: list[str]) -> Role:
    r = Role(0)
    for n in names:
        r |= Role[n]
    return r


@router.get("/governance/proposals")
def list_proposals(ctx: Ctx, caller: CallerDep, p: PagingDep) -> dict:
    require(caller, Role.ADMIN, Role.AUDITOR)
    rows, total = read_model(ctx).page(proposals, [], [proposals.c.id.desc()], p.limit, p.offset)
    return page_out(rows, total, p)


@router.post("/governance/proposals", response_model=ProposedOut, status_code=201)
def propose(body: ProposalIn, ctx: Ctx, caller: CallerDep) -> ProposedOut:
    require(caller, Role.ADMIN)
    reg = ctx.deployment.registry_client(ctx.chain, ctx.signer(caller))
    calls = []
    for a in body.actions:
        if isinstance(a, AddMember):
            calls.append(reg.call_add_member(a.account, _roles(a.roles), a.lei, a.country, a.kyc_expiry))
        elif isinstance(a, SetRoles):
            calls.append(reg.call_set_roles(a.account, _roles(a.roles)))
        elif isinstance(a, RenewKyc):
            calls.append(reg.call_renew_kyc(a.account, a.kyc_expiry))
        elif isinstance(a, Suspend):
            calls.append(reg.call_suspend(a.account, a.reason))
        elif isinstance(a, Reinstate):
            calls.append(reg.call_reinstate(a.account))
        elif isinstance(a, Sanction):
            calls.append(reg.call_set_sanctioned(a.account, a.sanctioned, a.reason))
        elif isinstance(a, SetThreshold):
            calls.append(reg.call_set_threshold(a.threshold))
        else:
            calls.append(reg.call_set_network_contract(a.account, ContractKind[a.kind]))
    pid = reg.propose(calls, body.description, body.ttl_seconds)
    return ProposedOut(proposal_id=pid, **tx_out(reg.last_receipt).model_dump())


ProposalId = Annotated[int, Path(ge=1, lt=2**63)]


@router.post("/governance/proposals/{proposal_id}/approve", response_model=TxOut)
def approve(proposal_id: ProposalId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.ADMIN)
    return tx_out(ctx.deployment.registry_client(ctx.chain, ctx.signer(caller)).approve(proposal_id))


@router.post("/governance/proposals/{proposal_id}/execute", response_model=TxOut)
def execute(proposal_id: ProposalId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.ADMIN)
    return tx_out(ctx.deployment.registry_client(ctx.chain, ctx.signer(caller)).execute(proposal_id))
