"""Latency from the k-th operator signature to the on-chain release, in blocks and milliseconds.

A fresh anvil with the demo consortium, three real operator processes (k = 2), funded deals whose
milestones wait on shipment events; the carrier posts each event to every operator. For each
event: t_k = when the k-th operator signature existed (the k-th smallest `signedAt` over the
operators), the release = the MilestoneReleased log in the oracle's report transaction, observed
by polling the chain every 10 ms. Blocks = release block - head when the k-th signature existed.

Run: .venv/bin/python bench/oracle_latency.py [--shipments 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.anvil import Anvil  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from chain.contracts import InvoiceTerms  # noqa: E402
from chain.deal_client import DealTerms, Milestone  # noqa: E402
from chain.oracle_client import shipment_id  # noqa: E402
from oracle.cluster import OperatorCluster  # noqa: E402
from oracle.samples import transport_event  # noqa: E402

DAY = 86_400


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipments", type=int, default=5)
    a = ap.parse_args()
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain.connect(node.url)
        keys = deterministic_keys(DEMO_PARTICIPANTS, "bench-latency")
        d = bootstrap(chain, "bench", keys)
        usd = d.token(chain, "USD", keys["treasury"])
        usd.mint(keys["lender"].address, 10**12, b"\1" * 32)
        inv_s, inv_b = d.invoices(chain, keys["seller"]), d.invoices(chain, keys["buyer"])
        fin_s, fin_l = d.financing(chain, keys["seller"]), d.financing(chain, keys["lender"])
        now = chain.w3.eth.get_block("latest")["timestamp"]
        deals = []
        for i in range(a.shipments):
            iid = inv_s.mint(InvoiceTerms(keys["buyer"].address, f"LAT-{i}", 100_000_00, "USD", now, now + 60 * DAY,
                                          (i + 1).to_bytes(32, "big"), f"bafkreilat{i}"))
            inv_b.confirm(iid)
            ref = f"OOLU-BL-LAT-{i:04d}"
            ship = shipment_id(ref)
            t = DealTerms(9_000 + i, iid, keys["seller"].address, keys["lender"].address, d.settlement_tokens["USD"],
                          80_000_00, 1_000_00, now + 59 * DAY, DAY, now + DAY,
                          (Milestone(ship, "DEPA", 5_000), Milestone(ship, "ARRI", 5_000)))
            fin_s.approve_invoice(inv_s, iid)
            fin_s.accept(t, fin_s.sign_terms(keys["seller"], t), fin_l.sign_terms(keys["lender"], t))
            fin_l.approve_payment(d.token(chain, "USD", keys["lender"]), t.principal)
            fin_l.fund(t.deal_id)
            deals.append((t, ref))
        cluster = OperatorCluster(keys=keys, deployment=d, rpc_url=node.url, artifacts=chain.artifacts,
                                  workdir=Path(tmp) / "ops", carriers={"oceanic": "bench-secret-0123456789abcdef"},
                                  password="bench", leader_timeout=2.0)
        cluster.start()
        k = d.oracle(chain).threshold()
        rows = []
        try:
            for t, ref in deals:
                for code, place in (("DEPA", "CNSZX"), ("ARRI", "NLRTM")):
                    before = fin_s.deal(t.deal_id).released
                    head_before = chain.w3.eth.block_number
                    ev = transport_event(ref, code, place, when=time.time() - 30)
                    for op in cluster.ops.values():
                        op.carrier("oceanic", "bench-secret-0123456789abcdef").post_event(ev)
                    while fin_s.deal(t.deal_id).released == before:
                        time.sleep(0.01)
                    t_seen = time.time()
                    logs = chain.w3.eth.get_logs({"address": d.receivable_financing, "fromBlock": head_before + 1})
                    release_block = logs[-1]["blockNumber"]
                    signed = []
                    for op in cluster.ops.values():
                        for r in httpx.get(op.url + "/status", timeout=5).json()["reports"]:
                            if r["reference"] == ref and code in r["label"] and r["signedAt"]:
                                signed.append(r["signedAt"])
                    signed.sort()
                    t_k = signed[k - 1] if len(signed) >= k else float("nan")
                    rows.append((t.deal_id, code, release_block - head_before, (t_seen - t_k) * 1000))
        finally:
            cluster.stop()
    print(f"k = {k} of {len(cluster.ops)} operators; carrier posts to all; anvil automine")
    print(f"{'deal':>6} {'event':<5} {'blocks after k-th sig':>22} {'ms k-th sig -> release seen':>28}")
    print("-" * 65)
    for deal_id, code, blocks, ms in rows:
        print(f"{deal_id:>6} {code:<5} {blocks:>22} {ms:>28.0f}")
    ms_all = [r[3] for r in rows]
    print(f"\nlatency p50 {statistics.median(ms_all):.0f} ms, max {max(ms_all):.0f} ms; "
          f"release is in the report transaction itself (blocks = 1: the report's block).")


if __name__ == "__main__":
    main()
