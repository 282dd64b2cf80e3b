"""Faults of the document store, for real: kubo killed (SIGKILL) and started again on its port;
the local store's disk full (a small tmpfs). Uploads answer 503 with a problem body and keep
nothing; downloads answer again when the store is back; no partial file is ever served."""

from __future__ import annotations

import pytest

from node_api.documents import KuboDocumentStore, LocalDocumentStore
from tests.support.api import make_api
from tests.support.faults import RestartableKubo, can_mount, files_under, fill, small_tmpfs

PROBLEM = "application/problem+json"


def upload(api, heads, data: bytes):
    return api.client.post("/documents", content=data, headers={**heads, "Content-Type": "application/octet-stream"})


def download(api, heads, doc: dict):
    return api.client.get(f"/documents/{doc['cid']}", params={"expected_hash": doc["sha256"]}, headers=heads)


def assert_unavailable(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "document_store_unavailable"


def key_files(api) -> list[str]:
    return files_under(api.ctx.settings.document_dir / "keys")


@pytest.fixture
def kubo(tmp_path):
    daemon = RestartableKubo(tmp_path / "kubo-repo").start()
    yield daemon
    daemon.stop()


def test_fault_kubo_killed_uploads_503_nothing_kept_downloads_resume(net, tmp_path, kubo):
    api = make_api(net, tmp_path)
    api.ctx.documents.store = KuboDocumentStore(kubo.api, offline=True, timeout=5)
    heads = api.login("seller")
    before = upload(api, heads, b"bill of lading, before the crash")
    assert before.status_code == 201, before.text
    doc = before.json()
    keys_before = key_files(api)

    kubo.kill()
    r = upload(api, heads, b"commercial invoice, while kubo is down")
    assert_unavailable(r)
    assert key_files(api) == keys_before  # no key recorded for a document that was not stored
    assert_unavailable(download(api, heads, doc))

    kubo.start()  # same repository, same API port
    again = download(api, heads, doc)
    assert again.status_code == 200 and again.content == b"bill of lading, before the crash"
    retried = upload(api, heads, b"commercial invoice, while kubo is down")
    assert retried.status_code == 201, retried.text
    assert download(api, heads, retried.json()).content == b"commercial invoice, while kubo is down"


@pytest.mark.skipif(not can_mount(), reason="a tmpfs needs root (mount); nothing else gives a real ENOSPC here")
def test_fault_disk_full_local_store_503_no_partial_file(net, tmp_path):
    api = make_api(net, tmp_path)
    heads = api.login("seller")
    with small_tmpfs(tmp_path / "small-disk", 512) as disk:
        store = LocalDocumentStore(disk / "blobs")
        api.ctx.documents.store = store
        small = upload(api, heads, b"a small receipt")
        assert small.status_code == 201, small.text
        filler = fill(disk, leave_bytes=64 * 1024)
        keys_before, blobs_before = key_files(api), files_under(disk / "blobs")

        big = upload(api, heads, b"x" * 200_000)  # more than is left
        assert_unavailable(big)
        assert "No space left" in big.json()["detail"]
        assert files_under(disk / "blobs") == blobs_before  # no partial blob, no temporary file left
        assert key_files(api) == keys_before
        assert download(api, heads, small.json()).content == b"a small receipt"  # reads still work

        filler.unlink()
        retried = upload(api, heads, b"x" * 200_000)
        assert retried.status_code == 201, retried.text
        assert download(api, heads, retried.json()).content == b"x" * 200_000
