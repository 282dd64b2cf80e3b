"""The quorum-signed oracles: `LogisticsOracle` (shipment events) and `FxRateStore` (FX rates).

Operators sign EIP-712 typed data (domains and types in ``chain.vocabulary``); anyone submits k
signatures in one transaction. The operator set, k and the staleness window change only through
consortium governance: the ``call_*`` helpers return ``(target, calldata)`` pairs for
`ParticipantRegistry.govern`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from .. import eip712
from ..vocabulary import FX_RATE_STORE_DOMAIN, LOGISTICS_ORACLE_DOMAIN, RATE_DECIMALS, DomainName, EventStatus
from ._base import ContractClient
from ._codec import b32


def event_tag(event_id: bytes) -> int:
    """The low 40 bits of an eventId: how the oracle's storage tells confirmed events apart."""
    return int.from_bytes(bytes(event_id)[-5:], "big")


def shipment_id(transport_document_reference: str) -> bytes:
    """The on-chain shipment id: keccak256 of the UTF-8 transport document (or booking) reference."""
    return keccak(text=transport_document_reference)


@dataclass(frozen=True)
class ShipmentEvent:
    """`ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)`."""

    shipment_id: bytes
    event_code: str
    location: str
    event_time: int
    evidence_hash: bytes

    primary_type: ClassVar[str] = "ShipmentEvent"

    @classmethod
    def from_strings(cls, transport_document_reference: str, event_code: str, location: str, event_time: int,
                     evidence: bytes | str) -> "ShipmentEvent":
        """Build from the carrier's strings. `evidence` is the evidence hash (32 bytes or hex) or,
        if any other string, the evidence text itself (hashed with keccak256)."""
        if isinstance(evidence, str) and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", evidence):
            evidence_hash = keccak(text=evidence)
        else:
            evidence_hash = b32(evidence)
        return cls(shipment_id(transport_document_reference), event_code, location, int(event_time), evidence_hash)

    def __post_init__(self) -> None:
        if len(self.event_code) != 4 or not self.event_code.isascii():
            raise ValueError(f"event code must be 4 ASCII characters: {self.event_code!r}")
        if len(self.location) != 5 or not self.location.isascii():
            raise ValueError(f"location must be a 5-character UN/LOCODE: {self.location!r}")

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

    primary_type: ClassVar[str] = "FxRate"

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
class Notify:
    """An escrow (deal engine) to call in a report's transaction, with its reference (a deal id)."""

    listener: str
    ref: int

    def as_tuple(self) -> tuple:
        return (to_checksum_address(self.listener), self.ref)


