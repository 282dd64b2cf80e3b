"""Shared fixtures: one real anvil per session, contracts deployed once, snapshot/revert per test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest
from eth_account.signers.local import LocalAccount

from chain.anvil import Anvil
from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, Participant, bootstrap, deterministic_keys
from chain.deployment import Clients, Deployment
from tests.support.mining import revert_to

# fixtures of tests/support, for every test module (an offline kubo daemon; the indexer's anvil,
# test token and databases)
pytest_plugins = ["tests.support.kubo", "tests.support.indexer.fixtures"]


@dataclass
class Net:
    """The deployed test network: chain, deployment, participants' keys, and admin keys."""

    chain: Chain
    deployment: Deployment
    keys: dict[str, LocalAccount]
    participants: dict[str, Participant]
    anvil_url: str

    @property
    def w3(self):
        return self.chain.w3

    @property
    def admins(self) -> list[LocalAccount]:
        return [self.keys[k] for k in ("admin_a", "admin_b", "admin_c")]

    def addr(self, key: str) -> str:
        return self.keys[key].address

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    # typed clients bound to a participant
    def clients(self, key: str | None = None) -> Clients:
        return self.deployment.clients(self.chain, self.keys[key] if key else None)

    def registry(self, key: str | None = None):
        return self.clients(key).registry

    def invoices(self, key: str | None = None):
        return self.clients(key).invoices

    def receipts(self, key: str | None = None):
        return self.clients(key).receipts

    def token(self, currency: str = "USD", key: str | None = None):
        return self.clients(key).token(currency)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def net(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Net:
    chain = Chain.connect(anvil.url)
    keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-tests")
    deployment = bootstrap(chain, "test", keys)
    return Net(chain, deployment, keys, {p.key: p for p in DEMO_PARTICIPANTS}, anvil.url)


@pytest.fixture(autouse=True)
def _chain_snapshot(request: pytest.FixtureRequest) -> Iterator[None]:
    """Revert the session chain to its state before each test that uses it."""
    if "net" not in request.fixturenames:
        yield
        return
    n: Net = request.getfixturevalue("net")
    snap = n.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        revert_to(n.w3, snap)
        n.chain.nonces.resync()
