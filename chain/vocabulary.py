"""The tradenet protocol vocabulary: the one Python statement of what the contracts define.

Roles, the states of every on-chain object, the shipment event codes the logistics oracle
attests, and the EIP-712 domains and struct types the operators and the deal parties sign. Every
other module (clients, indexer projections, node API, oracle daemon) reads them from here;
``tests/test_vocabulary.py`` holds them against the deployed contracts and their sources.

States have one spelling per layer: the Python member (``InvoiceState.ISSUED``) and its
``label``, the Solidity spelling (``"Issued"``), which is what the read model stores and the API
shows. Data only: no I/O, no web3.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Mapping, Self


class Role(enum.IntFlag):
    """A member's roles, as bit flags (``contracts/interfaces/IParticipantRegistry.sol:Roles``)."""

    ADMIN = 1 << 0
    SELLER = 1 << 1
    BUYER = 1 << 2
    LENDER = 1 << 3
    LOGISTICS = 1 << 4
    WAREHOUSE = 1 << 5
    ORACLE = 1 << 6
    INVESTOR = 1 << 7
    AUDITOR = 1 << 8
    TREASURY = 1 << 9

    @classmethod
    def all(cls) -> "Role":
        """Every role at once (``Roles.ALL``): the registry refuses any bit outside it."""
        out = cls(0)
        for role in cls:
            out |= role
        return out

    def names(self) -> list[str]:
        return [r.name for r in Role if r in self and r.name]


