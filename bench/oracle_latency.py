"""Oracle latency and gas on LogisticsOracle v2: from a carrier's event to the quorum, to the
report on chain and to the deal's release, with k-of-n real operator processes.

For each configuration (``--quorums 2of3,3of5``): a fresh anvil with the demo consortium (extra
ORACLE members admitted when n > 3, the quorum set by governance), funded receivable deals whose
two milestones (DEPA, ARRI at NLRTM) wait on a shipment each; then n operator processes
(``oracle.cluster``) and interval mining (``--block-time``, 1 s by default, as on the Clique
network). The carrier posts each event to every operator (HMAC-signed DCSA v2.2). Per event:

- quorum: the first operator's ``quorumAt`` (k signatures held) minus the post time;
- release: the time the deal's release is first seen on chain (``DealLens.deal(id).released``
  polled every 10 ms) minus the post time;
- blocks: the report's block minus the head at the post;
- gas: ``gasUsed`` of the report transaction (``submitReport(ev, sigs, notify)``, the operator
  naming the deal waiting on the shipment: it releases one milestone in the same transaction),
  and the number of deals it named.

Run: .venv/bin/python bench/oracle_latency.py [--quorums 2of3,3of5] [--shipments 3] [--block-time 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.anvil import Anvil  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.clients import MemberInput  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from chain.deploy import configure_oracle_quorum  # noqa: E402
from chain.vocabulary import Role  # noqa: E402
from oracle.cluster import OperatorCluster, wait_for  # noqa: E402
from oracle.credentials import credential_document  # noqa: E402
from oracle.samples import transport_event  # noqa: E402
from workloads import LEGS, open_deals  # noqa: E402  (bench/ is on sys.path)

DAY = 86_400
CARRIER, SECRET = "oceanic", "bench-secret-0123456789abcdef"


@dataclass
class Row:
    quorum: str
    deal: int
    event: str
    quorum_ms: float
    release_ms: float
    blocks: int
    gas: int
    named: int


def operators(chain: Chain, d: Any, keys: dict[str, Any], n: int, k: int) -> list[str]:
    """The first n operator names; beyond the demo's three, new ORACLE members admitted by governance."""
    names = ["oracle_1", "oracle_2", "oracle_3"]
    admins = [keys["admin_a"], keys["admin_b"]]
    reg = d.clients(chain, keys["admin_a"]).registry
    now = chain.w3.eth.get_block("latest")["timestamp"]
    extra = []
    for i in range(3, n):
        name = f"oracle_{i + 1}"
        keys[name] = Account.from_key(keccak(text=f"bench oracle latency {name}"))
        extra.append(reg.call_add_member(MemberInput(keys[name].address, Role.ORACLE, f"529900BENCHLATOR{i:04d}", "DE",
                                                     now + 365 * DAY, f"Bench Oracle {i + 1}")))
        names.append(name)
    if extra:
        reg.govern(admins, extra, f"admit {len(extra)} oracle operators")
    names = names[:n]
    configure_oracle_quorum(chain, d, admins, [keys[x].address for x in names], k)
    return names


def measure(quorum: str, shipments: int, block_time: float) -> list[Row]:
    k, n = (int(x) for x in quorum.split("of"))
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-latency")
        d = bootstrap(chain, "bench", keys)
        names = operators(chain, d, keys, n, k)
        deals = open_deals(chain, d, keys, shipments)
        lens = d.clients(chain).lens
        cluster = OperatorCluster(keys=keys, deployment=d, rpc_url=node.url, artifacts=chain.artifacts,
                                  workdir=Path(tmp) / "ops", names=names,
                                  credentials=credential_document({CARRIER: (keys["carrier"].address, SECRET)}),
                                  password="bench", leader_timeout=2.0)
        rows = []
        try:
            cluster.start()
            if block_time:
                chain.w3.provider.make_request("evm_setAutomine", [False])
                chain.w3.provider.make_request("evm_setIntervalMining", [int(block_time)])
            for deal, ref in deals:
                for code, place in LEGS:
                    before = lens.deal(deal).released
                    head = chain.w3.eth.block_number
                    ev = transport_event(ref, code, place, when=time.time() - 30)
                    posted = time.time()
                    for op in cluster.ops.values():
                        op.carrier(CARRIER, SECRET).post_event(ev)
                    wait_for(lambda: lens.deal(deal).released != before, 120, 0.01, f"release of deal {deal} {code}")
                    seen = time.time()
                    report = wait_for(lambda: _report(cluster, ref, code), 30, 0.1, f"the report of {ref} {code}")
                    receipt = chain.w3.eth.get_transaction_receipt(report["txHash"])
                    views = _all(cluster, ref, code)
                    quorum_at = min(r["quorumAt"] for r in views if r["quorumAt"])
                    named = max(len(r["notified"]) for r in views)  # the submitter's view names them
                    rows.append(Row(quorum, deal, code, (quorum_at - posted) * 1000, (seen - posted) * 1000,
                                    receipt["blockNumber"] - head, receipt["gasUsed"], named))
        finally:
            cluster.stop()
    return rows


def _all(cluster: OperatorCluster, ref: str, code: str) -> list[dict[str, Any]]:
    return [r for op in cluster.ops.values() for r in op.status()["reports"]
            if r["kind"] == "shipment" and r["reference"] == ref and code in r["label"]]


def _report(cluster: OperatorCluster, ref: str, code: str) -> dict[str, Any] | None:
    """The submitting operator's view of the report, once it is confirmed with its tx hash."""
    for r in _all(cluster, ref, code):
        if r["txHash"] and r["state"] == "confirmed":
            return r
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quorums", default="2of3,3of5", help="k-of-n configurations, e.g. 2of3,3of5")
    ap.add_argument("--shipments", type=int, default=3, help="deals (one shipment, two events each) per configuration")
    ap.add_argument("--block-time", type=float, default=1.0, help="anvil interval mining in seconds (0: automine)")
    a = ap.parse_args()
    rows = [r for q in a.quorums.split(",") for r in measure(q.strip(), a.shipments, a.block_time)]
    mining = f"anvil interval mining {a.block_time:g} s" if a.block_time else "anvil automine"
    print(f"LogisticsOracle v2, real operator processes, carrier posts to every operator; {mining}")
    print(f"{'k-of-n':<7} {'deal':>5} {'event':<5} {'quorum ms':>10} {'release ms':>11} {'blocks':>7} "
          f"{'gas/report':>11} {'deals named':>12}")
    print("-" * 74)
    for r in rows:
        print(f"{r.quorum:<7} {r.deal:>5} {r.event:<5} {r.quorum_ms:>10.0f} {r.release_ms:>11.0f} {r.blocks:>7} "
              f"{r.gas:>11,} {r.named:>12}")
    print()
    for q in dict.fromkeys(r.quorum for r in rows):
        rs = [r for r in rows if r.quorum == q]
        print(f"{q}: time to quorum p50 {statistics.median(r.quorum_ms for r in rs):.0f} ms "
              f"(max {max(r.quorum_ms for r in rs):.0f}); carrier post -> release seen p50 "
              f"{statistics.median(r.release_ms for r in rs):.0f} ms (max {max(r.release_ms for r in rs):.0f}); "
              f"gas per report (releases 1 milestone) p50 {statistics.median(r.gas for r in rs):,.0f}")


if __name__ == "__main__":
    main()
