"""One real operator process (``python -m oracle.daemon``) on the session anvil, for tests that
must hit the daemon itself: hostile bodies, slow clients, oversized streams.

The config is written here from the installed ``OracleSettings`` model, so the same regression
tests also run against the daemon as it was before a fix (``git stash`` of ``oracle/``): keys the
older settings model does not know are left out, and the credential file is written in the format
the installed daemon reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from chain.anvil import free_port
from chain.fsutil import atomic_write
from chain.keystore import Keystore
from oracle.settings import OracleSettings

REPO = Path(__file__).resolve().parents[3]
CARRIER = "oceanic"
CARRIER_SECRET = "standalone-carrier-secret-0123456789"
FX_SOURCE = "fx-feed"
FX_SECRET = "standalone-fx-secret-0123456789abcd"
PASSWORD = "standalone keystore password"
ABI_CONTRACTS = ("LogisticsOracle", "FxRateStore", "ParticipantRegistry", "DealEngine", "DealLens")


def credentials_document(carrier_member: str) -> dict[str, Any]:
    """The carrier and FX credentials in the format of the installed daemon."""
    try:
        import oracle.credentials  # noqa: F401  (the format with kinds and member binding)
    except ImportError:  # the daemon before credentials were scoped: one flat map
        return {CARRIER: CARRIER_SECRET, FX_SOURCE: FX_SECRET}
    return {"carriers": {CARRIER: {"member": carrier_member, "secrets": [CARRIER_SECRET]}},
            "fxSources": {FX_SOURCE: {"secrets": [FX_SECRET]}}}


class StandaloneOperator:
    def __init__(self, net: Any, workdir: Path, *, name: str = "oracle_1", http: dict[str, Any] | None = None,
                 credentials: dict[str, Any] | None = None, **overrides: Any):
        self.net = net
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "operator.log"
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        Keystore(workdir / "keystore", scrypt_n=2**12).import_key(name, net.keys[name].key, PASSWORD)
        atomic_write(workdir / "keystore" / ".password", PASSWORD, mode=0o600)
        deployment_file = net.deployment.save(workdir / "deployments")
        abi_files = {}
        for contract in ABI_CONTRACTS:
            abi_files[contract] = str(workdir / f"{contract}.abi.json")
            atomic_write(abi_files[contract], json.dumps(net.chain.artifacts[contract].abi), mode=0o644)
        self.credentials_file = workdir / "credentials.json"
        self.write_credentials(credentials or credentials_document(net.addr("carrier")))
        fields = OracleSettings.model_fields
        config: dict[str, Any] = {
            "name": name,
            "listen": {"host": "127.0.0.1", "port": self.port},
            "db_path": "state/operator.db",
            "key": {"keystore_dir": "keystore", "name": name, "password_file": "keystore/.password"},
            "chain": {"rpc_url": net.anvil_url, "deployment_file": str(deployment_file), "abi_files": abi_files},
            "peers": [],
            ("credentials_file" if "credentials_file" in fields else "hmac_secrets_file"): str(self.credentials_file),
            "log_level": "INFO",
        }
        if http and "http" in fields:
            config["http"] = http
        config.update({k: v for k, v in overrides.items() if k in fields})
        self.config = workdir / "config.json"
        atomic_write(self.config, json.dumps(config, indent=2), mode=0o600)

    def write_credentials(self, document: dict[str, Any]) -> None:
        atomic_write(self.credentials_file, json.dumps(document), mode=0o600)

    # ------------------------------------------------------------------ process
    def __enter__(self) -> "StandaloneOperator":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "oracle.daemon", "--config", str(self.config)],
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not answer within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            return self.alive and httpx.get(self.url + "/healthz", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def socket(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


def read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (status, headers, body) from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body
