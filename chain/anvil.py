"""Start and stop a local anvil node (the embedded development chain)."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

from web3 import Web3

from .settings import settings

log = logging.getLogger(__name__)


class AnvilError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    """An anvil process on loopback. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        port: int | None = None,
        *,
        chain_id: int = 31337,
        block_time: float | None = None,
        binary: Path | None = None,
        extra_args: list[str] | None = None,
    ):
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time
        self.binary = Path(binary or settings.anvil_binary)
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "Anvil":
        if not self.binary.exists():
            raise AnvilError(f"anvil not found at {self.binary}: run scripts/setup.sh (npm ci)")
        cmd = [
            str(self.binary), "--host", "127.0.0.1", "--port", str(self.port),
            "--chain-id", str(self.chain_id), "--silent",
            # a permissioned consortium chain runs free gas, like a Besu network with min-gas-price 0
            "--base-fee", "0", "--gas-price", "0",
            "--gas-limit", "60000000",
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        cmd += self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AnvilError(f"anvil exited with {self.proc.returncode}: {err}")
            try:
                if w3.eth.chain_id == self.chain_id:
                    log.info("anvil up at %s (chain id %d)", self.url, self.chain_id)
                    return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
