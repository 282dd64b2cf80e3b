"""Catch-up benchmark of the indexer: N synthetic ERC-20 ``Transfer`` events on a throwaway
anvil, then the time an indexer with an empty database takes to index them all.

    python -m chain.indexer.bench --events 20000 [--db-url postgresql+psycopg://...]

or from code: ``bench_catch_up(20000)`` -> dict (no output). ``--db-url`` must point to an empty
database (it is migrated); without it a temporary SQLite file is used per run.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from ..anvil import Anvil, deploy_unlocked
from ..compiler import compile_source
from .engine import ContractSpec, Indexer
from .migrate import upgrade
from .projections import Erc20Projection

BENCH_EMITTER = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract BenchEmitter {
    event Transfer(address indexed from, address indexed to, uint256 value);
    function mintMany(uint256 n, uint256 seed) external {
        for (uint256 i = 0; i < n; i++) {
            emit Transfer(address(0), address(uint160(0x1000 + (seed + i) % 64)), i + 1);
        }
    }
}
"""


def bench_catch_up(
    n_events: int = 20_000,
    *,
    events_per_tx: int = 500,
    db_url: str | None = None,
    batch_size: int = 2_000,
    with_projection: bool = True,
) -> dict[str, Any]:
    """Index ``n_events`` synthetic events from block 0 and return the measured rates."""
    abi, bytecode = compile_source(BENCH_EMITTER, "BenchEmitter")
    with Anvil(free_gas=False, gas_limit=100_000_000) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = node.w3
        contract, start = deploy_unlocked(w3, abi, bytecode)
        t0 = time.perf_counter()
        left, seed = n_events, 0
        sender = w3.eth.accounts[0]
        while left > 0:
            k = min(events_per_tx, left)
            contract.functions.mintMany(k, seed).transact({"from": sender, "gas": 60_000_000})
            left -= k
            seed += k
        gen_s = time.perf_counter() - t0
        url = db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        ix = Indexer(
            w3, url, [ContractSpec("BenchEmitter", contract.address, abi)], start_block=start,
            confirmations=0, batch_size=batch_size,
            projections=[Erc20Projection()] if with_projection else [],
        )
        t1 = time.perf_counter()
        ix.sync()
        secs = time.perf_counter() - t1
        ix.engine.dispose()
        m = ix.metrics
        assert m.events_indexed == n_events, m.snapshot()
        return {
            "backend": url.split(":", 1)[0].split("+")[0],
            "projection": "erc20" if with_projection else "raw only",
            "events": m.events_indexed,
            "blocks": m.blocks_indexed,
            "seconds": secs,
            "events_per_s": m.events_indexed / secs if secs else float("inf"),
            "generate_seconds": gen_s,
        }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--events-per-tx", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=2_000)
    ap.add_argument("--db-url", default=None, help="empty database (default: temp SQLite)")
    a = ap.parse_args(argv)
    rows = []
    for proj in (False, True):
        if a.db_url and rows:
            break  # a given database is only empty for the first run
        rows.append(bench_catch_up(a.events, events_per_tx=a.events_per_tx, db_url=a.db_url,
                                   batch_size=a.batch_size, with_projection=proj))
    print(f"{'backend':<12} {'projection':<10} {'events':>8} {'blocks':>7} {'seconds':>8} {'events/s':>10}")
    for r in rows:
        print(f"{r['backend']:<12} {r['projection']:<10} {r['events']:>8} {r['blocks']:>7} "
              f"{r['seconds']:>8.2f} {r['events_per_s']:>10.0f}")


if __name__ == "__main__":
    main()
