"""Pytest fixtures running a throw-away, offline kubo (IPFS) daemon on loopback.

A pytest plugin (``pytest_plugins`` in ``tests/conftest.py``): any test may ask for ``kubo_api``. The
binary is ``$TRADENET_IPFS_BIN`` if set, otherwise the pinned build produced by
``scripts/build_kubo.sh`` (built on first use, so a clean CI machine with Go works; the script is a
no-op once the pinned version is installed). The daemon itself is ``tradenet.services.KuboDaemon``
(``--profile=test``: loopback, no bootstrap peers, no MDNS; ``--offline``; the API address it bound
is read back from ``$IPFS_PATH/api``, so no port can be raced).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tradenet.services import KuboDaemon, kubo_binary

__all__ = ["kubo_api", "kubo_binary"]


@pytest.fixture(scope="session")
def kubo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start an offline kubo daemon; yields its RPC API multiaddr (``/ip4/127.0.0.1/tcp/N/http``)."""
    daemon = KuboDaemon(tmp_path_factory.mktemp("ipfs-repo")).start()
    try:
        yield daemon.api
    finally:
        daemon.stop()
