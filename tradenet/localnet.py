"""The embedded local network (`tradenet up`): anvil, an encrypted demo keystore, deployment,
the node API with its indexer, three oracle operator daemons, and the demo trade played through
the node API; then it stays up until SIGINT / SIGTERM and stops everything it started.

Ports are fixed and documented (docs/demo.md): anvil 8545, the node API 8000, the oracle
operators 8701-8703. A taken port is refused before anything starts, naming the port.

The chain's clock is never moved: anvil mines on demand while the demo plays (fast) and then a
block every second, so chain time follows the wall clock and carrier events and FX rates posted
later are fresh on chain.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from eth_account.signers.local import LocalAccount

from chain.anvil import Anvil, free_port
from chain.client import Chain
from chain.clients import shipment_id
from chain.consortium import DEMO_PARTICIPANTS, Participant, bootstrap
from chain.deployment import Deployment
from chain.fsutil import atomic_write
from chain.keystore import Keystore, read_password
from chain.settings import PROJECT_ROOT, settings
from node_api.server import RunningNode, start_node
from node_api.settings import NodeSettings
from oracle.cluster import OperatorCluster, wait_for
from oracle.credentials import credential_document
from oracle.normalize import canonical_json
from oracle.samples import transport_event

from .node_client import NodeClient
from .scenario import Narrator, Players, demo_cast, iso_time, run_core_trade, run_shipment_finance

log = logging.getLogger(__name__)

# The demo keystore uses a lighter scrypt work factor than the production default (2**18) so the
# local network starts in seconds; keys are still never stored in plaintext.
DEMO_SCRYPT_N = 2**14

CHAIN_PORT, API_PORT, ORACLE_PORTS = 8545, 8000, (8701, 8702, 8703)
ORACLES = ("oracle_1", "oracle_2", "oracle_3")
CARRIER_ID = "oceanic"
#: After the demo, anvil mines a block every BLOCK_TIME seconds (chain time = wall time +- a block).
BLOCK_TIME = 1
READY = "tradenet up: ready"


@dataclass(frozen=True)
class Ports:
    chain: int = CHAIN_PORT
    api: int = API_PORT
    oracles: tuple[int, ...] = ORACLE_PORTS

    def named(self) -> dict[str, int]:
        return {"anvil chain RPC": self.chain, "node API": self.api,
                **{f"oracle operator {n}": p for n, p in zip(ORACLES, self.oracles)}}


class PortsTaken(RuntimeError):
    def __init__(self, taken: dict[str, int]):
        listed = ", ".join(f"{p} ({what})" for what, p in taken.items())
        super().__init__(f"tradenet up: port{'s' if len(taken) > 1 else ''} {listed} already in use; stop what holds "
                         f"{'them' if len(taken) > 1 else 'it'} or choose others (--port, --api-port, --oracle-ports)")
        self.taken = taken


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed socket in TIME_WAIT is free
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_ports(ports: Ports) -> None:
    named = ports.named()
    if len(set(named.values())) != len(named):
        raise PortsTaken({w: p for w, p in named.items() if list(named.values()).count(p) > 1})
    taken = {what: p for what, p in named.items() if port_in_use(p)}
    if taken:
        raise PortsTaken(taken)


def demo_keystore(home: Path) -> tuple[Keystore, str]:
    """The local network's keystore and its password (TRADENET_KEYSTORE_PASSWORD, or a random
    password kept in a 0600 file beside the keystore the first time)."""
    ks = Keystore(home / "keystore", scrypt_n=DEMO_SCRYPT_N)
    if os.environ.get("TRADENET_KEYSTORE_PASSWORD"):
        return ks, read_password()
    pw_file = home / "keystore.password"
    if not pw_file.exists():
        home.mkdir(parents=True, exist_ok=True)
        atomic_write(pw_file, secrets.token_urlsafe(24), mode=0o600)
    return ks, read_password(password_file=pw_file)


def load_or_create_keys(ks: Keystore, password: str, participants: list[Participant]) -> dict[str, LocalAccount]:
    existing = set(ks.names())
    keys = {}
    for p in participants:
        keys[p.key] = ks.load(p.key, password) if p.key in existing else ks.create(p.key, password)
    return keys


@dataclass
class LocalNetwork:
    anvil: Anvil
    chain: Chain
    deployment: Deployment
    keys: dict[str, LocalAccount]

    def stop(self) -> None:
        self.anvil.stop()


def start_local_network(port: int = CHAIN_PORT, home: Path | None = None, say: Narrator | None = None) -> LocalNetwork:
    home = home or settings.home / "local"
    say = say or Narrator()
    participants = list(DEMO_PARTICIPANTS)
    ks, password = demo_keystore(home)
    keys = load_or_create_keys(ks, password, participants)
    anvil = Anvil(port)
    try:
        anvil.start()  # inside the try: a signal while it starts still stops it
        chain = Chain.connect(anvil.url)
        say(f"Local permissioned chain (anvil, chain id {chain.chain_id}, free gas) is up at {anvil.url}; it mines a "
            f"block per transaction while the demo plays, then one every {BLOCK_TIME} s. Its clock is never moved: "
            f"chain time is wall time.")
        deployment = bootstrap(chain, "local", keys, participants)
        path = deployment.save()
        say(f"Contracts deployed (registry {deployment.registry}); addresses written to {path}.")
        return LocalNetwork(anvil, chain, deployment, keys)
    except BaseException:
        anvil.stop()
        raise


def start_node_api(net: LocalNetwork, home: Path, api_port: int) -> RunningNode:
    """The demo node: indexer + API, holding every demo participant's key (custodial mode)."""
    db = home / "indexer.db"
    for stale in home.glob("indexer.db*"):  # a new chain every run: start the read model afresh
        stale.unlink()
    docs = home / "documents"
    node_settings = NodeSettings(
        network=net.deployment.network, rpc_url=net.anvil.url, deployment_file=net.deployment.path(),
        database_url=f"sqlite:///{db}", api_domain=f"127.0.0.1:{api_port}", api_uri=f"http://127.0.0.1:{api_port}",
        document_dir=docs, demo_login=True)  # the dashboard's demo-key picker: demo node only
    return start_node(node_settings, net.chain, list(net.keys.values()), port=api_port)


