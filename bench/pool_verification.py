"""Verification time of ABS pools of 1,000, 10,000 and 100,000 real assets on a local anvil.

Builds each pool from real chain state: for every asset an invoice is minted and confirmed, a
receivable deal accepted (the lender's EIP-712 signature) and funded, then the pool manager bids
for the deals (`AbsPools.bidMany`), the lender approves the assignments
(`DealEngine.approveAssignments`) and sells them (`AbsPools.sellMany`); the manager publishes the
tape's root. Transactions are pre-signed (coincurve, legacy EIP-155) and sent in JSON-RPC batches
with anvil's automine off and a large block gas limit, phase by phase (each phase needs the last
one mined). Then, for each pool, an investor's verification (`chain.abs_verify.verify_pool`):

(a) the tape recomputation and every proof, CPU only, this process pinned to one core
    (target <= 5 s for 100,000 assets);
(b) the chain-state reads, reported apart as assets/s (`PoolLens.assetsWithFacts` pages in
    JSON-RPC batches; target >= 2,000 assets/s against anvil), with a page-size sweep.

Also the gas per asset of the batched pool operations and of issue, collect, distribute, claim.

Run: .venv/bin/python bench/pool_verification.py [--sizes 1000,10000,100000] [--smoke]
Needs coincurve (pip install coincurve==21.0.0). Not in CI (`--smoke`: a 1,000-asset pool).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import rlp
from coincurve import PrivateKey
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chain.abs_verify import check_assets, read_asset_rows, verify_pool  # noqa: E402
from chain.anvil import Anvil  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.clients import ADVANCE, DealTerms, InvoiceTerms, Milestone, PoolParams  # noqa: E402
from chain.clients._views import view_spec  # noqa: E402
from chain.clients.pools import (  # noqa: E402
    KECCAK_BACKEND,
    keccak256,
    merkle_levels,
    merkle_root,
    tape_hash,
    verify_every_proof,
)
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from chain.deployment import Deployment  # noqa: E402
from chain.eip712 import type_hash  # noqa: E402

DAY = 86_400
FACE, PRINCIPAL, FEE, PRICE = 10_000_00, 8_000_00, 100_00, 7_950_00
EXPECTED = PRINCIPAL + FEE
BLOCK_GAS = 4_000_000_000
CHUNK = 1_000  # assets per build round (each phase of a round is mined before the next is sent; anvil's
# eth_getBlockReceipts slows down more than linearly with the block's transactions)
SEND_BATCH, SEND_BYTES = 500, 1_000_000  # raw transactions (and their bytes) per JSON-RPC batch
BID_BATCH, APPROVE_BATCH, SELL_BATCH = 250, 500, 100


# ------------------------------------------------------------------------------------ raw transactions


class RawSender:
    """Signs legacy EIP-155 transactions of one key with coincurve, nonces counted locally."""

    def __init__(self, account: LocalAccount, chain_id: int, nonce: int):
        self.key = PrivateKey(bytes(account.key))
        self.address = account.address
        self.chain_id = chain_id
        self.nonce = nonce

    def sign(self, to: str, data: bytes, gas: int) -> bytes:
        to_raw = bytes.fromhex(to[2:])
        fields = [self.nonce, 0, gas, to_raw, 0, data]
        sig = self.key.sign_recoverable(keccak256(rlp.encode(fields + [self.chain_id, 0, 0])), hasher=None)
        self.nonce += 1
        v = sig[64] + 35 + 2 * self.chain_id
        return rlp.encode(fields + [v, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")])


def eip712_sign(key: PrivateKey, digest: bytes) -> bytes:
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([27 + sig[64]])


class Miner:
    """Sends raw transactions in JSON-RPC batches and mines them (automine off); checks every
    receipt and returns them."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.provider = chain.w3.provider

    def rpc(self, method: str, params: list) -> Any:
        resp = self.provider.make_request(method, params)
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp["result"]

    def run(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        first = int(self.rpc("eth_blockNumber", []), 16) + 1
        for batch in _batches(raws):
            answers = self.provider.make_batch_request([("eth_sendRawTransaction", ["0x" + r.hex()]) for r in batch])
            if not isinstance(answers, list):
                raise RuntimeError(f"node refused a batch of {len(batch)} transactions: {answers}")
            bad = [a for a in answers if "error" in a]
            if bad:
                raise RuntimeError(f"node refused {len(bad)} transactions: {bad[0]['error']}")
        while int(self.rpc("txpool_status", [])["pending"], 16):
            self.rpc("evm_mine", [])
        last = int(self.rpc("eth_blockNumber", []), 16)
        receipts = []
        for b in range(first, last + 1):
            receipts += self.rpc("eth_getBlockReceipts", [hex(b)])
        failed = [r for r in receipts if int(r["status"], 16) != 1]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(receipts)} transactions reverted, e.g. {failed[0]['transactionHash']}")
        if len(receipts) != len(raws):
            raise RuntimeError(f"{len(raws)} sent, {len(receipts)} mined")
        return receipts


