"""The two EIP-712 structs the operators sign, their digests, signing and recovery.

Domains (fixed by the on-chain contracts):
- ``ShipmentEvent`` under ``{name: "tradenet LogisticsOracle", version: "1", chainId, verifyingContract}``
- ``FxRate`` under ``{name: "tradenet FxRateStore", version: "1", chainId, verifyingContract}``

A struct is a frozen dataclass with a ``subject`` (what the operator must never sign twice with
different content: (shipmentId, eventCode) or (base, quote, observedAt)), its EIP-712 message and
its ABI tuple. ``to_json``/``from_json`` give the wire form used between operators and in the DB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from .codes import ALL_ATTESTED

_LOCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
UINT64_MAX = 2**64 - 1


class StructError(ValueError):
    """A struct field is out of range or has the wrong shape (the message names the field)."""


@dataclass(frozen=True)
class Domain:
    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.verifying_contract)}


def logistics_domain(chain_id: int, oracle_address: str) -> Domain:
    return Domain("tradenet LogisticsOracle", "1", chain_id, to_checksum_address(oracle_address))


def fx_domain(chain_id: int, store_address: str) -> Domain:
    return Domain("tradenet FxRateStore", "1", chain_id, to_checksum_address(store_address))


def _hex32(value: Any, field: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raw = bytes.fromhex(value[2:])
    else:
        raise StructError(f"{field}: expected 32 bytes as 0x-prefixed hex")
    if len(raw) != 32:
        raise StructError(f"{field}: expected 32 bytes, got {len(raw)}")
    return raw


def _uint(value: Any, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise StructError(f"{field}: expected an integer in [0, {maximum}]")
    return value


class SignedStruct(Protocol):
    kind: ClassVar[str]
    primary_type: ClassVar[str]

    @property
    def subject(self) -> str: ...

    def message(self) -> dict[str, Any]: ...

    def as_tuple(self) -> tuple: ...

    def to_json(self) -> dict[str, Any]: ...

    def label(self) -> str: ...


@dataclass(frozen=True)
class ShipmentEvent:
    """``ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)``"""

    shipment_id: bytes
    event_code: str
    location: str
    event_time: int
    evidence_hash: bytes

    kind: ClassVar[str] = "shipment"
    primary_type: ClassVar[str] = "ShipmentEvent"
    TYPE: ClassVar[list[dict[str, str]]] = [
        {"name": "shipmentId", "type": "bytes32"},
        {"name": "eventCode", "type": "bytes4"},
        {"name": "location", "type": "bytes5"},
        {"name": "eventTime", "type": "uint64"},
        {"name": "evidenceHash", "type": "bytes32"},
    ]

    def __post_init__(self) -> None:
        _hex32(self.shipment_id, "shipmentId")
        _hex32(self.evidence_hash, "evidenceHash")
        if self.event_code not in ALL_ATTESTED:
            raise StructError(f"eventCode: {self.event_code!r} is not an attested event code")
        if not isinstance(self.location, str) or not _LOCODE.fullmatch(self.location):
            raise StructError(f"location: {self.location!r} is not a UN/LOCODE")
        _uint(self.event_time, "eventTime", UINT64_MAX)

    @property
    def subject(self) -> str:
        return f"{self.shipment_id.hex()}:{self.event_code}"

    def message(self) -> dict[str, Any]:
        return {"shipmentId": self.shipment_id, "eventCode": self.event_code.encode("ascii"),
                "location": self.location.encode("ascii"), "eventTime": self.event_time,
                "evidenceHash": self.evidence_hash}

    def as_tuple(self) -> tuple:
        return (self.shipment_id, self.event_code.encode("ascii"), self.location.encode("ascii"),
                self.event_time, self.evidence_hash)

    def to_json(self) -> dict[str, Any]:
        return {"shipmentId": "0x" + self.shipment_id.hex(), "eventCode": self.event_code,
                "location": self.location, "eventTime": self.event_time,
                "evidenceHash": "0x" + self.evidence_hash.hex()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ShipmentEvent":
        if not isinstance(data, dict):
            raise StructError("message: expected an object")
        try:
            return cls(_hex32(data.get("shipmentId"), "shipmentId"), data.get("eventCode"), data.get("location"),
                       data.get("eventTime"), _hex32(data.get("evidenceHash"), "evidenceHash"))
        except TypeError as exc:  # pragma: no cover - defensive
            raise StructError(str(exc)) from None

    def label(self) -> str:
        return f"{self.event_code} at {self.location} ({self.shipment_id.hex()[:10]}..)"


@dataclass(frozen=True)
class FxRate:
    """``FxRate(bytes3 baseCurrency,bytes3 quoteCurrency,uint256 rate,uint64 observedAt)``; rate has 8 decimals."""

    base: str
    quote: str
    rate: int
    observed_at: int

    kind: ClassVar[str] = "fx"
    primary_type: ClassVar[str] = "FxRate"
    DECIMALS: ClassVar[int] = 8
    TYPE: ClassVar[list[dict[str, str]]] = [
        {"name": "baseCurrency", "type": "bytes3"},
        {"name": "quoteCurrency", "type": "bytes3"},
        {"name": "rate", "type": "uint256"},
        {"name": "observedAt", "type": "uint64"},
    ]

    def __post_init__(self) -> None:
        for name, code in (("baseCurrency", self.base), ("quoteCurrency", self.quote)):
            if not isinstance(code, str) or not _CURRENCY.fullmatch(code):
                raise StructError(f"{name}: {code!r} is not an ISO 4217 code")
        if self.base == self.quote:
            raise StructError("quoteCurrency: must differ from baseCurrency")
        _uint(self.rate, "rate", 2**256 - 1)
        if self.rate == 0:
            raise StructError("rate: must be positive")
        _uint(self.observed_at, "observedAt", UINT64_MAX)

    @property
    def subject(self) -> str:
        return f"{self.base}/{self.quote}@{self.observed_at}"

    def message(self) -> dict[str, Any]:
        return {"baseCurrency": self.base.encode("ascii"), "quoteCurrency": self.quote.encode("ascii"),
                "rate": self.rate, "observedAt": self.observed_at}

    def as_tuple(self) -> tuple:
        return (self.base.encode("ascii"), self.quote.encode("ascii"), self.rate, self.observed_at)

    def to_json(self) -> dict[str, Any]:
        # the rate travels as a decimal string: JSON numbers lose precision past 2**53
        return {"baseCurrency": self.base, "quoteCurrency": self.quote, "rate": str(self.rate),
                "observedAt": self.observed_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FxRate":
        if not isinstance(data, dict):
            raise StructError("message: expected an object")
        rate = data.get("rate")
        if isinstance(rate, str) and rate.isdigit():
            rate = int(rate)
        return cls(data.get("baseCurrency"), data.get("quoteCurrency"), rate, data.get("observedAt"))

    def label(self) -> str:
        whole, frac = divmod(self.rate, 10**self.DECIMALS)
        return f"{self.base}/{self.quote} {whole}.{frac:08d} at {self.observed_at}"


STRUCTS: dict[str, type] = {"shipment": ShipmentEvent, "fx": FxRate}


def struct_from_json(kind: str, data: dict[str, Any]) -> ShipmentEvent | FxRate:
    cls = STRUCTS.get(kind)
    if cls is None:
        raise StructError(f"kind: expected one of {sorted(STRUCTS)}")
    return cls.from_json(data)


def full_message(struct: ShipmentEvent | FxRate, domain: Domain) -> dict[str, Any]:
    """The EIP-712 ``full_message`` for ``encode_typed_data``."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, struct.primary_type: struct.TYPE},
        "primaryType": struct.primary_type,
        "domain": domain.as_dict(),
        "message": struct.message(),
    }


def digest(struct: ShipmentEvent | FxRate, domain: Domain) -> bytes:
    """keccak256("\\x19\\x01" || domainSeparator || hashStruct(struct)): what the contract recovers from."""
    return bytes(_hash_eip191_message(encode_typed_data(full_message=full_message(struct, domain))))


def sign(account: LocalAccount, struct: ShipmentEvent | FxRate, domain: Domain) -> bytes:
    """65-byte r||s||v signature (v = 27/28). Deterministic (RFC 6979) for a given key and struct."""
    signed = account.sign_message(encode_typed_data(full_message=full_message(struct, domain)))
    return bytes(signed.signature)


def recover(struct: ShipmentEvent | FxRate, domain: Domain, signature: bytes) -> str:
    """The checksummed address that signed `struct` under `domain` (raises ValueError if invalid)."""
    if len(signature) != 65:
        raise ValueError(f"signature must be 65 bytes, got {len(signature)}")
    return Account.recover_message(encode_typed_data(full_message=full_message(struct, domain)),
                                   signature=signature)