class _QuorumClient(ContractClient):
    domain_name: ClassVar[DomainName]

    def domain(self) -> eip712.Domain:
        return eip712.Domain.of(self.domain_name, self.chain.chain_id, self.address)

    def _typed(self, primary_type: str, message: dict[str, Any]) -> dict[str, Any]:
        return eip712.typed_data(self.domain(), primary_type, message)

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
    domain_name = LOGISTICS_ORACLE_DOMAIN

    # -- typed data and signing (off-chain)
    def event_typed_data(self, event: ShipmentEvent) -> dict[str, Any]:
        return self._typed(event.primary_type, event.message())

    def retraction_typed_data(self, event_id: bytes, reason_hash: bytes, retracted_at: int) -> dict[str, Any]:
        return self._typed("Retraction", {"eventId": b32(event_id), "reasonHash": b32(reason_hash),
                                          "retractedAt": int(retracted_at)})

    def sign_event(self, account: LocalAccount, event: ShipmentEvent) -> bytes:
        return eip712.sign(account, self.event_typed_data(event))

    def sign_retraction(self, account: LocalAccount, event_id: bytes, reason_hash: bytes, retracted_at: int) -> bytes:
        return eip712.sign(account, self.retraction_typed_data(event_id, reason_hash, retracted_at))

    def local_event_id(self, event: ShipmentEvent) -> bytes:
        """The eventId computed off-chain (equals the contract's `eventDigest`)."""
        return eip712.digest(self.event_typed_data(event))

    # -- transactions
    def submit_report(self, event: ShipmentEvent, signatures: Iterable[bytes], notify: Iterable[Notify] = (),
                      gas: int | None = None) -> bytes:
        """Submits the event with its signatures, telling the `notify` escrows; returns the eventId."""
        receipt = self._tx("submitReport", event.as_tuple(), list(signatures), [n.as_tuple() for n in notify],
                           gas=gas)
        return bytes(self.events(receipt, "EventConfirmed")[0]["eventId"])

    def submit_retraction(self, event: ShipmentEvent, reason_hash: bytes, retracted_at: int,
                          signatures: Iterable[bytes], notify: Iterable[Notify] = (),
                          gas: int | None = None) -> dict[str, Any]:
        return self._tx("submitRetraction", event.as_tuple(), b32(reason_hash), int(retracted_at), list(signatures),
                        [n.as_tuple() for n in notify], gas=gas)

    # -- reads
    def event_digest(self, event: ShipmentEvent) -> bytes:
        return bytes(self._call("eventDigest", event.as_tuple()))

    def retraction_digest(self, event_id: bytes, reason_hash: bytes, retracted_at: int) -> bytes:
        return bytes(self._call("retractionDigest", b32(event_id), b32(reason_hash), int(retracted_at)))

    def is_event_code(self, event_code: str) -> bool:
        return self._call("isEventCode", event_code.encode("ascii"))

    def is_confirmed(self, shipment: bytes, event_code: str, location: str) -> bool:
        """True if an event of the code is confirmed for the shipment at the location (a slot)."""
        return self._call("isConfirmed", shipment, event_code.encode("ascii"), location.encode("ascii"))

    def confirmed_tag(self, shipment: bytes, event_code: str, location: str) -> int | None:
        """The tag (low 40 bits of the eventId, see `event_tag`) of the event confirmed in the slot,
        or None."""
        return dict(self.confirmed_locations(shipment, event_code)).get(location)

    def confirmed_locations(self, shipment: bytes, event_code: str) -> list[tuple[str, int]]:
        """(UN/LOCODE, event tag = low 40 bits of the eventId) of each confirmed transport call."""
        locations, tags = self._call("confirmedLocations", shipment, event_code.encode("ascii"))
        return [(bytes(loc).decode("ascii"), tag) for loc, tag in zip(locations, tags)]

    def confirmed_calls(self, shipment: bytes, event_code: str) -> int:
        """Transport calls of the shipment with a confirmed `event_code` event."""
        return self._call("confirmedCalls", shipment, event_code.encode("ascii"))

    def event_status(self, event: ShipmentEvent) -> EventStatus:
        return EventStatus(self._call("eventStatus", event.as_tuple()))

    def slot_state(self, event: ShipmentEvent) -> tuple[EventStatus, int | None]:
        """The event's status and the tag of whatever event fills its slot (shipment, code,
        location), both read at one block. Two reads at "latest" may straddle a block: the event
        confirmed between them would look unconfirmed while "another" event (itself) holds the slot."""
        block = hex(self.chain.block_number())
        status, (locations, tags) = self.chain.batch_call(
            [self.view("eventStatus", event.as_tuple()),
             self.view("confirmedLocations", event.shipment_id, event.event_code.encode("ascii"))], block=block)
        held = {bytes(loc).decode("ascii"): tag for loc, tag in zip(locations, tags)}
        return EventStatus(status), held.get(event.location)

    def is_retracted(self, event_id: bytes) -> bool:
        return self._call("isRetracted", b32(event_id))


class FxRateStore(_QuorumClient):
    contract_name = "FxRateStore"
    domain_name = FX_RATE_STORE_DOMAIN

    def rate_typed_data(self, rate: FxRate) -> dict[str, Any]:
        return self._typed(rate.primary_type, rate.message())

    def sign_rate(self, account: LocalAccount, rate: FxRate) -> bytes:
        return eip712.sign(account, self.rate_typed_data(rate))

    def submit_rate(self, rate: FxRate, signatures: Iterable[bytes], gas: int | None = None) -> bytes:
        """Stores the rate; returns its EIP-712 digest."""
        receipt = self._tx("submitRate", rate.as_tuple(), list(signatures), gas=gas)
        return bytes(self.events(receipt, "RateUpdated")[0]["digest"])

    def rate_digest(self, rate: FxRate) -> bytes:
        return bytes(self._call("rateDigest", rate.as_tuple()))

    def rate_decimals(self) -> int:
        return self._call("RATE_DECIMALS")

    def latest_rate(self, base: str, quote: str) -> tuple[int, int]:
        """(rate with 8 decimals, observedAt); raises errors.RateUnavailable if none stored."""
        rate, observed_at = self._call("latestRate", base.encode("ascii"), quote.encode("ascii"))
        return rate, observed_at

    def rate_no_older_than(self, base: str, quote: str, max_age: int) -> tuple[int, int]:
        rate, observed_at = self._call("rateNoOlderThan", base.encode("ascii"), quote.encode("ascii"), max_age)
        return rate, observed_at

    def fresh_rate(self, base: str, quote: str) -> tuple[int, int]:
        """The rate if observed within the staleness window (raises errors.RateTooOld otherwise)."""
        rate, observed_at = self._call("freshRate", base.encode("ascii"), quote.encode("ascii"))
        return rate, observed_at
