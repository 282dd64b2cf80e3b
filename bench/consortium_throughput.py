"""Throughput of the 4-sealer geth Clique network (1 s blocks): permissioned settlement transfers
and invoice tokenisations, as transactions per second and as a fraction of the block gas
ceiling, beside Besu QBFT's published 4-validator figures (the anchor).

The network is the consortium profile's (chain.geth, genesis gas limit 60 M, free gas), with
the demo consortium deployed and onboarded. Each workload pre-signs its transactions (eth_keys
uses coincurve when it is installed) from several member accounts, one sender per sealer, and
sends them at once in JSON-RPC batches, in parallel, to the sealers' RPC endpoints; throughput
is counted, once they are all mined and 3 blocks deep, from the canonical blocks that carry them:
transactions / (timestamp of the last block - the timestamp of the block before the first), and
gas used / (blocks x block gas limit) over the same blocks.

Everything runs on this one machine (4 geth sealers, the sender and the RPC decoding on the same
cores), unlike Besu's published runs: read the anchor as an order of magnitude.

Run: .venv/bin/python bench/consortium_throughput.py [--transfers 10000] [--invoices 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_account import Account
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.client import Chain  # noqa: E402
from chain.clients import InvoiceTerms  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from chain.geth import FEE_POLICY, GAS_ALLOWANCE, CliqueNetwork, NodeSpec  # noqa: E402

#: Besu's QBFT performance page, 4 validators (the issue's anchor).
BESU_QBFT = {"transfers": "520-645 TPS (ERC-20 transfers)", "invoices": "750-1,200 TPS (simple contract calls)"}
SEALERS = ("admin_a", "admin_b", "admin_c", "treasury")
BATCH = 100
#: Room in every node's transaction pool for the whole burst (geth's defaults: 5,120 pending, 1,024 queued).
TXPOOL_ARGS = ("--txpool.globalslots", "40000", "--txpool.accountslots", "20000", "--txpool.globalqueue", "10000",
               "--txpool.accountqueue", "10000")
FEE_CAP = 10**9  # gwei: pays only the base fee (0 until blocks pass half the gas limit)


@dataclass
class Result:
    workload: str
    txs: int
    blocks: int
    seconds: int
    gas_used: int
    gas_limit: int
    peak_block_txs: int
    base_fee_after: int
    send_seconds: float

    @property
    def tps(self) -> float:
        return self.txs / self.seconds

    @property
    def gas_fraction(self) -> float:
        return self.gas_used / (self.blocks * self.gas_limit)


def presign(chain: Chain, account, calls: list[tuple[str, bytes]], gas: int) -> list[str]:
    nonce = chain.w3.eth.get_transaction_count(account.address, "pending")
    out = []
    for i, (to, data) in enumerate(calls):
        tx = {"to": to, "data": data, "value": 0, "gas": gas, "nonce": nonce + i, "chainId": chain.chain_id,
              "maxFeePerGas": FEE_CAP, "maxPriorityFeePerGas": 0, "type": 2}
        out.append("0x" + account.sign_transaction(tx).raw_transaction.hex())
    return out


def send_all(url: str, raws: list[str], hashes: list[str]) -> None:
    with httpx.Client(timeout=120) as client:
        for start in range(0, len(raws), BATCH):
            batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]}
                     for i, r in enumerate(raws[start:start + BATCH])]
            for resp in client.post(url, json=batch).json():
                if "error" in resp:
                    raise RuntimeError(f"refused: {resp['error']}")
                hashes.append(resp["result"])


def run_workload(name: str, jobs: list[tuple[str, list[str], str]], chain: Chain, confirmations: int = 3) -> Result:
    """`jobs`: (sealer node URL, pre-signed raw transactions, their sender) sent in parallel.
    Counted once every sender's nonce shows its last transaction mined and `confirmations`
    more blocks are sealed, over the canonical blocks then (under load, out-of-turn blocks get
    replaced: scanning blocks as they arrive would miss transactions that moved)."""
    w3 = chain.w3
    start_block = w3.eth.block_number
    final = {sender: w3.eth.get_transaction_count(sender, "pending") + len(raws) for _, raws, sender in jobs}
    hashes: list[str] = []
    threads = [threading.Thread(target=send_all, args=(url, raws, hashes)) for url, raws, _ in jobs]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send_seconds = time.monotonic() - t0
    deadline = time.monotonic() + 600
    while any(w3.eth.get_transaction_count(s) < n for s, n in final.items()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: not every transaction was mined in 600 s")
        time.sleep(0.5)
    settled = w3.eth.block_number + confirmations
    while w3.eth.block_number < settled:
        time.sleep(0.5)
    wanted = {h.lower() for h in hashes}
    blocks: list[tuple[dict, int]] = []
    for number in range(start_block + 1, w3.eth.block_number + 1):
        block = w3.eth.get_block(number)
        ours = len({h.to_0x_hex().lower() for h in block["transactions"]} & wanted)
        if ours:
            blocks.append((block, ours))
    if sum(n for _, n in blocks) != len(wanted):
        raise RuntimeError(f"{name}: {sum(n for _, n in blocks)} of {len(wanted)} transactions in canonical blocks")
    first, last = blocks[0][0], blocks[-1][0]
    span = range(first["number"], last["number"] + 1)
    gas = sum(w3.eth.get_block(n)["gasUsed"] for n in span)
    failed = sum(w3.eth.get_transaction_receipt(h)["status"] != 1 for h in list(wanted)[:20])
    if failed:
        raise RuntimeError(f"{name}: {failed} of 20 sampled transactions reverted")
    before = w3.eth.get_block(first["number"] - 1)["timestamp"]
    return Result(name, len(wanted), len(span), max(1, last["timestamp"] - before), gas, last["gasLimit"],
                  max(n for _, n in blocks), last.get("baseFeePerGas", 0), send_seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transfers", type=int, default=10_000)
    ap.add_argument("--invoices", type=int, default=3_000)
    a = ap.parse_args()
    keys = deterministic_keys(DEMO_PARTICIPANTS, seed="bench-consortium")
    sealers = {o: Account.from_key(keccak(text=f"bench-consortium:sealer:{o}")) for o in SEALERS}
    alloc = {k.address: GAS_ALLOWANCE for k in keys.values()}
    with tempfile.TemporaryDirectory() as tmp, \
            CliqueNetwork(Path(tmp), [NodeSpec(o, sealers[o]) for o in SEALERS], alloc=alloc,
                          extra_args=TXPOOL_ARGS) as net:
        urls = [net[o].url for o in SEALERS]
        chain = Chain.connect(urls[0], fees=FEE_POLICY)
        print(f"4-sealer Clique network up (geth, 1 s blocks); deploying and onboarding the demo consortium...",
              file=sys.stderr)
        d = bootstrap(chain, "bench", keys)
        c = lambda k: d.clients(chain, keys[k])  # noqa: E731
        senders = ("lender", "lender_b", "buyer", "investor")
        for k in senders:
            c("treasury").token("USD").mint(keys[k].address, 10**12, keccak(text=f"bench-deposit:{k}"))
        usd = c(senders[0]).token("USD")
        to = keys["seller"].address
        transfer = usd.encode("transfer", to, 1)
        gas = chain.w3.eth.estimate_gas({"from": keys[senders[0]].address, "to": usd.address, "data": transfer})
        per_sender = a.transfers // len(senders)
        jobs = [(urls[i], presign(chain, keys[k], [(usd.address, transfer)] * per_sender, gas * 11 // 10),
                 keys[k].address) for i, k in enumerate(senders)]
        results = [run_workload("settlement transfers", jobs, chain)]

        now = chain.w3.eth.get_block("latest")["timestamp"]
        inv = c("seller").invoices
        sellers = ("seller", "seller_ops")
        per_seller = a.invoices // len(sellers)

        def mint_call(k: str, i: int) -> tuple[str, bytes]:
            terms = InvoiceTerms(keys["buyer"].address, f"BENCH-{k}-{i:06d}", 10_000_00 + i, "USD", now - 86_400,
                                 now + 90 * 86_400, keccak(text=f"bench-doc:{k}:{i}"), f"bafkreibench{k}{i:06d}")
            return inv.address, inv.encode("mint", terms.as_tuple())

        sample_to, sample = mint_call("seller", 999_999)
        gas = chain.w3.eth.estimate_gas({"from": keys["seller"].address, "to": sample_to, "data": sample})
        jobs = [(urls[i], presign(chain, keys[k], [mint_call(k, n) for n in range(per_seller)], gas * 12 // 10),
                 keys[k].address) for i, k in enumerate(sellers)]
        results.append(run_workload("invoice tokenisations", jobs, chain))

    print(f"\n{'workload':<24} {'txs':>6} {'blocks':>6} {'tx/s':>7} {'gas/tx':>8} {'gas / ceiling':>13} "
          f"{'peak tx/block':>13}  Besu QBFT, 4 validators (published)")
    print("-" * 130)
    for r, anchor in zip(results, BESU_QBFT.values()):
        print(f"{r.workload:<24} {r.txs:>6} {r.blocks:>6} {r.tps:>7.1f} {r.gas_used // r.txs:>8,} "
              f"{100 * r.gas_fraction:>12.1f}% {r.peak_block_txs:>13}  {anchor}")
    print(f"\nblock gas ceiling {results[0].gas_limit:,}; base fee after the runs: "
          f"{', '.join(f'{r.workload} {r.base_fee_after} wei' for r in results)}; the burst took "
          f"{', '.join(f'{r.send_seconds:.1f} s' for r in results)} to send (eth_sendRawTransaction batches of "
          f"{BATCH}, one sender thread per sealer)")
    print("anchor: Besu's QBFT performance page (4 validators); this run: 4 geth 1.13.15 Clique sealers and the "
          "load generator on one machine.")


if __name__ == "__main__":
    main()
