"""Indexer catch-up speed (events/s) and lag, on SQLite and (if available) PostgreSQL.

1. synthetic: N ERC-20 Transfer events (chain.indexer.bench), raw layer only and with a projection;
2. tradenet: the realistic workload on the real contracts (issue 15: 20,000 permissioned
   settlement transfers among four members, 2,000 invoice mints and their confirmations, and the
   deal flow: deals opened, funded, released by 2-of-3 oracle reports, withdrawn, repaid;
   bench/workloads.py), generated once, indexed with the tradenet projections into each backend.

Run: .venv/bin/python bench/indexer_catchup.py [--events 20000] [--transfers 20000] [--mints 2000] [--deals 50] [--copy-ab]
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
from chain.indexer import bulk, upgrade
from chain.indexer.bench import bench_catch_up
from chain.indexer.network import build_indexer
from tests.support.indexer.pg import PgCluster, pg_unavailable_reason
from workloads import realistic_workload  # bench/ is on sys.path


#: ``bulk.COPY_MIN_ROWS`` for a run without COPY (executemany only), the A/B's other side
NO_COPY = 10**9


def tradenet_catch_up(transfers: int, mints: int, deals: int, db_urls: list[tuple[str, int]]) -> list[dict]:
    """The realistic workload (bench/workloads.py) on one anvil, then a fresh indexer with the
    tradenet projections catching up from the deployment block into each of `db_urls`: pairs
    (url of an empty database, ``bulk.COPY_MIN_ROWS`` for its run: the COPY A/B)."""
    with Anvil() as node:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-indexer")
        d = bootstrap(chain, "bench", keys)
        t0 = time.perf_counter()
        work = realistic_workload(chain, d, keys, transfers, mints, deals)
        print(f"(workload: {work.transactions} transactions in {time.perf_counter() - t0:.0f} s, chain height "
              f"{chain.w3.eth.block_number})", flush=True)
        out = []
        default_copy_min = bulk.COPY_MIN_ROWS
        for url, copy_min in db_urls:
            bulk.COPY_MIN_ROWS = copy_min
            upgrade(url)
            ix = build_indexer(chain.w3, url, d, chain.artifacts, batch_size=2_000)
            head = chain.w3.eth.block_number
            t1 = time.perf_counter()
            ix.sync()
            secs = time.perf_counter() - t1
            m = ix.metrics
            ix.engine.dispose()
            bulk.COPY_MIN_ROWS = default_copy_min
            backend = url.split(":", 1)[0].split("+")[0]
            if backend == "postgresql":
                backend += " insert" if copy_min >= NO_COPY else " copy"
            out.append({"backend": backend, "projection": "tradenet+erc20",
                        "events": m.events_indexed, "blocks": m.blocks_indexed, "seconds": secs,
                        "events_per_s": m.events_indexed / secs, "lag_after": head - (m.last_indexed_block or 0)})
        return out


#: issue 15's targets for the realistic workload, events/s
TARGETS = {"sqlite": 20_000, "postgresql copy": 10_000, "postgresql insert": 10_000}


def postgres_cluster():
    """A throwaway PostgreSQL cluster on loopback, or None if the server is not installed."""
    reason = pg_unavailable_reason()
    if reason:
        print(f"(PostgreSQL rows skipped: {reason})")
        return None
    return PgCluster()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000, help="synthetic ERC-20 events")
    ap.add_argument("--transfers", type=int, default=20_000)
    ap.add_argument("--mints", type=int, default=2_000)
    ap.add_argument("--deals", type=int, default=50)
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--copy-ab", action="store_true",
                    help="PostgreSQL four times: executemany only and COPY for large groups (the default), alternating")
    a = ap.parse_args()
    rows = []
    if not a.no_synthetic:
        rows += [("synthetic", bench_catch_up(a.events, with_projection=False)),
                 ("synthetic", bench_catch_up(a.events, with_projection=True))]
    pg = postgres_cluster()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            urls = [(f"sqlite:///{Path(tmp) / 'rm.db'}", bulk.COPY_MIN_ROWS)]
            if pg is not None:
                # --copy-ab: executemany only and COPY, alternating, twice each
                variants = [NO_COPY, bulk.COPY_MIN_ROWS] * 2 if a.copy_ab else [bulk.COPY_MIN_ROWS]
                urls += [(pg.create_database(), n) for n in variants]
            if pg is not None and not a.no_synthetic:
                rows.append(("synthetic", bench_catch_up(a.events, with_projection=True, db_url=pg.create_database())))
            rows += [("tradenet", r) for r in tradenet_catch_up(a.transfers, a.mints, a.deals, urls)]
        finally:
            if pg is not None:
                pg.stop()
    print(f"{'workload':<10} {'backend':<18} {'projection':<15} {'events':>7} {'blocks':>7} {'seconds':>8} "
          f"{'events/s':>9} {'target':>8} {'of target':>10}")
    print("-" * 103)
    for name, r in rows:
        target = TARGETS.get(r["backend"]) if name == "tradenet" else None
        share = f"{r['events_per_s'] / target:.0%}" if target else ""
        print(f"{name:<10} {r['backend']:<18} {r['projection']:<15} {r['events']:>7} {r['blocks']:>7} "
              f"{r['seconds']:>8.2f} {r['events_per_s']:>9.0f} {target or '':>8} {share:>10}")
    print("\nlag after catch-up: 0 blocks (confirmations=0); the chain ceiling is the node's block rate.")


if __name__ == "__main__":
    main()
