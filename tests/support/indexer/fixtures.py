"""pytest fixtures for the indexer tests: anvil, the test token, and fresh databases on SQLite
and PostgreSQL (``db`` is parametrized; the PostgreSQL variant is skipped, with the reason, when
no server can be started)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chain.anvil import Anvil, deploy_unlocked
from chain.compiler import compile_source
from chain.settings import settings
from chain.indexer.migrate import upgrade

from .pg import PgCluster, pg_unavailable_reason

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def token_artifact(pytestconfig):
    """(abi, bytecode) of the test token; cached in pytest's cache by source hash (solcjs takes
    seconds)."""
    source = HERE / "IndexerTestToken.sol"
    digest = hashlib.sha256(source.read_bytes() + settings.compiler.shim.read_bytes()).hexdigest()[:16]
    key = f"tradenet/indexer/IndexerTestToken-{digest}"
    cached = pytestconfig.cache.get(key, None)
    if cached:
        return cached[0], cached[1]
    abi, bytecode = compile_source(source, "IndexerTestToken")
    pytestconfig.cache.set(key, [abi, bytecode])
    return abi, bytecode


@pytest.fixture
def node():
    with Anvil(free_gas=False, gas_limit=None) as a:  # anvil's own fee market and block gas limit
        yield a


@pytest.fixture
def token(node, token_artifact):
    """(contract, deployment block) of a fresh IndexerTestToken."""
    abi, bytecode = token_artifact
    return deploy_unlocked(node.w3, abi, bytecode)


@pytest.fixture(scope="session")
def pg_cluster():
    reason = pg_unavailable_reason()
    if reason:
        pytest.skip(f"PostgreSQL variant skipped: {reason}")
    cluster = PgCluster()
    yield cluster
    cluster.stop()


class DbFactory:
    """``db.new()`` -> URL of a fresh, migrated database of this test's backend."""

    def __init__(self, backend: str, tmp_path: Path, request):
        self.backend = backend
        self._tmp = tmp_path
        self._request = request
        self._n = 0
        self._created: list[str] = []

    def new(self, migrate: bool = True) -> str:
        self._n += 1
        if self.backend == "sqlite":
            url = f"sqlite:///{self._tmp / f'indexer{self._n}.db'}"
        else:
            url = self._request.getfixturevalue("pg_cluster").create_database()
        self._created.append(url)
        if migrate:
            upgrade(url)
        return url

    def cleanup(self) -> None:
        if self.backend == "postgresql":
            cluster = self._request.getfixturevalue("pg_cluster")
            for url in self._created:
                cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "postgresql":
        request.getfixturevalue("pg_cluster")  # skips the variant if unavailable
    f = DbFactory(request.param, tmp_path, request)
    yield f
    f.cleanup()
