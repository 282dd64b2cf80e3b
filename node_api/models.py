"""Request and response models at the API boundary. Amounts: integer minor units + currency."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, field_validator
from web3 import Web3

from chain.money import MINOR_UNITS


def _address(v: object) -> str:
    if not isinstance(v, str) or not Web3.is_address(v):
        raise ValueError("not an Ethereum address (0x + 40 hex digits)")
    return Web3.to_checksum_address(v)


def _hash32(v: object) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", v):
        raise ValueError("not a 32-byte hex hash (0x + 64 hex digits)")
    return v.lower()


def _minor(v: object) -> int:
    """Integer minor units; strings of digits accepted (JSON numbers above 2^53 lose precision)."""
    if isinstance(v, bool):
        raise ValueError("amount must be an integer number of minor units")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{1,78}", v):
        return int(v)
    raise ValueError("amount must be an integer number of minor units (no decimals, no floats)")


Address = Annotated[str, BeforeValidator(_address)]
Hash32 = Annotated[str, BeforeValidator(_hash32)]
MinorUnits = Annotated[int, BeforeValidator(_minor), Field(gt=0, lt=2**256)]


class Amount(BaseModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    minor: MinorUnits = Field(description="integer amount in the currency's minor unit")

    @field_validator("currency")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            raise ValueError(f"unsupported currency {v}")
        return v


class TxOut(BaseModel):
    tx_hash: str
    block_number: int
    gas_used: int


def tx_out(receipt: dict) -> TxOut:
    return TxOut(tx_hash=receipt["transactionHash"].to_0x_hex(), block_number=receipt["blockNumber"],
                 gas_used=receipt["gasUsed"])
