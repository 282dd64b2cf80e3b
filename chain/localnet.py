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
from .scenario import Narrator, run_core_trade
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


def run(port: int = 8545, once: bool = False, home: Path | None = None) -> int:
    say = Narrator()
    net = start_local_network(port, home, say)
    try:
        run_core_trade(net.chain, net.deployment, net.keys, say)
        if once:
            return 0
        say(f"The network keeps running at {net.anvil.url}. Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        net.stop()
    return 0
