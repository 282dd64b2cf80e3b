"""Backup and restore of one organisation's node state, and the check that matters afterwards:
the read model rebuilt from the chain equals the one restored.

What a node keeps, and what a backup holds (``manifest.json`` lists every part with its sha-256):

* the read model (the indexer's database): ``pg_dump -Fc`` of the PostgreSQL database, or a
  copy of the SQLite file (SQLite's online backup); restored with ``pg_restore`` / a copy;
* the keystore (encrypted participant keys) and the document store directory (encrypted
  documents, the document key ring, known public keys): tar archives;
* the geth data directory: the node key (its identity on the network's allowlist), the sealer
  keystore and password file, ``config.toml``, and by default the chain data. Chain data is
  copied only from a stopped node (geth holds ``geth/LOCK``; a live LevelDB/Pebble copy is not
  consistent); without it the restored node is initialised from the network's genesis and
  syncs the chain from its peers (the genesis file goes into the backup for that).

The read model is derived state: `verify` rebuilds it from the chain into a scratch database
and compares it with the restored one (`compare_read_models`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import sqlite3
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import MetaData, inspect, select, text
from web3 import Web3

from chain.client import poa_compatible
from chain.compiler import compile_contracts
from chain.deployment import Deployment
from chain.indexer import Indexer, create_db_engine, upgrade
from chain.indexer.network import build_indexer
from chain.fsutil import atomic_write

from .services import libpq_url, pg_bin_dir

MANIFEST = "manifest.json"
#: Tables of the indexer's own bookkeeping: not part of the read model's content.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "checkpoint", "undo_log"})
#: Raw-layer tables holding one row per block (compared up to the common height only).
BLOCK_TABLES = {"blocks": "number", "events": "block_number"}
#: What of a geth data directory is state to keep (chain data only with ``chain_data``).
GETH_IDENTITY = ("geth/nodekey", "keystore", "sealer.password", "config.toml")
GETH_CHAIN = ("geth/chaindata", "geth/triecache", "geth/blobpool", "geth/transactions.rlp")


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeState:
    """Where one organisation's node keeps its state (any part may be absent)."""

    database_url: str
    keystore_dir: Path | None = None
    document_dir: Path | None = None
    geth_datadir: Path | None = None
    genesis_file: Path | None = None


@dataclass
class Manifest:
    created_at: int
    database: str  # "postgresql" or "sqlite"
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> file, sha256, bytes
    checkpoint: dict[str, Any] | None = None  # the read model's last indexed block at backup time
    chain_data: bool = False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def geth_running(datadir: Path) -> bool:
    """True if a geth process holds the data directory's lock."""
    lock = Path(datadir) / "geth" / "LOCK"
    if not lock.exists():
        return False
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def read_checkpoint(database_url: str) -> dict[str, Any] | None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("checkpoint"):
                return None
            row = conn.execute(text("SELECT block_number, block_hash FROM checkpoint ORDER BY name LIMIT 1")).first()
            return {"block_number": row[0], "block_hash": row[1]} if row else None
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- backup


