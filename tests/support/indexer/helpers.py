"""Chain-side and DB-side helpers for the indexer tests."""
from __future__ import annotations

import random
from typing import Any, Sequence

from sqlalchemy import Table, create_engine, select

from chain.indexer import ContractSpec, Indexer
from chain.indexer.projections import Erc20Projection, erc20_balances, erc20_transfers
from chain.indexer.schema import blocks, checkpoint, events

DUMPED = (blocks, events, erc20_transfers, erc20_balances)


def dump(url_or_engine, tables: Sequence[Table] = DUMPED) -> dict[str, Any]:
    """Everything that must be identical between two read models of the same chain: `tables`
    (ordered by primary key) and the checkpoint."""
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        out: dict[str, Any] = {}
        with engine.connect() as conn:
            for t in tables:
                rows = conn.execute(select(t).order_by(*t.primary_key.columns)).mappings().all()
                out[t.name] = [dict(r) for r in rows]
            cp = conn.execute(select(checkpoint.c.name, checkpoint.c.block_number,
                                     checkpoint.c.block_hash)).all()
            out["checkpoint"] = [tuple(r) for r in cp]
        return out
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def make_indexer(w3, url, token, start_block, **kw) -> Indexer:
    kw.setdefault("confirmations", 0)
    kw.setdefault("batch_size", 4)
    return Indexer(
        w3, url, [ContractSpec("Token", token.address, token.abi)], start_block=start_block,
        projections=[Erc20Projection()], **kw,
    )


class Activity:
    """Random but reproducible token activity between anvil's unlocked accounts."""

    def __init__(self, w3, token, seed: int = 1):
        self.w3, self.token = w3, token
        self.rng = random.Random(seed)
        self.accounts = w3.eth.accounts[:6]

    def mint(self, to, value):
        return self.token.functions.mint(to, value).transact({"from": self.accounts[0]})

    def step(self) -> None:
        """One transaction: mint, transfer (sometimes a whole balance -> row deleted), burn."""
        r = self.rng.random()
        a, b = self.rng.sample(self.accounts, 2)
        bal = self.token.functions.balanceOf(a).call()
        if r < 0.3 or bal == 0:
            self.mint(a, self.rng.choice([1, 10**18, 2**200 + self.rng.randrange(10**6)]))
        elif r < 0.75:
            v = bal if self.rng.random() < 0.3 else self.rng.randrange(1, bal + 1)
            self.token.functions.transfer(b, v).transact({"from": a})
        else:
            self.token.functions.burn(self.rng.randrange(1, bal + 1)).transact({"from": a})

    def steps(self, n: int) -> None:
        for _ in range(n):
            self.step()

    def onchain_balances(self, block="latest") -> dict[str, int]:
        out = {}
        for acc in self.w3.eth.accounts[:10]:
            v = self.token.functions.balanceOf(acc).call(block_identifier=block)
            if v:
                out[acc] = v
        return out


def projected_balances(url_or_engine, token_address) -> dict[str, int]:
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(erc20_balances.c.account, erc20_balances.c.amount)
                .where(erc20_balances.c.token == token_address)
            ).all()
        return {a: v for a, v in rows}
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
