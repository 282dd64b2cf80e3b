"""Real processes to kill for the fault suite: a kubo daemon that comes back on the same port, a
small tmpfs that fills up, a PostgreSQL cluster restarted in place, an anvil restarted from its
dumped state. Each helper is bounded in time and undoes what it did."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

from chain.anvil import free_port
from oracle.cluster import wait_for
from tradenet.services import KuboDaemon, kubo_binary


class RestartableKubo:
    """An offline kubo whose API keeps one port across restarts (the node's store keeps its URL)."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.port = free_port()
        env = {**os.environ, "IPFS_PATH": str(repo), "IPFS_TELEMETRY": "off"}
        ipfs = kubo_binary()
        repo.mkdir(parents=True, exist_ok=True)
        for args in (["init", "--profile=test"], ["bootstrap", "rm", "--all"],
                     ["config", "Addresses.API", f"/ip4/127.0.0.1/tcp/{self.port}"],
                     ["config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/0"]):
            subprocess.run([ipfs, *args], env=env, check=True, capture_output=True, timeout=60)
        self.daemon = KuboDaemon(repo)

    @property
    def api(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.port}/http"

    def start(self) -> "RestartableKubo":
        self.daemon.start()
        return self

    def kill(self) -> None:
        """SIGKILL: the daemon gets no chance to finish anything."""
        proc, self.daemon.proc = self.daemon.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(timeout=20)

    def stop(self) -> None:
        self.daemon.stop()


@contextlib.contextmanager
def small_tmpfs(where: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB mounted at `where` (root only: the caller skips otherwise)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(where)], check=True,
                   capture_output=True, timeout=30)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True, timeout=30)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def fill(directory: Path, leave_bytes: int) -> Path:
    """Fill the file system of `directory` until about `leave_bytes` are free."""
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    filler = directory / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
    return filler


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def pg_ctl(server: Any, action: str, *extra: str) -> None:
    """pg_ctl `action` on a ``tradenet.services.PostgresServer``'s cluster (as postgres when root)."""
    bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    cmd = [str(bin_dir / "pg_ctl"), action, "-D", str(server.dir / "data"), "-w", "-t", "60", *extra]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=90, cwd="/")


def pg_crash(server: Any) -> None:
    """Immediate shutdown: no checkpoint, connections cut (a crash; the WAL replays on start)."""
    pg_ctl(server, "stop", "-m", "immediate")


def pg_start_again(server: Any) -> None:
    pg_ctl(server, "start", "-l", str(server.dir / "restart.log"),
           "-o", f"-p {server.port} -k {server.dir} -c listen_addresses=127.0.0.1 -c max_connections=100")


class NodeService:
    """`python -m tradenet node` as a real process (uvicorn + the indexer thread) that can be
    killed and started again on the same port, database, keystore and documents."""

    def __init__(self, net: Any, workdir: Path, custodial: tuple[str, ...] = ("seller",), **settings: str):
        from chain.keystore import Keystore

        self.net, self.dir, self.port = net, workdir, free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        ks = Keystore(workdir / "keys", scrypt_n=2**10)
        for name in custodial:
            ks.import_key(name, net.keys[name].key, "pw")
        (workdir / "pw").write_text("pw")
        self.custodial = custodial
        self.env = dict(os.environ, TRADENET_NETWORK=net.deployment.network, TRADENET_TEST_RPC_URL=net.anvil_url,
                        TRADENET_DEPLOYMENT_FILE=str(net.deployment.save(workdir / "deployments")),
                        TRADENET_DATABASE_URL=settings.pop("database_url", f"sqlite:///{workdir / 'node.db'}"),
                        TRADENET_DOCUMENT_DIR=str(workdir / "docs"),
                        TRADENET_API_DOMAIN=f"127.0.0.1:{self.port}", TRADENET_API_URI=f"http://127.0.0.1:{self.port}",
                        **{f"TRADENET_{k.upper()}": v for k, v in settings.items()})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "NodeService":
        import sys

        import httpx

        cmd = [sys.executable, "-m", "tradenet", "node", "--port", str(self.port), "--keystore", str(self.dir / "keys"),
               "--password-file", str(self.dir / "pw")]
        for name in self.custodial:
            cmd += ["--custodial", name]
        log = open(self.dir / "node.log", "a")
        self.proc = subprocess.Popen(cmd, cwd=str(Path(__file__).resolve().parents[2]), env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        self.starts += 1

        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"node exited:\n{(self.dir / 'node.log').read_text()[-3000:]}")
            try:
                return httpx.get(self.url + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(up, timeout, what="the node to answer /health")
        return self

    def kill(self) -> None:
        """SIGKILL: in-flight work, sessions and open transactions die with the process."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(timeout=20)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def login(self, key: str, lifetime: float | None = None) -> dict[str, str]:
        """A session of `key` (SIWE); `lifetime` seconds of the signed message (the session ends
        with it), the client's default if None."""
        from datetime import timedelta

        import httpx

        from node_api.auth import build_login_message, sign_login_message

        acct = self.net.keys[key]
        with httpx.Client(base_url=self.url, timeout=10) as c:
            n = c.post("/auth/nonce").json()
            msg = build_login_message(address=acct.address, domain=n["domain"], uri=n["uri"], scheme=n["scheme"],
                                      chain_id=n["chain_id"], nonce=n["nonce"],
                                      **({"lifetime": timedelta(seconds=lifetime)} if lifetime else {}))
            r = c.post("/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, acct)})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}
