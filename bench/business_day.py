"""A business day through the node API at 1 s blocks (issue 15 item 6), bounded by ``--tx``.

One anvil (bootstrapped with automine, then interval mining at ``--block-time``), the demo
consortium plus a buyer and a lender per client (``day_participants``), and a node API process
(``node_api.server.start_node``, or ``--workers N`` API processes: ``node_api.workers``; custodial
keys of every participant) with its indexer. ``--clients`` threads each replay trade units through the API as
fast as the node answers; a unit is the seeds' load of one receivable:

  treasury deposit to the buyer (1 tx) -> seller mints an invoice (1) -> buyer confirms (1) ->
  lender signs terms, seller accepts (approve + accept: 2) -> lender funds (approve + fund: 2)
  -> the oracle quorum reports departure naming the deal (1, an operator's chain client: the
  operators do not use the node API) -> seller withdraws (1) -> buyer pays the invoice's
  obligation (approve + repay: 2) -> lender withdraws (1): 12 transactions, 9 API writes.

Every write route waits for inclusion, so a request's latency is request -> inclusion. Prints:
sustained tx/s (transactions included over the wall time), p50 / p99 latency per route, the
indexer's lag (max and at the end, from the node's /metrics), errors (target 0), the memory (RSS)
of anvil, the node process and this client at start and end, the chain height, and the wall time.

Run: .venv/bin/python bench/business_day.py [--tx 100000] [--clients 64] [--block-time 1]
     quick: --tx 5000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from eth_utils import keccak
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chain.anvil import Anvil, free_port  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.clients import Notify, ShipmentEvent  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, Participant, bootstrap, deterministic_keys  # noqa: E402
from chain.vocabulary import Role  # noqa: E402
from tradenet.node_client import NodeClient  # noqa: E402

SEED = "bench-business-day"
DAY = 86_400
TX_PER_UNIT = 12


def serve(config: str) -> None:
    """The node process: indexer + API until killed."""
    from node_api.server import connect_chain, start_node
    from node_api.settings import NodeSettings

    c = json.loads(config)
    settings = NodeSettings(**c["settings"])
    keys = day_keys(c["clients"])
    if c.get("workers", 1) > 1:
        from node_api.workers import start_workers

        node = start_workers(settings, connect_chain(settings), list(keys.values()), c["workers"], port=c["port"],
                             poll_interval=0.5)
    else:
        node = start_node(settings, connect_chain(settings), list(keys.values()), port=c["port"], poll_interval=0.5)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    node.stop()


def day_participants(clients: int) -> list[Participant]:
    """A buyer and a lender per client thread: the fund and repay routes approve the exact amount
    then call the engine, so two concurrent requests of one participant would overwrite each
    other's allowance (one then fails); each client trades with its own pair."""
    out = []
    for i in range(clients):
        out.append(Participant(f"buyer_{i}", f"Bench Buyer {i} B.V.", Role.BUYER, f"7245BENCHBUYER{i:06d}", "NL"))
        out.append(Participant(f"lender_{i}", f"Bench Lender {i} plc", Role.LENDER, f"2138BENCHLEND{i:07d}", "GB"))
    return out


def day_keys(clients: int) -> dict:
    return deterministic_keys((*DEMO_PARTICIPANTS, *day_participants(clients)), SEED)


def rss_mb(pid: int, children: bool = False) -> float:
    """Resident memory of `pid` (with `children`: and of the processes it started, the API
    processes of a node with --workers)."""
    pids = [pid]
    if children:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total or float("nan")


def login(client: httpx.Client, key) -> dict[str, str]:
    """The bearer header of a SIWE session of `key` on `client`'s node."""
    return {"Authorization": f"Bearer {NodeClient(str(client.base_url), http=client).login(key).token}"}


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def _error_kind(error: str) -> str:
    """route, status and problem code of an error (what the day's errors are grouped by)."""
    label, _, rest = error.partition(": ")
    code = re.search(r'"code":"([a-z_]+)"', rest)
    return f"{label}: {rest[:3]} {code.group(1) if code else rest[4:80]}"


