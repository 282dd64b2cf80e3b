"""The embedded local network: anvil, an encrypted demo keystore, deployment and the scenario."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from .anvil import Anvil
from .client import Chain
from .consortium import DEMO_PARTICIPANTS, Participant, bootstrap
from .deploy import Deployment
from .keystore import Keystore, read_password
from .scenario import Narrator, run_core_trade, run_shipment_finance
from .settings import settings

log = logging.getLogger(__name__)

# The demo keystore uses a lighter scrypt work factor than the production default (2**18) so the
# local network starts in seconds; keys are still never stored in plaintext.
DEMO_SCRYPT_N = 2**14


def demo_keystore(home: Path) -> tuple[Keystore, str]:
    """The local network's keystore and its password (TRADENET_KEYSTORE_PASSWORD, or a random
    password kept in a 0600 file beside the keystore the first time)."""
    ks = Keystore(home / "keystore", scrypt_n=DEMO_SCRYPT_N)
    if os.environ.get("TRADENET_KEYSTORE_PASSWORD"):
        return ks, read_password()
    pw_file = home / "keystore.password"
    if not pw_file.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
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


def start_local_network(port: int = 8545, home: Path | None = None, say: Narrator | None = None) -> LocalNetwork:
    home = home or settings.state_dir / "local"
    say = say or Narrator()
    participants = list(DEMO_PARTICIPANTS)
    ks, password = demo_keystore(home)
    keys = load_or_create_keys(ks, password, participants)
    anvil = Anvil(port).start()
    try:
        chain = Chain.connect(anvil.url)
        say(f"Local permissioned chain (anvil, chain id {chain.chain_id}, free gas) is up at {anvil.url}.")
        deployment = bootstrap(chain, "local", keys, participants)
        path = deployment.save()
        say(f"Contracts deployed (registry {deployment.registry}); addresses written to {path}.")
        return LocalNetwork(anvil, chain, deployment, keys)
    except BaseException:
        anvil.stop()
        raise


def start_node_api(net: LocalNetwork, home: Path, api_port: int):
    """The demo node: indexer + API, holding every demo participant's key (custodial mode)."""
    from node_api.server import start_node
    from node_api.settings import NodeSettings

    db = home / "indexer.db"
    for stale in home.glob("indexer.db*"):  # a new chain every run: start the read model afresh
        stale.unlink()
    docs = home / "documents"
    settings = NodeSettings(
        rpc_url=net.anvil.url, deployment_file=net.deployment.path(), database_url=f"sqlite:///{db}",
        domain=f"127.0.0.1:{api_port}", uri=f"http://127.0.0.1:{api_port}", document_dir=docs)
    return start_node(settings, net.chain, list(net.keys.values()), port=api_port)


CARRIER_ID = "oceanic"


def start_oracle_operators(net: LocalNetwork, home: Path, password: str):
    """The three ORACLE members' operator daemons (k = 2), one process each, on loopback."""
    import shutil

    from oracle.cluster import OperatorCluster

    workdir = home / "oracles"
    shutil.rmtree(workdir, ignore_errors=True)  # a new chain every run: operators start afresh
    carrier_secret = secrets.token_urlsafe(32)
    cluster = OperatorCluster(keys=net.keys, deployment=net.deployment, rpc_url=net.anvil.url,
                              artifacts=net.chain.artifacts, workdir=workdir,
                              carriers={CARRIER_ID: carrier_secret}, password=password,
                              scrypt_n=DEMO_SCRYPT_N)
    cluster.start()
    return cluster, carrier_secret


def carrier_poster(cluster, secret: str):
    """The carrier sends each event to every operator it has a contract with (HMAC-signed)."""

    def post(event: dict) -> None:
        answers = []
        for op in cluster.ops.values():
            if op.running:
                r = op.carrier(CARRIER_ID, secret).post_event(event)
                answers.append(r.status_code)
        if not any(200 <= a < 300 for a in answers):
            raise RuntimeError(f"no operator accepted the carrier event: {answers}")

    return post


def run(port: int = 8545, once: bool = False, home: Path | None = None, api_port: int = 8000) -> int:
    say = Narrator()
    home = home or settings.state_dir / "local"
    net = start_local_network(port, home, say)
    node = cluster = None
    try:
        node = start_node_api(net, home, api_port)
        say(f"Node API (indexer + participants' API) is up at {node.url} (OpenAPI docs at {node.url}/docs).")
        _, password = demo_keystore(home)
        cluster, carrier_secret = start_oracle_operators(net, home, password)
        say("Logistics oracle operators are up: " + ", ".join(
            f"{net.keys[n].address[:10]}... at {op.url}" for n, op in cluster.ops.items())
            + f" (a report needs {net.deployment.oracle(net.chain).threshold()} of {len(cluster.ops)} signatures).")
        core = run_core_trade(net.chain, net.deployment, net.keys, say)
        run_shipment_finance(net.chain, net.deployment, net.keys, core.invoice_id,
                             carrier_poster(cluster, carrier_secret), say)
        node.indexer.sync()
        health = node.ctx.chain.w3.eth.block_number
        say(f"The indexer has read the chain up to block {health}; every step above is in the read model.")
        say(f"Log in as a participant: `tradenet login --as seller --api {node.url}` prints a session token "
            f"(Sign-In with Ethereum with the key from the local keystore); then e.g. "
            f"`curl -H 'Authorization: Bearer <token>' {node.url}/invoices`.")
        if once:
            return 0
        say(f"The network keeps running (chain {net.anvil.url}, API {node.url}). Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if cluster:
            cluster.stop()
        if node:
            node.stop()
        net.stop()
    return 0