@dataclass(frozen=True)
class CarrierAccess:
    """What a carrier needs to post events: its source id, its secret's file, the operators' URLs."""

    source: str
    secret_file: Path
    urls: tuple[str, ...]

    @property
    def secret(self) -> str:
        return self.secret_file.read_text().strip()


def start_oracle_operators(net: LocalNetwork, home: Path, password: str,
                           ports: tuple[int, ...] = ORACLE_PORTS) -> tuple[OperatorCluster, CarrierAccess]:
    """The three ORACLE members' operator daemons (k = 2), one process each, on loopback.

    Their credential file (``oracles/credentials.json``, mode 600) binds the carrier source
    ``oceanic`` to the demo ``carrier`` member's account (an active LOGISTICS member) and names an
    FX source ``fx-feed``. The carrier's own copy of its secret is ``carrier/oceanic.secret``
    (mode 600), beside a sample event (``carrier/sample-event.json``)."""
    workdir = home / "oracles"
    shutil.rmtree(workdir, ignore_errors=True)  # a new chain every run: operators start afresh
    carrier_secret = secrets.token_urlsafe(32)
    credentials = credential_document({CARRIER_ID: (net.keys["carrier"].address, carrier_secret)},
                                      {"fx-feed": secrets.token_urlsafe(32)})
    cluster = OperatorCluster(keys=net.keys, deployment=net.deployment, rpc_url=net.anvil.url,
                              artifacts=net.chain.artifacts, workdir=workdir, credentials=credentials,
                              password=password, scrypt_n=DEMO_SCRYPT_N, ports=dict(zip(ORACLES, ports)))
    carrier_dir = home / "carrier"
    carrier_dir.mkdir(parents=True, exist_ok=True)
    secret_file = atomic_write(carrier_dir / f"{CARRIER_ID}.secret", carrier_secret + "\n", mode=0o600)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster, CarrierAccess(CARRIER_ID, Path(secret_file), tuple(op.url for op in cluster.ops.values()))


def carrier_event(reference: str, code: str, locode: str) -> dict:
    """The carrier's DCSA v2.2 transport event, observed a minute ago (wall clock = chain clock)."""
    return transport_event(reference, code, locode, when=time.time() - 60)