class ChainEnum(enum.IntEnum):
    """A Solidity enum: the value is the ABI's uint8, ``label`` the Solidity member name."""

    @property
    def label(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @classmethod
    def from_label(cls, label: str) -> Self:
        for member in cls:
            if member.label == label:
                return member
        raise ValueError(f"{label!r} is not a {cls.__name__}")

    @classmethod
    def labels(cls, *, include_none: bool = False) -> tuple[str, ...]:
        """The Solidity spellings in declaration order (``None``, the unset value, left out)."""
        return tuple(m.label for m in cls if include_none or m.name != "NONE")


class ContractKind(ChainEnum):
    """``ParticipantRegistry.ContractKind``: what governance registered a contract as."""

    NONE = 0
    ASSET = 1
    ESCROW = 2


class ProposalState(ChainEnum):
    """``MemberGovernance.ProposalState``."""

    NONE = 0
    PENDING = 1
    EXECUTED = 2
    EXPIRED = 3
    CANCELLED = 4


class InvoiceState(ChainEnum):
    """``InvoiceToken.InvoiceState``."""

    NONE = 0
    ISSUED = 1
    CONFIRMED = 2
    FINANCED = 3
    PAID = 4
    DEFAULTED = 5
    CANCELLED = 6
    SPLIT = 7


class DealState(ChainEnum):
    """``DealEngine.DealState`` (every product)."""

    NONE = 0
    ACCEPTED = 1
    FUNDED = 2
    REPAID = 3
    DEFAULTED = 4
    CANCELLED = 5
    CLOSED = 6


class MilestoneStatus(ChainEnum):
    """``DealEngine.MilestoneStatus``: Contested = its event was retracted after the funds moved on."""

    PENDING = 0
    RELEASED = 1
    PAID_OUT = 2
    CONTESTED = 3


class OrderState(ChainEnum):
    """``PurchaseOrder.OrderState``."""

    NONE = 0
    ISSUED = 1
    FINANCED = 2
    CLOSED = 3
    DEFAULTED = 4
    CANCELLED = 5


class RedemptionState(ChainEnum):
    """``SettlementToken.RedemptionState`` of a request to redeem tokens for fiat."""

    NONE = 0
    REQUESTED = 1
    COMPLETED = 2
    REJECTED = 3


class Product(ChainEnum):
    """The financing products of the deal engine, by their product id (``DealEngine.Product.id``)."""

    NONE = 0
    RECEIVABLE = 1
    ORDER = 2
    RECEIPT_PLEDGE = 3
    DOCUMENTARY = 4

    @property
    def title(self) -> str:
        return PRODUCT_TITLES[self]


class EventStatus(ChainEnum):
    """``LogisticsOracle.EventStatus`` of a shipment event."""

    NONE = 0
    CONFIRMED = 1
    RETRACTED = 2


PRODUCT_TITLES: Final[Mapping[Product, str]] = MappingProxyType({
    Product.NONE: "none",
    Product.RECEIVABLE: "receivable financing",
    Product.ORDER: "order financing",
    Product.RECEIPT_PLEDGE: "receipt-pledge financing",
    Product.DOCUMENTARY: "documentary payment",
})


@dataclass(frozen=True)
class DocumentType:
    """A document a documentary payment can require (``DocumentaryCredit`` type codes)."""

    code: str
    name: str


DOCUMENT_TYPES: Final[tuple[DocumentType, ...]] = (
    DocumentType("BLAD", "bill of lading"),
    DocumentType("CINV", "commercial invoice"),
    DocumentType("PKLS", "packing list"),
    DocumentType("CORG", "certificate of origin"),
    DocumentType("INSC", "insurance certificate"),
)
DOCUMENT_TYPE_NAMES: Final[Mapping[str, str]] = MappingProxyType({d.code: d.name for d in DOCUMENT_TYPES})


# ------------------------------------------------------------------------------------ shipment events


@dataclass(frozen=True)
class EventCode:
    """One shipment event code the logistics oracle attests (``ShipmentEventCodes.sol``).

    ``event_type`` is the DCSA Track & Trace ``eventType`` that carries it (``CUSTOMS`` and
    ``WAREHOUSE`` are tradenet extensions), ``dcsa_name`` the code's name in that standard."""

    code: str
    event_type: str
    dcsa_name: str
    description: str


SHIPMENT_EVENT_CODES: Final[tuple[EventCode, ...]] = (
    EventCode("DEPA", "TRANSPORT", "Departed", "vessel departed"),
    EventCode("ARRI", "TRANSPORT", "Arrived", "vessel arrived"),
    EventCode("LOAD", "EQUIPMENT", "Loaded", "container loaded"),
    EventCode("DISC", "EQUIPMENT", "Discharged", "container discharged"),
    EventCode("GTIN", "EQUIPMENT", "Gated in", "container gated in"),
    EventCode("GTOT", "EQUIPMENT", "Gated out", "container gated out"),
    EventCode("RECE", "SHIPMENT", "Received", "shipping documents received"),
    EventCode("CONF", "SHIPMENT", "Confirmed", "booking confirmed"),
    EventCode("ISSU", "SHIPMENT", "Issued", "transport document issued"),
    EventCode("CUSC", "CUSTOMS", "Customs cleared", "customs cleared"),
    EventCode("WHIN", "WAREHOUSE", "Warehouse in", "goods received into warehouse"),
    EventCode("WHOU", "WAREHOUSE", "Warehouse out", "goods released from warehouse"),
)

#: The attested codes, in the order of ``ShipmentEventCodes.sol``.
EVENT_CODES: Final[tuple[str, ...]] = tuple(c.code for c in SHIPMENT_EVENT_CODES)

#: Each attested code by its four letters.
EVENT_CODE_INFO: Final[Mapping[str, EventCode]] = MappingProxyType({c.code: c for c in SHIPMENT_EVENT_CODES})


def attested_codes(event_type: str) -> frozenset[str]:
    """The attested codes a DCSA event of ``event_type`` may carry (empty for other types)."""
    return frozenset(c.code for c in SHIPMENT_EVENT_CODES if c.event_type == event_type)


# ------------------------------------------------------------------------------------ numbers

#: Basis points in a whole (milestone shares sum to this).
BPS: Final = 10_000
#: Fixed decimals of every FX rate (``FxRateStore.RATE_DECIMALS``).
RATE_DECIMALS: Final = 8


# ------------------------------------------------------------------------------------ EIP-712


@dataclass(frozen=True)
class DomainName:
    """The fixed part of a contract's EIP-712 domain (the chain id and the address complete it)."""

    name: str
    version: str


LOGISTICS_ORACLE_DOMAIN: Final = DomainName("tradenet LogisticsOracle", "2")
FX_RATE_STORE_DOMAIN: Final = DomainName("tradenet FxRateStore", "1")
DEAL_ENGINE_DOMAIN: Final = DomainName("tradenet DealEngine", "1")

Eip712Fields = list[dict[str, str]]

EIP712_DOMAIN_TYPE: Final[Eip712Fields] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

#: Every struct the network signs, by EIP-712 type name (``LogisticsOracle.SHIPMENT_EVENT_TYPEHASH``,
#: ``RETRACTION_TYPEHASH``, ``FxRateStore.FX_RATE_TYPEHASH``, ``DealTerms.TERMS_TYPEHASH``).
EIP712_TYPES: Final[Mapping[str, Eip712Fields]] = MappingProxyType({
    "ShipmentEvent": [
        {"name": "shipmentId", "type": "bytes32"},
        {"name": "eventCode", "type": "bytes4"},
        {"name": "location", "type": "bytes5"},
        {"name": "eventTime", "type": "uint64"},
        {"name": "evidenceHash", "type": "bytes32"},
    ],
    "Retraction": [
        {"name": "eventId", "type": "bytes32"},
        {"name": "reasonHash", "type": "bytes32"},
        {"name": "retractedAt", "type": "uint64"},
    ],
    "FxRate": [
        {"name": "baseCurrency", "type": "bytes3"},
        {"name": "quoteCurrency", "type": "bytes3"},
        {"name": "rate", "type": "uint256"},
        {"name": "observedAt", "type": "uint64"},
    ],
    "Milestone": [
        {"name": "eventCode", "type": "bytes4"},
        {"name": "location", "type": "bytes5"},
        {"name": "shareBps", "type": "uint16"},
    ],
    "DealTerms": [
        {"name": "product", "type": "address"},
        {"name": "collateralId", "type": "uint256"},
        {"name": "borrower", "type": "address"},
        {"name": "lender", "type": "address"},
        {"name": "settlementToken", "type": "address"},
        {"name": "principal", "type": "uint256"},
        {"name": "fee", "type": "uint256"},
        {"name": "maturity", "type": "uint64"},
        {"name": "gracePeriod", "type": "uint64"},
        {"name": "acceptBy", "type": "uint64"},
        {"name": "fxValidUntil", "type": "uint64"},
        {"name": "shipmentId", "type": "bytes32"},
        {"name": "agreementHash", "type": "bytes32"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "milestones", "type": "Milestone[]"},
        {"name": "extra", "type": "bytes"},
    ],
})


def struct_types(primary_type: str) -> dict[str, Eip712Fields]:
    """``primary_type`` and every struct type it refers to (the ``types`` of a typed-data message,
    without ``EIP712Domain``)."""
    out: dict[str, Eip712Fields] = {}
    todo = [primary_type]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = EIP712_TYPES[name]
        todo.extend(f["type"].removesuffix("[]") for f in out[name] if f["type"].removesuffix("[]") in EIP712_TYPES)
    return out


def encode_type(primary_type: str) -> str:
    """EIP-712 ``encodeType``: the primary struct, then the structs it refers to by name."""
    types = struct_types(primary_type)
    order = [primary_type, *sorted(n for n in types if n != primary_type)]
    return "".join(f"{n}({','.join(f['type'] + ' ' + f['name'] for f in types[n])})" for n in order)
