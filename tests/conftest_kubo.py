"""Pytest fixtures running a throw-away, offline kubo (IPFS) daemon on loopback.

Import the fixtures into a test module (``from tests.conftest_kubo import kubo_api``). The
binary is ``$TRADENET_IPFS_BIN`` if set, otherwise the pinned build produced by
``scripts/build_kubo.sh`` (built on first use, so a clean CI machine with Go works; the script is a
no-op once the pinned version is installed).

The daemon gets its own temporary ``IPFS_PATH`` initialised with ``--profile=test`` (loopback
addresses with port 0, no bootstrap peers, no MDNS), runs with ``--offline``, and the API address
the daemon actually bound is read back from ``$IPFS_PATH/api``, so no port can be raced.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_kubo.sh"
START_TIMEOUT = 60.0


def kubo_binary() -> str:
    if explicit := os.environ.get("TRADENET_IPFS_BIN"):
        return explicit
    # Idempotent: returns at once when the pinned version is already built.
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout.strip().splitlines()[-1]


def _api_url(multiaddr: str) -> str:
    parts = multiaddr.strip().split("/")  # "", "ip4", host, "tcp", port[, "http"]
    return f"http://{parts[2]}:{parts[4]}"


@pytest.fixture(scope="session")
def kubo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start an offline kubo daemon; yields its RPC API multiaddr (``/ip4/127.0.0.1/tcp/N/http``)."""
    ipfs = kubo_binary()
    repo = tmp_path_factory.mktemp("ipfs-repo")
    env = {**os.environ, "IPFS_PATH": str(repo), "IPFS_TELEMETRY": "off", "GOMAXPROCS": "2"}

    def ipfs_cmd(*args: str) -> None:
        subprocess.run([ipfs, *args], env=env, check=True, capture_output=True)

    ipfs_cmd("init", "--profile=test")
    ipfs_cmd("bootstrap", "rm", "--all")
    ipfs_cmd("config", "Addresses.API", "/ip4/127.0.0.1/tcp/0")
    ipfs_cmd("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/0")

    log_path = repo / "daemon.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([ipfs, "daemon", "--offline"], env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        api_file = repo / "api"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"kubo exited with {proc.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kubo API did not answer in {START_TIMEOUT}s:\n"
                                   f"{log_path.read_text()}")
            if api_file.exists():
                addr = api_file.read_text().strip()
                try:
                    if httpx.post(_api_url(addr) + "/api/v0/version", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        log.info("kubo daemon pid %d, API %s, IPFS_PATH %s", proc.pid, addr, repo)
        yield addr + "/http" if not addr.endswith("/http") else addr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
