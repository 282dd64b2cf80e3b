"""Clients for the quorum-signed oracles: `LogisticsOracle` (shipment events) and `FxRateStore`.

Operators sign EIP-712 typed data (eth_account `encode_typed_data(full_message=...)` +
`Account.sign_message`); anyone submits k signatures in one transaction. Domains:
``{name: "tradenet LogisticsOracle" | "tradenet FxRateStore", version: "1", chainId, verifyingContract}``.
The operator set, k and the staleness window change only through consortium governance: the
``call_*`` helpers return ``(target, calldata)`` pairs for `ParticipantRegistry.govern`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from .contracts import ContractClient, _text

LOGISTICS_DOMAIN_NAME = "tradenet LogisticsOracle"
FX_DOMAIN_NAME = "tradenet FxRateStore"
DOMAIN_VERSION = "1"
RATE_DECIMALS = 8

#: Event codes the oracle attests (DCSA transport / equipment / shipment codes + tradenet extensions).
EVENT_CODES: dict[str, str] = {
    "DEPA": "vessel departed", "ARRI": "vessel arrived",
    "LOAD": "container loaded", "DISC": "container discharged",
    "GTIN": "container gated in", "GTOT": "container gated out",
    "RECE": "shipping documents received", "CONF": "booking confirmed", "ISSU": "transport document issued",
    "CUSC": "customs cleared", "WHIN": "goods received into warehouse", "WHOU": "goods released from warehouse",
}

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
SHIPMENT_EVENT_TYPE = [
    {"name": "shipmentId", "type": "bytes32"},
    {"name": "eventCode", "type": "bytes4"},
    {"name": "location", "type": "bytes5"},
    {"name": "eventTime", "type": "uint64"},
    {"name": "evidenceHash", "type": "bytes32"},
]
RETRACTION_TYPE = [
    {"name": "eventId", "type": "bytes32"},
    {"name": "reasonHash", "type": "bytes32"},
]
FX_RATE_TYPE = [
    {"name": "baseCurrency", "type": "bytes3"},
    {"name": "quoteCurrency", "type": "bytes3"},
    {"name": "rate", "type": "uint256"},
    {"name": "observedAt", "type": "uint64"},
]

_LOCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")


def shipment_id(transport_document_reference: str) -> bytes:
    """The on-chain shipment id: keccak256 of the UTF-8 transport document reference."""
    return keccak(text=transport_document_reference)


def _b32(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return bytes(value)


def typed_data(domain_name: str, chain_id: int, contract: str, primary_type: str,
               fields: list[dict[str, str]], message: dict[str, Any],
               extra_types: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """A full EIP-712 message (the `full_message` argument of eth_account's encode_typed_data)."""
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, primary_type: fields, **(extra_types or {})},
        "primaryType": primary_type,
        "domain": {"name": domain_name, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": to_checksum_address(contract)},
        "message": message,
    }


def sign_typed_data(account: LocalAccount, full_message: dict[str, Any]) -> bytes:
    """65-byte (r, s, v) signature of an EIP-712 message."""
    return bytes(Account.sign_message(encode_typed_data(full_message=full_message), account.key).signature)


