"""A throwaway PostgreSQL cluster for the indexer tests (wraps scripts/pg_test_server.sh)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from chain.indexer.devchain import REPO_ROOT, free_port

SCRIPT = REPO_ROOT / "scripts" / "pg_test_server.sh"


def pg_unavailable_reason() -> str | None:
    """None if a cluster can be started here, else why not (used as the skip reason)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg (v3) is not installed: pip install 'psycopg[binary]'"
    if os.environ.get("PG_BIN"):
        if not Path(os.environ["PG_BIN"], "pg_ctl").exists():
            return f"no pg_ctl in PG_BIN={os.environ['PG_BIN']}"
    elif not any(Path(d, "pg_ctl").exists() for d in glob.glob("/usr/lib/postgresql/*/bin")) \
            and not shutil.which("pg_ctl"):
        return "PostgreSQL server binaries not found (apt-get install -y postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing"
    return None


class PgCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tradenet-pg-", dir="/tmp"))
        self.port = free_port()
        out = subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.dir), str(self.port)],
            check=True, capture_output=True, text=True, timeout=120,
        )
        self.admin_url = out.stdout.strip().splitlines()[-1]

    def _admin(self):
        import psycopg

        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        )

    def create_database(self) -> str:
        name = "ix_" + uuid.uuid4().hex[:12]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.dir)], check=False, timeout=120,
                       capture_output=True)
