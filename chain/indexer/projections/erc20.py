"""ERC-20 ``Transfer`` projection: every token movement and the resulting balances.

Tables (migration ``0002_erc20``):

* ``erc20_transfers(block_number, log_index, token, from_address, to_address, value, tx_hash,
  timestamp)`` - one row per ERC-20 ``Transfer`` (mint: from = zero address; burn: to = zero).
* ``erc20_balances(token, account, amount)`` - current balance per holder; a row is deleted when
  the balance returns to 0, so the table lists current holders only.

Only ``Transfer(address,address,uint256)`` is taken. An ERC-721 ``Transfer`` has the same
canonical signature (only its third argument is indexed), so a read model following ERC-721
contracts too names the ERC-20 contracts (``contracts`` or ``match``).
"""
from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table

from ..projection import IndexedEvent, Projection, ProjectionContext
from ..types import Uint256

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TRANSFER_SIGNATURE = "Transfer(address,address,uint256)"

erc20_metadata = MetaData()

erc20_transfers = Table(
    "erc20_transfers",
    erc20_metadata,
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("token", String(42), nullable=False),
    Column("from_address", String(42), nullable=False),
    Column("to_address", String(42), nullable=False),
    Column("value", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_erc20_transfers_token", "token"),
    Index("ix_erc20_transfers_from", "from_address"),
    Index("ix_erc20_transfers_to", "to_address"),
)

erc20_balances = Table(
    "erc20_balances",
    erc20_metadata,
    Column("token", String(42), primary_key=True),
    Column("account", String(42), primary_key=True),
    Column("amount", Uint256(), nullable=False),
)


class Erc20Projection(Projection):
    """Maintains ``erc20_transfers`` and ``erc20_balances``.

    ``contracts``: names (as given in the indexer's ContractSpecs) to follow; ``match``: a
    predicate over the name instead (e.g. every ``SettlementToken:*``, including tokens the indexer
    discovers later); neither = every followed contract that emits a ``Transfer`` of this
    signature.
    """

    name = "erc20"
    tables = (erc20_transfers, erc20_balances)

    def __init__(self, contracts: Iterable[str] | None = None, *, match: Callable[[str], bool] | None = None):
        if contracts is not None and match is not None:
            raise ValueError("name the contracts or give a predicate, not both")
        if contracts is not None:
            names = frozenset(contracts)
            match = names.__contains__
        self.match = match

    def handles(self, event: IndexedEvent) -> bool:
        return event.signature == TRANSFER_SIGNATURE and (self.match is None or self.match(event.contract))

    def apply(self, ctx: ProjectionContext, event: IndexedEvent) -> None:
        # positional: some tokens name them _from/_to/_value
        src, dst, value = list(event.args.values())
        value = int(value)
        token = event.address
        ctx.insert(
            erc20_transfers,
            {
                "block_number": event.block_number,
                "log_index": event.log_index,
                "token": token,
                "from_address": src,
                "to_address": dst,
                "value": value,
                "tx_hash": event.tx_hash,
                "timestamp": event.block_timestamp,
            },
        )
        if value == 0:
            return
        if src != ZERO_ADDRESS:
            self._add(ctx, token, src, -value)
        if dst != ZERO_ADDRESS:
            self._add(ctx, token, dst, value)

    @staticmethod
    def _add(ctx: ProjectionContext, token: str, account: str, delta: int) -> None:
        key = {"token": token, "account": account}
        row = ctx.get(erc20_balances, key)
        amount = (row["amount"] if row else 0) + delta
        if amount == 0:
            if row is not None:
                ctx.delete(erc20_balances, key)
        elif row is None:
            ctx.insert(erc20_balances, {**key, "amount": amount})
        else:
            ctx.update(erc20_balances, key, {"amount": amount})
