"""Document encryption, hashing and ECIES key wrapping over secp256k1.

* A document is sealed with a fresh random AES-256-GCM key and a 96-bit nonce:
  ``ciphertext = nonce || AES-GCM(key, nonce, plaintext, aad=context)`` (GCM tag included).
* ``sha256(ciphertext)`` is the hash anchored on chain; a keccak256 helper is provided as well.
* The document key is wrapped for each reader with ECIES over secp256k1 (readers are Ethereum
  accounts): an ephemeral key pair, ECDH with the reader's public key, HKDF-SHA256 whose info binds
  a version tag, the reader's address and the ephemeral public key, then AES-256-GCM.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.messages import encode_defunct
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from .errors import DecryptionError, KeyUnwrapError, WrongKeyError

__all__ = [
    "DEFAULT_CONTEXT",
    "WRAP_VERSION",
    "KEY_SIZE",
    "NONCE_SIZE",
    "BytesLike",
    "WrappedKey",
    "generate_document_key",
    "encrypt_document",
    "decrypt_document",
    "sha256_hex",
    "keccak256_hex",
    "normalize_public_key",
    "public_key_from_private_key",
    "address_from_public_key",
    "recover_public_key",
    "wrap_key",
    "unwrap_key",
]

DEFAULT_CONTEXT = b"tradenet-doc-v1"
WRAP_VERSION = "tradenet-ecies-secp256k1-v1"
KEY_SIZE = 32
NONCE_SIZE = 12
_TAG_SIZE = 16
_CURVE = ec.SECP256K1()

BytesLike = Union[bytes, bytearray, memoryview, str]


def _to_bytes(value: BytesLike, what: str) -> bytes:
    """Accept raw bytes (incl. HexBytes) or a hex string with or without ``0x``."""
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else value
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise ValueError(f"{what} is not valid hex") from exc
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or a hex string, not {type(value).__name__}")


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


# --- hashing -------------------------------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    """``0x``-prefixed sha256 hex digest (the document hash anchored on chain)."""
    return _hex(hashlib.sha256(data).digest())


def keccak256_hex(data: bytes) -> str:
    """``0x``-prefixed keccak256 hex digest (what Solidity's ``keccak256`` would give)."""
    return _hex(keccak(data))


# --- symmetric document encryption ---------------------------------------------------------------

def generate_document_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encrypt_document(plaintext: bytes, key: bytes, context: bytes) -> bytes:
    """Return ``nonce || AES-256-GCM(plaintext)`` with ``context`` as associated data."""
    if len(key) != KEY_SIZE:
        raise ValueError("document key must be 32 bytes")
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def decrypt_document(ciphertext: bytes, key: bytes, context: bytes) -> bytes:
    if len(key) != KEY_SIZE:
        raise ValueError("document key must be 32 bytes")
    if len(ciphertext) < NONCE_SIZE + _TAG_SIZE:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:], context)
    except InvalidTag as exc:
        raise DecryptionError("document failed authentication (wrong key or context)") from exc


# --- secp256k1 keys ------------------------------------------------------------------------------

def normalize_public_key(public_key: BytesLike) -> bytes:
    """Return the 64-byte ``x || y`` form of a secp256k1 public key.

    Accepts 64-byte raw (Ethereum style), 65-byte SEC1 uncompressed or 33-byte compressed keys,
    as bytes or hex. Raises ``ValueError`` if the point is not on the curve.
    """
    raw = _to_bytes(public_key, "public key")
    if len(raw) == 64:
        raw = b"\x04" + raw
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw)
    except ValueError as exc:
        raise ValueError("not a valid secp256k1 public key") from exc
    return point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]


def _private_key(private_key: BytesLike) -> ec.EllipticCurvePrivateKey:
    raw = _to_bytes(private_key, "private key")
    if len(raw) != 32:
        raise ValueError("private key must be 32 bytes")
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), _CURVE)
    except ValueError as exc:
        raise ValueError("private key is out of range for secp256k1") from exc


def _public_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def public_key_from_private_key(private_key: BytesLike) -> bytes:
    """64-byte public key of a raw 32-byte private key (as ``eth_account`` gives it)."""
    return _public_bytes(_private_key(private_key))[1:]


def address_from_public_key(public_key: BytesLike) -> str:
    """Checksummed Ethereum address of a secp256k1 public key."""
    return to_checksum_address(keccak(normalize_public_key(public_key))[-20:])


