"""Reading the tradenet read model in tests: index the session network into a fresh database,
read a table's rows, find raw events (the source of block numbers and of values only an event
carries), dump everything for equality checks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import Table, create_engine, select

from chain.indexer import Indexer
from chain.indexer.network import build_indexer
from chain.indexer.projections import TRADENET_TABLES, erc20_balances, erc20_transfers
from chain.indexer.schema import blocks, events

from .helpers import dump

#: Every table of the read model: raw layer, ERC-20 and tradenet.
READ_MODEL = (blocks, events, erc20_transfers, erc20_balances, *TRADENET_TABLES)


def indexer(net, url: str, **kw: Any) -> Indexer:
    kw.setdefault("batch_size", 5)
    return build_indexer(net.w3, url, net.deployment, net.chain.artifacts, **kw)


def index_network(net, db, **kw: Any) -> str:
    """A fresh database of the `db` backend with the whole session chain indexed; its URL."""
    url = db.new()
    ix = indexer(net, url, **kw)
    ix.sync()
    ix.engine.dispose()
    return url


def dump_read_model(url: str) -> dict[str, Any]:
    return dump(url, READ_MODEL)


def entity_key(lei: str) -> str:
    """The risk rules' key of a member's legal entity (see ``projections.values``)."""
    return "0x" + lei.encode("ascii").hex()


def _json(value: Any) -> Any:
    """A value in the form ``events.args`` stores it (see ``chain.indexer.codec``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return value


@dataclass(frozen=True)
class RawEvent:
    block: int
    log_index: int
    timestamp: int
    tx_hash: str
    contract: str
    event: str
    args: dict[str, Any]


class ReadModel:
    def __init__(self, url: str):
        self.engine = create_engine(url)
        with self.engine.connect() as c:
            rows = c.execute(
                select(events, blocks.c.timestamp).join(blocks, blocks.c.number == events.c.block_number)
                .where(events.c.event.is_not(None)).order_by(events.c.block_number, events.c.log_index)
            ).mappings().all()
        self.raw = [RawEvent(r["block_number"], r["log_index"], r["timestamp"], r["tx_hash"], r["contract"],
                             r["event"], dict(r["args"])) for r in rows]

    def close(self) -> None:
        self.engine.dispose()

    def rows(self, table: Table, drop: Iterable[str] = ("updated_block",)) -> list[dict[str, Any]]:
        """The table's rows ordered by primary key, without the `drop` columns."""
        dropped = set(drop)
        with self.engine.connect() as c:
            rows = c.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
        return [{k: v for k, v in r.items() if k not in dropped} for r in rows]

    def find(self, contract: str, event: str, **args: Any) -> list[RawEvent]:
        """Raw events of `event` from contracts named `contract` (or ``Kind:*``) with these args."""
        want = {k: _json(v) for k, v in args.items()}

        def named(name: str) -> bool:
            return name == contract or (contract.endswith(":*") and name.startswith(contract[:-1]))

        return [e for e in self.raw if named(e.contract) and e.event == event
                and all(e.args.get(k) == v for k, v in want.items())]

    def one(self, contract: str, event: str, **args: Any) -> RawEvent:
        (found,) = self.find(contract, event, **args)
        return found

    def last(self, contract: str, event: str, **args: Any) -> RawEvent:
        return self.find(contract, event, **args)[-1]


def by_key(rows: Sequence[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows}
