"""`tradenet backup` on the session anvil with a SQLite read model: create, restore onto a fresh
directory, verify against a read model rebuilt from the chain; and the bad paths (a damaged
backup, a restore over an existing read model, a read model that differs from the chain).
The PostgreSQL and geth variant runs on the consortium network (test_consortium.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from eth_utils import keccak

from chain.indexer import upgrade
from chain.indexer.network import build_indexer
from chain.keystore import Keystore
from tradenet import cli
from tradenet.backup import BackupError, load_manifest, restore


@pytest.fixture
def org(net, tmp_path: Path) -> dict[str, Path | str]:
    """An organisation's node state: a read model of the session chain, a keystore, documents."""
    net.token("USD", "treasury").mint(net.addr("lender"), 5_000_00, keccak(text="backup-test-deposit"))
    db = f"sqlite:///{tmp_path / 'org' / 'read_model.db'}"
    (tmp_path / "org").mkdir()
    upgrade(db)
    ix = build_indexer(net.w3, db, net.deployment, net.chain.artifacts)
    ix.sync()
    ix.engine.dispose()
    ks = Keystore(tmp_path / "org" / "keystore", scrypt_n=2**12)
    ks.import_key("lender", net.keys["lender"].key, "pw")
    docs = tmp_path / "org" / "documents"
    (docs / "blobs").mkdir(parents=True)
    (docs / "blobs" / "bafkreiexample").write_bytes(b"encrypted invoice")
    return {"db": db, "keystore": ks.directory, "documents": docs,
            "deployment": net.deployment.save(tmp_path / "deployments")}


def create(org, out: Path) -> int:
    return cli.main(["backup", "create", "--db-url", org["db"], "--keystore", str(org["keystore"]),
                     "--documents", str(org["documents"]), "--out", str(out)])


def verify(net, org, db: str, scratch: Path) -> int:
    return cli.main(["backup", "verify", "--db-url", db, "--scratch-db-url", f"sqlite:///{scratch}",
                     "--rpc-url", net.anvil_url, "--deployment", str(org["deployment"])])


def test_backup_restores_onto_a_fresh_directory_and_matches_the_chain(net, org, tmp_path: Path):
    assert create(org, tmp_path / "backup") == 0
    manifest = load_manifest(tmp_path / "backup")
    assert set(manifest.parts) == {"read_model", "keystore", "documents"} and manifest.database == "sqlite"
    assert manifest.checkpoint["block_number"] == net.w3.eth.block_number
    restored_db = f"sqlite:///{tmp_path / 'fresh' / 'read_model.db'}"
    assert cli.main(["backup", "restore", str(tmp_path / "backup"), "--db-url", restored_db,
                     "--into", str(tmp_path / "fresh")]) == 0
    assert Keystore(tmp_path / "fresh" / "keystore").load("lender", "pw").address == net.addr("lender")
    assert (tmp_path / "fresh" / "documents" / "blobs" / "bafkreiexample").read_bytes() == b"encrypted invoice"
    assert verify(net, org, restored_db, tmp_path / "scratch.db") == 0


def test_a_read_model_that_differs_from_the_chain_fails_verification(net, org, tmp_path: Path):
    assert create(org, tmp_path / "backup") == 0
    restored_db = tmp_path / "fresh" / "read_model.db"
    restore(tmp_path / "backup", f"sqlite:///{restored_db}", tmp_path / "fresh")
    with sqlite3.connect(restored_db) as conn:
        assert conn.execute("DELETE FROM events WHERE log_index = (SELECT MAX(log_index) FROM events)").rowcount == 1
    assert verify(net, org, f"sqlite:///{restored_db}", tmp_path / "scratch.db") == 1


def test_a_damaged_backup_or_an_existing_target_is_refused(net, org, tmp_path: Path, capsys):
    assert create(org, tmp_path / "backup") == 0
    manifest = (tmp_path / "backup" / "manifest.json").read_bytes()
    capsys.readouterr()
    assert create(org, tmp_path / "backup") == 1  # a backup never overwrites another: one line, exit 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FileExistsError" in err and str(tmp_path / "backup") in err, err
    assert (tmp_path / "backup" / "manifest.json").read_bytes() == manifest  # untouched
    with pytest.raises(BackupError, match="exists"):
        restore(tmp_path / "backup", org["db"], tmp_path / "fresh")
    part = tmp_path / "backup" / load_manifest(tmp_path / "backup").parts["keystore"]["file"]
    raw = bytearray(part.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    part.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="keystore"):
        restore(tmp_path / "backup", f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other")
    assert not (tmp_path / "other.db").exists()
