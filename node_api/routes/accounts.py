"""Balances and token movements of an account (its owner, or an auditor)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chain.vocabulary import Role

from ..context import Caller
from ..deps import CallerDep, Ctx
from ..errors import NotFound
from ..models import Address, Money, Page
from ..read_model import erc20_balances, erc20_transfers
from ..openapi import READ_ONE
from .common import PagingDep, money, page_out, read_model

router = APIRouter(prefix="/accounts", tags=["accounts"])


def _own_or_auditor(caller: Caller, address: str) -> None:
    if address != caller.address and not caller.has(Role.AUDITOR):
        raise NotFound("account", address)


class BalancesOut(BaseModel):
    account: str
    indexed_block: int | None
    balances: list[Money]


class TransferOut(BaseModel):
    block_number: int
    log_index: int
    tx_hash: str
    timestamp: int
    from_: str = Field(alias="from")
    to: str
    amount: Money


class TransferPage(Page):
    items: list[TransferOut]


@router.get("/{address}/balances", response_model=BalancesOut, responses=READ_ONE)
def balances(address: Address, ctx: Ctx, caller: CallerDep) -> dict:
    _own_or_auditor(caller, address)
    cur = ctx.deployment.currency_by_token
    rows = read_model(ctx).all(erc20_balances, erc20_balances.c.account == address)
    return {"account": address, "indexed_block": read_model(ctx).indexed_block(),
            "balances": [money(r["amount"], cur[r["token"]]) for r in rows if r["token"] in cur]}


@router.get("/{address}/transfers", response_model=TransferPage, response_model_by_alias=True,
            responses=READ_ONE)
def transfers(address: Address, ctx: Ctx, caller: CallerDep, p: PagingDep) -> dict:
    _own_or_auditor(caller, address)
    cur = ctx.deployment.currency_by_token
    t = erc20_transfers
    rows, total = read_model(ctx).page(t, [(t.c.from_address == address) | (t.c.to_address == address)],
                                       [t.c.block_number.desc(), t.c.log_index.desc()], p.limit, p.offset)
    items = [{"block_number": r["block_number"], "log_index": r["log_index"], "tx_hash": r["tx_hash"],
              "timestamp": r["timestamp"], "from": r["from_address"], "to": r["to_address"],
              "amount": money(r["value"], cur.get(r["token"], "???"))} for r in rows]
    return page_out(items, total, p)
