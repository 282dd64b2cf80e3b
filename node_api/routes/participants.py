"""The member directory (all members) and consortium governance (admins propose, approve, execute,
cancel and revoke; auditors read). Proposal actions are built here from readable inputs,
including a new currency (three calls: the factory creates its token, the registry lists it as
an asset and as the currency's settlement token) and the risk rules' network settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from fastapi import APIRouter, Path, Query
from pydantic import Field

from chain.clients import MemberInput
from chain.deployment import Clients
from chain.vocabulary import ContractKind, Role

from ..deps import CallerDep, Ctx
from ..errors import InvalidInput
from ..models import Address, MinorUnits, Page, RequestModel, Text, TxOut, readable_model, tx_out
from ..openapi import READ_ONE, problems
from ..read_model import participants, proposals
from ..readable import Reader
from .common import PagingDep, ReaderDep, page_out, read_model

router = APIRouter(tags=["participants and governance"])

ParticipantOut = readable_model("ParticipantOut", "A member account with its organisation (legal name, LEI).", {
    "account": str, "legal_name": str, "lei": str, "entity_key": str, "roles": list[str], "country": str,
    "kyc_expiry": int, "suspended": bool, "suspension_reason": (str | None, None), "sanctioned": bool,
    "sanctions_reason": (str | None, None), "standing": str, "joined_block": int, "joined_at": int,
    "updated_block": int}, times=("kyc_expiry", "joined_at"))


class ParticipantPage(Page):
    items: list[ParticipantOut]  # type: ignore[valid-type]


ProposalOut = readable_model("ProposalOut", "A governance proposal (M-of-N admins; approvals counted per LEI).", {
    "id": int, "proposer": str, "targets": list[str],
    "calls": (list[str], Field(description="ABI-encoded calls, 0x-hex")), "deadline": int, "description": str,
    "state": str, "approvers": list[str], "approver_names": list[str | None], "approvals": int,
    "closed_by": (str | None, None), "created_block": int, "created_at": int, "updated_block": int},
    parties=("proposer", "closed_by"), times=("deadline", "created_at"))


class ProposalPage(Page):
    items: list[ProposalOut]  # type: ignore[valid-type]


def participant_out(row: dict[str, Any]) -> dict[str, Any]:
    out = Reader().row(row, times=("kyc_expiry", "joined_at"))
    out["roles"] = Role(row["roles"]).names()
    out["standing"] = "sanctioned" if row["sanctioned"] else "suspended" if row["suspended"] else "active"
    return out


@router.get("/participants", response_model=ParticipantPage)
def list_participants(ctx: Ctx, caller: CallerDep, p: PagingDep,
                      role: Annotated[str | None, Query(description="role name, e.g. LENDER")] = None) -> dict:
    where = []
    if role is not None:
        if role not in Role.__members__:
            raise InvalidInput("role", f"unknown role {role!r}; one of {', '.join(Role.__members__)}")
        where.append(participants.c.roles.op("&")(int(Role[role])) != 0)
    rows, total = read_model(ctx).page(participants, where, [participants.c.joined_block, participants.c.account],
                                       p.limit, p.offset)
    return page_out([participant_out(r) for r in rows], total, p)


@router.get("/participants/{address}", response_model=ParticipantOut, responses=READ_ONE)
def get_participant(address: Address, ctx: Ctx, caller: CallerDep) -> dict:
    return participant_out(read_model(ctx).visible("participant", address, participants,
                                                   participants.c.account == address))


RoleName = Literal[tuple(Role.__members__)]  # type: ignore[valid-type]


class AddMember(RequestModel):
    action: Literal["add_member"]
    account: Address
    roles: list[RoleName] = Field(min_length=1)
    lei: str = Field(pattern=r"^[A-Z0-9]{20}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kyc_expiry: int = Field(gt=0, lt=2**63)
    legal_name: Text = Field(min_length=1, max_length=200, description="the organisation's legal name (on chain)")


class SetLegalName(RequestModel):
    action: Literal["set_legal_name"]
    account: Address
    legal_name: Text = Field(min_length=1, max_length=200)


class SetRoles(RequestModel):
    action: Literal["set_roles"]
    account: Address
    roles: list[RoleName] = Field(min_length=1)


class RenewKyc(RequestModel):
    action: Literal["renew_kyc"]
    account: Address
    kyc_expiry: int = Field(gt=0, lt=2**63)


class Suspend(RequestModel):
    action: Literal["suspend"]
    account: Address
    reason: Text = Field(min_length=1, max_length=500)


class Reinstate(RequestModel):
    action: Literal["reinstate"]
    account: Address


class Sanction(RequestModel):
    action: Literal["set_sanctioned"]
    account: Address
    sanctioned: bool
    reason: Text = Field(min_length=1, max_length=500)


class SetThreshold(RequestModel):
    action: Literal["set_threshold"]
    threshold: int = Field(ge=2, le=1000)


class RegisterContract(RequestModel):
    action: Literal["register_contract"]
    account: Address
    kind: Literal[tuple(ContractKind.__members__)]  # type: ignore[valid-type]


class AddCurrency(RequestModel):
    """A new currency: the factory deploys its settlement token (at a predictable address), the
    registry lists it as an asset contract and as the currency's settlement token."""

    action: Literal["add_currency"]
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    name: Text = Field(min_length=1, max_length=64, description="the token's name, e.g. `Tradenet GBP deposit`")
    decimals: int = Field(ge=0, le=18, description="the currency's minor-unit exponent (ISO 4217)")


