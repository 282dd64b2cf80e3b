"""Read model of the settlement tokens beyond their balances (``erc20`` keeps transfers and
balances): fiat deposits and redemptions by the treasury, payments carrying a reference (T/T),
and holders' redemption requests.

Tables (migration ``0003_tradenet_v2``), each with the token's address (its currency:
``currency_tokens`` / ``settlement_tokens``):

* ``fiat_movements``: one row per ``FiatDeposited`` (kind Deposit, ``account`` credited) or
  ``FiatRedeemed`` (kind Redemption, burned from the treasury's balance or a completed request);
* ``payment_references``: one row per ``transferWithReference``;
* ``redemptions``: one row per redemption request (state Requested, Completed, Rejected).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, Text

from ...vocabulary import RedemptionState
from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .handlers import Handlers, log_columns, log_key
from .values import hex_bytes

metadata = MetaData()

fiat_movements = Table(
    "fiat_movements", metadata,
    *log_columns(),
    Column("token", String(42), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("treasury", String(42), nullable=False),
    Column("account", String(42)),
    Column("amount", Uint256(), nullable=False),
    Column("reference", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_fiat_movements_token", "token"),
    Index("ix_fiat_movements_account", "account"),
)

payment_references = Table(
    "payment_references", metadata,
    *log_columns(),
    Column("token", String(42), nullable=False),
    Column("from_address", String(42), nullable=False),
    Column("to_address", String(42), nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("payment_ref", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_payment_references_from", "from_address"),
    Index("ix_payment_references_to", "to_address"),
    Index("ix_payment_references_ref", "payment_ref"),
)

redemptions = Table(
    "redemptions", metadata,
    Column("token", String(42), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("holder", String(42), nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("payout_ref", String(66), nullable=False),
    Column("state", String(10), nullable=False),
    Column("treasury", String(42)),
    Column("bank_ref", String(66)),
    Column("reject_reason", Text),
    Column("requested_block", BigInteger, nullable=False),
    Column("closed_block", BigInteger),
    Index("ix_redemptions_holder", "holder"),
    Index("ix_redemptions_state", "state"),
)

TABLES = (fiat_movements, payment_references, redemptions)

#: Kinds of a ``fiat_movements`` row.
DEPOSIT, REDEMPTION = "Deposit", "Redemption"

handlers = Handlers()
TOKEN = "SettlementToken"


def _movement(ctx: ProjectionContext, ev: IndexedEvent, kind: str, account: str | None, reference: bytes) -> None:
    ctx.insert(fiat_movements, {
        **log_key(ev), "token": ev.address, "kind": kind, "treasury": ev.args["treasury"], "account": account,
        "amount": ev.args["amount"], "reference": hex_bytes(reference), "tx_hash": ev.tx_hash,
        "timestamp": ev.block_timestamp})


@handlers.on(TOKEN, "FiatDeposited")
def fiat_deposited(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _movement(ctx, ev, DEPOSIT, ev.args["to"], ev.args["depositRef"])


@handlers.on(TOKEN, "FiatRedeemed")
def fiat_redeemed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _movement(ctx, ev, REDEMPTION, None, ev.args["redemptionRef"])


@handlers.on(TOKEN, "PaymentReference")
def payment_reference(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(payment_references, {
        **log_key(ev), "token": ev.address, "from_address": a["from"], "to_address": a["to"], "amount": a["amount"],
        "payment_ref": hex_bytes(a["paymentRef"]), "tx_hash": ev.tx_hash, "timestamp": ev.block_timestamp})


@handlers.on(TOKEN, "RedemptionRequested")
def redemption_requested(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(redemptions, {
        "token": ev.address, "id": a["id"], "holder": a["holder"], "amount": a["amount"],
        "payout_ref": hex_bytes(a["payoutRef"]), "state": RedemptionState.REQUESTED.label, "treasury": None,
        "bank_ref": None, "reject_reason": None, "requested_block": ev.block_number, "closed_block": None})


def _close(ctx: ProjectionContext, ev: IndexedEvent, state: RedemptionState, **changes: Any) -> None:
    ctx.update(redemptions, {"token": ev.address, "id": ev.args["id"]},
               {"state": state.label, "treasury": ev.args["treasury"], "closed_block": ev.block_number, **changes})


@handlers.on(TOKEN, "RedemptionCompleted")
def redemption_completed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _close(ctx, ev, RedemptionState.COMPLETED, bank_ref=hex_bytes(ev.args["bankRef"]))


@handlers.on(TOKEN, "RedemptionRejected")
def redemption_rejected(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _close(ctx, ev, RedemptionState.REJECTED, reject_reason=ev.args["reason"])


__all__ = ["TABLES", "handlers", *(t.name for t in TABLES)]
