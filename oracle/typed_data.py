"""The three EIP-712 structs the operators sign, as they travel: validated strictly, with their
wire form, their subject, digest, signing and recovery.

The shipment event and the FX rate are the chain's structs (``chain.clients.ShipmentEvent`` /
``FxRate``, types and domains in ``chain.vocabulary``); ``Retraction(eventId, reasonHash,
retractedAt)`` is LogisticsOracle's retraction report. The classes here only add what an operator
needs on top: every field checked (an operator signs nothing malformed), a ``subject`` (what the
operator must never sign two live contents for: the slot (shipmentId, eventCode, location), the
FX observation (base, quote, observedAt); for a retraction, the eventId it retracts) and
``to_json``/``from_json``, the wire form used between operators and in the database. ``kind``
names the struct; ``contract`` the contract (and so the domain and operator set) it is signed for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from eth_account.signers.local import LocalAccount

from chain import clients, eip712
from chain.eip712 import Domain
from chain.vocabulary import EVENT_CODES, FX_RATE_STORE_DOMAIN, LOGISTICS_ORACLE_DOMAIN, RATE_DECIMALS

__all__ = ["CONTRACT_OF", "Domain", "FxRate", "Retraction", "ShipmentEvent", "SignedStruct", "StructError", "digest",
           "full_message", "fx_domain", "logistics_domain", "recover", "sign", "struct_from_json"]

_LOCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
UINT64_MAX = 2**64 - 1


class StructError(ValueError):
    """A struct field is out of range or has the wrong shape (the message names the field)."""


def logistics_domain(chain_id: int, oracle_address: str) -> Domain:
    return Domain.of(LOGISTICS_ORACLE_DOMAIN, chain_id, oracle_address)


def fx_domain(chain_id: int, store_address: str) -> Domain:
    return Domain.of(FX_RATE_STORE_DOMAIN, chain_id, store_address)


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
    contract: ClassVar[str]
    primary_type: ClassVar[str]

    @property
    def subject(self) -> str: ...

    def message(self) -> dict[str, Any]: ...

    def as_tuple(self) -> tuple: ...

    def to_json(self) -> dict[str, Any]: ...

    def label(self) -> str: ...


@dataclass(frozen=True)
class ShipmentEvent(clients.ShipmentEvent):
    """A shipment event as an operator accepts it: an attested code at a UN/LOCODE."""

    kind: ClassVar[str] = "shipment"
    contract: ClassVar[str] = "shipment"

    def __post_init__(self) -> None:
        _hex32(self.shipment_id, "shipmentId")
        _hex32(self.evidence_hash, "evidenceHash")
        if self.event_code not in EVENT_CODES:
            raise StructError(f"eventCode: {self.event_code!r} is not an attested event code")
        if not isinstance(self.location, str) or not _LOCODE.fullmatch(self.location):
            raise StructError(f"location: {self.location!r} is not a UN/LOCODE")
        _uint(self.event_time, "eventTime", UINT64_MAX)
        super().__post_init__()

    @property
    def subject(self) -> str:
        # the slot the operator never signs two contents for: (shipmentId, eventCode, location), the
        # on-chain key of a confirmation (so the legs of a transshipment are distinct subjects)
        return f"{self.shipment_id.hex()}:{self.event_code}:{self.location}"

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
class FxRate(clients.FxRate):
    """An FX observation as an operator accepts it: two distinct ISO currencies, a positive rate."""

    kind: ClassVar[str] = "fx"
    contract: ClassVar[str] = "fx"
    DECIMALS: ClassVar[int] = RATE_DECIMALS

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


@dataclass(frozen=True)
class Retraction:
    """``Retraction(bytes32 eventId,bytes32 reasonHash,uint64 retractedAt)``: k operators ask
    LogisticsOracle to retract the confirmed event `event_id`. `reason_hash` is the evidence hash of
    the carrier's retracting (or updating) message; `retracted_at` the time the retraction was
    observed, freshness-checked by the contract like an event time."""

    event_id: bytes
    reason_hash: bytes
    retracted_at: int

    kind: ClassVar[str] = "retraction"
    contract: ClassVar[str] = "shipment"  # signed under the LogisticsOracle domain, by its operators
    primary_type: ClassVar[str] = "Retraction"

    def __post_init__(self) -> None:
        _hex32(self.event_id, "eventId")
        _hex32(self.reason_hash, "reasonHash")
        _uint(self.retracted_at, "retractedAt", UINT64_MAX)

    @property
    def subject(self) -> str:
        # what is retracted: several proposals (retractedAt) for one event may be signed, only one
        # can ever be accepted on chain
        return "0x" + self.event_id.hex()

    def message(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "reasonHash": self.reason_hash, "retractedAt": self.retracted_at}

    def as_tuple(self) -> tuple:
        return (self.event_id, self.reason_hash, self.retracted_at)

    def to_json(self) -> dict[str, Any]:
        return {"eventId": "0x" + self.event_id.hex(), "reasonHash": "0x" + self.reason_hash.hex(),
                "retractedAt": self.retracted_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Retraction":
        if not isinstance(data, dict):
            raise StructError("message: expected an object")
        return cls(_hex32(data.get("eventId"), "eventId"), _hex32(data.get("reasonHash"), "reasonHash"),
                   data.get("retractedAt"))

    def label(self) -> str:
        return f"retraction of {self.event_id.hex()[:10]}.. at {self.retracted_at}"


STRUCTS: dict[str, type] = {"shipment": ShipmentEvent, "fx": FxRate, "retraction": Retraction}
#: the contract (domain, operator set) each kind of struct is signed for
CONTRACT_OF: dict[str, str] = {kind: cls.contract for kind, cls in STRUCTS.items()}

AnyStruct = ShipmentEvent | FxRate | Retraction


def struct_from_json(kind: str, data: dict[str, Any]) -> AnyStruct:
    cls = STRUCTS.get(kind)
    if cls is None:
        raise StructError(f"kind: expected one of {sorted(STRUCTS)}")
    return cls.from_json(data)


def full_message(struct: AnyStruct, domain: Domain) -> dict[str, Any]:
    """The EIP-712 ``full_message`` for ``encode_typed_data``."""
    return eip712.typed_data(domain, struct.primary_type, struct.message())


def digest(struct: AnyStruct, domain: Domain) -> bytes:
    """keccak256("\\x19\\x01" || domainSeparator || hashStruct(struct)): what the contract recovers from."""
    return eip712.digest(full_message(struct, domain))


def sign(account: LocalAccount, struct: AnyStruct, domain: Domain) -> bytes:
    """65-byte r||s||v signature (v = 27/28). Deterministic (RFC 6979) for a given key and struct."""
    return eip712.sign(account, full_message(struct, domain))


def recover(struct: AnyStruct, domain: Domain, signature: bytes) -> str:
    """The checksummed address that signed `struct` under `domain` (raises ValueError if invalid)."""
    return eip712.recover(full_message(struct, domain), signature)