class NetworkLimit(RequestModel):
    action: Literal["set_network_limit"]
    obligor: Address
    limit: MinorUnits | None = Field(description="in the network currency; null lifts it")


class NetworkReviewThreshold(RequestModel):
    action: Literal["set_network_review_threshold"]
    threshold: int = Field(ge=0, lt=2**96, description="in the network currency, minor units (0: none)")


class Unfreeze(RequestModel):
    action: Literal["unfreeze"]
    party: Address = Field(description="an account of the frozen organisation")


Action = Annotated[Union[AddMember, SetLegalName, SetRoles, RenewKyc, Suspend, Reinstate, Sanction, SetThreshold,
                         RegisterContract, AddCurrency, NetworkLimit, NetworkReviewThreshold, Unfreeze],
                   Field(discriminator="action")]


class ProposalIn(RequestModel):
    actions: list[Action] = Field(min_length=1, max_length=16)
    description: Text = Field(min_length=1, max_length=1000)
    ttl_seconds: int = Field(default=86_400, ge=300, le=30 * 86_400)


class ProposedOut(TxOut):
    proposal_id: int
    calls: int = Field(description="calls in the proposal (an add_currency action is three)")
    new_token: str | None = Field(default=None, description="the address an add_currency's token will have")


def _roles(names: list[str]) -> Role:
    r = Role(0)
    for n in names:
        r |= Role[n]
    return r


def calls_of(c: Clients, actions: list[Any]) -> tuple[list[tuple[str, bytes]], str | None]:
    """The (target, calldata) pairs of the proposal's actions (and a new currency's token)."""
    reg = c.registry
    calls: list[tuple[str, bytes]] = []
    new_token = None
    for a in actions:
        if isinstance(a, AddMember):
            calls.append(reg.call_add_member(MemberInput(a.account, _roles(a.roles), a.lei, a.country, a.kyc_expiry,
                                                         a.legal_name)))
        elif isinstance(a, SetLegalName):
            calls.append(reg.call_set_legal_name(a.account, a.legal_name))
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
        elif isinstance(a, RegisterContract):
            calls.append(reg.call_set_network_contract(a.account, ContractKind[a.kind]))
        elif isinstance(a, AddCurrency):
            token = c.currency_factory.predict(a.name, a.currency, a.decimals)
            new_token = token
            calls += [c.currency_factory.call_create(a.name, a.currency, a.decimals),
                      reg.call_set_network_contract(token, ContractKind.ASSET),
                      reg.call_set_settlement_token(a.currency, token)]
        elif isinstance(a, NetworkLimit):
            calls.append(c.risk.call_set_network_limit(a.obligor, a.limit))
        elif isinstance(a, NetworkReviewThreshold):
            calls.append(c.risk.call_set_network_review_threshold(a.threshold))
        else:
            calls.append(c.risk.call_unfreeze(a.party))
    if len(calls) > 16:
        raise InvalidInput("actions", f"the actions make {len(calls)} calls; a proposal holds at most 16")
    return calls, new_token


@router.get("/governance/proposals", response_model=ProposalPage)
def list_proposals(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep) -> dict:
    caller.require(Role.ADMIN, Role.AUDITOR)
    rows, total = read_model(ctx).page(proposals, [], [proposals.c.id.desc()], p.limit, p.offset)
    items = [{**r.row(x, parties=("proposer", "closed_by"), times=("deadline", "created_at")),
              "approver_names": [r.name(a) for a in x["approvers"]]} for x in rows]
    return page_out(items, total, p)


@router.post("/governance/proposals", response_model=ProposedOut, status_code=201, responses=problems(409, 502))
def propose(body: ProposalIn, ctx: Ctx, caller: CallerDep) -> ProposedOut:
    """An admin proposes a batch of governance actions (executed together once M admins of
    distinct organisations approved)."""
    c = ctx.act(caller, Role.ADMIN)
    calls, new_token = calls_of(c, body.actions)
    pid = c.registry.propose(calls, body.description, body.ttl_seconds)
    return ProposedOut(proposal_id=pid, calls=len(calls), new_token=new_token,
                       **tx_out(c.registry.last_receipt).model_dump())


ProposalId = Annotated[int, Path(ge=1, lt=2**63)]


def _admin_action(name: str, doc: str):
    def action(proposal_id: ProposalId, ctx: Ctx, caller: CallerDep) -> TxOut:
        return tx_out(getattr(ctx.act(caller, Role.ADMIN).registry, name)(proposal_id))

    action.__doc__ = doc
    return action


for _path, _name, _doc in (("approve", "approve", "An admin approves a pending proposal."),
                           ("execute", "execute", "Executes a proposal that reached its approvals."),
                           ("cancel", "cancel", "The proposer withdraws its pending proposal."),
                           ("revoke-approval", "revoke_approval", "An admin withdraws its approval before "
                                                                  "execution.")):
    router.post(f"/governance/proposals/{{proposal_id}}/{_path}", response_model=TxOut,
                responses=problems(409, 502), name=f"proposal_{_name}")(_admin_action(_name, _doc))

