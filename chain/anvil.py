"""Start and stop a local anvil node (the embedded development chain), and helpers for
throw-away chains (a free port, deploying from anvil's unlocked accounts).

The node runs in its own process group and stop() signals the whole group, so the npm wrapper and
the native binary go together (the indexer's SIGKILL and reorg tests rely on it).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from web3 import Web3
from web3.contract import Contract

from .settings import PROJECT_ROOT, settings

log = logging.getLogger(__name__)

#: Block gas limit of the local network (room for the largest deployments and batch reports).
GAS_LIMIT = 60_000_000


class AnvilError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the process group of `proc` (started with ``start_new_session=True``), SIGKILL
    if it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def anvil_binary() -> Path:
    """``TRADENET_ANVIL_BINARY``, else the npm package's native binary, else its node wrapper,
    else ``anvil`` on PATH."""
    if settings.anvil_binary is not None:
        return settings.anvil_binary
    native = sorted(glob.glob(str(PROJECT_ROOT / "node_modules/@foundry-rs/anvil-*/bin/anvil")))
    if native:
        return Path(native[0])
    wrapper = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    found = shutil.which("anvil")
    if not found:
        raise AnvilError("anvil not found: run scripts/setup.sh (npm packages), or set TRADENET_ANVIL_BINARY")
    return Path(found)


class Anvil:
    """An anvil process on loopback. ``with Anvil() as node:`` or start()/stop().

    By default the chain runs free gas (base fee 0), like a Besu consortium network with
    ``min-gas-price=0``; ``free_gas=False`` keeps anvil's default fee market, and
    ``gas_limit=None`` its default block gas limit."""

    def __init__(
        self,
        port: int | None = None,
        *,
        chain_id: int = 31337,
        block_time: float | None = None,
        free_gas: bool = True,
        gas_limit: int | None = GAS_LIMIT,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time
        self.free_gas = free_gas
        self.gas_limit = gas_limit
        self.binary = Path(binary) if binary else None
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [str(self.binary or anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port),
               "--chain-id", str(self.chain_id), "--silent"]
        if self.free_gas:
            cmd += ["--base-fee", "0", "--gas-price", "0"]
        if self.gas_limit is not None:
            cmd += ["--gas-limit", str(self.gas_limit)]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        return cmd + self.extra_args

    def start(self, timeout: float = 20.0) -> "Anvil":
        cmd = self.command()
        if not Path(cmd[0]).exists():
            raise AnvilError(f"anvil not found at {cmd[0]}: run scripts/setup.sh (npm packages)")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        probe = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise AnvilError(f"anvil exited with {self.proc.returncode}: {err}")
            try:
                if probe.eth.chain_id == self.chain_id:
                    log.info("anvil up at %s (chain id %d)", self.url, self.chain_id)
                    return self
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.url} within {timeout}s")

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        resp = self.w3.provider.make_request(method, params or [])
        if "error" in resp:
            raise AnvilError(f"{method}: {resp['error']}")
        return resp.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def stop(self) -> None:
        """SIGTERM to the node's process group, SIGKILL if it does not exit within 5 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process_group(proc, 5)
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def deploy_unlocked(w3: Web3, abi: list[dict], bytecode: str, *args: Any,
                    sender: str | None = None) -> tuple[Contract, int]:
    """Deploy from one of anvil's unlocked accounts (test and benchmark contracts); returns the
    contract and its deployment block."""
    sender = sender or w3.eth.accounts[0]
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(*args).transact({"from": sender})
    rcpt = w3.eth.wait_for_transaction_receipt(tx)
    return w3.eth.contract(address=rcpt["contractAddress"], abi=abi), rcpt["blockNumber"]
