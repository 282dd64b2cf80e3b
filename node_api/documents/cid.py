"""Local computation of the IPFS CIDv1 that kubo assigns to a file.

Reproduces ``ipfs add --cid-version=1`` with kubo's default import parameters:

* fixed-size chunker ``size-262144``;
* raw leaves (implied by CIDv1): every chunk is a ``raw`` (0x55) block;
* balanced DAG layout, at most 174 links per node; internal nodes are dag-pb (0x70) blocks
  holding a UnixFS ``File`` message;
* sha2-256 multihash, base32 lower-case multibase (``b...``).

A file of at most one chunk (including the empty file) is a single raw block, so its CID is the
raw CID of the bytes themselves.

The balanced layout of go-unixfs/boxo (``importer/balanced``) grows the tree by making the current
root the first child of a new root and filling the rest at the same depth. That yields exactly the
tree obtained by grouping the leaves left to right in runs of ``max_links``, then grouping those
nodes the same way, until one node remains; :func:`compute_cid` builds it that way.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from .errors import InvalidCIDError

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "CODEC_RAW",
    "CODEC_DAG_PB",
    "CID",
    "compute_cid",
    "parse_cid",
]

CHUNK_SIZE = 262_144
MAX_LINKS = 174
CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
_SHA2_256 = 0x12
_UNIXFS_FILE = 2


# --- minimal protobuf wire format ---------------------------------------------------------------

def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise InvalidCIDError("truncated or oversized varint")


def _pb_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _pb_bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


# --- CIDs ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CID:
    """A CIDv1 with a sha2-256 multihash."""

    codec: int
    digest: bytes

    def to_bytes(self) -> bytes:
        return _varint(1) + _varint(self.codec) + _varint(_SHA2_256) + _varint(32) + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")

    @classmethod
    def of_block(cls, codec: int, block: bytes) -> "CID":
        return cls(codec, hashlib.sha256(block).digest())


def parse_cid(text: str) -> CID:
    """Parse a base32 CIDv1 string; raises :class:`InvalidCIDError` for anything else."""
    if not isinstance(text, str) or len(text) < 2 or text[0] != "b":
        raise InvalidCIDError(f"not a base32 CIDv1: {text!r}")
    body = text[1:]
    if body != body.lower() or not body.isalnum():
        raise InvalidCIDError(f"not a lower-case base32 CIDv1: {text!r}")
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise InvalidCIDError(f"invalid base32 in CID {text!r}") from exc
    version, pos = _read_varint(raw, 0)
    codec, pos = _read_varint(raw, pos)
    mh_code, pos = _read_varint(raw, pos)
    mh_len, pos = _read_varint(raw, pos)
    if version != 1:
        raise InvalidCIDError(f"unsupported CID version {version}")
    if codec not in (CODEC_RAW, CODEC_DAG_PB):
        raise InvalidCIDError(f"unsupported CID codec 0x{codec:x}")
    if mh_code != _SHA2_256 or mh_len != 32 or len(raw) - pos != 32:
        raise InvalidCIDError("CID multihash is not a sha2-256 digest")
    cid = CID(codec, raw[pos:])
    if str(cid) != text:  # rejects non-canonical base32 tails
        raise InvalidCIDError(f"non-canonical CID encoding: {text!r}")
    return cid


# --- UnixFS / dag-pb -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Node:
    cid: CID
    file_size: int  # bytes of file content below this node
    tsize: int      # cumulative serialized size of the sub-DAG (dag-pb link Tsize)


def _leaf(chunk: bytes) -> _Node:
    return _Node(CID.of_block(CODEC_RAW, chunk), len(chunk), len(chunk))


def _file_node(children: list[_Node]) -> _Node:
    # UnixFS Data message: Type=File, filesize, blocksizes (proto2 repeated, not packed).
    file_size = sum(c.file_size for c in children)
    unixfs = _pb_varint(1, _UNIXFS_FILE) + _pb_varint(3, file_size)
    unixfs += b"".join(_pb_varint(4, c.file_size) for c in children)
    # PBNode: Links (field 2) precede Data (field 1) in canonical dag-pb; each PBLink carries
    # Hash (1), an empty Name (2) and Tsize (3).
    links = b"".join(
        _pb_bytes(2, _pb_bytes(1, c.cid.to_bytes()) + _pb_bytes(2, b"") + _pb_varint(3, c.tsize))
        for c in children
    )
    block = links + _pb_bytes(1, unixfs)
    return _Node(CID.of_block(CODEC_DAG_PB, block), file_size, len(block) + sum(c.tsize for c in children))


def compute_cid(data: bytes, *, chunk_size: int = CHUNK_SIZE, max_links: int = MAX_LINKS) -> str:
    """Return the CIDv1 string kubo gives for ``ipfs add --cid-version=1`` of ``data``."""
    if chunk_size <= 0 or max_links < 2:
        raise ValueError("chunk_size must be positive and max_links at least 2")
    view = memoryview(data)
    if len(view) <= chunk_size:
        return str(CID.of_block(CODEC_RAW, bytes(view)))
    level = [_leaf(bytes(view[i:i + chunk_size])) for i in range(0, len(view), chunk_size)]
    while len(level) > 1:
        level = [_file_node(level[i:i + max_links]) for i in range(0, len(level), max_links)]
    return str(level[0].cid)