def carrier_poster(cluster: OperatorCluster, access: CarrierAccess) -> Callable[[dict], None]:
    """The carrier sends each event to every operator it has a contract with (HMAC-signed with
    its ``oceanic`` credential); at least one must accept it (2xx), a refusal is logged."""
    secret = access.secret

    def post(event: dict) -> None:
        answers = []
        for op in cluster.ops.values():
            if not op.running:
                continue
            client = op.carrier(access.source, secret)
            try:
                r = client.post_event(event)
            finally:
                client.close()
            answers.append(r.status_code)
            if r.status_code >= 300:
                log.warning("operator %s refused the carrier event %s: %d %s", op.name, event.get("eventID"),
                            r.status_code, r.text[:300])
        if not any(200 <= a < 300 for a in answers):
            raise RuntimeError(f"no operator accepted the carrier event: {answers}")

    return post


def shipper(net: LocalNetwork, post: Callable[[dict], None], timeout: float = 60.0) -> Callable[[str, str, str], None]:
    """`ship(reference, code, locode)`: the carrier's event to the operators, back once the
    quorum's report is confirmed on chain (the products' demo runs use it)."""
    oracle = net.deployment.clients(net.chain).oracle

    def ship(reference: str, code: str, locode: str) -> None:
        post(carrier_event(reference, code, locode))
        wait_for(lambda: oracle.is_confirmed(shipment_id(reference), code, locode), timeout, 0.1,
                 f"the oracle quorum to confirm {code} at {locode} for {reference}")
        time.sleep(1.0)  # deals the report could not name are poked right after it

    return ship


def play_default_story(keys: dict[str, LocalAccount], say: Narrator) -> int:
    """The default story on a throw-away anvil (a free port, its own deployment, never saved),
    whose clock is moved past maturity and grace; stopped afterwards. Returns the deal id."""
    from .demo_products import default_story

    scratch = Anvil(free_port())
    try:
        scratch.start()
        chain = Chain.connect(scratch.url)
        deployment = bootstrap(chain, "throwaway", keys, list(DEMO_PARTICIPANTS))

        def advance(seconds: int) -> None:
            scratch.rpc("evm_increaseTime", [seconds])
            scratch.mine()

        return default_story(demo_cast(chain, deployment, keys), say, advance)
    finally:
        scratch.stop()


def follow_chain_clock(net: LocalNetwork, block_time: int = BLOCK_TIME) -> dict[str, float]:
    """From now on anvil mines a block every `block_time` seconds (no clock is moved); returns
    the block, its chain time and the wall time when it was seen (seconds, with a fraction: the
    skew of a block is within (-1, 0] plus the time it took to see it)."""
    net.anvil.rpc("evm_setIntervalMining", [block_time])
    head = net.chain.w3.eth.block_number
    wait_for(lambda: net.chain.w3.eth.block_number > head, 10 * block_time + 5, 0.1, "the next block")
    block = net.chain.w3.eth.get_block("latest")
    return {"block": block["number"], "chain_time": int(block["timestamp"]), "wall_time": time.time()}


def _tradenet_command() -> str:
    exe = PROJECT_ROOT / ".venv" / "bin" / "tradenet"
    return ".venv/bin/tradenet" if Path.cwd().resolve() == PROJECT_ROOT.resolve() else str(exe)


def sample_event_file(home: Path) -> Path:
    """A fresh sample carrier event (a gate-in at Rotterdam for a new B/L) for the printed curl."""
    event = transport_event("OOLU-BL-SAMPLE-0001", "ARRI", "NLRTM", when=time.time() - 60)
    return Path(atomic_write(home / "carrier" / "sample-event.json", canonical_json(event).decode() + "\n", mode=0o644))


def follow_ups(node_url: str, access: CarrierAccess, home: Path, default_home: bool) -> Iterator[str]:
    """The commands printed at the end; each works as printed (tests run them)."""
    cmd = _tradenet_command()
    home_opt = "" if default_home else f" --home {home}"
    event = sample_event_file(home)
    yield f"Sign in as a participant (SIWE with its key from the local keystore; prints a session token):"
    yield f"  TOKEN=$({cmd} login --as seller --node {node_url}{home_opt})"
    yield f"  curl -s -H \"Authorization: Bearer $TOKEN\" {node_url}/invoices"
    yield (f"Dashboard: {node_url}/ in a browser: log in with a browser wallet, or pick a demo participant "
           f"(demo node only); pages per role in docs/dashboard.md")
    yield f"API docs: {node_url}/docs (Swagger UI) and {node_url}/redoc; health and chain time: {node_url}/health"
    yield (f"Post a carrier event as carrier source '{access.source}' (secret file {access.secret_file}) to every "
           f"oracle operator (each signs only what the carrier told it; {len(access.urls)} operators, 2 signatures "
           f"confirm it on chain); each answers 202 with the event's status:")
    yield (f"  SECRET=$(cat {access.secret_file}); for URL in {' '.join(access.urls)}; do TS=$(date +%s); "
           f"SIG=$( {{ printf '%s.' \"$TS\"; cat {event}; }} | openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.* //'); "
           f"curl -s -w ' HTTP %{{http_code}}\\n' $URL/carrier-events -H 'Content-Type: application/json' "
           f"-H 'X-Tradenet-Carrier: {access.source}' -H \"X-Tradenet-Timestamp: $TS\" "
           f"-H \"X-Tradenet-Signature: sha256=$SIG\" --data-binary @{event}; done")
    yield "How to make your own trade through the API or the CLI, and how a carrier connects: docs/demo.md, docs/carrier.md."


