"""Start and stop geth nodes of a Clique proof-of-authority network on loopback (the consortium
profile's chain): genesis, sealer keys, the node allowlist, and a `CliqueNetwork` of N sealers
and M RPC (non-sealing) nodes.

geth v1.13.15 is the last release that seals Clique blocks (``scripts/build_geth.sh`` builds it).

The node allowlist (who may peer)
---------------------------------
geth has no permissioned-nodes file, but its p2p server enforces an allowlist when configured so
(``config.toml``, section ``Node.P2P``; see go-ethereum ``p2p/server.go``):

* ``DialRatio = 1`` makes every peer slot a dial slot: ``maxInboundConns = MaxPeers -
  MaxPeers/DialRatio = 0``, so an inbound connection is refused (``too many peers``) unless its
  node is **trusted**, which bypasses the limits;
* ``TrustedNodes`` is the allowlist (node ids, i.e. keys proven in the RLPx handshake), and
  ``StaticNodes`` the same list, dialled and redialled by the node;
* ``NoDiscovery = true`` and no bootstrap nodes: the only dials are to the static (allowlisted)
  nodes; ``--netrestrict`` limits both directions to the network's IP ranges (loopback here).

So a node that is not listed can neither connect in (refused after the handshake) nor be dialled.
An organisation that joins is added with ``admin_addTrustedPeer`` + ``admin_addPeer`` on every
node (and in their config files, for restarts): :meth:`CliqueNetwork.add_node`.

Gas-price policy
----------------
London's base fee is on (the compiler's ``paris`` target) and genesis sets it to 0; the nodes
accept and mine transactions that tip nothing (minimum tip 0: geth 1.13 sanitises a zero
``--miner.gasprice`` to 1 gwei, so :meth:`GethNode.start` sets it with ``miner_setGasPrice``).
The base fee stays 0 while blocks use at most half the block gas limit (the EIP-1559 target: 30 M
of 60 M gas, about 680 settlement transfers a second); a block above the target raises it, and
it never falls back to 0 (EIP-1559's integer rounding stops its fall at a few wei). So gas is
free in normal operation and costs a few wei per gas after saturation: every account holds a gas
allowance of network ether (no value outside the network; in genesis, and sent by the operator
to members admitted later), and clients price with :data:`FEE_POLICY` (EIP-1559, no tip, a fee
cap of at least 1 gwei, of which only the base fee is paid) so that a transaction signed at base
fee 0 stays mineable if the base fee rises before it is included.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys as eth_keys
from web3 import Web3

from .anvil import GAS_LIMIT, free_port, stop_process_group
from .client import poa_compatible
from .fsutil import atomic_write
from .settings import PROJECT_ROOT, settings
from .tx import FeePolicy

log = logging.getLogger(__name__)

GETH_VERSION = "1.13.15"
#: The consortium network's own chain id (and devp2p network id).
CHAIN_ID = 2026
BLOCK_PERIOD = 1
#: Clique epoch: votes are reset and the signer list checkpointed in the header every EPOCH blocks.
EPOCH = 30_000
#: Peer slots of a node (all of them dial slots, see the module docstring): the network's size bound.
MAX_PEERS = 50
#: The network's IP ranges (``--netrestrict``): loopback for the local profile.
NET_RESTRICT = "127.0.0.0/8"
#: Network ether given to every genesis account (the gas allowance; see the gas-price policy).
GAS_ALLOWANCE = 10**24
#: How clients price transactions on the network (see the gas-price policy above).
FEE_POLICY = FeePolicy(min_fee_cap=10**9)
#: the fee modes a process may be configured with (``fee_mode`` of the node API and the oracle)
FEE_MODES = ("eip1559", "legacy", "geth")
#: JSON-RPC namespaces on the node's HTTP endpoint (loopback only; see docs/deployment.md).
HTTP_APIS = "eth,net,web3,txpool,clique,admin,miner"
#: Light scrypt work factor for the sealer keystore files of throw-away local networks.
LOCAL_SCRYPT_N = 2**14


class GethError(RuntimeError):
    pass


def geth_binary() -> Path:
    """``TRADENET_GETH_BINARY``, else the pinned build of ``scripts/build_geth.sh`` (a no-op
    once built; builds from source the first time, about 5 minutes)."""
    if settings.geth_binary is not None:
        return settings.geth_binary
    done = subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "build_geth.sh")], check=True,
                          stdout=subprocess.PIPE, text=True)
    return Path(done.stdout.strip().splitlines()[-1])


def fee_policy(mode: str) -> FeePolicy:
    """The fee policy of a configured ``fee_mode``: ``eip1559`` prices from the base fee (anvil,
    free-gas chains), ``legacy`` a fixed gas price of 0, ``geth`` is :data:`FEE_POLICY` (a geth
    Clique network: the base fee can rise above 0, so the fee cap has a floor)."""
    if mode == "geth":
        return FEE_POLICY
    if mode in FEE_MODES:
        return FeePolicy(mode=mode)
    raise ValueError(f"unknown fee mode {mode!r}: one of {', '.join(FEE_MODES)}")


def clique_confirmations(signers: int) -> int:
    """The confirmation depth for a Clique network of `signers` sealers: floor(N/2)+1 blocks.

    Clique lets a sealer sign at most one of any floor(N/2)+1 consecutive blocks, so that many
    blocks on top of a block are signed by that many distinct sealers: a strict majority of the
    signer set has built on it. Out-of-turn races (the usual Clique reorg) are one or two blocks
    deep; a reorg deeper than this needs a majority of sealers to sign a competing branch (a
    partition, or misbehaviour), and the indexer still rolls it back if it happens."""
    if signers < 1:
        raise ValueError("a Clique network needs at least one signer")
    return signers // 2 + 1


def clique_extra_data(signers: Iterable[str]) -> str:
    """Genesis ``extraData``: 32 vanity bytes, the signer addresses (ascending), 65 zero bytes
    (the seal)."""
    addrs = sorted(Web3.to_checksum_address(a)[2:].lower() for a in signers)
    if not addrs:
        raise ValueError("a Clique genesis needs at least one signer")
    return "0x" + "00" * 32 + "".join(addrs) + "00" * 65


def clique_genesis(
    signers: Sequence[str],
    *,
    chain_id: int = CHAIN_ID,
    period: int = BLOCK_PERIOD,
    epoch: int = EPOCH,
    gas_limit: int = GAS_LIMIT,
    alloc: Mapping[str, int] | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A Clique genesis for geth 1.13: every fork up to London at block 0 (what the compiler's
    ``paris`` target needs: no PUSH0, which came with Shanghai), no terminal total difficulty (a
    pure proof-of-authority chain: geth expects no beacon client), base fee 0."""
    forks = ("homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg",
             "istanbul", "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier")
    config: dict[str, Any] = {"chainId": chain_id, **{f"{f}Block": 0 for f in forks},
                              "clique": {"period": period, "epoch": epoch}}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) if timestamp is None else timestamp),
        "extraData": clique_extra_data(signers),
        "gasLimit": hex(gas_limit),
        "difficulty": "0x1",
        "baseFeePerGas": "0x0",
        "coinbase": "0x" + "00" * 20,
        "alloc": {Web3.to_checksum_address(a)[2:].lower(): {"balance": hex(v)} for a, v in (alloc or {}).items()},
    }


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


