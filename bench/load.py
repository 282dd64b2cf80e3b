"""Bounded loopback load test of one node: mixed reads and writes for N minutes.

Starts its own anvil (``--block-time 1``: blocks as in production, not automine), deploys the
demo consortium, runs one real node process (``python -m tradenet node``: uvicorn + the indexer
thread, custodial keys of the seller and the buyer), then C asyncio workers (httpx) send a mix
for the duration: reads (invoice list and one invoice, events page, /auth/me, /health) and
writes (the seller mints an invoice; the seller uploads a small document). Prints requests,
errors (the target is 0), p50/p99 per kind, the node's RSS at start, every minute and at the end
(memory flat), and the chain height.

Run: .venv/bin/python bench/load.py [--minutes 3] [--clients 8] [--write-share 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chain.anvil import Anvil  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from tests.conftest import Net  # noqa: E402
from tests.support.faults import NodeService  # noqa: E402

READS = ("list_invoices", "get_invoice", "events", "me", "health")
WRITES = ("mint_invoice", "upload_document")
INDEX_LAG = 3.0


class Load:
    def __init__(self, net: Net, node: NodeService, heads: dict[str, str], write_share: float):
        self.net, self.node, self.heads, self.write_share = net, node, heads, write_share
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.invoices: list[str] = []
        self.minted_at: list[float] = []
        self.now = net.now()

    async def one(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        kind = rng.choice(WRITES) if rng.random() < self.write_share else rng.choice(READS)
        indexed = self.indexed()
        if kind == "get_invoice" and not indexed:
            kind = "list_invoices"
        started = time.perf_counter()
        try:
            r = await self.send(client, kind, rng)
            ok = r.status_code < 400
            if not ok:
                self.errors[kind].append(f"{r.status_code} {r.text[:200]}")
        except httpx.HTTPError as exc:
            self.errors[kind].append(f"{type(exc).__name__}: {exc}")
            return
        self.latency[kind].append(time.perf_counter() - started)

    def indexed(self) -> int:
        """How many minted invoices the read model has surely seen (minted over INDEX_LAG s ago:
        the indexer polls every 0.5 s; a read of a write that fresh may be a 404 by design)."""
        cutoff = time.monotonic() - INDEX_LAG
        n = len(self.minted_at)
        while n and self.minted_at[n - 1] > cutoff:
            n -= 1
        return n

    async def send(self, client: httpx.AsyncClient, kind: str, rng: random.Random) -> httpx.Response:
        h = self.heads
        if kind == "list_invoices":
            return await client.get("/invoices", params={"limit": 20}, headers=h)
        if kind == "get_invoice":
            return await client.get(f"/invoices/{rng.choice(self.invoices[:self.indexed()])}", headers=h)
        if kind == "events":
            return await client.get("/events", params={"limit": 20}, headers=h)
        if kind == "me":
            return await client.get("/auth/me", headers=h)
        if kind == "health":
            return await client.get("/health")
        if kind == "mint_invoice":
            body = {"buyer": self.net.addr("buyer"), "invoice_number": f"LOAD-{uuid.uuid4().hex[:12]}",
                    "face_value": {"currency": "USD", "minor": rng.randint(1_000, 10_000_000)},
                    "issue_date": self.now, "due_date": self.now + 60 * 86_400,
                    "document_hash": "0x" + uuid.uuid4().hex * 2, "document_cid": "bafkreiload"}
            r = await client.post("/invoices", json=body, headers=h)
            if r.status_code == 201:
                self.invoices.append(r.json()["invoice_id"])
                self.minted_at.append(time.monotonic())
            return r
        data = rng.randbytes(rng.randint(200, 20_000))
        return await client.post("/documents", content=data,
                                 headers={**h, "Content-Type": "application/octet-stream"})

    async def worker(self, seed: int, until: float) -> int:
        rng = random.Random(seed)
        sent = 0
        async with httpx.AsyncClient(base_url=self.node.url, timeout=60) as client:
            while time.monotonic() < until:
                await self.one(client, rng)
                sent += 1
        return sent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(load: Load, clients: int, seconds: float, rss: list[tuple[float, int]]) -> int:
    until = time.monotonic() + seconds
    started = time.monotonic()

    async def sample() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(60, max(0.1, until - time.monotonic())))
            rss.append((time.monotonic() - started, load.node.rss_kib()))
    tasks = [asyncio.create_task(load.worker(i, until)) for i in range(clients)]
    sampler = asyncio.create_task(sample())
    counts = await asyncio.gather(*tasks)
    await sampler
    return sum(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--write-share", type=float, default=0.2)
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds of load before the start RSS is taken")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tradenet-load-"))
    with Anvil(block_time=1) as anvil:
        chain = Chain.connect(anvil.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-load")
        deployment = bootstrap(chain, "test", keys)
        net = Net(chain, deployment, keys, {p.key: p for p in DEMO_PARTICIPANTS}, anvil.url)
        node = NodeService(net, work / "node", custodial=("seller", "buyer")).start()
        try:
            # the session ends with the signed login message: one that outlives the run
            heads = node.login("seller", lifetime=a.minutes * 60 + a.warmup + 600)
            load = Load(net, node, heads, a.write_share)
            asyncio.run(run(load, a.clients, a.warmup, []))  # warm-up: caches, pools, learned gas
            load.latency.clear()
            warm_errors = sum(len(v) for v in load.errors.values())
            load.errors.clear()
            height0 = chain.w3.eth.block_number
            rss: list[tuple[float, int]] = [(0.0, node.rss_kib())]
            t0 = time.monotonic()
            total = asyncio.run(run(load, a.clients, a.minutes * 60, rss))
            elapsed = time.monotonic() - t0
            rss.append((elapsed, node.rss_kib()))
            height1 = chain.w3.eth.block_number
        finally:
            node.stop()

    errors = sum(len(v) for v in load.errors.values())
    print(f"load: {a.minutes:g} min, {a.clients} clients, write share {a.write_share:.0%}, anvil --block-time 1, "
          f"one node (uvicorn + indexer), loopback")
    print(f"requests {total} ({total / elapsed:.1f}/s), errors {errors} (warm-up errors {warm_errors}), "
          f"chain height {height0} -> {height1}, invoices minted {len(load.invoices)}")
    print(f"{'kind':<16}{'n':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind in READS + WRITES:
        lat = load.latency.get(kind, [])
        print(f"{kind:<16}{len(lat):>7}{len(load.errors.get(kind, [])):>5}{pct(lat, .5):>9.1f}{pct(lat, .99):>9.1f}"
              f"{(max(lat) * 1000 if lat else float('nan')):>9.1f}")
    print("RSS (MiB) at t=" + ", ".join(f"{t:.0f}s: {kib / 1024:.1f}" for t, kib in rss))
    for kind, msgs in load.errors.items():
        print(f"errors of {kind}: {len(msgs)}, first: {msgs[0]}")
    if rss and len(rss) > 1:
        growth = (rss[-1][1] - rss[0][1]) / rss[0][1]
        print(f"RSS growth over the run: {growth:+.1%}; median latency of all reads "
              f"{statistics.median([x for k in READS for x in load.latency.get(k, [])] or [0]) * 1000:.1f} ms")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