def _batches(raws: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    """At most SEND_BATCH transactions and about SEND_BYTES of them per JSON-RPC request (anvil
    refuses large request bodies)."""
    start, size = 0, 0
    for i, r in enumerate(raws):
        if i > start and (i - start >= SEND_BATCH or size + len(r) > SEND_BYTES):
            yield raws[start:i]
            start, size = i, 0
        size += len(r)
    if start < len(raws):
        yield raws[start:]


def indexed(receipts: list[dict[str, Any]], address: str, topic: bytes) -> list[int]:
    """topic[1] of every `address` log with topic0 `topic`, in order (an id the event indexes first)."""
    t0, a = "0x" + topic.hex(), address.lower()
    return [int(log["topics"][1], 16) for r in receipts for log in r["logs"]
            if log["address"].lower() == a and log["topics"][0] == t0]


def gas_used(receipts: list[dict[str, Any]]) -> list[int]:
    return [int(r["gasUsed"], 16) for r in receipts]


# ------------------------------------------------------------------------------------ memory

#: A build stops (MemoryGuard) when the machine's available memory falls below this: the OOM
#: killer would otherwise pick some process on a shared machine.
MIN_AVAILABLE_MB = 700


class MemoryGuard(RuntimeError):
    pass


def available_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 1 << 30


def rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except FileNotFoundError:
        pass
    return 0


# ------------------------------------------------------------------------------------ building


@dataclass
class Builder:
    chain: Chain
    d: Deployment
    keys: dict[str, LocalAccount]
    anvil_pid: int = 0
    gas: dict[str, list[int]] = field(default_factory=dict)
    seq: int = 0

    def __post_init__(self) -> None:
        cid = self.chain.chain_id
        nonce = self.chain.w3.eth.get_transaction_count
        self.tx = {k: RawSender(self.keys[k], cid, nonce(self.keys[k].address, "pending"))
                   for k in ("seller", "buyer", "lender", "lender_b", "investor", "treasury")}
        self.miner = Miner(self.chain)
        inv = self.chain.contract("InvoiceToken", self.d.invoice_token)
        eng = self.chain.contract("DealEngine", self.d.deal_engine)
        pools = self.chain.contract("AbsPools", self.d.abs_pools)
        self.spec = {"mint": view_spec(inv, "mint"), "confirm": view_spec(inv, "confirm"),
                     "accept": view_spec(eng, "accept"), "fund": view_spec(eng, "fund"),
                     "approveAssignments": view_spec(eng, "approveAssignments"),
                     "bidMany": view_spec(pools, "bidMany"), "sellMany": view_spec(pools, "sellMany")}
        self.topics = {"issued": bytes.fromhex(inv.events.InvoiceIssued().topic[2:]),
                       "accepted": bytes.fromhex(eng.events.DealAccepted().topic[2:])}
        self.lender_key = PrivateKey(bytes(self.keys["lender"].key))
        engine = self.d.clients(self.chain).deals
        self.domain_separator = engine.domain().separator()
        self.terms_type = type_hash("DealTerms")
        ms = Milestone(ADVANCE, 10_000)
        ms_hash = keccak(type_hash("Milestone") + abi_encode(["bytes4", "bytes5", "uint16"], list(ms.as_tuple())))
        self.milestones_hash = keccak(ms_hash)
        self.extra_hash = keccak(b"")
        self._engine = engine

    def c(self, key: str):
        return self.d.clients(self.chain, self.keys[key])

    @contextlib.contextmanager
    def automine(self) -> Iterator[None]:
        """Normal client calls (each waits for its receipt): automine on, the clients' nonces
        resynced; afterwards automine off and the raw senders' nonces taken from the node."""
        self.miner.rpc("evm_setAutomine", [True])
        self.chain.nonces.resync()
        try:
            yield
        finally:
            self.miner.rpc("evm_setAutomine", [False])
            for k, tx in self.tx.items():
                tx.nonce = self.chain.w3.eth.get_transaction_count(self.keys[k].address, "pending")

    def send(self, label: str, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        receipts = self.miner.run(raws)
        self.gas.setdefault(label, []).extend(gas_used(receipts))
        return receipts

    def terms(self, invoice_id: int, n: int, now: int) -> DealTerms:
        d = self.d
        return DealTerms(product=d.receivable_financing, collateral_id=invoice_id, borrower=self.keys["seller"].address,
                         lender=self.keys["lender"].address, settlement_token=d.settlement_tokens["USD"],
                         principal=PRINCIPAL, fee=FEE, maturity=now + 61 * DAY, grace_period=10 * DAY,
                         accept_by=now + DAY, milestones=(Milestone(ADVANCE, 10_000),),
                         agreement_hash=keccak(text="bench agreement"), nonce=keccak(text=f"bench nonce {n}"))

    def digest(self, t: DealTerms) -> bytes:
        """The EIP-712 digest of terms, without the generic encoder (checked against it once)."""
        def w(v: int) -> bytes:
            return v.to_bytes(32, "big")

        def a(x: str) -> bytes:
            return bytes(12) + bytes.fromhex(x[2:])

        struct = keccak(self.terms_type + a(t.product) + w(t.collateral_id) + a(t.borrower) + a(t.lender)
                        + a(t.settlement_token) + w(t.principal) + w(t.fee) + w(t.maturity) + w(t.grace_period)
                        + w(t.accept_by) + w(t.fx_valid_until) + t.shipment_id + t.agreement_hash + t.nonce
                        + self.milestones_hash + self.extra_hash)
        return keccak(b"\x19\x01" + self.domain_separator + struct)

    def prepare(self, manager: str) -> None:
        """Money and standing approvals (through the normal clients, automine on)."""
        treasury = self.c("treasury").token("USD")
        treasury.mint(self.keys["lender"].address, 10**15, keccak(text="bench deposit lender"))
        treasury.mint(self.keys[manager].address, 10**15, keccak(text="bench deposit manager"))
        self.c("lender").token("USD").approve(self.d.deal_engine, 2**255)
        self.c(manager).token("USD").approve(self.d.abs_pools, 2**255)
        self.c("seller").invoices._tx("setApprovalForAll", self.d.receivable_financing, True)

    def deals(self, count: int, gas: dict[str, int]) -> list[tuple[int, int, bytes]]:
        """`count` funded receivable deals: (deal id, invoice id, document hash)."""
        out: list[tuple[int, int, bytes]] = []
        buyer = self.keys["buyer"].address
        for start in range(0, count, CHUNK):
            if available_mb() < MIN_AVAILABLE_MB:
                raise MemoryGuard(f"{available_mb()} MB available after {start:,} of {count:,} assets "
                                  f"(anvil {rss_mb(self.anvil_pid)} MB)")
            n = min(CHUNK, count - start)
            now = self.chain.w3.eth.get_block("latest")["timestamp"]
            docs = [keccak(text=f"bench document {self.seq + i}") for i in range(n)]
            mint = [self.tx["seller"].sign(self.d.invoice_token, self.spec["mint"].encode((InvoiceTerms(
                buyer, f"BENCH-{self.seq + i:07d}", FACE, "USD", now - DAY, now + 60 * DAY, docs[i],
                "bafkreibenchinvoice").as_tuple(),)), gas["mint"]) for i in range(n)]
            invoices = indexed(self.send("InvoiceToken.mint", mint), self.d.invoice_token, self.topics["issued"])
            self.send("InvoiceToken.confirm", [self.tx["buyer"].sign(
                self.d.invoice_token, self.spec["confirm"].encode((i,)), gas["confirm"]) for i in invoices])
            accepts = []
            for i, invoice_id in enumerate(invoices):
                t = self.terms(invoice_id, self.seq + i, now)
                if self.seq + i == 0:
                    assert self.digest(t) == self._engine.local_terms_digest(t), "fast EIP-712 digest differs"
                sig = eip712_sign(self.lender_key, self.digest(t))
                accepts.append(self.tx["seller"].sign(self.d.deal_engine, self.spec["accept"].encode(
                    (t.as_tuple(), b"", sig)), gas["accept"]))
            deal_ids = indexed(self.send("DealEngine.accept", accepts), self.d.deal_engine, self.topics["accepted"])
            self.send("DealEngine.fund", [self.tx["lender"].sign(
                self.d.deal_engine, self.spec["fund"].encode((d,)), gas["fund"]) for d in deal_ids])
            out += list(zip(deal_ids, invoices, docs))
            self.seq += n
        return out

    def pool(self, count: int, gas: dict[str, int], manager: str = "lender_b") -> tuple[int, float]:
        """A pool of `count` new assets, issued; returns (pool id, build seconds)."""
        t0 = time.perf_counter()
        deals = self.deals(count, gas)
        size = count * EXPECTED
        pools = self.c(manager).pools
        with self.automine():
            pool_id = pools.create_pool(PoolParams(self.d.settlement_tokens["USD"], 120 * DAY, 10_000, 300,
                                                   size * 8 // 10, size - size * 8 // 10, f"Bench pool {count:,}"))
        ids = [d for d, _, _ in deals]
        bids = []
        for i in range(0, count, BID_BATCH):
            part = deals[i:i + BID_BATCH]
            bids.append(self.tx[manager].sign(self.d.abs_pools, self.spec["bidMany"].encode(
                (pool_id, [d for d, _, _ in part], [PRICE] * len(part), [h for _, _, h in part])),
                gas["bid"] * len(part) + 200_000))
        approvals = [self.tx["lender"].sign(self.d.deal_engine, self.spec["approveAssignments"].encode(
            (ids[i:i + APPROVE_BATCH], self.d.abs_pools)), gas["approve"] * APPROVE_BATCH + 200_000)
            for i in range(0, count, APPROVE_BATCH)]
        self.send(f"AbsPools.bidMany ({BID_BATCH})", bids)
        self.send(f"DealEngine.approveAssignments ({APPROVE_BATCH})", approvals)
        self.send(f"AbsPools.sellMany ({SELL_BATCH})", [self.tx["lender"].sign(
            self.d.abs_pools, self.spec["sellMany"].encode((pool_id, ids[i:i + SELL_BATCH])),
            gas["sell"] * SELL_BATCH + 300_000) for i in range(0, count, SELL_BATCH)])
        with self.automine():
            leaves = [a.leaf for s in range(0, count, 2_000) for a in pools.assets(pool_id, s, 2_000)]
            pools.issue(pool_id, merkle_root(leaves))
            self.gas.setdefault("AbsPools.issue", []).append(pools.last_receipt["gasUsed"])
        return pool_id, time.perf_counter() - t0


def calibrate(b: Builder) -> dict[str, int]:
    """Gas limits per transaction kind: twice what one asset's steps use, measured through the
    normal clients (automine on)."""
    now = b.chain.w3.eth.get_block("latest")["timestamp"]
    seller, buyer, lender = b.c("seller"), b.c("buyer"), b.c("lender")
    inv = seller.invoices.mint(InvoiceTerms(b.keys["buyer"].address, "BENCH-CALIBRATE", FACE, "USD", now - DAY,
                                            now + 60 * DAY, keccak(text="bench calibrate"), "bafkreibenchinvoice"))
    g = {"mint": seller.invoices.last_receipt["gasUsed"]}
    buyer.invoices.confirm(inv)
    g["confirm"] = buyer.invoices.last_receipt["gasUsed"]
    t = b.terms(inv, -1, now)
    deal = seller.deals.accept(t, b"", eip712_sign(b.lender_key, b.digest(t)))
    g["accept"] = seller.deals.last_receipt["gasUsed"]
    lender.deals.fund(deal)
    g["fund"] = lender.deals.last_receipt["gasUsed"]
    manager = b.c("lender_b").pools
    pid = manager.create_pool(PoolParams(b.d.settlement_tokens["USD"], 120 * DAY, 10_000, 300, EXPECTED, 1,
                                         "Bench calibration"))
    manager.bid(pid, deal, PRICE, keccak(text="bench calibrate"))
    g["bid"] = manager.last_receipt["gasUsed"]
    lender.deals.approve_assignment(deal, b.d.abs_pools)
    g["approve"] = lender.deals.last_receipt["gasUsed"]
    lender.pools.sell(pid, deal)
    g["sell"] = lender.pools.last_receipt["gasUsed"]
    return {k: 2 * v for k, v in g.items()}


# ------------------------------------------------------------------------------------ measuring


def on_one_core(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Runs `fn` with this process pinned to one CPU; returns (result, wall seconds, CPU seconds:
    what the process used of that core, the figure that holds when other work shares it)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - t0, time.process_time() - c0
    finally:
        os.sched_setaffinity(0, before)


def cpu_part(chain: Chain, d: Deployment, pool_id: int, records: list[bytes], facts: list[bytes]) -> dict[str, float]:
    """(a): the tape recomputed from the chain facts with every check, the tree, every proof, the
    running hash; timed on one core, best of three (plus the parts, for the table)."""
    pools = d.clients(chain).pools
    pool = pools.pool(pool_id)

    def everything() -> None:
        checks, leaves, _ = check_assets(pool_id, records, facts, d.receivable_financing, d.abs_pools)
        levels = merkle_levels(leaves)
        assert levels[-1][0] == pool.tape_root and tape_hash(leaves) == pool.tape_hash
        assert all(verify_every_proof(levels, pool.tape_root)) and not any(c.problems for c in checks)

    runs = [on_one_core(everything) for _ in range(3)]
    (_, leaves, _), _, t_leaves = on_one_core(lambda: check_assets(pool_id, records, facts, d.receivable_financing,
                                                                   d.abs_pools))
    levels, _, t_tree = on_one_core(lambda: merkle_levels(leaves))
    _, _, t_proofs = on_one_core(lambda: verify_every_proof(levels, pool.tape_root))
    return {"wall": min(r[1] for r in runs), "cpu": min(r[2] for r in runs), "leaves": t_leaves, "tree": t_tree,
            "proofs": t_proofs}


def read_rate(chain: Chain, d: Deployment, pool_id: int, count: int, **kw) -> tuple[float, list[bytes], list[bytes]]:
    block = hex(chain.w3.eth.block_number)
    lens = d.clients(chain).pool_lens
    t0 = time.perf_counter()
    records, facts = read_asset_rows(chain, lens, pool_id, count, block, **kw)
    seconds = time.perf_counter() - t0
    assert len(records) == len(facts) == count
    return count / seconds, records, facts


def waterfall_gas(b: Builder, pool_id: int, deals: int = 100) -> dict[str, float]:
    """Gas of collecting `deals` repaid assets in one call, of a distribution and of a claim."""
    with b.automine():
        pools = b.c("lender_b").pools
        pool = pools.pool(pool_id)
        assets = pools.assets(pool_id, 0, deals)
        t = b.c("treasury").token("USD")
        t.mint(b.keys["investor"].address, pool.senior_size + pool.junior_size, keccak(text="bench investor"))
        t.mint(b.keys["buyer"].address, deals * FACE, keccak(text="bench buyer"))
        investor = b.c("investor")
        investor.token("USD").approve(b.d.abs_pools, 2**255)
        investor.pools.buy_notes(pool_id, True, pool.senior_size)
        investor.pools.buy_notes(pool_id, False, pool.junior_size)
        b.c("buyer").token("USD").approve(b.d.deal_engine, 2**255)
        for a in assets:
            b.c("buyer").deals.repay(a.deal_id)
        investor.pools.collect(pool_id, [a.deal_id for a in assets])
        out = {f"AbsPools.collect ({deals} repaid assets), per asset": investor.pools.last_receipt["gasUsed"] / deals}
        investor.pools.distribute(pool_id)
        out["AbsPools.distribute (waterfall)"] = investor.pools.last_receipt["gasUsed"]
        investor.pools.claim(pool.senior)
        out["AbsPools.claim"] = investor.pools.last_receipt["gasUsed"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--smoke", action="store_true", help="a 1,000-asset pool only")
    ap.add_argument("--pages", default="100,250,500,1000", help="page sizes of the read sweep (on the largest pool)")
    args = ap.parse_args(argv)
    sizes = [1000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"at start; keccak backend {KECCAK_BACKEND}")
    # anvil keeps a copy of the state per block and every mined transaction with its traces in
    # memory: keep one state (every read is at the head) and the last blocks' transactions
    with Anvil(gas_limit=BLOCK_GAS, extra_args=["--prune-history", "1", "--transaction-block-keeper", "32"]) as node:
        chain = Chain(Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 600})))
        keys = deterministic_keys(DEMO_PARTICIPANTS, seed="bench-pools")
        d = bootstrap(chain, "bench", keys)
        b = Builder(chain, d, keys, anvil_pid=node.proc.pid)
        with b.automine():
            b.prepare("lender_b")
            limits = calibrate(b)
        built: list[tuple[int, int, float]] = []
        for n in sizes:
            try:
                pool_id, seconds = b.pool(n, limits)
            except Exception as exc:  # noqa: BLE001 - measure the pools built so far
                print(f"NOT BUILT: the {n:,}-asset pool: stopped, {type(exc).__name__}: {exc}", flush=True)
                break
            built.append((n, pool_id, seconds))
            print(f"built pool {pool_id}: {n:,} assets in {seconds:,.0f} s ({n / seconds:,.0f} assets/s; "
                  f"load {os.getloadavg()[0]:.2f}; anvil {rss_mb(node.proc.pid):,} MB, "
                  f"{available_mb():,} MB available)", flush=True)

        print("\n(a) tape recomputation with every check + tree + every proof + running hash, one core: CPU "
              "seconds (wall seconds under the machine's load); parts in CPU seconds. (b) chain reads, assets/s.")
        print(f"{'assets':>8} {'build s':>8} {'(a) CPU s':>10} {'(wall)':>7} {'leaves+checks':>14} {'tree':>6}"
              f" {'proofs':>7} {'(b) reads/s':>12} {'verify_pool s':>14} {'ok':>3}")
        rows = []
        for n, pool_id, seconds in built:
            rate, records, facts = read_rate(chain, d, pool_id, n)
            cpu = cpu_part(chain, d, pool_id, records, facts)
            report = verify_pool(chain, d, pool_id)
            rows.append((n, seconds, cpu, rate, report))
            print(f"{n:>8,} {seconds:>8,.0f} {cpu['cpu']:>10.2f} {cpu['wall']:>7.2f} {cpu['leaves']:>14.2f}"
                  f" {cpu['tree']:>6.2f}"
                  f" {cpu['proofs']:>7.2f} {rate:>12,.0f} {report.chain_read_seconds + report.compute_seconds:>14.2f}"
                  f" {'yes' if report.ok else 'NO':>3}", flush=True)

        n, pool_id, _ = built[-1]
        print(f"\nchain reads of the {n:,}-asset pool by page size (assets per eth_call), batch (pages per "
              f"JSON-RPC request), workers (requests in flight): assets/s")
        for page in [int(p) for p in args.pages.split(",")]:
            for batch, workers in ((1, 1), (4, 1), (4, 2), (8, 4)):
                rate = statistics.median(read_rate(chain, d, pool_id, n, page=page, batch=batch, workers=workers)[0]
                                         for _ in range(2 if n <= 10_000 else 1))
                print(f"  page {page:>5}  batch {batch}  workers {workers}: {rate:>8,.0f}", flush=True)

        print("\ngas (mean per transaction; batch sizes in brackets)")
        for label, used in b.gas.items():
            print(f"  {label:<46} {statistics.mean(used):>12,.0f}")
        for label, used in waterfall_gas(b, built[0][1]).items():
            print(f"  {label:<46} {used:>12,.0f}")
        per_asset = {f"AbsPools.bidMany ({BID_BATCH})": BID_BATCH, f"AbsPools.sellMany ({SELL_BATCH})": SELL_BATCH,
                     f"DealEngine.approveAssignments ({APPROVE_BATCH})": APPROVE_BATCH}
        for label, k in per_asset.items():
            print(f"  {label + ', per asset':<46} {statistics.mean(b.gas[label][:-1] or b.gas[label]) / k:>12,.0f}")
        print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(r[4].ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
