"""Encodings of the contracts' fixed-size fields: ISO codes, LEIs, 32-byte values."""

from __future__ import annotations

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def b3(code: str) -> bytes:
    """An ISO code as bytes3/bytes5/bytes2 (ASCII, exact length checked by the contract)."""
    return code.encode("ascii")


def lei_bytes(lei: str) -> bytes:
    raw = lei.encode("ascii")
    if len(raw) != 20:
        raise ValueError(f"LEI must have 20 characters, got {len(raw)}: {lei!r}")
    return raw


def text(b: bytes) -> str:
    """A fixed-size ASCII field (bytesN) as a string, trailing zero bytes dropped."""
    return b.rstrip(b"\x00").decode("ascii", errors="replace")


def b32(value: bytes | str) -> bytes:
    """32 bytes, from bytes or 0x-hex."""
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return bytes(value)
