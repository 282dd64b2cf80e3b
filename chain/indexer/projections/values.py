"""How the tradenet projections store event values: one spelling per kind of value.

* addresses: EIP-55 checksummed strings, as decoded (NULL where the contract means "none": zero);
* ``bytes32`` hashes and ids: ``0x`` + 64 lower-case hex digits (NULL for an optional zero value);
* ASCII codes (currency, LEI, country, event code, UN/LOCODE, document type): the text, without
  the NUL padding (``""`` for a zero code that means "any" / "advance");
* entity keys of the risk rules (an LEI or, for a contract, its address, as ``bytes20``):
  ``0x`` + 40 lower-case hex digits (``participants.entity_key`` holds the same for each member);
* amounts and 256-bit ids: exact integers (``Uint256``: NUMERIC(78,0) on PostgreSQL, decimal
  text on SQLite); sequential ids (deals, orders, receipts, proposals) are BIGINT.
"""
from __future__ import annotations

from typing import Any

from ..codec import ascii_code

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def hex_bytes(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def opt_hash(value: bytes) -> str | None:
    """A ``bytesN`` value that is optional on chain (zero = none)."""
    return hex_bytes(value) if any(bytes(value)) else None


def code(value: bytes) -> str:
    """An ASCII code padded with NULs (currency, LEI, event code, location), as storable text."""
    return ascii_code(value)


def opt_code(value: bytes) -> str | None:
    return code(value) or None


def entity_key(value: bytes) -> str | None:
    """A risk-rules entity key (``bytes20``: an LEI, or a contract's address); zero = none."""
    return opt_hash(value)


def opt_address(value: str) -> str | None:
    return None if value == ZERO_ADDRESS else value


def amount_text(value: int) -> str:
    """An amount inside a JSON value (settings): decimal text, as in ``events.args``."""
    return str(int(value))


def label_of(enum: Any, value: int) -> str:
    """The Solidity spelling of an enum value (``vocabulary``), or ``"Unknown<n>"``."""
    try:
        return enum(value).label
    except ValueError:
        return f"Unknown{value}"
