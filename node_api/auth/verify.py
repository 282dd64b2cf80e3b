"""Server-side verification of a signed EIP-4361 login.

Order of checks, and when the nonce is spent
--------------------------------------------
1. the message text is parsed strictly and the signature is decoded
   (65 bytes, canonical low-s secp256k1)           -> SiweParseError /
                                                      MalformedSignatureError
2. ``domain``, ``scheme`` (``https`` when absent)  -> DomainMismatchError /
   and the origin of ``uri`` match this server        SchemeMismatchError /
   (EIP-4361: checked against expected values)        UriMismatchError
3. the nonce is consumed, atomically               -> NonceUnknownError /
                                                      NonceExpiredError /
                                                      NonceReusedError
4. ``chain_id`` matches                            -> ChainIdMismatchError
5. not expired, not before ``not_before``, not     -> MessageExpiredError /
   issued in the future beyond ``max_clock_skew``     MessageNotYetValidError /
                                                      IssuedInFutureError
6. the EIP-191 ``personal_sign`` signature over    -> SignerMismatchError
   the text as received recovers to ``address``

Decision: **every attempt that gets past steps 1-2 spends its nonce, whether
or not it then succeeds.**  Check-and-spend is one atomic store operation, so
there is no window in which two requests can both see the nonce unused, and a
message that was once refused (say, presented before its ``not_before``) can
never be accepted later.  A reused nonce is therefore always refused.  The
cost is that someone who learns a client's pending nonce can burn it with a
forged attempt; the client then simply asks for a new nonce.  Steps 1-2 come
first because text that does not parse, or that is addressed to another
site, is not a login attempt on this server at all.

Only externally owned accounts are supported (ecrecover); EIP-1271 contract
wallets are not, since every participant logs in with its own key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from .errors import (
    ChainIdMismatchError,
    DomainMismatchError,
    IssuedInFutureError,
    MalformedSignatureError,
    MessageExpiredError,
    MessageNotYetValidError,
    SchemeMismatchError,
    SignerMismatchError,
    UriMismatchError,
)
from .origin import origin_of
from .nonces import NonceStore
from .rfc3339 import format_rfc3339, utc_now
from .siwe_message import SiweMessage

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "VerifiedLogin",
    "decode_signature",
    "recover_signer",
    "verify_login",
]

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=1)
DEFAULT_SCHEME: Final = "https"  # EIP-4361: "If scheme is not specified, HTTPS is assumed"

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGNATURE_LENGTH: Final = 65


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    """What a successful login proves: this address signed in on this chain."""

    address: str
    chain_id: int
    issued_at: datetime
    expiration_time: datetime | None


def decode_signature(signature: str | bytes) -> bytes:
    """Decode a 65-byte ``r || s || v`` signature (hex text or raw bytes).

    Refuses high-s (malleable) signatures, ``r``/``s`` out of range and any
    ``v`` other than 0, 1, 27 or 28 with :class:`MalformedSignatureError`.
    """
    if isinstance(signature, str):
        hex_text = signature[2:] if signature[:2] in ("0x", "0X") else signature
        try:
            raw = bytes.fromhex(hex_text)
        except ValueError:
            raise MalformedSignatureError("signature", "not hexadecimal") from None
        if len(hex_text) != 2 * len(raw):  # fromhex skips whitespace
            raise MalformedSignatureError("signature", "not hexadecimal")
    elif isinstance(signature, (bytes, bytearray, memoryview)):
        raw = bytes(signature)
    else:
        raise MalformedSignatureError(
            "signature", f"must be hex text or bytes, got {type(signature).__name__}"
        )
    if len(raw) != _SIGNATURE_LENGTH:
        raise MalformedSignatureError(
            "signature", f"must be {_SIGNATURE_LENGTH} bytes (r, s, v), got {len(raw)}"
        )
    r = int.from_bytes(raw[0:32], "big")
    s = int.from_bytes(raw[32:64], "big")
    v = raw[64]
    if not 1 <= r < _SECP256K1_N:
        raise MalformedSignatureError("signature", "r is out of range")
    if not 1 <= s <= _SECP256K1_N // 2:
        raise MalformedSignatureError("signature", "s is out of range (high-s is not accepted)")
    if v not in (0, 1, 27, 28):
        raise MalformedSignatureError("signature", f"v must be 0, 1, 27 or 28, got {v}")
    return raw


def recover_signer(message_text: str, signature: bytes) -> str:
    """The checksummed address that signed ``message_text`` with EIP-191 personal_sign."""
    try:
        return Account.recover_message(encode_defunct(text=message_text), signature=signature)
    except (BadSignature, ValidationError, ValueError) as exc:
        raise MalformedSignatureError("signature", f"cannot recover a signer: {exc}") from None


def verify_login(
    message_text: str,
    signature: str | bytes,
    *,
    expected_domain: str,
    expected_uri: str,
    expected_chain_id: int,
    nonce_store: NonceStore,
    now: datetime | None = None,
    expected_scheme: str | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedLogin:
    """Verify a signed EIP-4361 login; raise a :class:`SiweError` subclass on failure.

    ``expected_domain`` is compared exactly with the message's ``domain``
    (an RFC 3986 authority, e.g. ``"node.example.com:8443"``).  The message's
    ``uri`` must have the origin (scheme, host, port) of ``expected_uri``, the
    server's own URI; its scheme (``https`` when absent, as the EIP says) must
    be ``expected_scheme``, by default the scheme of ``expected_uri``.  ``now``
    (aware datetime) defaults to the current UTC time; the nonce store uses its
    own clock for nonce TTLs.  See the module
    docstring for the order of checks and the nonce-spending rule.
    """
    if now is None:
        now = utc_now()
    elif now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")

    # 1. syntax
    message = SiweMessage.parse(message_text)
    raw_signature = decode_signature(signature)

    # 2. addressed to us?
    if message.domain != expected_domain:
        raise DomainMismatchError(
            "domain", f"message is for {message.domain!r}, this server is {expected_domain!r}"
        )
    ours = origin_of(expected_uri)
    if ours is None:
        raise ValueError(f"expected_uri must be an absolute URI with a host: {expected_uri!r}")
    wanted_scheme = (expected_scheme or ours.scheme).lower()
    scheme = message.scheme if message.scheme is not None else DEFAULT_SCHEME
    if scheme.lower() != wanted_scheme:
        raise SchemeMismatchError(
            "scheme", f"message is for scheme {scheme!r}, this server is {wanted_scheme!r}"
        )
    theirs = origin_of(message.uri)
    if theirs != ours:
        raise UriMismatchError(
            "uri", f"message URI {message.uri!r} is not on this server ({ours})"
        )

    # 3. spend the nonce (atomic; raises if unknown, expired or already used)
    nonce_store.consume(message.nonce)

    # 4. chain
    if message.chain_id != expected_chain_id:
        raise ChainIdMismatchError(
            "chain_id", f"message is for chain {message.chain_id}, expected {expected_chain_id}"
        )

    # 5. validity window
    if message.expiration_time is not None and now >= message.expiration_time:
        raise MessageExpiredError(
            "expiration_time", f"message expired at {format_rfc3339(message.expiration_time)}"
        )
    if message.not_before is not None and now < message.not_before:
        raise MessageNotYetValidError(
            "not_before", f"message is not valid before {format_rfc3339(message.not_before)}"
        )
    if message.issued_at > now + max_clock_skew:
        raise IssuedInFutureError(
            "issued_at",
            f"message is issued at {format_rfc3339(message.issued_at)}, in the future",
        )

    # 6. signature over the exact text received
    signer = recover_signer(message_text, raw_signature)
    if signer != message.address:
        raise SignerMismatchError(
            "signature", "signature was not made by the message's address"
        )

    return VerifiedLogin(
        address=message.address,
        chain_id=message.chain_id,
        issued_at=message.issued_at,
        expiration_time=message.expiration_time,
    )
