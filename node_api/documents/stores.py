"""Content-addressed stores for (encrypted) documents.

Both stores address content by the CIDv1 kubo would give it (see :mod:`.cid`), so a document keeps
the same CID whether it lives in the embedded :class:`LocalDocumentStore` or on an IPFS node
through :class:`KuboDocumentStore`. Both re-verify the CID of every byte string they return.
"""

from __future__ import annotations

import abc
import logging
import os
import urllib.parse
from pathlib import Path

import ipfshttpclient
import ipfshttpclient.client

from chain.fsutil import atomic_write

from .cid import CHUNK_SIZE, MAX_LINKS, compute_cid, parse_cid
from .errors import DocumentNotFoundError, StoreError, TamperedDocumentError

__all__ = ["DocumentStore", "LocalDocumentStore", "KuboDocumentStore"]

log = logging.getLogger(__name__)


class DocumentStore(abc.ABC):
    """A content-addressed blob store keyed by CIDv1 strings."""

    @abc.abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` and return its CID."""

    @abc.abstractmethod
    def get(self, cid: str) -> bytes:
        """Return the bytes for ``cid``.

        Raises :class:`DocumentNotFoundError` if absent and :class:`TamperedDocumentError` if the
        bytes found do not hash to ``cid``.
        """

    @abc.abstractmethod
    def has(self, cid: str) -> bool:
        """Whether the complete document is held by this store."""


def _verified(cid: str, data: bytes, where: str) -> bytes:
    actual = compute_cid(data)
    if actual != cid:
        raise TamperedDocumentError(f"{where}: content of {cid} hashes to {actual}")
    return data


class LocalDocumentStore(DocumentStore):
    """Embedded store: one file per CID under ``root_dir`` (sharded by the CID's last 2 chars)."""

    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = Path(root_dir)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, cid: str) -> Path:
        parse_cid(cid)  # validates: only base32 characters can reach the file system
        return self.root / cid[-2:] / cid

    def put(self, data: bytes) -> str:
        cid = compute_cid(data)
        path = self.path_for(cid)
        # Always rewrite (atomically): idempotent, and it heals a copy that was damaged on disk. A
        # full disk (ENOSPC) leaves no partial file (atomic_write removes its temporary file).
        try:
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, data)
        except OSError as exc:
            raise StoreError(f"local store {self.root}: cannot write {cid}: {exc.strerror or exc}") from exc
        log.debug("stored %s (%d bytes) at %s", cid, len(data), path)
        return cid

    def get(self, cid: str) -> bytes:
        path = self.path_for(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(cid) from None
        except OSError as exc:
            raise StoreError(f"local store {self.root}: cannot read {cid}: {exc.strerror or exc}") from exc
        return _verified(cid, data, f"local store {self.root}")

    def has(self, cid: str) -> bool:
        return self.path_for(cid).is_file()


def _to_multiaddr(api: str) -> str:
    """Accept ``/ip4/127.0.0.1/tcp/5001/http`` or ``http://127.0.0.1:5001``."""
    if api.startswith("/"):
        return api
    url = urllib.parse.urlsplit(api)
    if url.scheme not in ("http", "https") or not url.hostname or not url.port:
        raise ValueError(f"kubo API must be a multiaddr or http(s)://host:port URL, got {api!r}")
    host = url.hostname
    proto = "ip6" if ":" in host else "ip4" if host.replace(".", "").isdigit() else "dns"
    return f"/{proto}/{host}/tcp/{url.port}/{url.scheme}"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-", 1)[0].split("."))


class KuboDocumentStore(DocumentStore):
    """A kubo (go-ipfs) node reached through its RPC API with ``ipfshttpclient`` 0.7.

    ``ipfshttpclient.connect()`` refuses daemons >= 0.8.0 (``VersionMismatch``), which excludes
    every kubo release of the last years. We construct ``ipfshttpclient.Client`` directly, which
    performs no version assertion, then query and log the daemon version ourselves and enforce
    only the library's *minimum*. Every RPC used here (``version``, ``add``, ``cat``, ``pin/ls``)
    is exercised against a real kubo by ``tests/test_documents.py``.

    ``put`` passes every import parameter explicitly, so the daemon's ``Import.*`` configuration
    cannot change the CID, and cross-checks kubo's CID against :func:`compute_cid`.
    """

    #: import options equal to kubo's defaults for ``--cid-version=1``, spelled out.
    ADD_OPTIONS = {
        "cid-version": 1,
        "raw-leaves": "true",
        "hash": "sha2-256",
        "chunker": f"size-{CHUNK_SIZE}",
        "max-file-links": MAX_LINKS,
        "trickle": "false",
        "inline": "false",
        "pin": "true",
    }

    def __init__(self, api: str = "/ip4/127.0.0.1/tcp/5001/http", *, timeout: float = 120.0,
                 offline: bool = False) -> None:
        """``offline=True`` makes the daemon answer from local blocks only (no network fetch)."""

        self._exceptions = ipfshttpclient.exceptions
        self.api = _to_multiaddr(api)
        self._client = ipfshttpclient.Client(self.api, timeout=timeout, offline=offline)
        try:
            info = self._client.version()
        except self._exceptions.Error as exc:
            raise StoreError(f"kubo API at {self.api} is not reachable: {exc}") from exc
        self.daemon_version: str = info["Version"]
        minimum = ipfshttpclient.client.VERSION_MINIMUM
        if _version_tuple(self.daemon_version) < _version_tuple(minimum):
            raise StoreError(f"kubo {self.daemon_version} at {self.api} is older than {minimum}")
        log.info(
            "connected to kubo %s (commit %s, %s) at %s; ipfshttpclient %s declares support "
            "below %s only, version check bypassed on purpose",
            self.daemon_version, info.get("Commit") or "-", info.get("Golang", "?"), self.api,
            ipfshttpclient.__version__, ipfshttpclient.client.VERSION_MAXIMUM,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "KuboDocumentStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def put(self, data: bytes) -> str:
        expected = compute_cid(data)
        try:
            cid = self._client.add_bytes(data, opts=dict(self.ADD_OPTIONS))
        except self._exceptions.Error as exc:
            raise StoreError(f"kubo add failed: {exc}") from exc
        if cid != expected:
            raise StoreError(f"kubo returned {cid} for content whose CIDv1 is {expected}; "
                             "check the daemon's import settings")
        log.debug("added %s (%d bytes) to kubo", cid, len(data))
        return cid

    def get(self, cid: str) -> bytes:
        parse_cid(cid)
        try:
            data = self._client.cat(cid)
        except self._exceptions.ErrorResponse as exc:
            if self._is_missing(exc):
                raise DocumentNotFoundError(cid) from exc
            raise StoreError(f"kubo cat {cid} failed: {exc}") from exc
        except self._exceptions.Error as exc:
            raise StoreError(f"kubo cat {cid} failed: {exc}") from exc
        return _verified(cid, data, f"kubo {self.api}")

    def has(self, cid: str) -> bool:
        """True if ``cid`` is recursively pinned here, i.e. the whole DAG is held locally."""
        parse_cid(cid)
        try:
            keys = self._client.pin.ls(cid, type="recursive")["Keys"]
        except self._exceptions.ErrorResponse as exc:
            if "not pinned" in str(exc):
                return False
            raise StoreError(f"kubo pin ls {cid} failed: {exc}") from exc
        except self._exceptions.Error as exc:
            raise StoreError(f"kubo pin ls {cid} failed: {exc}") from exc
        return cid in keys

    @staticmethod
    def _is_missing(exc: Exception) -> bool:
        text = str(exc).lower()
        return "not found" in text or "could not find" in text