class Day:
    def __init__(self, url: str, chain: Chain, d, keys, units: int, clients: int):
        self.url, self.chain, self.d, self.keys = url, chain, d, keys
        self.left = units
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.retries: Counter[str] = Counter()  # 503 + Retry-After answers retried, by problem code
        self.clients = clients
        self.oracle = d.clients(chain, keys["carrier"]).oracle
        with httpx.Client(base_url=url, timeout=60) as c:
            self.headers = {k: login(c, keys[k]) for k in keys if k == "treasury" or k == "seller" or k[:6] in ("buyer_", "lender")}

    def take(self) -> int | None:
        with self.lock:
            if self.left <= 0:
                return None
            self.left -= 1
            return self.left

    def post(self, c: httpx.Client, path: str, body: dict | None, who: str) -> httpx.Response:
        """POST as a client should: a 503 with Retry-After (the node's read model a block behind,
        its database busy) is retried after the time it names, at most 5 times (counted)."""
        for attempt in range(6):
            r = c.post(path, json=body, headers=self.headers[who])
            if r.status_code != 503 or "retry-after" not in r.headers or attempt == 5:
                return r
            code = r.json().get("code", "503") if r.headers.get("content-type", "").endswith("json") else "503"
            with self.lock:
                self.retries[code] += 1
            time.sleep(min(float(r.headers["retry-after"]), 5.0))
        return r

    def call(self, c: httpx.Client, label: str, who: str, path: str, body: dict | None = None) -> dict:
        t = time.perf_counter()
        r = self.post(c, path, body, who)
        took = time.perf_counter() - t
        if r.status_code >= 300:
            raise RuntimeError(f"{label}: {r.status_code} {r.text[:300]}")
        with self.lock:
            self.latency[label].append(took)
        return r.json()

    def unit(self, c: httpx.Client, n: int, pair: int) -> None:
        k = self.keys
        buyer, lender = f"buyer_{pair}", f"lender_{pair}"
        now = int(time.time())
        ref = f"OOLU{n:06d}{os.getpid() % 1000:03d}"
        self.call(c, "treasury deposit", "treasury", "/treasury/USD/deposits",
                  {"to": k[buyer].address, "amount": 2_000_000, "deposit_reference": f"DEP-{ref}"})
        inv = self.call(c, "invoice mint", "seller", "/invoices", {
            "buyer": k[buyer].address, "invoice_number": f"BD-{ref}", "face_value": {"currency": "USD", "minor": 1_000_000},
            "issue_date": now - DAY, "due_date": now + 60 * DAY, "document_hash": "0x" + keccak(text=ref).hex(),
            "document_cid": "bafkreibusinessday", "transport_document": ref})
        invoice_id = inv["invoice_id"]
        self.call(c, "invoice confirm", buyer, f"/invoices/{invoice_id}/confirm")
        terms = {"product": "Receivable", "collateral_id": invoice_id, "borrower": k["seller"].address,
                 "lender": k[lender].address, "currency": "USD", "principal": 800_000, "fee": 10_000,
                 "maturity": now + 61 * DAY, "grace_period": 10 * DAY, "accept_by": now + DAY,
                 "transport_document": ref, "milestones": [{"event_code": "DEPA", "share_bps": 10_000}]}
        t = time.perf_counter()
        sig = self.post(c, "/deals/terms/signature", terms, lender)
        if sig.status_code != 200:
            raise RuntimeError(f"terms signature: {sig.status_code} {sig.text[:300]}")
        with self.lock:
            self.latency["terms signature (no tx)"].append(time.perf_counter() - t)
        deal = self.call(c, "deal accept", "seller", "/deals",
                         {"terms": terms, "lender_signature": sig.json()["signature"]})["deal_id"]
        self.call(c, "deal fund", lender, f"/deals/{deal}/fund")
        t = time.perf_counter()
        ev = ShipmentEvent.from_strings(ref, "DEPA", "CNSZX", self.chain.w3.eth.get_block("latest")["timestamp"] - 30,
                                        f"{ref}/DEPA")
        self.oracle.submit_report(ev, [self.oracle.sign_event(k[o], ev) for o in ("oracle_1", "oracle_2")],
                                  [Notify(self.d.deal_engine, deal)])
        with self.lock:
            self.latency["oracle report (chain client)"].append(time.perf_counter() - t)
        self.call(c, "seller withdraw", "seller", f"/deals/{deal}/withdraw")
        self.call(c, "deal repay", buyer, f"/deals/{deal}/repay")
        self.call(c, "lender withdraw", lender, f"/deals/{deal}/withdraw")

    def worker(self, pair: int) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as c:
            while (n := self.take()) is not None:
                try:
                    self.unit(c, n, pair)
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    with self.lock:
                        self.errors.append(str(exc)[:300])

    def run(self, on_tick) -> float:
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            on_tick()
            time.sleep(2)
        return time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tx", type=int, default=100_000, help="transactions to include (rounded to trade units of 12)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--block-time", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="API processes of the node (tradenet node --workers N)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve)
        return
    units = max(1, a.tx // TX_PER_UNIT)
    with Anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        chain = Chain.connect(anvil.url)
        keys = day_keys(a.clients)
        d = bootstrap(chain, "bench", keys, (*DEMO_PARTICIPANTS, *day_participants(a.clients)))
        treasury = d.clients(chain, keys["treasury"]).token("USD")
        for i in range(a.clients):
            treasury.mint(keys[f"lender_{i}"].address, 10**13, keccak(text=f"bench day lender {i}"))
        deployment_file = d.save(Path(tmp))
        port = free_port()
        settings = {"rpc_url": anvil.url, "deployment_file": str(deployment_file),
                    "database_url": f"sqlite:///{Path(tmp) / 'rm.db'}", "document_dir": str(Path(tmp) / "docs"),
                    "api_domain": f"127.0.0.1:{port}", "api_uri": f"http://127.0.0.1:{port}"}
        node = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps({"settings": settings, "port": port, "clients": a.clients,
                                                                          "workers": a.workers})],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert node.stdout is not None and node.stdout.readline().strip() == "ready", "the node did not start"
            url = f"http://127.0.0.1:{port}"
            chain.w3.provider.make_request("evm_setAutomine", [False])
            chain.w3.provider.make_request("evm_setIntervalMining", [a.block_time])
            day = Day(url, chain, d, keys, units, a.clients)
            anvil_pid = anvil.proc.pid
            mem0 = {"anvil": rss_mb(anvil_pid), "node API": rss_mb(node.pid, children=True),
                    "client": rss_mb(os.getpid())}
            h0 = chain.w3.eth.block_number
            lags: list[float] = []

            def tick() -> None:
                try:
                    lags.append(scrape(url).get("tradenet_node_indexer_lag_blocks", float("nan")))
                except httpx.HTTPError:
                    pass

            wall = day.run(tick)
            h1 = chain.w3.eth.block_number
            mem1 = {"anvil": rss_mb(anvil_pid), "node API": rss_mb(node.pid, children=True),
                    "client": rss_mb(os.getpid())}
            time.sleep(2 * a.block_time + 1)
            final = scrape(url)
        finally:
            node.terminate()
            node.wait(30)
    done = units - len(day.errors)
    shape = "one API process" if a.workers == 1 else f"{a.workers} API processes"
    print(f"business day through the node API ({shape}): {units} trade units x {TX_PER_UNIT} tx, {a.clients} clients, "
          f"anvil interval mining {a.block_time} s; chain height {h0} -> {h1}")
    print(f"{'route':<30} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print("-" * 58)
    for label, values in day.latency.items():
        print(f"{label:<30} {len(values):>9} {1000 * statistics.median(values):>8.0f} {1000 * pct(values, 99):>8.0f}")
    tx = done * TX_PER_UNIT
    print(f"\nsustained: {tx} tx in {wall:.0f} s = {tx / wall:.1f} tx/s ({done} units completed)")
    print(f"errors: {len(day.errors)}" + (f" (first: {day.errors[0]})" if day.errors else ""))
    if day.retries:
        print("retried after a 503 with Retry-After: " + ", ".join(f"{n} {code}" for code, n in day.retries.items()))
    kinds = Counter(_error_kind(e) for e in day.errors)
    for kind, n in kinds.most_common(8):
        print(f"  {n:>5}  {kind}")
    clean = [x for x in lags if x == x]
    print(f"indexer lag: max {max(clean) if clean else float('nan'):.0f} blocks during the day, "
          f"{final.get('tradenet_node_indexer_lag_blocks', float('nan')):.0f} after it; "
          f"node transactions pending at the end {final.get('tradenet_node_transactions_pending', float('nan')):.0f}")
    print("memory (RSS MB) start -> end: " + ", ".join(f"{k} {mem0[k]:.0f} -> {mem1[k]:.0f}" for k in mem0))
    print(f"wall time {wall:.0f} s" + (f"; at this rate 100,000 tx take {100_000 / (tx / wall) / 60:.0f} min" if tx else ""))


if __name__ == "__main__":
    main()
