"""Write throughput at 1 s blocks, side by side: the chain's per-block gas ceiling, a lean
pre-signed client, and the project's chain client, for permissioned settlement-token transfers,
invoice mints and oracle reports (issue 15, item 5).

Starts anvil with ``--block-time 1`` (`chain.anvil.Anvil(block_time=1)`), deploys the network
with automine on (fast), then switches back to interval mining (1 s) for every measurement:
anvil's automine slows down as the chain grows, interval mining does not, and it is what a
consortium chain does. The chain height at the start and end of each measurement is printed.

Rows (each a `Row` in `ROWS`; more can be added, see `node_api_rows`):

- ceiling: block gas limit / gas used per operation (from receipts), per second of block time;
- lean pre-signed client: every transaction signed first (coincurve, ``chain.signing``) with
  nonces counted locally and a known gas limit, then sent raw over HTTP in JSON-RPC batches
  from one thread, as fast as it goes; inclusion is read from the account nonces;
- chain client: T threads calling the typed clients' ``submit(...)`` (`TxSender` with the
  submission pipeline) then ``wait()`` on every `PendingTx`: with ``precheck=False`` (learned gas
  limits), and with the typed clients' default ``precheck=True`` (one ``eth_call`` per transaction
  before it is sent, so a revert raises first) on the latest block, and on the pipeline's default
  "auto" block (the pending state while the account has transactions in flight);
- node API: 16 and 64 HTTP clients minting invoices through ``POST /invoices`` with ``Prefer:
  respond-async`` (answered at acceptance; the node's threads carry each write to its block), the
  node in a process of its own (its CPU counts as client CPU). Transfers and oracle reports have
  no node API route of their own: n/a.

After the table, reads through the same node API process: ``GET /invoices?limit=50`` and ``GET
/deals?limit=50`` at 1, 16 and 64 clients (one keep-alive connection each, as fast as answers
come): requests a second, p50 and p99, beside issue 15's target.

A rate is the chain's steady rate while the run's transactions are being included: the
transactions of the blocks after the first block that carries any of them up to the block before
the last one, over the wall time between those blocks' arrival (the first and last blocks are
partial). Runs shorter than three blocks fall back to transactions / (last arrival - first send).

Run: .venv/bin/python bench/throughput.py [--seconds 8] [--threads 16] [--runs 1] [--ops transfer,mint,report]
     [--read-seconds 5]
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coincurve import PrivateKey  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils import keccak  # noqa: E402

from chain.anvil import Anvil  # noqa: E402
from chain.client import Chain  # noqa: E402
from chain.clients import InvoiceTerms, ShipmentEvent  # noqa: E402
from chain.clients._base import ContractClient  # noqa: E402
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys  # noqa: E402
from chain.deployment import Deployment  # noqa: E402
from chain.gasbook import gas_key  # noqa: E402
from chain.rpc import HttpRpc, RpcUnavailable  # noqa: E402
from chain.signing import TxSigner  # noqa: E402
from tests.support.localnet import descendants  # noqa: E402
from tradenet.node_client import ApiError, NodeClient, NodeUnreachable, Session  # noqa: E402

BLOCK_TIME = 1


# ------------------------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Op:
    """One transaction: a typed client bound to its signing key, and the call."""

    client: ContractClient
    fn: str
    args: tuple[Any, ...]

    @property
    def account(self) -> LocalAccount:
        assert self.client.account is not None
        return self.client.account


class Workload:
    """Fresh, valid operations of one kind (every call unique, so none reverts)."""

    name: str = ""

    def __init__(self, bench: "Bench"):
        self.bench = bench
        self._serial = 0

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def ops(self, n: int) -> list[Op]:
        raise NotImplementedError


class Transfers(Workload):
    """Permissioned settlement-token transfers of 1 cent between active members, to an existing
    holder, from several senders (each with its own nonce sequence)."""

    name = "transfer"
    senders = ("seller", "seller_ops", "lender", "lender_b", "warehouse", "carrier", "investor", "auditor")
    sink = "buyer"

    def __init__(self, bench: "Bench"):
        super().__init__(bench)
        treasury = bench.clients("treasury").token("USD")
        for key in (*self.senders, self.sink):
            treasury.mint(bench.addr(key), 10**15, keccak(text=f"bench-deposit:{key}"))
        self._tokens = [bench.clients(k).token("USD") for k in self.senders]

    def ops(self, n: int) -> list[Op]:
        sink = self.bench.addr(self.sink)
        return [Op(self._tokens[i % len(self._tokens)], "transfer", (sink, 1)) for i in range(n)]


class Mints(Workload):
    """Invoice mints by the seller's two keys, each invoice with its own number and document."""

    name = "invoice mint"

    def __init__(self, bench: "Bench"):
        super().__init__(bench)
        self._invoices = [bench.clients(k).invoices for k in ("seller", "seller_ops")]
        self._now = bench.now()

    def ops(self, n: int) -> list[Op]:
        buyer = self.bench.addr("buyer")
        out = []
        for i in range(n):
            s = self.next_serial()
            terms = InvoiceTerms(buyer, f"TP-{s:07d}", 1_000_00 + s, "USD", self._now - 86_400, self._now + 60 * 86_400,
                                 keccak(text=f"bench-invoice:{s}"), f"bafkreibench{s:07d}")
            out.append(Op(self._invoices[i % 2], "mint", (terms.as_tuple(),)))
        return out


