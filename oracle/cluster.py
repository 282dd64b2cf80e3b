"""A local cluster of oracle operator processes (``python -m oracle.daemon``), each on a free
loopback port with its own encrypted keystore, database and log file. Used by the local network
(`tradenet up`) and by the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx
from eth_account.signers.local import LocalAccount

from chain.anvil import free_port
from chain.compiler import Artifact
from chain.deployment import Deployment
from chain.fsutil import atomic_write
from chain.keystore import Keystore

from .chain_port import ABI_CONTRACTS
from .feed import CarrierClient

REPO = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class OperatorProcess:
    def __init__(self, name: str, workdir: Path, port: int):
        self.name = name
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config = workdir / "config.json"
        self.log_path = workdir / "operator.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen([sys.executable, "-m", "oracle.daemon", "--config", str(self.config)],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        self.starts += 1

    def wait_ready(self, timeout: float = 60.0) -> None:
        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc and self.proc.returncode}):\n{self.log_tail()}")
            try:
                return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, 0.1, f"{self.name} to answer")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        if self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def status(self) -> dict[str, Any]:
        resp = httpx.get(self.url + "/status", timeout=5.0)
        resp.raise_for_status()
        return resp.json()

    def report_states(self) -> dict[str, str]:
        return {r["digest"]: r["state"] for r in self.status()["reports"]}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def carrier(self, source: str, secret: str) -> CarrierClient:
        return CarrierClient(self.url, source, secret)


class OperatorCluster:
    """ORACLE participants as operator processes that know each other as peers.

    `keys` maps operator names to their accounts (each is imported into the operator's own
    encrypted keystore), `credentials` is the content of the operators' credential file
    (``oracle.credentials``: carriers bound to LOGISTICS members, FX sources), `overrides` are
    merged into every operator's config, `ports` fixes an operator's listening port (default: a free one)."""

    def __init__(self, *, keys: dict[str, LocalAccount], deployment: Deployment, rpc_url: str,
                 artifacts: dict[str, Artifact],
                 workdir: Path, credentials: dict[str, Any], password: str,
                 names: Iterable[str] = ("oracle_1", "oracle_2", "oracle_3"), leader_timeout: float = 2.0,
                 scrypt_n: int = 2**12, overrides: dict[str, Any] | None = None,
                 ports: dict[str, int] | None = None):
        tmp = workdir
        self.tmp = tmp
        self.names = list(names)
        deployment_dir = tmp / "deployments"
        self.deployment_file = deployment.save(deployment_dir)
        # ship the ABIs the way an operator host would: the daemons then never compile
        abi_files = {}
        tmp.mkdir(parents=True, exist_ok=True)
        for contract in ABI_CONTRACTS:
            abi_files[contract] = str(tmp / f"{contract}.abi.json")
            atomic_write(abi_files[contract], json.dumps(artifacts[contract].abi), mode=0o644)
        self.credentials_file = atomic_write(tmp / "credentials.json", json.dumps(credentials), mode=0o600)
        self.ops: dict[str, OperatorProcess] = {}
        for name in self.names:
            self.ops[name] = OperatorProcess(name, tmp / name, (ports or {}).get(name) or free_port())
        for name, op in self.ops.items():
            op.workdir.mkdir(parents=True, exist_ok=True)
            ks_dir = op.workdir / "keystore"
            Keystore(ks_dir, scrypt_n=scrypt_n).import_key(name, keys[name].key, password)
            atomic_write(ks_dir / ".password", password, mode=0o600)
            config = {
                "name": name,
                "listen": {"host": "127.0.0.1", "port": op.port},
                "db_path": "state/operator.db",
                "key": {"keystore_dir": "keystore", "name": name, "password_file": "keystore/.password"},
                "chain": {"rpc_url": rpc_url, "deployment_file": str(self.deployment_file),
                          "receipt_timeout_seconds": 15, "abi_files": abi_files},
                "peers": [{"name": other, "url": o.url, "address": keys[other].address}
                          for other, o in self.ops.items() if other != name],
                "credentials_file": str(self.credentials_file),
                "leader_timeout_seconds": leader_timeout,
                "poll_interval_seconds": 0.1,
                "confirm_poll_seconds": 0.5,
                "chain_refresh_seconds": 5,
                "peer_timeout_seconds": 2,
                "delivery_backoff_max_seconds": 2,
                "submit_backoff_max_seconds": 4,
                "log_level": "INFO",
                **(overrides or {}),
            }
            atomic_write(op.config, json.dumps(config, indent=2), mode=0o600)

    def __getitem__(self, name: str) -> OperatorProcess:
        return self.ops[name]

    def start(self, names: Iterable[str] | None = None) -> None:
        chosen = [self.ops[n] for n in (names or self.names)]
        for op in chosen:
            op.start()
        for op in chosen:
            op.wait_ready()

    def stop(self) -> None:
        for op in self.ops.values():
            op.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {n} -----\n{op.log_tail(60)}" for n, op in self.ops.items())