@dataclass(frozen=True)
class NodeSpec:
    """One node of the network: its name (the organisation's), and for a sealer its signing key
    (``genesis_signer``: in the genesis signer list, else it seals only once voted in)."""

    name: str
    sealer: LocalAccount | None = None
    genesis_signer: bool = True


class GethNode:
    """One geth process on loopback: its data directory (chain data, node key, sealer keystore,
    config), HTTP JSON-RPC, p2p and engine-API ports. start()/stop(); restarts keep the ports."""

    def __init__(self, spec: NodeSpec, datadir: Path, *, chain_id: int = CHAIN_ID, binary: Path | None = None,
                 verbosity: int = 2, cache_mb: int = 128, extra_args: Sequence[str] = ()):
        self.spec = spec
        self.name = spec.name
        self.datadir = Path(datadir)
        self.chain_id = chain_id
        self.binary = binary
        self.verbosity = verbosity
        self.cache_mb = cache_mb
        self.extra_args = list(extra_args)
        self.http_port = free_port()
        self.p2p_port = free_port()
        self.authrpc_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.w3 = poa_compatible(Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30})))

    # -- identity
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def sealer_address(self) -> str | None:
        return self.spec.sealer.address if self.spec.sealer else None

    @property
    def node_key_path(self) -> Path:
        return self.datadir / "geth" / "nodekey"  # where geth looks for its p2p identity

    def node_key(self) -> bytes:
        """The node's p2p identity key (created on first use)."""
        path = self.node_key_path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, secrets.token_hex(32), mode=0o600)
        return bytes.fromhex(path.read_text().strip())

    @property
    def enode(self) -> str:
        pub = eth_keys.PrivateKey(self.node_key()).public_key.to_hex()[2:]
        return f"enode://{pub}@127.0.0.1:{self.p2p_port}"

    @property
    def node_id(self) -> str:
        """The enode's public key (hex, no 0x), as admin_peers' ``enode`` fields carry it."""
        return self.enode.split("//", 1)[1].split("@", 1)[0]

    # -- files
    def prepare(self, genesis_file: Path, allowlist: Sequence[str], password: str | None = None) -> None:
        """Create the data directory: node key, sealer keystore and password file, the allowlist
        config, and the chain initialised from `genesis_file` (once)."""
        self.datadir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.node_key()
        if self.spec.sealer is not None:
            password = password or secrets.token_urlsafe(24)
            ks = self.datadir / "keystore"
            ks.mkdir(exist_ok=True, mode=0o700)
            if not any(ks.iterdir()):
                enc = Account.encrypt(self.spec.sealer.key, password, kdf="scrypt", iterations=LOCAL_SCRYPT_N)
                atomic_write(ks / f"sealer-{self.spec.sealer.address.lower()}.json", json.dumps(enc))
                atomic_write(self.password_file, password)
        self.write_config(allowlist)
        if not (self.datadir / "geth" / "chaindata").exists():
            out = subprocess.run([str(self._binary()), "--datadir", str(self.datadir), "init", str(genesis_file)],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise GethError(f"geth init of {self.name} failed: {out.stderr[-2000:]}")

    @property
    def password_file(self) -> Path:
        return self.datadir / "sealer.password"

    @property
    def config_file(self) -> Path:
        return self.datadir / "config.toml"

    def write_config(self, allowlist: Sequence[str]) -> None:
        """``config.toml``: p2p on loopback, discovery off, the allowlist (see the module docstring).
        `allowlist` is every enode of the network; the node's own (by node id: a restored node
        keeps its key but may get other ports) is left out."""
        others = [e for e in allowlist if e.split("//", 1)[1].split("@", 1)[0] != self.node_id]
        text = "\n".join([
            "[Node.P2P]",
            f"MaxPeers = {MAX_PEERS}",
            "DialRatio = 1",
            "NoDiscovery = true",
            "BootstrapNodes = []",
            "BootstrapNodesV5 = []",
            f"StaticNodes = {_toml_list(others)}",
            f"TrustedNodes = {_toml_list(others)}",
            f'ListenAddr = "127.0.0.1:{self.p2p_port}"',
            "",
        ])
        atomic_write(self.config_file, text)

    @property
    def log_file(self) -> Path:
        return self.datadir / "geth.log"

    # -- process
    def _binary(self) -> Path:
        if self.binary is None:
            self.binary = geth_binary()
        return self.binary

    def command(self) -> list[str]:
        cmd = [
            str(self._binary()), "--datadir", str(self.datadir), "--config", str(self.config_file),
            "--networkid", str(self.chain_id), "--syncmode", "full", "--nat", "none",
            "--netrestrict", NET_RESTRICT, "--ipcdisable",
            "--http", "--http.addr", "127.0.0.1", "--http.port", str(self.http_port), "--http.api", HTTP_APIS,
            "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(self.authrpc_port),
            "--txpool.pricelimit", "0", "--miner.gasprice", "0", "--miner.gaslimit", str(GAS_LIMIT),
            "--cache", str(self.cache_mb), "--verbosity", str(self.verbosity),
        ]
        if self.spec.sealer is not None:
            addr = self.spec.sealer.address
            # no --mine: sealing starts with start_sealing(), once the node is peered
            cmd += ["--miner.etherbase", addr, "--unlock", addr, "--password", str(self.password_file),
                    "--allow-insecure-unlock"]  # HTTP is on loopback only
        return cmd + self.extra_args

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0) -> "GethNode":
        """Start geth and wait for its RPC; then set the free-gas policy (see below). A sealer
        does not seal until :meth:`start_sealing`."""
        if self.running:
            return self
        with open(self.log_file, "ab") as logf:
            self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        probe = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + timeout
        self._until(lambda: probe.eth.chain_id == self.chain_id, deadline, f"answer on {self.url}")
        # geth 1.13 sanitises a zero --miner.gasprice to 1 gwei (and --txpool.pricelimit 0 to 1 wei),
        # and its miner skips remote transactions that tip less: the zero minimum tip of the free-gas
        # policy is set at run time instead (pool and miner; not persisted, so after every start).
        self.rpc("miner_setGasPrice", ["0x0"])
        if self.spec.sealer is not None:
            # geth answers RPC before ``--unlock`` has decrypted the sealer key (seen here: a seal
            # attempted 30 ms after RPC came up, the key unlocked 12 ms later). That seal fails
            # ("authentication needed: password or unlock"), and geth only tries again on a new
            # head or a new transaction: a sealer restarted into a halted chain (too few sealers
            # left) would then never sign the block that resumes it.
            self._until(self.can_sign, max(deadline, time.monotonic() + 1.0), "unlock its sealer key")
        log.info("geth %s up at %s", self.name, self.url)
        return self

    def _until(self, cond: Any, deadline: float, what: str) -> None:
        """Poll `cond` (an exception counts as not yet) until it holds; a geth that exits, or does
        not get there by `deadline` (then stopped), raises GethError with its log's tail."""
        while True:
            try:
                if cond():
                    return
            except Exception:  # noqa: BLE001 - still starting
                pass
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                self.proc = None
                raise GethError(f"geth {self.name} exited with {code} before it could {what}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise GethError(f"geth {self.name} did not {what} in time: {self.log_tail()}")
            time.sleep(0.05)

    def can_sign(self) -> bool:
        """Whether the sealer key is unlocked (geth signs a probe message with it)."""
        try:
            self.rpc("eth_sign", [self.spec.sealer.address, "0x" + b"tradenet sealer probe".hex()])
            return True
        except GethError:
            return False

    def start_sealing(self, timeout: float = 60.0) -> None:
        """Start the sealer's miner (Clique signs with the unlocked etherbase key). Sealers start
        sealing only once peered: sealers that seal alone at genesis can fork the first blocks so
        that no branch has enough distinct signers left to go on (a Clique deadlock)."""
        if self.spec.sealer is None:
            raise GethError(f"{self.name} is not a sealer node")
        # geth 1.13 clears its "syncing" flag only after restarting the miner at the end of a
        # sync, so a miner started during a sync can lose its first seal attempt the same way
        # (see start): start it once the sync is over.
        _wait(lambda: not self.syncing(), timeout, f"{self.name} to finish syncing")
        self.rpc("miner_start")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the node's process group (geth flushes its database), SIGKILL after `timeout`."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process_group(proc, timeout)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    # -- JSON-RPC
    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        resp = self.w3.provider.make_request(method, params or [])
        if "error" in resp:
            raise GethError(f"{self.name} {method}: {resp['error']}")
        return resp.get("result")

    def syncing(self) -> bool:
        """Whether the node is downloading blocks it knows a peer has (``eth_syncing`` also
        reports the transaction index still being built, which is not a sync)."""
        progress = self.rpc("eth_syncing")
        return bool(progress) and int(progress["currentBlock"], 16) < int(progress["highestBlock"], 16)

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        block = self.rpc("eth_getBlockByNumber", [hex(number), False])
        return block["hash"] if block else None

    def peer_ids(self) -> set[str]:
        """Node ids (public keys, hex) of the connected peers."""
        return {p["enode"].split("//", 1)[1].split("@", 1)[0] for p in self.rpc("admin_peers")}

    def allow(self, enode: str) -> None:
        """Admit a node at runtime: trust it (the allowlist) and dial it."""
        self.rpc("admin_addTrustedPeer", [enode])
        self.rpc("admin_addPeer", [enode])

    def signers(self) -> list[str]:
        """The Clique signer set at the head (checksummed, sorted)."""
        return sorted(Web3.to_checksum_address(a) for a in self.rpc("clique_getSigners"))

    def propose(self, address: str, authorize: bool) -> None:
        """Cast (and keep casting, in the blocks this sealer seals) a Clique vote."""
        self.rpc("clique_propose", [Web3.to_checksum_address(address), authorize])

    def discard(self, address: str) -> None:
        self.rpc("clique_discard", [Web3.to_checksum_address(address)])

    def proposals(self) -> dict[str, bool]:
        return {Web3.to_checksum_address(a): bool(v) for a, v in (self.rpc("clique_proposals") or {}).items()}


class CliqueNetwork:
    """N sealers and M RPC nodes of one Clique chain under `root` (one data directory per node),
    all allowlisted static peers of each other. ``with CliqueNetwork(...) as net:`` or
    start()/stop(); ``net.urls`` maps node names to their RPC URLs."""

    def __init__(
        self,
        root: Path,
        specs: Sequence[NodeSpec],
        *,
        chain_id: int = CHAIN_ID,
        period: int = BLOCK_PERIOD,
        alloc: Mapping[str, int] | None = None,
        binary: Path | None = None,
        verbosity: int = 2,
        extra_args: Sequence[str] = (),
    ):
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique: {names}")
        self.root = Path(root)
        self.binary = binary or geth_binary()
        self.chain_id = chain_id
        self.period = period
        self.alloc = dict(alloc or {})
        self.verbosity = verbosity
        self.extra_args = list(extra_args)  # for every node, e.g. txpool sizes
        self.nodes: dict[str, GethNode] = {}
        for spec in specs:
            self._new_node(spec)

    def _new_node(self, spec: NodeSpec) -> GethNode:
        node = GethNode(spec, self.root / spec.name, chain_id=self.chain_id, binary=self.binary,
                        verbosity=self.verbosity, extra_args=self.extra_args)
        self.nodes[spec.name] = node
        return node

    # -- layout
    @property
    def genesis_file(self) -> Path:
        return self.root / "genesis.json"

    @property
    def genesis_signers(self) -> list[str]:
        return sorted(n.spec.sealer.address for n in self.nodes.values() if n.spec.sealer and n.spec.genesis_signer)

    @property
    def allowlist(self) -> list[str]:
        return [n.enode for n in self.nodes.values()]

    @property
    def urls(self) -> dict[str, str]:
        return {name: n.url for name, n in self.nodes.items()}

    @property
    def sealers(self) -> list[GethNode]:
        return [n for n in self.nodes.values() if n.spec.sealer is not None]

    def running(self) -> list[GethNode]:
        return [n for n in self.nodes.values() if n.running]

    def __getitem__(self, name: str) -> GethNode:
        return self.nodes[name]

    # -- life cycle
    def start(self, timeout: float = 120.0) -> "CliqueNetwork":
        """Write the genesis (once), prepare and start every node, wait until they are peered,
        blocks are being sealed and every node has the same head."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.genesis_file.exists():
            genesis = clique_genesis(self.genesis_signers, chain_id=self.chain_id, period=self.period,
                                     alloc=self.alloc)
            atomic_write(self.genesis_file, json.dumps(genesis, indent=2), mode=0o644)
        allowlist = self.allowlist
        try:
            for node in self.nodes.values():
                node.prepare(self.genesis_file, allowlist)
            for node in self.nodes.values():
                node.start()
            self.wait_peered(timeout=timeout)
            for node in self.sealers:
                node.start_sealing()
            self.wait_for_block(2, timeout=timeout)
            self.wait_in_sync(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def __enter__(self) -> "CliqueNetwork":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_node(self, spec: NodeSpec, timeout: float = 120.0) -> GethNode:
        """A new organisation's node joins: every running node allowlists it (at runtime and in
        its config file), then it starts with the whole allowlist and syncs the chain."""
        node = self._new_node(spec)
        allowlist = self.allowlist
        node.prepare(self.genesis_file, allowlist)
        for other in self.nodes.values():
            if other is node:
                continue
            other.write_config(allowlist)
            if other.running:
                other.allow(node.enode)
        self.start_node(node.name, timeout)
        return node

    def start_node(self, name: str, timeout: float = 120.0) -> GethNode:
        """Start (or restart) one node: once it is peered and has caught up with the running
        nodes, a sealer starts sealing."""
        node = self.nodes[name]
        node.start()
        self.wait_peered(timeout=timeout)
        self.wait_in_sync(timeout=timeout)
        if node.spec.sealer is not None:
            node.start_sealing(timeout)
        return node

    def stop_node(self, name: str) -> None:
        self.nodes[name].stop()

    # -- waiting
    def wait_peered(self, timeout: float = 60.0) -> None:
        """Until every running node is connected to every other running node."""
        def done() -> bool:
            nodes = self.running()
            ids = {n.name: n.node_id for n in nodes}
            return all({ids[o.name] for o in nodes if o is not n} <= n.peer_ids() for n in nodes)
        _wait(done, timeout, "nodes to peer", self)

    def heads(self) -> dict[str, int]:
        return {n.name: n.block_number() for n in self.running()}

    def wait_for_block(self, number: int, timeout: float = 60.0, nodes: Sequence[GethNode] | None = None) -> None:
        _wait(lambda: all(n.block_number() >= number for n in (nodes or self.running())), timeout,
              f"block {number}", self)

    def in_sync(self) -> bool:
        """Every running node has the same block at the lowest head, and no head is more than one
        block ahead of it (1 s blocks keep arriving, so heads are compared with that slack)."""
        nodes = self.running()
        heads = [n.block_number() for n in nodes]
        low = min(heads)
        return max(heads) - low <= 1 and len({n.block_hash(low) for n in nodes}) == 1

    def wait_in_sync(self, timeout: float = 60.0) -> None:
        _wait(self.in_sync, timeout, "every node to reach the same head", self)


def _wait(cond: Any, timeout: float, what: str, net: CliqueNetwork | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception as exc:  # a node still starting or restarting
            log.debug("waiting for %s: %s", what, exc)
        time.sleep(0.2)
    detail = ""
    if net is not None:
        detail = "; ".join(f"{n.name}: {_safe(n.block_number)}" for n in net.running())
    raise GethError(f"timed out after {timeout}s waiting for {what} ({detail})")


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:
        return f"error {exc}"