def dump_database(database_url: str, out: Path) -> Path:
    """The read model into one file: ``pg_dump -Fc`` (PostgreSQL) or SQLite's online backup."""
    if _is_sqlite(database_url):
        target = out.with_suffix(".sqlite")
        src = sqlite3.connect(_sqlite_path(database_url))
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return target
    target = out.with_suffix(".pgdump")
    done = subprocess.run([str(pg_bin_dir() / "pg_dump"), "--format=custom", "--no-owner", "--file", str(target),
                           "--dbname", libpq_url(database_url)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return target


def _tar(out: Path, root: Path, members: tuple[str, ...] | None = None) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        for name in members or sorted(p.name for p in root.iterdir()):
            if (root / name).exists():
                tar.add(root / name, arcname=name)
    return out


def backup(state: NodeState, dest: Path, *, chain_data: bool = True) -> Manifest:
    """Write a backup of `state` into the new directory `dest`; returns its manifest."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False, mode=0o700)
    manifest = Manifest(created_at=int(time.time()), database="sqlite" if _is_sqlite(state.database_url) else "postgresql")
    files: dict[str, Path] = {"read_model": dump_database(state.database_url, dest / "read_model")}
    manifest.checkpoint = read_checkpoint(state.database_url)
    if state.keystore_dir is not None:
        files["keystore"] = _tar(dest / "keystore.tar.gz", Path(state.keystore_dir))
    if state.document_dir is not None:
        files["documents"] = _tar(dest / "documents.tar.gz", Path(state.document_dir))
    if state.geth_datadir is not None:
        datadir = Path(state.geth_datadir)
        if chain_data and geth_running(datadir):
            raise BackupError(f"geth is running on {datadir}: stop the node to back up its chain data "
                              "(or back up without chain data: the node re-syncs from its peers)")
        members = GETH_IDENTITY + (GETH_CHAIN if chain_data else ())
        files["geth"] = _tar(dest / "geth.tar.gz", datadir, members)
        manifest.chain_data = chain_data
    if state.genesis_file is not None:
        files["genesis"] = Path(shutil.copy2(state.genesis_file, dest / "genesis.json"))
    manifest.parts = {name: {"file": p.name, "sha256": _sha256(p), "bytes": p.stat().st_size} for name, p in files.items()}
    atomic_write(dest / MANIFEST, json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


# ---------------------------------------------------------------------------- restore


def load_manifest(backup_dir: Path) -> Manifest:
    """The manifest, every part checked against its sha-256."""
    backup_dir = Path(backup_dir)
    manifest = Manifest(**json.loads((backup_dir / MANIFEST).read_text()))
    for name, part in manifest.parts.items():
        path = backup_dir / part["file"]
        if not path.exists() or _sha256(path) != part["sha256"]:
            raise BackupError(f"backup part {name} ({path}) is missing or damaged")
    return manifest


def restore_database(dump: Path, database_url: str) -> None:
    """Load a dump into `database_url` (an empty PostgreSQL database, or a new SQLite file)."""
    if _is_sqlite(database_url):
        target = _sqlite_path(database_url)
        if target.exists():
            raise BackupError(f"{target} exists: restore into a new file")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dump, target)
        return
    done = subprocess.run([str(pg_bin_dir() / "pg_restore"), "--no-owner", "--exit-on-error", "--dbname",
                           libpq_url(database_url), str(dump)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _untar(archive: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def restore(backup_dir: Path, database_url: str, into: Path) -> NodeState:
    """Restore a backup onto a fresh machine: the read model into `database_url`, the files
    under `into` (``keystore/``, ``documents/``, ``geth/``, ``genesis.json``)."""
    backup_dir, into = Path(backup_dir), Path(into)
    manifest = load_manifest(backup_dir)
    part = lambda name: backup_dir / manifest.parts[name]["file"]  # noqa: E731
    restore_database(part("read_model"), database_url)
    has = manifest.parts.__contains__
    return NodeState(
        database_url=database_url,
        keystore_dir=_untar(part("keystore"), into / "keystore") if has("keystore") else None,
        document_dir=_untar(part("documents"), into / "documents") if has("documents") else None,
        geth_datadir=_untar(part("geth"), into / "geth") if has("geth") else None,
        genesis_file=Path(shutil.copy2(part("genesis"), into / "genesis.json")) if has("genesis") else None,
    )


# ---------------------------------------------------------------------------- verify


def rebuild_read_model(rpc_url: str, deployment: Deployment, database_url: str, confirmations: int,
                       indexer: Callable[[Web3, str], Indexer] | None = None) -> dict[str, Any]:
    """Index the deployment from its deploy block into `database_url` (emptied first) with the
    node's indexer (``build_indexer``: every tradenet projection), or with `indexer(w3, url)` to
    rebuild the read model of a differently configured one; returns the checkpoint reached."""
    upgrade(database_url)
    w3 = poa_compatible(Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30})))
    ix = (indexer(w3, database_url) if indexer is not None
          else build_indexer(w3, database_url, deployment, compile_contracts(), confirmations=confirmations))
    try:
        ix.rebuild()
    finally:
        ix.engine.dispose()
    return read_checkpoint(database_url) or {}


@dataclass
class ReadModelComparison:
    """`a` and `b` compared up to the lower of their checkpoints (``height``)."""

    height: int
    differing: dict[str, str] = field(default_factory=dict)  # table -> what differs
    tables: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differing


def _rows(conn: Any, table: Any, height: int) -> list[tuple]:
    q = select(table)
    column = BLOCK_TABLES.get(table.name)
    if column is not None:
        q = q.where(table.c[column] <= height)
    key = list(table.primary_key.columns) or list(table.columns)
    return [tuple(r) for r in conn.execute(q.order_by(*key))]


def compare_read_models(a_url: str, b_url: str) -> ReadModelComparison:
    """Every read-model table of `a` and `b`, row by row: raw blocks and events up to the common
    height; projection tables whole, which is meaningful when neither model has events above
    the common height (else that is reported as the difference)."""
    cps = [read_checkpoint(u) for u in (a_url, b_url)]
    if not all(cps):
        raise BackupError("both read models need a checkpoint (an indexed block)")
    height = min(cp["block_number"] for cp in cps)
    result = ReadModelComparison(height)
    engines = [create_db_engine(u) for u in (a_url, b_url)]
    try:
        metas = []
        for e in engines:
            m = MetaData()
            m.reflect(e)
            metas.append(m)
        names = sorted(set(metas[0].tables) | set(metas[1].tables))
        with engines[0].connect() as ca, engines[1].connect() as cb:
            for name in names:
                if name in BOOKKEEPING_TABLES:
                    continue
                result.tables.append(name)
                if name not in metas[0].tables or name not in metas[1].tables:
                    result.differing[name] = "table missing on one side"
                    continue
                ra, rb = _rows(ca, metas[0].tables[name], height), _rows(cb, metas[1].tables[name], height)
                if ra != rb:
                    result.differing[name] = f"{len(ra)} vs {len(rb)} rows, first difference at row " \
                                             f"{next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))}"
            for label, conn, meta in (("a", ca, metas[0]), ("b", cb, metas[1])):
                ev = meta.tables.get("events")
                if ev is not None:
                    later = conn.execute(select(ev.c.block_number).where(ev.c.block_number > height).limit(1)).first()
                    if later is not None:
                        result.differing["events"] = f"{label} has events above the common height {height}: " \
                                                     "index both to the same block to compare projections"
    finally:
        for e in engines:
            e.dispose()
    return result
