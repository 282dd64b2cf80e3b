"""Encrypted document upload/download on top of a :class:`~.stores.DocumentStore`."""

from __future__ import annotations

import abc
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import to_checksum_address

from chain.fsutil import atomic_write

from .cid import parse_cid
from .crypto import (
    DEFAULT_CONTEXT,
    BytesLike,
    WrappedKey,
    address_from_public_key,
    decrypt_document,
    encrypt_document,
    generate_document_key,
    keccak256_hex,
    sha256_hex,
    unwrap_key,
    wrap_key,
)
from .errors import NotAPartyError, StoreError, TamperedDocumentError
from .stores import DocumentStore

__all__ = ["UploadedDocument", "KeyRing", "MemoryKeyRing", "FileKeyRing", "DocumentService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UploadedDocument:
    cid: str
    sha256: str          # 0x-hex sha256 of the ciphertext: the hash anchored on chain
    keccak: str          # 0x-hex keccak256 of the ciphertext
    wrapped_keys: tuple[WrappedKey, ...] = field(repr=False)
    size: int            # ciphertext size in bytes

    @property
    def readers(self) -> tuple[str, ...]:
        return tuple(w.recipient for w in self.wrapped_keys)

    def to_dict(self) -> dict[str, object]:
        return {
            "cid": self.cid,
            "sha256": self.sha256,
            "keccak": self.keccak,
            "size": self.size,
            "wrapped_keys": [w.to_dict() for w in self.wrapped_keys],
        }


class KeyRing(abc.ABC):
    """Where the wrapped keys of each document are kept (by CID and reader address), with who
    uploaded it (the first uploader of a CID stays its uploader)."""

    @abc.abstractmethod
    def add(self, cid: str, wrapped_keys: Iterable[WrappedKey], uploader: str | None = None) -> None:
        """Record wrapped keys for ``cid`` (replacing any earlier key of the same reader)."""

    @abc.abstractmethod
    def get(self, cid: str) -> dict[str, WrappedKey]:
        """All wrapped keys of ``cid`` by checksummed reader address (empty if none)."""

    @abc.abstractmethod
    def uploader(self, cid: str) -> str | None:
        """The checksummed address that uploaded ``cid`` here, if known."""

    def key_for(self, cid: str, reader: str) -> WrappedKey:
        reader = to_checksum_address(reader)
        try:
            return self.get(cid)[reader]
        except KeyError:
            raise NotAPartyError(f"{reader} is not a reader of document {cid}") from None


class MemoryKeyRing(KeyRing):
    """Process-local key ring (tests, or when the caller persists ``UploadedDocument`` itself)."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, WrappedKey]] = {}
        self._uploaders: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, cid: str, wrapped_keys: Iterable[WrappedKey], uploader: str | None = None) -> None:
        with self._lock:
            entry = self._keys.setdefault(cid, {})
            entry.update({w.recipient: w for w in wrapped_keys})
            if uploader is not None:
                self._uploaders.setdefault(cid, to_checksum_address(uploader))

    def get(self, cid: str) -> dict[str, WrappedKey]:
        with self._lock:
            return dict(self._keys.get(cid, {}))

    def uploader(self, cid: str) -> str | None:
        with self._lock:
            return self._uploaders.get(cid)


class FileKeyRing(KeyRing):
    """One JSON file per CID under ``root_dir`` (atomic rewrites):
    ``{"uploader": address | null, "keys": [wrapped key, ...]}`` (a bare list of keys, the
    earlier format, is still read)."""

    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = Path(root_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, cid: str) -> Path:
        parse_cid(cid)
        return self.root / f"{cid}.keys.json"

    def add(self, cid: str, wrapped_keys: Iterable[WrappedKey], uploader: str | None = None) -> None:
        path = self._path(cid)
        with self._lock:
            known, entry = self._read(cid)
            entry.update({w.recipient: w for w in wrapped_keys})
            first = known or (to_checksum_address(uploader) if uploader is not None else None)
            atomic_write(path, json.dumps({"uploader": first, "keys": [w.to_dict() for w in entry.values()]},
                                          indent=1, sort_keys=True))

    def _read(self, cid: str) -> tuple[str | None, dict[str, WrappedKey]]:
        try:
            data = json.loads(self._path(cid).read_text())
        except FileNotFoundError:
            return None, {}
        uploader, items = (None, data) if isinstance(data, list) else (data.get("uploader"), data["keys"])
        return uploader, {w.recipient: w for w in map(WrappedKey.from_dict, items)}

    def get(self, cid: str) -> dict[str, WrappedKey]:
        return self._read(cid)[1]

    def uploader(self, cid: str) -> str | None:
        return self._read(cid)[0]


def _normalize_hash(value: BytesLike) -> bytes:
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else value
        raw = bytes.fromhex(text)
    else:
        raw = bytes(value)
    if len(raw) != 32:
        raise ValueError("expected hash must be a 32-byte sha256 digest")
    return raw


class DocumentService:
    """Encrypt, store and key-wrap documents; download with hash and access checks."""

    def __init__(self, store: DocumentStore, keyring: KeyRing | None = None) -> None:
        self.store = store
        self.keyring = keyring if keyring is not None else MemoryKeyRing()

    def upload(self, plaintext: bytes, readers: Mapping[str, BytesLike],
               context: bytes = DEFAULT_CONTEXT, uploader: str | None = None) -> UploadedDocument:
        """Encrypt ``plaintext`` under a fresh key, store it and wrap the key for ``readers``
        (``uploader``, if given, is recorded as the document's uploader).

        ``readers`` maps each reader's address to its secp256k1 public key; the key must belong
        to the address (checked), so a typo cannot hand a document to the wrong party.
        """
        if not readers:
            raise ValueError("a document needs at least one reader")
        document_key = generate_document_key()
        wrapped: list[WrappedKey] = []
        for address, public_key in readers.items():
            owner = address_from_public_key(public_key)
            if owner != to_checksum_address(address):
                raise ValueError(f"public key given for {address} belongs to {owner}")
            wrapped.append(wrap_key(document_key, public_key))
        ciphertext = encrypt_document(plaintext, document_key, context)
        cid = self.store.put(ciphertext)  # StoreError: nothing kept (no key, so no document)
        try:
            self.keyring.add(cid, wrapped, uploader=uploader)
        except OSError as exc:  # disk full: the stored ciphertext has no key, so no reader sees it
            raise StoreError(f"key ring: cannot record the keys of {cid}: {exc.strerror or exc}") from exc
        doc = UploadedDocument(cid, sha256_hex(ciphertext), keccak256_hex(ciphertext),
                               tuple(wrapped), len(ciphertext))
        log.info("uploaded document %s (%d bytes, sha256 %s) for %d reader(s)",
                 cid, doc.size, doc.sha256, len(wrapped))
        return doc

    def stored_hash(self, cid: str) -> str:
        """The sha-256 (0x-hex) of the stored ciphertext of ``cid``."""
        return sha256_hex(self.store.get(cid))

    def download(self, cid: str, expected_hash: BytesLike | Sequence[BytesLike], reader_address: str,
                 reader_private_key: BytesLike, context: bytes = DEFAULT_CONTEXT,
                 wrapped_keys: Iterable[WrappedKey] | None = None) -> bytes:
        """Fetch, verify and decrypt a document for ``reader_address``.

        ``expected_hash`` is the sha256 anchored on chain, or a list of hashes anchored by parties
        entitled to anchor the document: the bytes must match one of them (a stray anchor made by
        someone else must not block the rightful ones). ``wrapped_keys`` overrides the key ring
        (e.g. keys kept with the on-chain record). Raises :class:`NotAPartyError`,
        :class:`TamperedDocumentError`, :class:`~.errors.KeyUnwrapError` or
        :class:`~.errors.DecryptionError`.
        """
        single = isinstance(expected_hash, (str, bytes, bytearray, memoryview))
        hashes = [expected_hash] if single else list(expected_hash)
        if not hashes:
            raise ValueError("at least one expected hash is needed")
        expected = [_normalize_hash(h) for h in hashes]
        reader = to_checksum_address(reader_address)
        if wrapped_keys is None:
            wrapped = self.keyring.key_for(cid, reader)
        else:
            wrapped = next((w for w in wrapped_keys if w.recipient == reader), None)
            if wrapped is None:
                raise NotAPartyError(f"{reader} is not a reader of document {cid}")
        ciphertext = self.store.get(cid)
        actual = sha256_hex(ciphertext)
        digest = bytes.fromhex(actual[2:])
        if not any(hmac.compare_digest(digest, e) for e in expected):
            raise TamperedDocumentError(
                f"document {cid} hashes to {actual}, anchored hash is "
                + " or ".join("0x" + e.hex() for e in expected))
        document_key = unwrap_key(wrapped, reader_private_key)
        plaintext = decrypt_document(ciphertext, document_key, context)
        log.info("document %s downloaded by %s", cid, reader)
        return plaintext
