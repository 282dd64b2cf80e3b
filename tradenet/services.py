"""The off-chain services an organisation's node runs beside geth, started on loopback for the
local consortium profile and the tests: a PostgreSQL cluster (the read model) and a kubo (IPFS)
daemon (the document store).

PostgreSQL runs through ``scripts/pg_test_server.sh`` (initdb, pg_ctl; as root, as the
``postgres`` user; durability off, as in tests: a local network is thrown away). kubo is the
pinned build of ``scripts/build_kubo.sh`` (or ``$TRADENET_IPFS_BIN``), offline, with its own
``IPFS_PATH``; the API address it bound is read back from ``$IPFS_PATH/api``, so no port races.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from chain.anvil import free_port
from chain.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

PG_SCRIPT = PROJECT_ROOT / "scripts" / "pg_test_server.sh"
KUBO_BUILD_SCRIPT = PROJECT_ROOT / "scripts" / "build_kubo.sh"


def pg_bin_dir() -> Path:
    """PostgreSQL's binaries: ``$PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``, else PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: [int(x) for x in Path(d).parent.name.split(".") if x.isdigit()])
    if dirs:
        return Path(dirs[-1])
    found = shutil.which("pg_ctl")
    if not found:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install -y postgresql)")
    return Path(found).parent


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as libpq tools take it (``postgresql://...``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


class PostgresServer:
    """A PostgreSQL cluster in `directory` on 127.0.0.1; ``create_database()`` hands out
    databases (SQLAlchemy URLs). ``stop()`` shuts it down and removes the directory."""

    def __init__(self, directory: Path, port: int | None = None):
        self.dir = Path(directory)
        self.port = port or free_port()
        out = subprocess.run(["bash", str(PG_SCRIPT), "start", str(self.dir), str(self.port)],
                             check=True, capture_output=True, text=True, timeout=120)
        self.admin_url = out.stdout.strip().splitlines()[-1]

    def _admin(self):
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True)

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str | None = None) -> str:
        name = name or "ix_" + uuid.uuid4().hex[:12]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(["bash", str(PG_SCRIPT), "stop", str(self.dir)], check=False, timeout=120, capture_output=True)


def kubo_binary() -> str:
    """``$TRADENET_IPFS_BIN``, else the pinned build (built on first use; a no-op afterwards)."""
    if explicit := os.environ.get("TRADENET_IPFS_BIN"):
        return explicit
    done = subprocess.run(["bash", str(KUBO_BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout.strip().splitlines()[-1]


def _api_url(multiaddr: str) -> str:
    parts = multiaddr.strip().split("/")  # "", "ip4", host, "tcp", port[, "http"]
    return f"http://{parts[2]}:{parts[4]}"


class KuboDaemon:
    """An offline kubo daemon with its repository in `repo` (``--profile=test``: loopback, no
    bootstrap peers, no MDNS). ``api`` is its RPC API multiaddr (``/ip4/127.0.0.1/tcp/N/http``)."""

    START_TIMEOUT = 60.0

    def __init__(self, repo: Path):
        self.repo = Path(repo)
        self.api = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "KuboDaemon":
        ipfs = kubo_binary()
        env = {**os.environ, "IPFS_PATH": str(self.repo), "IPFS_TELEMETRY": "off", "GOMAXPROCS": "2"}

        def ipfs_cmd(*args: str) -> None:
            subprocess.run([ipfs, *args], env=env, check=True, capture_output=True)

        if not (self.repo / "config").exists():
            self.repo.mkdir(parents=True, exist_ok=True)
            ipfs_cmd("init", "--profile=test")
            ipfs_cmd("bootstrap", "rm", "--all")
            ipfs_cmd("config", "Addresses.API", "/ip4/127.0.0.1/tcp/0")
            ipfs_cmd("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/0")
        api_file = self.repo / "api"
        api_file.unlink(missing_ok=True)
        log_path = self.repo / "daemon.log"
        with open(log_path, "wb") as log_file:
            self.proc = subprocess.Popen([ipfs, "daemon", "--offline"], env=env, stdout=log_file,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubo exited with {self.proc.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kubo API did not answer in {self.START_TIMEOUT}s:\n{log_path.read_text()}")
            if api_file.exists():
                addr = api_file.read_text().strip()
                try:
                    if httpx.post(_api_url(addr) + "/api/v0/version", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        self.api = addr if addr.endswith("/http") else addr + "/http"
        log.info("kubo daemon pid %d, API %s, IPFS_PATH %s", self.proc.pid, self.api, self.repo)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
