"""Node API read latency (p50/p99) and throughput under a concurrent load generator.

Starts `tradenet up` (anvil + contracts + demo trade + indexer + API) in a subprocess on loopback,
adds N invoices so list reads page through real data, then runs C client threads that log in
with SIWE and issue a bounded number of GET requests each. Prints one row per endpoint.

Run: .venv/bin/python bench/api_latency.py [--invoices 200] [--clients 16] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chain.anvil import free_port  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.clients import InvoiceTerms  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS  # noqa: E402
from chain.deployment import Deployment  # noqa: E402
from tradenet.node_client import NodeClient  # noqa: E402
from tradenet.localnet import demo_keystore, load_or_create_keys  # noqa: E402


def login(client: httpx.Client, key) -> str:
    """A SIWE session token of `key` on `client`'s node."""
    return NodeClient(str(client.base_url), http=client).login(key).token


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200, help="requests per client")
    a = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tradenet-bench-"))
    rpc_port, api_port = free_port(), free_port()
    env = dict(os.environ, TRADENET_DEPLOYMENTS_DIR=str(home / "deployments"))
    oracle_ports = ",".join(str(free_port()) for _ in range(3))  # tradenet up's defaults are fixed (8701-8703)
    proc = subprocess.Popen([sys.executable, "-m", "tradenet", "up", "--port", str(rpc_port), "--api-port",
                             str(api_port), "--oracle-ports", oracle_ports, "--home", str(home)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:  # wait until the demo trade has been played and indexed
            if "keeps running" in line:
                break
        else:
            raise SystemExit("tradenet up exited early")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        api = f"http://127.0.0.1:{api_port}"
        ks, password = demo_keystore(home)
        keys = load_or_create_keys(ks, password, list(DEMO_PARTICIPANTS))
        chain = Chain.connect(f"http://127.0.0.1:{rpc_port}")
        d = Deployment.load("local", home / "deployments")
        inv = d.clients(chain, keys["seller"]).invoices
        now = chain.w3.eth.get_block("latest")["timestamp"]
        pending = [inv._submit("mint", InvoiceTerms(keys["buyer"].address, f"LOAD-{i:05d}", 10_000 + i, "USD", now,
                                                    now + 86_400 * 30, (i + 1).to_bytes(32, "big"),
                                                    f"bafkreiload{i}").as_tuple(), gas=400_000)
                   for i in range(a.invoices)]
        for p in pending:
            p.wait(timeout=120)
        with httpx.Client(base_url=api) as c:
            deadline = time.monotonic() + 60
            while c.get("/health").json()["lag_blocks"] != 0 and time.monotonic() < deadline:
                time.sleep(0.2)

        endpoints = [
            ("GET /invoices?limit=50", "seller", lambda i: "/invoices?limit=50"),
            ("GET /invoices/{id}", "seller", lambda i: f"/invoices/{1 + i % (a.invoices + 1)}"),
            ("GET /participants", "buyer", lambda i: "/participants"),
            ("GET /auth/me", "lender", lambda i: "/auth/me"),
            ("GET /accounts/{a}/balances", "lender", lambda i: f"/accounts/{keys['lender'].address}/balances"),
        ]
        lat: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        lock = threading.Lock()

        def worker(n: int) -> None:
            label, who, path = endpoints[n % len(endpoints)]
            with httpx.Client(base_url=api, timeout=30) as c:
                headers = {"Authorization": f"Bearer {login(c, keys[who])}"}
                mine = []
                for i in range(a.requests):
                    t0 = time.perf_counter()
                    r = c.get(path(i), headers=headers)
                    mine.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        with lock:
                            errors[label] += 1
            with lock:
                lat[label].extend(mine)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(max(a.clients, len(endpoints)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        total = sum(len(v) for v in lat.values())
        print(f"{a.clients} concurrent clients x {a.requests} requests, {a.invoices + 1} invoices in the read model")
        print(f"{'endpoint':<28} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>7}")
        print("-" * 72)
        for label, _, _ in endpoints:
            v = lat[label]
            print(f"{label:<28} {len(v):>8} {pct(v, 50) * 1000:>8.1f} {pct(v, 99) * 1000:>8.1f} "
                  f"{statistics.mean(v) * 1000:>8.1f} {errors[label]:>7}")
        print(f"\nthroughput: {total / wall:,.0f} requests/s over {wall:.1f} s (one uvicorn worker, 2 cores shared "
              f"with the load generator and anvil)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