class Reports(Workload):
    """Oracle shipment reports (2-of-3 signed, no escrow to notify), submitted by the three
    operators; the attestations are signed beforehand (not part of the write path)."""

    name = "oracle report"
    operators = ("oracle_1", "oracle_2", "oracle_3")

    def __init__(self, bench: "Bench"):
        super().__init__(bench)
        self._oracles = [bench.clients(k).oracle for k in self.operators]
        self._signers = [PrivateKey(bytes(bench.keys[k].key)) for k in self.operators[:2]]

    def ops(self, n: int) -> list[Op]:
        now = self.bench.now()
        out = []
        for i in range(n):
            s = self.next_serial()
            ev = ShipmentEvent.from_strings(f"BENCH{s:09d}", "DEPA", "CNSZX", now - 60, f"bench-evidence:{s}")
            digest = self._oracles[0].local_event_id(ev)
            sigs = [_eip712_signature(k, digest) for k in self._signers]
            out.append(Op(self._oracles[i % 3], "submitReport", (ev.as_tuple(), sigs, [])))
        return out


def _eip712_signature(key: PrivateKey, digest: bytes) -> bytes:
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([sig[64] + 27])


WORKLOADS: dict[str, type[Workload]] = {"transfer": Transfers, "mint": Mints, "report": Reports}


# ------------------------------------------------------------------------------------- measuring
@dataclass
class Measurement:
    txs: int
    rate: float  # tx/s, steady (see the module docstring)
    end_to_end: float  # tx/s, all transactions / (last inclusion - first send)
    height: tuple[int, int]  # chain height at start and end
    blocks: int  # blocks that carried the run's transactions
    gas_per_block: float  # mean gas used by the steady blocks (the block gas limit caps it)
    client_cpu_ms: float = 0.0  # CPU of this process per transaction (all its threads)
    node_cpu_ms: float = 0.0  # CPU of the anvil process per transaction

    def detail(self) -> str:
        return (f"{self.txs:,} txs in {self.blocks} blocks, height {self.height[0]:,} -> {self.height[1]:,}, "
                f"steady {self.rate:,.0f} tx/s ({self.gas_per_block / 1e6:.1f}M gas a block), end to end "
                f"{self.end_to_end:,.0f} tx/s; CPU per tx: client {self.client_cpu_ms:.2f} ms, "
                f"anvil {self.node_cpu_ms:.2f} ms")


class BlockClock:
    """Records when each new block arrives (a poll every 10 ms) and how many transactions it has."""

    def __init__(self, rpc: HttpRpc):
        self.rpc = rpc
        self.arrivals: dict[int, tuple[float, int, int]] = {}  # number -> (wall time, txs, gas used)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start_height = self._height()

    def _height(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def _run(self) -> None:
        seen = self.start_height
        while not self._stop.is_set():
            try:
                head = self._height()
                for number in range(seen + 1, head + 1):
                    b = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
                    self.arrivals[number] = (time.monotonic(), len(b["transactions"]), int(b["gasUsed"], 16))
                    seen = number
            except RpcUnavailable as exc:  # an overloaded machine: say so, keep counting
                print(f"block clock: {exc}", file=sys.stderr)
            self._stop.wait(0.01)

    def __enter__(self) -> "BlockClock":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.05)
        self._stop.set()
        self._thread.join()