def recover_public_key(message: str | bytes, signature: BytesLike) -> bytes:
    """Recover the 64-byte public key from an EIP-191 ``personal_sign`` signature.

    This is how a participant's encryption key is learnt from e.g. its Sign-In-with-Ethereum
    login signature.
    """
    sig = _to_bytes(signature, "signature")
    if len(sig) != 65:
        raise ValueError("signature must be 65 bytes (r || s || v)")
    v = sig[64] - 27 if sig[64] >= 27 else sig[64]
    signable = encode_defunct(text=message) if isinstance(message, str) else encode_defunct(message)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    return keys.Signature(sig[:64] + bytes([v])).recover_public_key_from_msg_hash(digest).to_bytes()


# --- ECIES key wrapping --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A document key sealed for one reader."""

    recipient: str               # checksummed address of the reader
    ephemeral_public_key: bytes  # 65-byte SEC1 uncompressed point
    nonce: bytes                 # 12 bytes
    ciphertext: bytes            # AES-GCM of the 32-byte document key, tag included (48 bytes)
    version: str = WRAP_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipient", to_checksum_address(self.recipient))
        if self.version != WRAP_VERSION:
            raise ValueError(f"unsupported wrapped key version {self.version!r}")
        if len(self.ephemeral_public_key) != 65 or len(self.nonce) != NONCE_SIZE:
            raise ValueError("malformed wrapped key")
        if len(self.ciphertext) != KEY_SIZE + _TAG_SIZE:
            raise ValueError("malformed wrapped key ciphertext")

    def to_dict(self) -> dict[str, str]:
        return {
            "version": self.version,
            "recipient": self.recipient,
            "ephemeral_public_key": _hex(self.ephemeral_public_key),
            "nonce": _hex(self.nonce),
            "ciphertext": _hex(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WrappedKey":
        try:
            return cls(
                recipient=data["recipient"],
                ephemeral_public_key=_to_bytes(data["ephemeral_public_key"], "ephemeral_public_key"),
                nonce=_to_bytes(data["nonce"], "nonce"),
                ciphertext=_to_bytes(data["ciphertext"], "ciphertext"),
                version=data.get("version", WRAP_VERSION),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed wrapped key: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "WrappedKey":
        return cls.from_dict(json.loads(text))


def _kek(shared_secret: bytes, recipient: str, ephemeral_public_key: bytes) -> bytes:
    info = WRAP_VERSION.encode() + bytes.fromhex(recipient[2:]) + ephemeral_public_key
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(shared_secret)


def _aad(recipient: str) -> bytes:
    return WRAP_VERSION.encode() + bytes.fromhex(recipient[2:])


def wrap_key(document_key: bytes, recipient_public_key: BytesLike) -> WrappedKey:
    """Seal ``document_key`` for the owner of ``recipient_public_key``."""
    if len(document_key) != KEY_SIZE:
        raise ValueError("document key must be 32 bytes")
    pub64 = normalize_public_key(recipient_public_key)
    recipient = address_from_public_key(pub64)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x04" + pub64)
    ephemeral = ec.generate_private_key(_CURVE)
    eph_pub = _public_bytes(ephemeral)
    kek = _kek(ephemeral.exchange(ec.ECDH(), peer), recipient, eph_pub)
    nonce = os.urandom(NONCE_SIZE)
    ciphertext = AESGCM(kek).encrypt(nonce, document_key, _aad(recipient))
    return WrappedKey(recipient, eph_pub, nonce, ciphertext)


def unwrap_key(wrapped: WrappedKey, private_key: BytesLike) -> bytes:
    """Open a wrapped document key with the recipient's raw 32-byte private key.

    Raises :class:`WrongKeyError` if the key is not the recipient's and :class:`KeyUnwrapError`
    if the envelope fails authentication; never returns unauthenticated bytes.
    """
    key = _private_key(private_key)
    own_address = address_from_public_key(_public_bytes(key))
    if own_address != wrapped.recipient:
        raise WrongKeyError(
            f"private key belongs to {own_address}, wrapped key is for {wrapped.recipient}"
        )
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, wrapped.ephemeral_public_key)
    except ValueError as exc:
        raise KeyUnwrapError("wrapped key has an invalid ephemeral public key") from exc
    kek = _kek(key.exchange(ec.ECDH(), peer), wrapped.recipient, wrapped.ephemeral_public_key)
    try:
        return AESGCM(kek).decrypt(wrapped.nonce, wrapped.ciphertext, _aad(wrapped.recipient))
    except InvalidTag as exc:
        raise KeyUnwrapError(f"wrapped key for {wrapped.recipient} failed authentication") from exc
