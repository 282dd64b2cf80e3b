"""Event handlers of the tradenet projection: a registry keyed by (contract kind, event name), and
the write helpers they share.

The *kind* of a followed contract is its ContractSpec name up to the first ``:``
(``SettlementToken:USD`` -> ``SettlementToken``), i.e. the contract's artifact name. Each domain
module registers its handlers on its own :class:`Handlers` and
:class:`~chain.indexer.projections.tradenet.TradenetProjection` joins them.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from sqlalchemy import BigInteger, Column, Integer, Table

from ..projection import IndexedEvent, ProjectionContext

Handler = Callable[[ProjectionContext, IndexedEvent], None]


def kind_of(contract_name: str) -> str:
    return contract_name.split(":", 1)[0]


class Handlers(dict[tuple[str, str], Handler]):
    def on(self, kind: str, *events: str) -> Callable[[Handler], Handler]:
        """Registers the decorated function for each of `events` of contracts of `kind`."""

        def register(fn: Handler) -> Handler:
            for event in events:
                if (kind, event) in self:
                    raise ValueError(f"two handlers for {kind}.{event}")
                self[(kind, event)] = fn
            return fn

        return register


def merge(ctx: ProjectionContext, table: Table, key: Mapping[str, Any], defaults: Mapping[str, Any],
          changes: Mapping[str, Any]) -> None:
    """Applies `changes` to the row at `key`, creating it from `defaults` first if it is absent."""
    if ctx.get(table, key) is None:
        ctx.insert(table, {**defaults, **changes, **key})
    else:
        ctx.update(table, key, changes)


def log_key(ev: IndexedEvent) -> dict[str, int]:
    """The primary key of a row that records one log (history / feed tables)."""
    return {"block_number": ev.block_number, "log_index": ev.log_index}


def log_columns() -> tuple[Column, Column]:
    """The primary key columns of such a table (block_number, log_index)."""
    return (Column("block_number", BigInteger, primary_key=True, autoincrement=False),
            Column("log_index", Integer, primary_key=True, autoincrement=False))