def rate_of(clock: BlockClock, sent_at: float, txs: int) -> Measurement:
    carrying = sorted(n for n, (_, count, _) in clock.arrivals.items() if count)
    first, last = carrying[0], carrying[-1]
    end_to_end = txs / max(1e-9, clock.arrivals[last][0] - sent_at)
    steady = list(range(first + 1, last))
    if steady:
        rate = (sum(clock.arrivals[n][1] for n in steady)
                / max(1e-9, clock.arrivals[steady[-1]][0] - clock.arrivals[first][0]))
        gas = statistics.mean(clock.arrivals[n][2] for n in steady)
    else:
        rate, gas = end_to_end, statistics.mean(clock.arrivals[n][2] for n in carrying)
    return Measurement(txs, rate, end_to_end, (clock.start_height, max(clock.arrivals)), len(carrying), gas)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (a node's API processes)."""
    total = 0.0
    for p in {pid} | descendants(pid):
        try:
            total += cpu_seconds(p)
        except OSError:  # ended meanwhile
            continue
    return total


class Bench:
    """The network under test and the helpers a row's measure function uses."""

    def __init__(self, anvil: Anvil):
        self.anvil = anvil
        self.chain = Chain.connect(anvil.url)
        self.rpc = HttpRpc(anvil.url)
        self.keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-bench-throughput")
        anvil.rpc("evm_setAutomine", [True])  # deploy fast, then back to 1 s blocks
        self.deployment: Deployment = bootstrap(self.chain, "bench", self.keys)
        self._clients: dict[str, Any] = {}

    def clients(self, key: str) -> Any:
        if key not in self._clients:
            self._clients[key] = self.deployment.clients(self.chain, self.keys[key])
        return self._clients[key]

    def addr(self, key: str) -> str:
        return self.keys[key].address

    def now(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def interval_mining(self) -> None:
        self.anvil.rpc("evm_setAutomine", [False])
        self.anvil.rpc("evm_setIntervalMining", [BLOCK_TIME])

    def height(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block_gas_limit(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)

    def warm_up(self, workload: Workload) -> float:
        """One op per sender through the chain client (learns gas limits, primes nonces);
        returns the median gas used."""
        ops = workload.ops(8)
        used = [op.client.submit(op.fn, *op.args).wait(120)["gasUsed"] for op in ops]
        return statistics.median(used)

    def measure(self, ops: Sequence[Any], send: Callable[[Sequence[Any]], None],
                extra_pid: int | None = None) -> Measurement:
        """Time `send(ops)` (which returns once every transaction is included) on the block clock;
        `extra_pid` (the node API's process, with its API processes) counts as client CPU."""
        assert self.anvil.proc is not None
        node_cpu, client_cpu = cpu_seconds(self.anvil.proc.pid), time.process_time()
        extra_cpu = tree_cpu_seconds(extra_pid) if extra_pid else 0.0
        with BlockClock(self.rpc) as clock:
            sent_at = time.monotonic()
            send(ops)
        m = rate_of(clock, sent_at, len(ops))
        used = time.process_time() - client_cpu + ((tree_cpu_seconds(extra_pid) - extra_cpu) if extra_pid else 0.0)
        m.client_cpu_ms = used / len(ops) * 1e3
        m.node_cpu_ms = (cpu_seconds(self.anvil.proc.pid) - node_cpu) / len(ops) * 1e3
        return m


# ------------------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Row:
    """One line of the table: `measure(bench, workload, n)` sends about `n` fresh transactions of
    the workload and returns a `Measurement`, or None for a computed row (the ceiling)."""

    label: str
    measure: Callable[["Bench", Workload, int], Measurement | None]


def presign(bench: Bench, ops: Sequence[Op]) -> tuple[list[str], dict[str, int]]:
    """Every transaction signed with a locally counted nonce and the learned gas limit; returns
    the raw transactions and each sender's nonce after its last one."""
    nonces: dict[str, int] = {}
    signers: dict[str, TxSigner] = {}
    raws: list[str] = []
    chain_id = bench.chain.chain_id
    for op in ops:
        acct = op.account
        if acct.address not in nonces:
            nonces[acct.address] = int(bench.rpc.call("eth_getTransactionCount", [acct.address, "pending"]), 16)
            signers[acct.address] = TxSigner(acct)
        data = op.client._calldata(op.fn, op.args)
        gas = bench.chain.gas.limit(gas_key(op.client.address, data)) or 1_000_000
        tx = {"to": op.client.address, "data": data, "value": 0, "chainId": chain_id, "gas": gas,
              "nonce": nonces[acct.address], "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        nonces[acct.address] += 1
        raws.append("0x" + signers[acct.address].sign(tx)[0].hex())
    return raws, nonces


def send_lean(bench: Bench, raws: Sequence[str], final_nonces: dict[str, int]) -> None:
    """Send pre-signed transactions raw in batches of 200 from one thread; returns when every
    sender's nonce shows its last transaction mined."""
    rpc = HttpRpc(bench.anvil.url)
    for start in range(0, len(raws), 200):
        for r in rpc.batch([("eth_sendRawTransaction", [raw]) for raw in raws[start:start + 200]]):
            if isinstance(r, Exception):
                raise r
    pending = dict(final_nonces)
    while pending:
        counts = rpc.batch([("eth_getTransactionCount", [a, "latest"]) for a in pending])
        pending = {a: n for (a, n), c in zip(pending.items(), counts) if int(c, 16) < n}
        time.sleep(0.02)
    bench.chain.nonces.resync()  # the chain client's counters did not see these


def measure_lean(bench: Bench, workload: Workload, n: int) -> Measurement:
    raws, final = presign(bench, workload.ops(n))  # before the clock starts
    return bench.measure(raws, lambda r: send_lean(bench, r, final))


def send_chain_client(ops: Sequence[Op], threads: int, precheck: bool) -> None:
    """`threads` threads submitting through the typed clients, then waiting for every receipt."""
    shares = [ops[i::threads] for i in range(threads)]

    def submit_all(share: Sequence[Op]) -> list[Any]:
        return [op.client.submit(op.fn, *op.args, precheck=precheck) for op in share]

    with ThreadPoolExecutor(threads) as pool:
        pendings = [p for batch in pool.map(submit_all, shares) for p in batch]
    for p in pendings:
        if p.wait(300)["status"] != 1:
            raise RuntimeError(f"transaction {p.tx_hash.to_0x_hex()} failed")


def chain_client_row(threads: int, precheck: bool, block: str = "auto") -> Row:
    """The chain client with ``precheck=False`` (learned gas), or with the revert check on
    `block` ("auto": the pending state while the account has transactions in flight, which anvil
    rebuilds from its whole pool for each call; "latest": the last block)."""
    label = f"chain client, {threads} threads, " + (f"precheck on {block}" if precheck else "learned gas")

    def measure(bench: Bench, workload: Workload, n: int) -> Measurement:
        pipeline = bench.chain.pipeline
        before, pipeline.precheck_block = pipeline.precheck_block, block
        try:
            return bench.measure(workload.ops(n), lambda o: send_chain_client(o, threads, precheck))
        finally:
            pipeline.precheck_block = before

    return Row(label, measure)


def _serve_node(rpc_url: str, deployment_file: str, home: str, key_hexes: list[str], port: int,
                threads: int, answer_cache_entries: int | None = None, workers: int = 1,
                member_follow_seconds: float | None = None) -> None:
    """The node API (indexer + API) in a process of its own, signing for the bench's keys; with
    `workers` > 1, that process supervises as many API processes behind the port."""
    from eth_account import Account

    from node_api.server import connect_chain, start_node
    from node_api.settings import NodeSettings

    writes = {"async_write_threads": threads, "async_writes_per_member": threads,
              **({} if answer_cache_entries is None else {"answer_cache_entries": answer_cache_entries}),
              **({} if member_follow_seconds is None else {"member_follow_seconds": member_follow_seconds})}
    settings = NodeSettings(rpc_url=rpc_url, deployment_file=Path(deployment_file),
                            database_url=f"sqlite:///{home}/read-model.db", api_domain=f"127.0.0.1:{port}",
                            api_uri=f"http://127.0.0.1:{port}", document_dir=Path(home) / "documents",
                            concurrency_limit=4_096,
                            **{k: v for k, v in writes.items() if k in NodeSettings.model_fields})  # older nodes: A/B
    keys = [Account.from_key(k) for k in key_hexes]
    if workers > 1:
        from node_api.workers import start_workers

        node = start_workers(settings, connect_chain(settings), keys, workers, port=port)
        signal.signal(signal.SIGTERM, lambda *_: (node.stop(), os._exit(0)))  # the API processes stop with it
    else:
        start_node(settings, connect_chain(settings), keys, port=port)
    threading.Event().wait()


#: every node process the bench started (stopped before the chain)
STARTED: list["NodeApi"] = []


class NodeApi:
    """A node API process over the bench's chain (started on first use, stopped at exit)."""

    def __init__(self, bench: "Bench", threads: int, answer_cache_entries: int | None = None, workers: int = 1,
                 member_follow_seconds: float | None = None):
        import multiprocessing
        import tempfile

        from chain.anvil import free_port

        self.home = Path(tempfile.mkdtemp(prefix="tradenet-bench-node-"))
        deployment_file = bench.deployment.save(self.home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        keys = [bytes(bench.keys[k].key).hex() for k in ("seller", "seller_ops")]
        self.proc = multiprocessing.get_context("spawn").Process(
            target=_serve_node, args=(bench.anvil.url, str(deployment_file), str(self.home), keys, self.port, threads,
                                      answer_cache_entries, workers, member_follow_seconds),
            daemon=workers == 1)  # a daemonic process may not start the API processes
        self.proc.start()
        STARTED.append(self)
        deadline = time.monotonic() + 120
        while True:
            try:
                NodeClient(self.url, timeout=2).health()
                break
            except (NodeUnreachable, ApiError):
                if time.monotonic() > deadline or not self.proc.is_alive():
                    raise RuntimeError("the bench's node API did not start") from None
                time.sleep(0.2)
        self.cpu_pid = self.proc.pid

    def login(self, key: LocalAccount) -> Session:
        """A session on a connection of its own (one keep-alive connection per client thread)."""
        return NodeClient(self.url, timeout=120).login(key)

    def wait_indexed(self, height: int) -> None:
        """Until the node's read model holds block `height` (its indexer catches up on its own)."""
        NodeClient(self.url, timeout=10).wait_indexed(height, timeout=300)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


def _mint_bodies(bench: "Bench", n: int, serial: list[int]) -> list[dict[str, Any]]:
    now, buyer = bench.now(), bench.addr("buyer")
    out = []
    for _ in range(n):
        serial[0] += 1
        s = serial[0]
        out.append({"buyer": buyer, "invoice_number": f"TPA-{s:07d}", "face_value": {"currency": "USD",
                    "minor": 1_000_00 + s}, "issue_date": now - 86_400, "due_date": now + 60 * 86_400,
                    "document_hash": "0x" + keccak(text=f"bench-api-invoice:{s}").hex(),
                    "document_cid": f"bafkreibenchapi{s:07d}"})
    return out


def send_node_api(sessions: Sequence[Session], bodies: Sequence[dict[str, Any]], rpc: HttpRpc) -> None:
    """Every body POSTed to /invoices with ``Prefer: respond-async`` by one thread per session
    (keep-alive connections); returns once every accepted transaction has a receipt."""
    shares = [bodies[i::len(sessions)] for i in range(len(sessions))]

    def post_all(args: tuple[Session, Sequence[dict[str, Any]]]) -> list[str]:
        session, share = args
        hashes = []
        for body in share:
            answer = session.post("/invoices", body, headers={"Prefer": "respond-async"})
            if answer.get("state") != "pending" or not answer.get("tx_hash"):
                raise RuntimeError(f"POST /invoices did not answer asynchronously: {str(answer)[:300]}")
            hashes.append(answer["tx_hash"])
        return hashes

    with ThreadPoolExecutor(len(sessions)) as pool:
        pending = [h for batch in pool.map(post_all, zip(sessions, shares)) for h in batch]
    while pending:
        chunk = pending[:500]
        receipts = dict(zip(chunk, rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk])))
        mined = {h: r for h, r in receipts.items() if isinstance(r, dict)}
        failed = [h for h, r in mined.items() if r["status"] != "0x1"]
        if failed:
            raise RuntimeError(f"{len(failed)} transactions failed, e.g. {failed[0]}")
        pending = [h for h in pending if h not in mined]
        if pending:
            time.sleep(0.05)


#: the node API process of the run (started by the first node API cell; the reads use it too)
NODE: dict[str, Any] = {}
SERIAL = [0]  # invoice numbers minted through the node APIs (each one once, whichever node)


def node_api_rows(clients: Sequence[int] = (16, 64), threads: int = 1024, workers: int = 1) -> list[Row]:
    """The node API with 16 and 64 HTTP clients minting invoices (``POST /invoices`` with ``Prefer:
    respond-async``: answered at acceptance, `threads` node threads carry the writes to their
    blocks), with `workers` API processes. The API has no plain token transfer and takes no oracle
    report (the operators' daemons send those): those cells are n/a."""
    state = NODE
    serial = SERIAL
    name = "node" if workers == 1 else f"node-{workers}"

    def row(count: int) -> Row:
        def measure(bench: Bench, workload: Workload, n: int) -> Measurement | None:
            if not isinstance(workload, Mints):
                return None
            if name not in state:
                state[name] = NodeApi(bench, threads, workers=workers)
                atexit.register(state[name].stop)
            node: NodeApi = state[name]
            keys = [bench.keys[k] for k in ("seller", "seller_ops")]
            sessions = [node.login(keys[i % 2]) for i in range(count)]
            bodies = _mint_bodies(bench, n, serial)
            try:
                return bench.measure(bodies, lambda b: send_node_api(sessions, b, bench.rpc), extra_pid=node.cpu_pid)
            finally:
                for session in sessions:
                    session.node.close()

        shape = "" if workers == 1 else f", {workers} API processes"
        return Row(f"node API, {count} clients, respond-async{shape}", measure)

    return [row(c) for c in clients]


# ------------------------------------------------------------------------------------- reads
READ_PATHS = ("/invoices?limit=50", "/deals?limit=50")
READ_CLIENTS = (1, 16, 64)


def _read_for(url: str, token: str, path: str, until: float, out: list[float]) -> None:
    """GET `path` over one keep-alive connection until `until`; each latency in seconds into `out`."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path} answered {resp.status}")
            out.append(time.perf_counter() - t0)
    finally:
        conn.close()


def reads_table(nodes: Sequence[tuple[str, NodeApi]], bench: "Bench", seconds: float) -> str:
    """Read throughput and latency of node API processes (e.g. with and without the answer
    cache) at 1 / 16 / 64 clients (one keep-alive connection each, as fast as the answers come),
    with issue 15's targets beside them."""
    first = nodes[0][1]
    session = first.login(bench.keys["seller"])
    try:
        totals = {path: session.get(path)["total"] for path in READ_PATHS}
    finally:
        session.node.close()
    held = ", ".join(f"{path.split('?')[0][1:]} {n:,}" for path, n in totals.items())
    lines = [f"reads as the seller (node API process, SQLite read model; the seller's {held}; {seconds:.0f} s a "
             "cell; target >= 1,000 req/s with p99 <= 50 ms at 64 clients)",
             f"{'node':<26} {'endpoint':<22} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"]
    for label, node in nodes:
        session = node.login(bench.keys["seller"])
        session.node.close()
        for path in READ_PATHS:
            for clients in READ_CLIENTS:
                samples: list[list[float]] = [[] for _ in range(clients)]
                until = time.monotonic() + seconds
                started = time.monotonic()
                threads = [threading.Thread(target=_read_for, args=(node.url, session.token, path, until, samples[i]))
                           for i in range(clients)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.monotonic() - started
                lat = sorted(x for one in samples for x in one)
                p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                lines.append(f"{label:<26} {path:<22} {clients:>7} {len(lat) / wall:>8,.0f} {p50 * 1e3:>8.1f} "
                             f"{p99 * 1e3:>8.1f}")
    return "\n".join(lines)


def default_rows(threads: int, api_writes: bool = True, workers: int = 1) -> list[Row]:
    return [Row("lean pre-signed client", measure_lean), chain_client_row(threads, precheck=False),
            chain_client_row(threads, precheck=True, block="latest"),
            chain_client_row(threads, precheck=True, block="auto"), *(node_api_rows() if api_writes else []),
            *(node_api_rows(workers=workers) if api_writes and workers > 1 else [])]


# ------------------------------------------------------------------------------------- table
@dataclass
class Cell:
    rate: float
    ceiling: float

    def render(self) -> str:
        return f"{self.rate:>7,.0f} tx/s {100 * self.rate / self.ceiling:>4.0f}%"


@dataclass
class Table:
    """Rows of cells under one column per workload; any number of rows can be added."""

    columns: list[str]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, label: str, cells: Sequence[str]) -> None:
        self.rows.append((label, list(cells)))

    def render(self) -> str:
        width = max(len(label) for label, _ in self.rows) if self.rows else 10
        col = max(20, *(len(c) for c in self.columns))
        lines = [" " * width + "  " + "  ".join(c.rjust(col) for c in self.columns)]
        lines += [label.ljust(width) + "  " + "  ".join(c.rjust(col) for c in cells) for label, cells in self.rows]
        return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8, help="transactions per run = seconds x ceiling rate")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--runs", type=int, default=1, help="runs per cell (the median is shown)")
    ap.add_argument("--ops", default="transfer,mint,report")
    ap.add_argument("--read-seconds", type=float, default=5, help="per reads cell (0: no reads table)")
    ap.add_argument("--no-api-writes", action="store_true", help="leave out the node API write rows")
    ap.add_argument("--answer-cache-ab", action="store_true",
                    help="read also from a second node process with the answer cache off (side by side)")
    ap.add_argument("--member-cache-ab", action="store_true",
                    help="read also from a node that reads the caller's member record at every request")
    ap.add_argument("--workers", type=int, default=1, metavar="N",
                    help="write and read also through a node of N API processes (tradenet node --workers N)")
    a = ap.parse_args()
    load_start = os.getloadavg()
    with Anvil(block_time=BLOCK_TIME) as anvil:
        bench = Bench(anvil)
        workloads = [WORKLOADS[name](bench) for name in a.ops.split(",")]
        gas_limit = bench.block_gas_limit()
        gas = {w.name: bench.warm_up(w) for w in workloads}
        ceilings = {w.name: gas_limit / gas[w.name] / BLOCK_TIME for w in workloads}
        bench.interval_mining()
        height_start = bench.height()
        table = Table([w.name for w in workloads])
        table.add("gas per operation", [f"{gas[w.name]:,.0f}" for w in workloads])
        table.add(f"ceiling ({gas_limit / 1e6:.0f}M gas / {BLOCK_TIME} s block)",
                  [Cell(ceilings[w.name], ceilings[w.name]).render() for w in workloads])
        details: list[str] = []
        for row in default_rows(a.threads, api_writes=not a.no_api_writes, workers=a.workers):
            cells = []
            for w in workloads:
                n = int(a.seconds * ceilings[w.name])
                runs = [row.measure(bench, w, n) for _ in range(a.runs)]
                runs = [m for m in runs if m is not None]
                if not runs:
                    cells.append("n/a")
                    continue
                rate = statistics.median(m.rate for m in runs)
                cells.append(Cell(rate, ceilings[w.name]).render())
                details += [f"  {row.label} / {w.name}: {m.detail()}" for m in runs]
            table.add(row.label, cells)
        height_end = bench.height()
        reads = ""
        if a.read_seconds > 0:
            if "node" not in NODE:
                NODE["node"] = NodeApi(bench, 1024)
                atexit.register(NODE["node"].stop)
            nodes = [("answers kept (default)", NODE["node"])]
            if a.member_cache_ab:
                per_request = NodeApi(bench, 64, member_follow_seconds=0)
                atexit.register(per_request.stop)
                nodes.append(("member read per request", per_request))
            if a.workers > 1:
                name = f"node-{a.workers}"
                if name not in NODE:
                    NODE[name] = NodeApi(bench, 1024, workers=a.workers)
                    atexit.register(NODE[name].stop)
                nodes.append((f"{a.workers} API processes", NODE[name]))
            if a.answer_cache_ab:
                off = NodeApi(bench, 64, answer_cache_entries=0)
                atexit.register(off.stop)
                nodes.append(("answer cache off", off))
            for _, node in nodes:
                node.wait_indexed(bench.height())
            reads = reads_table(nodes, bench, a.read_seconds)
        for node in STARTED:  # before the chain goes: their indexers would log its absence
            node.stop()
    load_end = os.getloadavg()
    print(f"throughput at {BLOCK_TIME} s blocks (anvil interval mining, free gas), {a.runs} run(s) per cell, "
          f"median shown; {a.threads} client threads")
    print(table.render())
    print(f"chain height {height_start:,} at the start of the measurements, {height_end:,} at the end")
    print(f"load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f} on {os.cpu_count()} cores")
    if reads:
        print(reads)
    print("runs:")
    print("\n".join(details))


if __name__ == "__main__":
    main()
