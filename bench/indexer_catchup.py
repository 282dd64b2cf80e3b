"""Indexer catch-up speed (events/s) and lag, on SQLite and (if available) PostgreSQL.

1. synthetic: N ERC-20 Transfer events (chain.indexer.bench), raw layer only and with a projection;
2. tradenet: a realistic workload on the real contracts (invoices minted, confirmed, financed
   transfers of settlement tokens) indexed with the tradenet projections.

Run: .venv/bin/python bench/indexer_catchup.py [--events 20000] [--invoices 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the throwaway PostgreSQL helper lives in tests/

from chain.anvil import Anvil
from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from chain.contracts import InvoiceTerms
from chain.indexer import upgrade
from chain.indexer.bench import bench_catch_up
from chain.indexer.network import build_indexer


def tradenet_workload(n_invoices: int, db_url: str | None = None) -> dict:
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-indexer")
        d = bootstrap(chain, "bench", keys)
        usd = d.token(chain, "USD", keys["treasury"])
        usd.mint(keys["buyer"].address, 10**12, b"\1" * 32)
        seller, buyer = d.invoices(chain, keys["seller"]), d.invoices(chain, keys["buyer"])
        buyer_usd = d.token(chain, "USD", keys["buyer"])
        now = chain.w3.eth.get_block("latest")["timestamp"]
        pending = []
        for i in range(n_invoices):
            t = InvoiceTerms(keys["buyer"].address, f"BENCH-{i:06d}", 1_000_00 + i, "USD", now, now + 86_400 * 60,
                             (i + 1).to_bytes(32, "big"), f"bafkreibench{i}")
            pending.append(seller._submit("mint", t.as_tuple(), gas=400_000))
            pending.append(buyer_usd.submit_transfer(keys["seller"].address, 100 + i, gas=120_000))
        for p in pending:
            p.wait()
        for i in range(1, n_invoices + 1):
            pending.append(buyer._submit("confirm", i, gas=100_000))
        for p in pending:
            p.wait()
        url = db_url or f"sqlite:///{Path(tmp) / 'rm.db'}"
        upgrade(url)
        ix = build_indexer(chain.w3, url, d, chain.artifacts, batch_size=2_000)
        head = chain.w3.eth.block_number
        t0 = time.perf_counter()
        ix.sync()
        secs = time.perf_counter() - t0
        m = ix.metrics
        return {"backend": url.split(":", 1)[0].split("+")[0], "projection": "tradenet+erc20",
                "events": m.events_indexed, "blocks": m.blocks_indexed, "seconds": secs,
                "events_per_s": m.events_indexed / secs, "lag_after": head - (m.last_indexed_block or 0)}


def postgres_cluster():
    """A throwaway PostgreSQL cluster on loopback, or None if the server is not installed."""
    from tests.indexer_support.pg import PgCluster, pg_unavailable_reason

    reason = pg_unavailable_reason()
    if reason:
        print(f"(PostgreSQL rows skipped: {reason})")
        return None
    return PgCluster()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--invoices", type=int, default=300)
    a = ap.parse_args()
    rows = [("synthetic", bench_catch_up(a.events, with_projection=False)),
            ("synthetic", bench_catch_up(a.events, with_projection=True)),
            ("tradenet", tradenet_workload(a.invoices))]
    pg = postgres_cluster()
    if pg is not None:
        try:
            rows.append(("synthetic", bench_catch_up(a.events, with_projection=False, db_url=pg.create_database())))
            rows.append(("tradenet", tradenet_workload(a.invoices, db_url=pg.create_database())))
        finally:
            pg.stop()
    print(f"{'workload':<10} {'backend':<11} {'projection':<15} {'events':>7} {'blocks':>7} {'seconds':>8} {'events/s':>9}")
    print("-" * 75)
    for name, r in rows:
        print(f"{name:<10} {r['backend']:<11} {r['projection']:<15} {r['events']:>7} {r['blocks']:>7} "
              f"{r['seconds']:>8.2f} {r['events_per_s']:>9.0f}")
    print("\nlag after catch-up: 0 blocks (confirmations=0); the chain ceiling is the node's block rate.")


if __name__ == "__main__":
    main()
