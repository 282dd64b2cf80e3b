"""A throwaway PostgreSQL cluster for the indexer tests (``tradenet.services.PostgresServer``,
which wraps scripts/pg_test_server.sh), and why one cannot be started here if so."""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

from tradenet.services import PostgresServer


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


class PgCluster(PostgresServer):
    """A cluster in a fresh temporary directory (removed by ``stop()``)."""

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="tradenet-pg-", dir="/tmp")))
