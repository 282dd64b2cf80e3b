"""Local-chain helpers for the indexer's tests and benchmark: a throwaway anvil on a free port
and Solidity compilation through the project's solcjs shim. Not used by the indexer itself."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from web3 import Web3

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLC_SHIM = REPO_ROOT / "chain" / "solc_shim.js"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    """$ANVIL, else the native binary of the npm package, else its node wrapper, else PATH."""
    env = os.environ.get("ANVIL")
    if env:
        return env
    native = sorted(glob.glob(str(REPO_ROOT / "node_modules/@foundry-rs/anvil-*/bin/anvil")))
    if native:
        return native[0]
    wrapper = REPO_ROOT / "node_modules/.bin/anvil"
    if wrapper.exists():
        return str(wrapper)
    found = shutil.which("anvil")
    if not found:
        raise FileNotFoundError("anvil not found (npm install, or set $ANVIL)")
    return found


class Anvil:
    """``with Anvil() as node: node.w3 ...`` - anvil on 127.0.0.1 at a free port, killed on exit
    (its own process group only)."""

    def __init__(self, args: Sequence[str] = (), port: int | None = None, timeout: float = 20.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port), "--silent", *args]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"anvil exited with {self.proc.returncode}: {err}")
            try:
                self.w3.eth.block_number
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("anvil did not answer in time")
                time.sleep(0.05)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        resp = self.w3.provider.make_request(method, params or [])
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> "Anvil":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def compile_contract(source: str | Path, contract: str) -> tuple[list[dict], str]:
    """Compile one Solidity file (path or source text) with the pinned solcjs through the shim.
    Returns (abi, bytecode hex)."""
    import solcx

    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".sol")
                                    and "\n" not in source):
        path = Path(source)
        text, name = path.read_text(), path.name
    else:
        text, name = str(source), f"{contract}.sol"
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    out = solcx.compile_standard(
        std_input, solc_binary=str(SOLC_SHIM), allow_paths=[str(REPO_ROOT)]
    )
    art = out["contracts"][name][contract]
    return art["abi"], "0x" + art["evm"]["bytecode"]["object"]


def deploy(w3: Web3, abi: list[dict], bytecode: str, sender: str | None = None, *args: Any):
    """Deploy with an unlocked anvil account; returns (contract, deployment block number)."""
    sender = sender or w3.eth.accounts[0]
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(*args).transact({"from": sender})
    rcpt = w3.eth.wait_for_transaction_receipt(tx)
    return w3.eth.contract(address=rcpt["contractAddress"], abi=abi), rcpt["blockNumber"]