class _Stop(BaseException):
    """SIGTERM / SIGINT / SIGHUP: stop everything started (KeyboardInterrupt-like, not an error)."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _raise_stop(signum: int, frame: object) -> None:
    for s in STOP_SIGNALS:  # one stop: a second signal must not cut the clean-up short
        signal.signal(s, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def run(port: int = CHAIN_PORT, once: bool = False, home: Path | None = None, api_port: int = API_PORT,
        oracle_ports: tuple[int, ...] = ORACLE_PORTS, products: bool = True) -> int:
    """`tradenet up` (local profile). Returns the exit code."""
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except AttributeError:
        pass
    ports = Ports(port, api_port, tuple(oracle_ports))
    try:
        check_ports(ports)
    except PortsTaken as exc:
        print(exc, file=sys.stderr)
        return 2
    # SIGHUP too: closing the terminal must not leave the children (own sessions) running
    previous = {s: signal.signal(s, _raise_stop) for s in STOP_SIGNALS}
    started = time.monotonic()
    say = Narrator()
    default_home = home is None
    home = home or settings.home / "local"
    net = node = cluster = None
    try:
        net = start_local_network(port, home, say)
        node = start_node_api(net, home, api_port)
        say(f"Node API (indexer + participants' API) is up at {node.url} (OpenAPI docs at {node.url}/docs).")
        _, password = demo_keystore(home)
        cluster, access = start_oracle_operators(net, home, password, ports.oracles)
        cast = demo_cast(net.chain, net.deployment, net.keys)
        say(f"Logistics oracle operators are up: " + ", ".join(
            f"{cast.name(n)} ({net.keys[n].address[:10]}...) at {op.url}" for n, op in cluster.ops.items())
            + f" (a report needs {net.deployment.clients(net.chain).oracle.threshold()} of {len(cluster.ops)} "
              f"signatures). Carrier source '{access.source}' signs with the secret in {access.secret_file}.")
        players = Players(NodeClient(node.url), cast)
        post = carrier_poster(cluster, access)
        say("The main trade, played through the node API over HTTP as each participant would:")
        core = run_core_trade(players, say)
        run_shipment_finance(players, core.invoice_id, carrier_event, post, say)
        if products:
            from .demo_products import run_products

            say("One short run of each other product (each party signs with its own key; the chain's clock is "
                "left alone: repayments are early, tenors short):")
            run_products(cast, shipper(net, post), say, node.ctx.documents)
            play_default_story(net.keys, say)
        clock = follow_chain_clock(net)
        node.indexer.sync()
        say(f"Demo played in {time.monotonic() - started:.0f} s. Chain time {iso_time(int(clock['chain_time']))} at block "
            f"{clock['block']}, wall time {iso_time(int(clock['wall_time']))} (skew "
            f"{clock['chain_time'] - clock['wall_time']:+.1f} s); from now on a block every {BLOCK_TIME} s. The indexer "
            f"has read every block: every step above is in the read model.")
        for line in follow_ups(node.url, access, home, default_home):
            say.note(line)
        if once:
            return 0
        say(f"The network keeps running (chain {net.anvil.url}, API {node.url}, oracle operators "
            f"{', '.join(access.urls)}). Ctrl-C or SIGTERM stops all of it.")
        print(READY, flush=True)
        threading.Event().wait()
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # a signal now must not cut the clean-up short
        if cluster:
            cluster.stop()
        if node:
            node.stop()
        if net:
            net.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
