"""Request and response models at the API boundary. Amounts: integer minor units + currency.

Every request model derives from :class:`RequestModel` (unknown fields refused) and every free
text it takes is :data:`Text` (one line) or :data:`MultilineText`: control characters, lone
surrogates, line/paragraph separators and invisible bidi/zero-width controls are refused with a
422 naming the field, so no such character reaches the chain or the read model (a NUL byte once
stopped the PostgreSQL indexer). Amounts are ASCII digits only and bounded (``chain.money``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, create_model, field_validator
from web3 import Web3

from chain.money import MAX_MINOR_UNITS, MINOR_UNITS, max_minor


class RequestModel(BaseModel):
    """A request body: fields it does not declare are refused (422), not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --- free text ------------------------------------------------------------------------------

#: What free text must not contain: C0/C1 controls and DEL, line and paragraph separators,
#: bidi embedding/override/isolate controls, zero-width space, BOM, lone surrogates (as regular
#: expression classes, valid in Python and in JSON Schema's ECMA-262 dialect).
_INVISIBLE = r"\u200b\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
TEXT_PATTERN = rf"^[^\x00-\x1f\x7f-\x9f{_INVISIBLE}]*$"
MULTILINE_PATTERN = rf"^[^\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]*$"  # LF allowed
_BAD_TEXT = re.compile(rf"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_BAD_MULTILINE = re.compile(rf"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")


def _refuse(found: re.Match[str] | None) -> None:
    if found is not None:
        raise ValueError(f"must not contain control or invisible characters (U+{ord(found.group()):04X} at "
                         f"position {found.start()})")


def _text(v: str) -> str:
    _refuse(_BAD_TEXT.search(v))
    return v


def _multiline(v: str) -> str:
    _refuse(_BAD_MULTILINE.search(v))
    return v


Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
MultilineText = Annotated[str, AfterValidator(_multiline), Field(json_schema_extra={"pattern": MULTILINE_PATTERN})]


# --- identifiers ----------------------------------------------------------------------------

def _address(v: object) -> str:
    if not isinstance(v, str) or not Web3.is_address(v):
        raise ValueError("not an Ethereum address (0x + 40 hex digits)")
    return Web3.to_checksum_address(v)


def _hash32(v: object) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", v):
        raise ValueError("not a 32-byte hex hash (0x + 64 hex digits)")
    return v.lower()


Address = Annotated[str, BeforeValidator(_address),
                    Field(json_schema_extra={"pattern": "^0x[0-9a-fA-F]{40}$"})]
Hash32 = Annotated[str, BeforeValidator(_hash32), Field(json_schema_extra={"pattern": "^0x[0-9a-fA-F]{64}$"})]


# --- amounts --------------------------------------------------------------------------------

def _minor(v: object) -> int:
    """Integer minor units; strings of ASCII digits accepted (JSON numbers above 2^53 lose
    precision). Unicode digits (Arabic-Indic, full-width...) are refused."""
    if isinstance(v, bool):
        raise ValueError("amount must be an integer number of minor units")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"[0-9]{1,30}", v):
        return int(v)
    raise ValueError("amount must be an integer number of minor units in ASCII digits (no decimals, no floats)")


#: A positive integer below 2^96 (amounts and quantities); as a JSON number or a digit string.
MinorUnits = Annotated[int, BeforeValidator(_minor), Field(gt=0, le=MAX_MINOR_UNITS)]


class Amount(RequestModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    minor: MinorUnits = Field(description="integer amount in the currency's minor unit; at most 10^15 major units")

    @field_validator("currency")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            raise ValueError(f"unsupported currency {v}")
        return v

    @field_validator("minor")
    @classmethod
    def _bounded(cls, v: int, info: ValidationInfo) -> int:
        currency = info.data.get("currency")
        if currency in MINOR_UNITS and v > max_minor(currency):
            raise ValueError(f"at most {max_minor(currency)} minor units of {currency} (10^15 major units)")
        return v


# --- common outputs -------------------------------------------------------------------------

class Money(BaseModel):
    """An exact amount leaving the API: integer minor units as a decimal string (JSON numbers
    lose precision above 2^53), the currency, and the amount as people write it."""

    currency: str = Field(description="ISO 4217 code")
    minor: str = Field(description="integer minor units, as a decimal string")
    display: str = Field(description="e.g. `USD 1,250,000.00`")


def readable_model(name: str, doc: str, fields: dict[str, Any], *, parties: tuple[str, ...] = (),
                   times: tuple[str, ...] = (), base: type[BaseModel] = BaseModel) -> type[BaseModel]:
    """A response model with the readable siblings of node_api.readable: `<party>_name` and
    `<party>_lei` next to each party address, `<time>_iso` next to each unix time."""
    spec: dict[str, Any] = {}
    for key, value in fields.items():
        spec[key] = value if isinstance(value, tuple) else (value, ...)
    for p in parties:
        spec[f"{p}_name"] = (str | None, Field(default=None, description=f"legal name of the {p} (on chain)"))
        spec[f"{p}_lei"] = (str | None, Field(default=None, description=f"LEI of the {p}"))
    for t in times:
        spec[f"{t}_iso"] = (str | None, Field(default=None, description=f"`{t}` in ISO-8601 (UTC)"))
    model = create_model(name, __base__=base, **spec)
    model.__doc__ = doc
    return model


def _token_id(v: object) -> int:
    """A 256-bit token id (an invoice id is its fingerprint): an integer, a decimal string or 0x-hex."""
    if isinstance(v, bool):
        raise ValueError("not a token id")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if re.fullmatch(r"[0-9]{1,78}", v):
            return int(v)
        if re.fullmatch(r"0x[0-9a-fA-F]{1,64}", v):
            return int(v, 16)
    raise ValueError("a token id is an integer, a decimal string or 0x-hex (at most 256 bits)")


#: A 256-bit id (invoices, whose id is their fingerprint); accepted as an integer, decimal or 0x-hex.
TokenId = Annotated[int, BeforeValidator(_token_id), Field(ge=0, lt=2**256, json_schema_extra={
    "description": "256-bit id: integer, decimal string or 0x-hex"})]


class TxOut(BaseModel):
    tx_hash: str
    block_number: int
    gas_used: int


def tx_out(receipt: dict) -> TxOut:
    return TxOut(tx_hash=receipt["transactionHash"].to_0x_hex(), block_number=receipt["blockNumber"],
                 gas_used=receipt["gasUsed"])


class Page(BaseModel):
    """Common fields of a paginated list."""

    total: int
    limit: int
    offset: int


JsonObject = dict[str, Any]