def typed_data_digest(full_message: dict[str, Any]) -> bytes:
    """The EIP-712 digest keccak256(0x1901 || domainSeparator || hashStruct(message))."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@dataclass(frozen=True)
class ShipmentEvent:
    """`ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)`."""

    shipment_id: bytes
    event_code: str
    location: str
    event_time: int
    evidence_hash: bytes

    @classmethod
    def from_strings(cls, transport_document_reference: str, event_code: str, location: str, event_time: int,
                     evidence: bytes | str) -> "ShipmentEvent":
        """Build from the carrier's strings. `evidence` is the evidence hash (32 bytes or hex) or,
        if any other string, the evidence text itself (hashed with keccak256)."""
        if isinstance(evidence, str) and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", evidence):
            evidence_hash = keccak(text=evidence)
        else:
            evidence_hash = _b32(evidence)
        return cls(shipment_id(transport_document_reference), event_code, location, int(event_time), evidence_hash)

    def __post_init__(self) -> None:
        if len(self.event_code) != 4 or not self.event_code.isascii():
            raise ValueError(f"event code must be 4 ASCII characters: {self.event_code!r}")
        if len(self.location) != 5 or not self.location.isascii():
            raise ValueError(f"location must be a 5-character UN/LOCODE: {self.location!r}")

    @property
    def known_code(self) -> bool:
        return self.event_code in EVENT_CODES

    @property
    def valid_locode(self) -> bool:
        return bool(_LOCODE.fullmatch(self.location))

    def message(self) -> dict[str, Any]:
        return {"shipmentId": self.shipment_id, "eventCode": self.event_code.encode("ascii"),
                "location": self.location.encode("ascii"), "eventTime": self.event_time,
                "evidenceHash": self.evidence_hash}

    def as_tuple(self) -> tuple:
        return (self.shipment_id, self.event_code.encode("ascii"), self.location.encode("ascii"), self.event_time,
                self.evidence_hash)


@dataclass(frozen=True)
class FxRate:
    """`FxRate(bytes3 baseCurrency,bytes3 quoteCurrency,uint256 rate,uint64 observedAt)`, rate with 8 decimals."""

    base: str
    quote: str
    rate: int
    observed_at: int

    @classmethod
    def from_decimal(cls, base: str, quote: str, rate: str, observed_at: int) -> "FxRate":
        """From a decimal string such as "1.0825" (exact: no float)."""
        whole, _, frac = rate.partition(".")
        if len(frac) > RATE_DECIMALS:
            raise ValueError(f"rate {rate} has more than {RATE_DECIMALS} decimals")
        return cls(base, quote, int(whole or "0") * 10**RATE_DECIMALS + int(frac.ljust(RATE_DECIMALS, "0") or "0"),
                   observed_at)

    def message(self) -> dict[str, Any]:
        return {"baseCurrency": self.base.encode("ascii"), "quoteCurrency": self.quote.encode("ascii"),
                "rate": self.rate, "observedAt": self.observed_at}

    def as_tuple(self) -> tuple:
        return (self.base.encode("ascii"), self.quote.encode("ascii"), self.rate, self.observed_at)


@dataclass(frozen=True)
class EventRecord:
    event_id: bytes
    shipment_id: bytes
    event_code: str
    status: int  # 0 none, 1 confirmed, 2 retracted
    confirmed_at: int
    retracted_at: int


class _QuorumClient(ContractClient):
    domain_name: str

    def domain(self) -> dict[str, Any]:
        return {"name": self.domain_name, "version": DOMAIN_VERSION, "chainId": self.chain.chain_id,
                "verifyingContract": self.address}

    def _typed(self, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]) -> dict[str, Any]:
        return typed_data(self.domain_name, self.chain.chain_id, self.address, primary_type, fields, message)

    # -- governance calls (target, calldata) for ParticipantRegistry.govern
    def call_set_operators(self, operators: Sequence[str], threshold: int) -> tuple[str, bytes]:
        return self.address, self.encode("setOperators", [to_checksum_address(o) for o in operators], threshold)

    def call_set_threshold(self, threshold: int) -> tuple[str, bytes]:
        return self.address, self.encode("setThreshold", threshold)

    def call_set_staleness_window(self, seconds: int) -> tuple[str, bytes]:
        return self.address, self.encode("setStalenessWindow", seconds)

    # -- reads
    def operators(self) -> list[str]:
        return list(self._call("operators"))

    def threshold(self) -> int:
        return self._call("threshold")

    def staleness_window(self) -> int:
        return self._call("stalenessWindow")

    def is_operator(self, account: str) -> bool:
        return self._call("isOperator", account)

    def domain_separator(self) -> bytes:
        return bytes(self._call("domainSeparator"))


class LogisticsOracle(_QuorumClient):
    contract_name = "LogisticsOracle"
    domain_name = LOGISTICS_DOMAIN_NAME

    # -- typed data and signing (off-chain)
    def event_typed_data(self, event: ShipmentEvent) -> dict[str, Any]:
        return self._typed("ShipmentEvent", SHIPMENT_EVENT_TYPE, event.message())

    def retraction_typed_data(self, event_id: bytes, reason_hash: bytes) -> dict[str, Any]:
        return self._typed("Retraction", RETRACTION_TYPE, {"eventId": _b32(event_id), "reasonHash": _b32(reason_hash)})

    def sign_event(self, account: LocalAccount, event: ShipmentEvent) -> bytes:
        return sign_typed_data(account, self.event_typed_data(event))

    def sign_retraction(self, account: LocalAccount, event_id: bytes, reason_hash: bytes) -> bytes:
        return sign_typed_data(account, self.retraction_typed_data(event_id, reason_hash))

    def local_event_id(self, event: ShipmentEvent) -> bytes:
        """The eventId computed off-chain (equals the contract's `eventDigest`)."""
        return typed_data_digest(self.event_typed_data(event))

    # -- transactions
    def submit_report(self, event: ShipmentEvent, signatures: Iterable[bytes], gas: int | None = None) -> bytes:
        """Submits the event with its signatures; returns the eventId."""
        receipt = self._tx("submitReport", event.as_tuple(), list(signatures), gas=gas)
        return bytes(self.events(receipt, "EventConfirmed")[0]["eventId"])

    def submit_retraction(self, event_id: bytes, reason_hash: bytes, signatures: Iterable[bytes],
                          gas: int | None = None) -> dict[str, Any]:
        return self._tx("submitRetraction", _b32(event_id), _b32(reason_hash), list(signatures), gas=gas)

    # -- reads
    def event_digest(self, event: ShipmentEvent) -> bytes:
        return bytes(self._call("eventDigest", event.as_tuple()))

    def retraction_digest(self, event_id: bytes, reason_hash: bytes) -> bytes:
        return bytes(self._call("retractionDigest", _b32(event_id), _b32(reason_hash)))

    def is_confirmed(self, shipment: bytes, event_code: str) -> bool:
        return self._call("isConfirmed", shipment, event_code.encode("ascii"))

    def confirmed_event(self, shipment: bytes, event_code: str) -> bytes | None:
        """The confirmed eventId for the slot, or None."""
        v = bytes(self._call("confirmedEvent", shipment, event_code.encode("ascii")))
        return None if v == bytes(32) else v

    def event_record(self, event_id: bytes) -> EventRecord:
        r = self._call("eventRecord", _b32(event_id))
        return EventRecord(_b32(event_id), bytes(r.shipmentId), _text(r.eventCode), r.status, r.confirmedAt,
                           r.retractedAt)

    def waiters(self, shipment: bytes, event_code: str) -> list[tuple[str, int]]:
        return [(w.listener, w.ref) for w in self._call("waiters", shipment, event_code.encode("ascii"))]


class FxRateStore(_QuorumClient):
    contract_name = "FxRateStore"
    domain_name = FX_DOMAIN_NAME

    def rate_typed_data(self, rate: FxRate) -> dict[str, Any]:
        return self._typed("FxRate", FX_RATE_TYPE, rate.message())

    def sign_rate(self, account: LocalAccount, rate: FxRate) -> bytes:
        return sign_typed_data(account, self.rate_typed_data(rate))

    def submit_rate(self, rate: FxRate, signatures: Iterable[bytes], gas: int | None = None) -> bytes:
        """Stores the rate; returns its EIP-712 digest."""
        receipt = self._tx("submitRate", rate.as_tuple(), list(signatures), gas=gas)
        return bytes(self.events(receipt, "RateUpdated")[0]["digest"])

    def rate_digest(self, rate: FxRate) -> bytes:
        return bytes(self._call("rateDigest", rate.as_tuple()))

    def latest_rate(self, base: str, quote: str) -> tuple[int, int]:
        """(rate with 8 decimals, observedAt); raises errors.RateUnavailable if none stored."""
        rate, observed_at = self._call("latestRate", base.encode("ascii"), quote.encode("ascii"))
        return rate, observed_at

    def rate_no_older_than(self, base: str, quote: str, max_age: int) -> tuple[int, int]:
        rate, observed_at = self._call("rateNoOlderThan", base.encode("ascii"), quote.encode("ascii"), max_age)
        return rate, observed_at
